"""Who is acting: a user through a console session or an API token, or the local system (the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shengjing.errors import PermissionDenied
from shengjing.identity.permissions import REGISTRY, Permission


class OrgType(StrEnum):
    """组织类型, as DESIGN.md names them."""

    DATA_BUREAU = "data_bureau"  # 数据主管部门
    DEPARTMENT = "department"  # 数据提供单位
    OPERATOR = "operator"  # 运营机构
    DATA_MERCHANT = "data_merchant"  # 数商
    SERVICE_AGENCY = "service_agency"  # 第三方服务机构


ORG_TYPE_LABELS: dict[OrgType, tuple[str, str]] = {
    OrgType.DATA_BUREAU: ("数据主管部门", "Data bureau"),
    OrgType.DEPARTMENT: ("数据提供单位", "Department"),
    OrgType.OPERATOR: ("运营机构", "Operator"),
    OrgType.DATA_MERCHANT: ("数商", "Data merchant"),
    OrgType.SERVICE_AGENCY: ("第三方服务机构", "Service agency"),
}


@dataclass(frozen=True)
class Principal:
    username: str
    permissions: frozenset[str]
    via: str  # session | token | system
    user_id: int | None = None
    display_name: str = ""
    org_id: int | None = None
    org_name: str | None = None
    org_type: OrgType | None = None
    session_id: str | None = field(default=None, repr=False)
    csrf_token: str | None = field(default=None, repr=False)
    token_id: int | None = None

    def has(self, permission: Permission) -> bool:
        return permission.name in self.permissions

    def require(self, permission: Permission) -> None:
        if not self.has(permission):
            raise PermissionDenied(permission.name)

    @property
    def sees_all_orgs(self) -> bool:
        """The data bureau, and the local system, see every organization's objects; others only their own."""
        return self.via == "system" or self.org_type == OrgType.DATA_BUREAU


def system_principal(operator: str) -> Principal:
    """The CLI acting with shell access to the store: all permissions, recorded as ``system:<os user>``."""
    return Principal(username=f"system:{operator}", permissions=frozenset(REGISTRY), via="system")
