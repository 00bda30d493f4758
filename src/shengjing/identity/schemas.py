"""Shapes the identity domain takes and gives (API bodies, CLI and console forms)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from stdnum.cn import uscc

from shengjing.identity.principal import OrgType

Username = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$", description="lower-case login name")]
OrgCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
DisplayName = Annotated[str, Field(min_length=1, max_length=100)]
# In an update, "absent" leaves a value as it is; an explicit null is refused for a column that cannot be empty
# (the default None is not validated, a sent null is).
KEEP = Field(default=None, validate_default=False)


def _check_credit_code(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not uscc.is_valid(value):
        raise ValueError("not a valid unified social credit code (GB 32100) / 统一社会信用代码校验不通过")
    return uscc.compact(value)


CreditCode = Annotated[str | None, AfterValidator(_check_credit_code)]


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: OrgCode
    name: Name
    name_en: Annotated[str | None, Field(max_length=200)] = None
    org_type: OrgType
    credit_code: CreditCode = None


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = KEEP
    name_en: Annotated[str | None, Field(max_length=200)] = None
    credit_code: CreditCode = None
    active: bool = KEEP


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    name_en: str | None
    org_type: OrgType
    credit_code: str | None
    active: bool
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    display_name: DisplayName
    email: Annotated[str | None, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] = None
    org_code: OrgCode
    password: Annotated[str, Field(min_length=1, max_length=200)]
    roles: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: DisplayName = KEEP
    email: Annotated[str | None, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] = None
    active: bool = KEEP
    roles: list[Annotated[str, Field(max_length=64)]] = Field(default=None, max_length=20, validate_default=False)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Annotated[str, Field(min_length=1, max_length=200)]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    email: str | None
    org_code: str
    org_name: str
    org_type: OrgType
    active: bool
    locked: bool
    roles: list[str]
    last_login_at: datetime | None
    created_at: datetime


class RoleOut(BaseModel):
    name: str
    label_zh: str
    label_en: str
    org_types: list[str]
    permissions: list[str]
    builtin: bool


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    days: Annotated[int | None, Field(ge=1, le=3650)] = None


class TokenOut(BaseModel):
    id: int
    name: str
    username: str
    public_id: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown this once, stored only as a hash.")


class Me(BaseModel):
    username: str
    display_name: str
    org_code: str | None
    org_name: str | None
    org_type: OrgType | None
    permissions: list[str]
    via: str
