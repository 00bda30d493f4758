"""The built-in roles, as data. ``shengjing init`` writes them to the database; later domains add theirs."""

from __future__ import annotations

from dataclasses import dataclass

from shengjing.identity import permissions as p
from shengjing.identity.principal import OrgType


@dataclass(frozen=True)
class RoleSpec:
    name: str
    label_zh: str
    label_en: str
    org_types: frozenset[OrgType]  # the kinds of organization whose users may hold the role
    permissions: frozenset[p.Permission]


_SELF_SERVICE = frozenset({p.CONSOLE_HOME, p.TOKEN_VIEW, p.TOKEN_ADD, p.TOKEN_DELETE})

BUILTIN_ROLES: tuple[RoleSpec, ...] = (
    RoleSpec(
        "platform_admin",
        "平台管理员",
        "Platform administrator",
        frozenset({OrgType.DATA_BUREAU}),
        _SELF_SERVICE
        | {
            p.ORG_VIEW,
            p.ORG_ADD,
            p.ORG_CHANGE,
            p.USER_VIEW,
            p.USER_ADD,
            p.USER_CHANGE,
            p.ROLE_VIEW,
            p.AUDIT_VIEW,
        },
    ),
    RoleSpec(
        "auditor",
        "安全审计员",
        "Auditor",
        frozenset({OrgType.DATA_BUREAU}),
        _SELF_SERVICE | {p.ORG_VIEW, p.USER_VIEW, p.ROLE_VIEW, p.AUDIT_VIEW, p.AUDIT_VERIFY},
    ),
    RoleSpec(
        # The data bureau's reviewer of what leaves the sandbox (出域审核员); the sandbox grants what it reviews.
        "egress_reviewer",
        "出域审核员",
        "Egress reviewer",
        frozenset({OrgType.DATA_BUREAU}),
        _SELF_SERVICE | {p.ORG_VIEW},
    ),
    RoleSpec(
        "department_admin",
        "部门管理员",
        "Department administrator",
        frozenset({OrgType.DEPARTMENT}),
        _SELF_SERVICE | {p.ORG_VIEW, p.USER_VIEW, p.USER_ADD, p.USER_CHANGE, p.ROLE_VIEW, p.AUDIT_VIEW},
    ),
    RoleSpec(
        "operator_analyst",
        "运营机构分析师",
        "Operator analyst",
        frozenset({OrgType.OPERATOR}),
        _SELF_SERVICE | {p.ORG_VIEW},
    ),
    RoleSpec(
        "merchant_member",
        "数商业务员",
        "Data merchant member",
        frozenset({OrgType.DATA_MERCHANT}),
        _SELF_SERVICE | {p.ORG_VIEW},
    ),
    RoleSpec(
        "agency_assessor",
        "第三方评估员",
        "Service agency assessor",
        frozenset({OrgType.SERVICE_AGENCY}),
        _SELF_SERVICE | {p.ORG_VIEW},
    ),
)


def builtin_roles() -> tuple[RoleSpec, ...]:
    """The built-in roles with what every installed domain has granted them."""
    return tuple(
        RoleSpec(
            spec.name,
            spec.label_zh,
            spec.label_en,
            spec.org_types,
            spec.permissions | frozenset(p.ROLE_GRANTS.get(spec.name, ())),
        )
        for spec in BUILTIN_ROLES
    )
