"""The demo city's organizations, users, catalog and data, set up through the services like any deployment's."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shengjing.audit.service import record, state_change
from shengjing.catalog import service as catalog
from shengjing.demo import shenyang
from shengjing.demo.catalog import DEMO_RESOURCES, INGEST_ORDER, RESOURCE_BY_TABLE
from shengjing.demo.delivery import DELIVERIES
from shengjing.errors import NotFound
from shengjing.identity import service as identity
from shengjing.identity.models import Organization, User
from shengjing.identity.principal import OrgType, Principal
from shengjing.identity.schemas import OrganizationCreate, UserCreate
from shengjing.ingest import service as ingest
from shengjing.ingest.service import IngestReport


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    org: shenyang.Organization
    role: str


# One demo user per built-in role.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "平台管理员（数据局）", shenyang.DATA_BUREAU, "platform_admin"),
    DemoUser("auditor", "安全审计员（数据局）", shenyang.DATA_BUREAU, "auditor"),
    DemoUser("gongan", "公安局数据管理员", shenyang.DEPARTMENTS[0], "department_admin"),
    DemoUser("analyst", "运营机构分析师", shenyang.OPERATOR, "operator_analyst"),
    DemoUser("merchant", "数商业务员", shenyang.DATA_MERCHANT, "merchant_member"),
    DemoUser("assessor", "第三方评估员", shenyang.SERVICE_AGENCY, "agency_assessor"),
)


def _new_password(username: str) -> str:
    while True:
        candidate = f"Sj-{secrets.token_urlsafe(12)}"
        if username not in candidate.lower():
            return candidate


@state_change("demo.city.setup", "demo")
def set_up_organizations_and_users(db: Session, actor: Principal) -> list[tuple[DemoUser, str]]:
    """Create the city's organizations and one user per role; existing demo users get a fresh password.

    Returns each demo user with the password to print: passwords are random, never fixed in code.
    """
    created_orgs = 0
    for org in shenyang.ORGANIZATIONS:
        if db.scalar(select(Organization.id).where(Organization.code == org.code)) is None:
            identity.create_organization(
                db,
                actor,
                OrganizationCreate(
                    code=org.code,
                    name=org.name,
                    name_en=org.name_en,
                    org_type=OrgType(org.role),
                    credit_code=org.credit_code,
                ),
            )
            created_orgs += 1
    logins = []
    for demo in DEMO_USERS:
        password = _new_password(demo.username)
        if db.scalar(select(User.id).where(User.username == demo.username)) is None:
            identity.create_user(
                db,
                actor,
                UserCreate(
                    username=demo.username,
                    display_name=demo.display_name,
                    org_code=demo.org.code,
                    password=password,
                    roles=[demo.role],
                ),
            )
        else:
            identity.set_password(db, actor, demo.username, password)
        logins.append((demo, password))
    record(
        db,
        actor,
        "demo.city.setup",
        target_type="demo",
        details={"organizations_created": created_orgs, "users": [d.username for d in DEMO_USERS]},
    )
    return logins


# --- the city's catalog and data, through the same services a deployment uses --------------------------


@state_change("demo.catalog.setup", "demo")
def set_up_catalog(db: Session, actor: Principal) -> list[str]:
    """Load the standard data-element library and file one resource per generated table (idempotent: an
    existing resource is updated to the demo's description). Returns the resource codes."""
    added, changed, _ = catalog.load_data_elements(db, actor, catalog.standard_data_elements())
    for resource in DEMO_RESOURCES:
        try:
            catalog.get_resource(db, actor, resource.code)
        except NotFound:
            catalog.create_resource(db, actor, resource)
        else:
            catalog.update_resource(db, actor, resource.code, resource)
    codes = [r.code for r in DEMO_RESOURCES]
    record(
        db,
        actor,
        "demo.catalog.setup",
        target_type="demo",
        details={"data_elements_added": added, "data_elements_changed": changed, "resources": codes},
    )
    return codes


def ingest_city(
    sessions: sessionmaker[Session],
    actor: Principal,
    files: Mapping[str, Path],
    *,
    progress: Callable[[str, IngestReport], None] | None = None,
) -> list[IngestReport]:
    """Ingest each delivered table into its resource, persons and enterprises first (the others' reference
    rules check against them). Each ingest opens its own transactions: call with none open."""
    reports = []
    for table in INGEST_ORDER:
        resource = RESOURCE_BY_TABLE[table]
        report = ingest.ingest(sessions, actor, resource.code, str(files[table]), encoding=DELIVERIES[table].encoding)
        reports.append(report)
        if progress is not None:
            progress(table, report)
    return reports
