"""Shapes the audit domain takes: the viewer's filters, shared by the service, the API and the console."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator

SHANGHAI = ZoneInfo("Asia/Shanghai")


class EventFilter(BaseModel):
    model_config = ConfigDict(frozen=True)

    actor: str | None = None
    action: str | None = None  # a prefix: "identity." matches every identity action
    outcome: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    org_id: int | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", "until")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is Shenyang's local time (Asia/Shanghai), as the console shows times."""
        if value is None:
            return None
        try:
            return (value if value.tzinfo else value.replace(tzinfo=SHANGHAI)).astimezone(UTC)
        except OverflowError:
            raise ValueError("time out of range / 时间超出范围") from None
