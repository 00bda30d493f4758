"""The demo city's organizations, users, catalog and data, set up through the services like any deployment's."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
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
from shengjing.libraries import service as libraries
from shengjing.libraries.schemas import BuildOut
from shengjing.registry import service as registry
from shengjing.sandbox import service as sandbox
from shengjing.store.db import unit_of_work, utcnow


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
    DemoUser("reviewer", "出域审核员（数据局）", shenyang.DATA_BUREAU, "egress_reviewer"),
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
    with libraries.refreshes_deferred():  # set_up_libraries refreshes each library once, after the whole city
        for table in INGEST_ORDER:
            resource = RESOURCE_BY_TABLE[table]
            report = ingest.ingest(
                sessions, actor, resource.code, str(files[table]), encoding=DELIVERIES[table].encoding
            )
            reports.append(report)
            if progress is not None:
                progress(table, report)
    return reports


# --- authorized operation: two authorizations of the operator, taken through the workflow to active ----------

PERSON_CONTROLS = {
    "id_number": "join",
    "name": "hidden",
    "sex": "group_by",
    "birth_date": {"control": "masked", "mask": "year"},
    "ethnicity": "group_by",
    "mobile": "hidden",
    "district_code": "group_by",
    "address": "hidden",
    "registered_at": "hidden",
}
INSURANCE_CONTROLS = {
    "id_number": "join",
    "employer_credit_code": "group_by",
    "insurance_type": "plain",
    "month": "plain",
    "contribution_base": {"control": "aggregate", "bounds": [0, 50000]},
    "amount": {"control": "aggregate", "bounds": [0, 20000]},
}


def demo_authorizations(operator: str, start: str, end: str) -> list[dict[str, object]]:
    """Statistics on social insurance, results leaving at once; and a credit analysis under differential privacy,
    results reviewed before they leave."""
    resources = [
        {"resource": "SY-GA-PERSON", "table": "person", "columns": PERSON_CONTROLS},
        {"resource": "SY-RS-SOCIAL-INSURANCE", "table": "insurance", "columns": INSURANCE_CONTROLS},
    ]
    common = {"operator": operator, "valid_from": start, "valid_until": end, "resources": resources}
    return [
        {
            **common,
            "title": "社会保险参保与缴费统计",
            "scenario": "social_security",
            "purpose": "按区县、性别和险种统计参保人数与缴费水平，支撑社保政策评估。",
            "egress": "automatic",
            "row_limit": 10_000,
            "min_group_size": 10,
        },
        {
            **common,
            "title": "普惠金融征信：缴费能力分析",
            "scenario": "finance_credit",
            "purpose": "以社保缴费水平刻画各区县居民的缴费能力，用于普惠金融产品设计；结果经出域审核后使用。",
            "egress": "reviewed",
            "row_limit": 1_000,
            "min_group_size": 20,
            "privacy": {
                "epsilon_per_query": 0.5,
                "budget": 10,
                "period": "month",
                "unit": "person.id_number",
                "max_contributions": 12,
            },
        },
    ]


def set_up_authorizations(sessions: sessionmaker[Session], actor: Principal) -> list[str]:
    """File the demo's authorizations (once: an existing one of the same title is kept) and take each through the
    workflow as the local system: applied, consented for every resource, approved."""
    today = utcnow().date()
    codes = []
    with unit_of_work(sessions) as db:
        existing = {a.title: a.code for a in sandbox.list_authorizations(db, actor)}
    for doc in demo_authorizations(shenyang.OPERATOR.code, f"{today.year}-01-01", f"{today.year + 2}-12-31"):
        if doc["title"] in existing:
            codes.append(existing[str(doc["title"])])
            continue
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        with unit_of_work(sessions) as db:
            code = sandbox.create_authorization(db, actor, text, file="demo").code
        with unit_of_work(sessions) as db:
            sandbox.apply(db, actor, code, "演示数据")
        for resource in ("SY-GA-PERSON", "SY-RS-SOCIAL-INSURANCE"):
            with unit_of_work(sessions) as db:
                sandbox.consent(db, actor, code, resource, "consent", "演示：同意")
        with unit_of_work(sessions) as db:
            sandbox.approve(db, actor, code, "演示：批准")
        codes.append(code)
    return codes


# --- data property registration: three departments' applications, at different steps ------------------------

# (resource, the step its case is taken to): one in publicity, one under review, one waiting to be accepted.
DEMO_REGISTRATIONS: tuple[tuple[str, str], ...] = (
    ("SY-GA-PERSON", "publicize"),
    ("SY-RS-SOCIAL-INSURANCE", "accept"),
    ("SY-GJJ-HOUSING-FUND", "apply"),
)


def _demo_application(text: str) -> str:
    """The draft the registry offers, completed as the department would: real scenarios, the lawful-source
    commitment, and the compliance assessment of the demo city's service agency."""
    data = yaml.safe_load(text)
    particulars = data["particulars"]
    data["scope"] = "沈阳市范围内的公共服务、统计分析与授权运营"
    particulars["scenarios"] = ["公共服务", "授权运营", "统计分析"]
    particulars["lawful_source"] = {"sources": ["依法履职采集"], "commitment": True, "statement": "演示：依法履职采集"}
    particulars["compliance"] = {
        "agency": shenyang.SERVICE_AGENCY.name,
        "report_number": f"HG-{utcnow().year}-{data['object']['code']}",
        "report_date": utcnow().date().isoformat(),
        "conclusion": "演示：来源合法，处理合规",
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def set_up_registrations(sessions: sessionmaker[Session], actor: Principal) -> list[str]:
    """File the departments' registrations of their resources (once per resource) as the authority's counter
    would, and take each to its demo step. Returns the registration numbers."""
    numbers = []
    with unit_of_work(sessions) as db:
        existing = {r.object_code: r.number for r in registry.list_registrations(db, actor)}
    for code, last_step in DEMO_REGISTRATIONS:
        if code in existing:
            numbers.append(existing[code])
            continue
        with unit_of_work(sessions) as db:
            department = catalog.get_resource(db, actor, code).department
            text = _demo_application(registry.draft_document(db, actor, object_kind="resource", code=code))
            number = registry.apply(db, actor, text, file="demo", applicant=department).number
        for step in ("accept", "publicize")[: ("apply", "accept", "publicize").index(last_step)]:
            with unit_of_work(sessions) as db:
                getattr(registry, step)(db, actor, number, "演示")
        numbers.append(number)
    return numbers


# --- base and theme libraries: the city's data models, and the libraries declared and built on them -------------

DECLARATIONS = Path(__file__).parent / "declarations"


def library_declarations() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(file name, text) of the demo's data models, and of its libraries in build order (base before theme)."""
    models = [(p.name, p.read_text("utf-8")) for p in sorted(DECLARATIONS.glob("model-*.yaml"))]
    found = [(p.name, p.read_text("utf-8")) for p in sorted(DECLARATIONS.glob("library-*.yaml"))]
    return models, sorted(found, key=lambda item: (yaml.safe_load(item[1])["kind"] != "base", item[0]))


def set_up_libraries(
    sessions: sessionmaker[Session], actor: Principal, *, progress: Callable[[BuildOut], None] | None = None
) -> list[str]:
    """File the data models, declare the libraries, and build each library never built or whose sources have new
    snapshots: base libraries first, whose new snapshots refresh the themes that read them. Returns the codes."""
    models, declared = library_declarations()
    with unit_of_work(sessions) as db:
        for name, text in models:
            libraries.file_model(db, actor, text, file=name)
    codes = []
    for name, text in declared:
        with unit_of_work(sessions) as db:
            codes.append(libraries.declare_library(db, actor, text, file=name).code)
    for out in libraries.refresh_stale(sessions, actor, trigger="demo"):
        if progress is not None:
            progress(out)
    return codes
