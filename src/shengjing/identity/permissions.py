"""Named permissions, declared by each domain and held by roles.

A permission's name is derived from its domain, object and action (``identity.user.change``), never typed by
hand at a check. Routes declare the permission they need (``web.deps.requires``); services check it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    VIEW = "view"
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"
    VERIFY = "verify"
    INGEST = "ingest"
    RUN = "run"
    REVIEW = "review"
    AUDIT = "audit"


@dataclass(frozen=True)
class Permission:
    name: str
    label_zh: str
    label_en: str

    def __str__(self) -> str:
        return self.name


REGISTRY: dict[str, Permission] = {}
# Permissions that domains above the ground floor add to built-in roles (identity cannot import them).
ROLE_GRANTS: dict[str, set[Permission]] = {}


def declare(domain: str, obj: str, action: Action, label_zh: str, label_en: str) -> Permission:
    """Declare a permission once, at import time of the domain that owns it."""
    permission = Permission(f"{domain}.{obj}.{action.value}", label_zh, label_en)
    if REGISTRY.setdefault(permission.name, permission) != permission:
        raise ValueError(f"permission {permission.name} declared twice with different labels")
    return permission


def grant(role: str, *permissions: Permission) -> None:
    """Add a domain's permissions to a built-in role; ``shengjing init`` writes them with the role."""
    ROLE_GRANTS.setdefault(role, set()).update(permissions)


# Any logged-in user: for a user's own session, password and language, nothing else.
AUTHENTICATED = Permission("authenticated", "已登录用户", "Any logged-in user")

CONSOLE_HOME = declare("console", "home", Action.VIEW, "查看首页概览", "View the home dashboard")
ORG_VIEW = declare("identity", "organization", Action.VIEW, "查看组织", "View organizations")
ORG_ADD = declare("identity", "organization", Action.ADD, "新增组织", "Add organizations")
ORG_CHANGE = declare("identity", "organization", Action.CHANGE, "修改组织", "Change organizations")
USER_VIEW = declare("identity", "user", Action.VIEW, "查看用户", "View users")
USER_ADD = declare("identity", "user", Action.ADD, "新增用户", "Add users")
USER_CHANGE = declare("identity", "user", Action.CHANGE, "修改、停用、解锁用户", "Change, disable and unlock users")
ROLE_VIEW = declare("identity", "role", Action.VIEW, "查看角色", "View roles")
TOKEN_VIEW = declare("identity", "token", Action.VIEW, "查看 API 令牌", "View API tokens")
TOKEN_ADD = declare("identity", "token", Action.ADD, "创建 API 令牌", "Create API tokens")
TOKEN_DELETE = declare("identity", "token", Action.DELETE, "吊销 API 令牌", "Revoke API tokens")
AUDIT_VIEW = declare("audit", "event", Action.VIEW, "查看审计日志", "View audit events")
AUDIT_VERIFY = declare("audit", "chain", Action.VERIFY, "校验审计链", "Verify the audit chain")
