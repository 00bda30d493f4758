"""Every rule of the catalog: who sees and manages which resources, and how the catalog is searched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, object_session

from shengjing.audit.service import record, state_change
from shengjing.catalog import permissions as perms
from shengjing.catalog.models import DataElement, Resource, ResourceField, ResourceVersion
from shengjing.catalog.schemas import (
    Facet,
    FieldIn,
    FieldOut,
    ResourceIn,
    ResourceOut,
    SearchResult,
    ShareType,
    VersionOut,
)
from shengjing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shengjing.identity import service as identity
from shengjing.identity.models import Organization
from shengjing.identity.permissions import Permission
from shengjing.identity.principal import OrgType, Principal
from shengjing.store.db import utcnow

# Common abbreviations in Chinese public-data catalogs: a search for the short form finds the long one.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "社保": ("社会保险",),
    "医保": ("医疗保险",),
    "养老": ("养老保险",),
    "公积金": ("住房公积金",),
    "工商": ("市场监管", "营业执照", "市场主体"),
    "户籍": ("户口", "人口"),
    "公交": ("公共交通", "公交卡"),
    "学籍": ("中小学学籍", "在校生"),
    "就诊": ("门诊", "诊疗"),
}


def restrict_visible(stmt: Select[tuple[Resource]], actor: Principal) -> Select[tuple[Resource]]:
    """The data bureau sees every resource; others see their own and every resource that may be shared."""
    if actor.sees_all_orgs:
        return stmt
    return stmt.where(or_(Resource.department_id == actor.org_id, Resource.share_type != ShareType.NONE.value))


def _can_manage(actor: Principal, resource: Resource) -> bool:
    return actor.sees_all_orgs or resource.department_id == actor.org_id


def _validate_rules(data: ResourceIn) -> None:
    """Rules are checked when saved, so an ingest never meets a rule set it cannot run."""
    from shengjing.ingest import quality, standardize

    if data.standardization.strip():
        standardize.load_rules(data.standardization)
    if data.quality_rules.strip():
        quality.load_rules(data.quality_rules)


def _search_text(data: ResourceIn) -> str:
    parts = [data.code, data.name, data.summary, *data.themes, *data.tags]
    parts += [f"{f.name} {f.label}" for f in data.fields]
    return " ".join(parts).lower()


def resource_out(resource: Resource, department: Organization) -> ResourceOut:
    element_codes = _element_codes(resource, {f.data_element_id for f in resource.fields} - {None})
    return ResourceOut(
        code=resource.code,
        name=resource.name,
        summary=resource.summary,
        department=department.code,
        department_name=department.name,
        share_type=ShareType(resource.share_type),
        open_type=ShareType(resource.open_type),
        update_frequency=resource.update_frequency,  # type: ignore[arg-type]
        themes=list(resource.themes),
        tags=list(resource.tags),
        formats=list(resource.formats),
        contact=resource.contact,
        current_version=resource.current_version,
        created_at=resource.created_at,
        updated_at=resource.updated_at,
        standardization=resource.standardization,
        quality_rules=resource.quality_rules,
        fields=[
            FieldOut(
                name=f.name,
                label=f.label,
                data_type=f.data_type,
                data_element=element_codes.get(f.data_element_id),
                unit=f.unit,
                description=f.description,
            )
            for f in resource.fields
        ],
        versions=[VersionOut.model_validate(v) for v in resource.versions],
    )


def _element_codes(resource: Resource, ids: set[int]) -> dict[int | None, str]:
    db = object_session(resource)
    if db is None or not ids:
        return {}
    return dict(db.execute(select(DataElement.id, DataElement.code).where(DataElement.id.in_(ids))).all())


def _department(db: Session, actor: Principal, code: str) -> Organization:
    org = db.scalar(select(Organization).where(Organization.code == code))
    if org is None or (not actor.sees_all_orgs and org.id != actor.org_id):
        raise NotFound.of("数据提供单位", "department", code)
    if org.org_type != OrgType.DEPARTMENT.value:
        raise InvalidInput(f"“{org.name}”不是数据提供单位。", f"'{code}' is not a department.", field="department")
    return org


def _fields(db: Session, fields: list[FieldIn]) -> list[ResourceField]:
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(
            f"数据项名称重复：{', '.join(duplicates)}。",
            f"Duplicate field names: {', '.join(duplicates)}.",
            field="fields",
        )
    result = []
    for position, field in enumerate(fields):
        element_id = None
        if field.data_element:
            element_id = db.scalar(select(DataElement.id).where(DataElement.code == field.data_element))
            if element_id is None:
                raise NotFound.of("数据元", "data element", field.data_element)
        result.append(
            ResourceField(
                position=position,
                name=field.name,
                label=field.label,
                data_type=field.data_type.value,
                data_element_id=element_id,
                unit=field.unit,
                description=field.description,
            )
        )
    return result


@state_change("catalog.resource.add", "resource")
def create_resource(db: Session, actor: Principal, data: ResourceIn) -> ResourceOut:
    actor.require(perms.RESOURCE_ADD)
    _validate_rules(data)
    department = _department(db, actor, data.department)
    if db.scalar(select(Resource.id).where(Resource.code == data.code)) is not None:
        raise Conflict(f"资源代码“{data.code}”已被使用。", f"Resource code '{data.code}' is taken.", field="code")
    resource = Resource(
        code=data.code,
        name=data.name,
        summary=data.summary,
        department_id=department.id,
        share_type=data.share_type.value,
        open_type=data.open_type.value,
        update_frequency=data.update_frequency.value,
        themes=data.themes,
        tags=data.tags,
        formats=data.formats,
        contact=data.contact,
        search_text=_search_text(data),
        fields=_fields(db, data.fields),
        standardization=data.standardization,
        quality_rules=data.quality_rules,
    )
    db.add(resource)
    db.flush()
    record(
        db,
        actor,
        "catalog.resource.add",
        target_type="resource",
        target_id=data.code,
        details={"department": department.code, "fields": len(data.fields)},
    )
    return resource_out(resource, department)


@state_change("catalog.resource.change", "resource")
def update_resource(db: Session, actor: Principal, code: str, data: ResourceIn) -> ResourceOut:
    """Replace a resource's description. Its code stays; fields may change only before the first ingest."""
    resource = _managed(db, actor, code, perms.RESOURCE_CHANGE)
    if data.code != code:
        raise InvalidInput("资源代码不能修改。", "A resource's code cannot change.", field="code")
    _validate_rules(data)
    department = _department(db, actor, data.department)
    new_fields = [(f.name, f.data_type.value) for f in data.fields]
    old_fields = [(f.name, f.data_type) for f in resource.fields]
    if resource.current_version is not None and new_fields != old_fields:
        raise Conflict(
            "资源已有数据版本，数据项的名称和类型不能再修改。",
            "The resource holds data already: its field names and types cannot change.",
            field="fields",
        )
    resource.name, resource.summary, resource.department_id = data.name, data.summary, department.id
    resource.share_type, resource.open_type = data.share_type.value, data.open_type.value
    resource.update_frequency = data.update_frequency.value
    resource.themes, resource.tags, resource.formats, resource.contact = (
        data.themes,
        data.tags,
        data.formats,
        data.contact,
    )
    resource.fields = _fields(db, data.fields)
    resource.standardization, resource.quality_rules = data.standardization, data.quality_rules
    resource.search_text, resource.updated_at = _search_text(data), utcnow()
    db.flush()
    record(
        db,
        actor,
        "catalog.resource.change",
        target_type="resource",
        target_id=code,
        details={"department": department.code},
    )
    return resource_out(resource, department)


def _get(db: Session, actor: Principal, code: str) -> Resource:
    resource = db.scalar(restrict_visible(select(Resource), actor).where(Resource.code == code))
    if resource is None:
        raise NotFound.of("数据资源", "resource", code)
    return resource


def _managed(db: Session, actor: Principal, code: str, permission: Permission) -> Resource:
    """A resource the actor may change: its own department's, or any for the data bureau."""
    actor.require(permission)
    resource = _get(db, actor, code)
    if not _can_manage(actor, resource):
        raise PermissionDenied(permission.name)
    return resource


def _out(db: Session, resource: Resource) -> ResourceOut:
    department = db.get(Organization, resource.department_id)
    if department is None:  # cannot happen while the foreign key holds
        raise NotFound.of("数据提供单位", "department", resource.department_id)
    return resource_out(resource, department)


def get_resource(db: Session, actor: Principal, code: str) -> ResourceOut:
    actor.require(perms.RESOURCE_VIEW)
    return _out(db, _get(db, actor, code))


def _terms(query: str) -> list[tuple[str, ...]]:
    """Each whitespace-separated term with its expansions: every term must match, any of its forms will do."""
    terms = []
    for term in query.lower().split():
        terms.append((term, *ABBREVIATIONS.get(term, ())))
    return terms


def search(
    db: Session,
    actor: Principal,
    query: str = "",
    *,
    department: str | None = None,
    theme: str | None = None,
    share_type: ShareType | None = None,
    limit: int = 20,
    offset: int = 0,
    public_only: bool = False,
) -> SearchResult:
    """Search the visible catalog in Chinese: every term (or its known long form) must appear in the name,
    summary, tags, themes or field labels. Facets count the matches by department, theme and share type."""
    if not public_only:
        actor.require(perms.RESOURCE_VIEW)
    # Light rows for every match (facets count them all), full objects only for the page shown.
    stmt = select(Resource.id, Resource.themes, Resource.share_type, Organization.code).join(
        Organization, Organization.id == Resource.department_id
    )
    stmt = stmt.where(Resource.open_type != ShareType.NONE.value) if public_only else restrict_visible(stmt, actor)
    for forms in _terms(query):
        stmt = stmt.where(or_(*(Resource.search_text.contains(form, autoescape=True) for form in forms)))
    if department:
        stmt = stmt.where(Organization.code == department)
    if share_type:
        stmt = stmt.where(Resource.share_type == share_type.value)
    matches = db.execute(stmt.order_by(Resource.code)).all()
    if theme:  # themes are a JSON list: filtered here, the same way on SQLite and PostgreSQL
        matches = [m for m in matches if theme in m[1]]
    facets = {
        "department": Counter(m[3] for m in matches),
        "theme": Counter(t for m in matches for t in m[1]),
        "share_type": Counter(m[2] for m in matches),
    }
    page_ids = [m[0] for m in matches[offset : offset + limit]]
    page = (
        db.execute(
            select(Resource, Organization)
            .join(Organization, Organization.id == Resource.department_id)
            .where(Resource.id.in_(page_ids))
            .order_by(Resource.code)
        ).all()
        if page_ids
        else []
    )
    return SearchResult(
        total=len(matches),
        resources=[resource_out(r, org) for r, org in page],
        facets={k: [Facet(value=v, count=n) for v, n in c.most_common()] for k, c in facets.items()},
    )


def department_codes(db: Session, actor: Principal) -> list[str]:
    """Departments the actor may file resources for."""
    return [o.code for o in identity.list_organizations(db, actor, OrgType.DEPARTMENT)]


# --- ingest support: what the ingest domain reads before and records after a run ------------------------


@dataclass(frozen=True)
class IngestTarget:
    code: str
    fields: tuple[tuple[str, str], ...]  # (name, data type); empty before the first ingest
    standardization: str
    quality_rules: str
    current_version: int | None


def ingest_target(db: Session, actor: Principal, code: str) -> IngestTarget:
    """The resource an ingest writes to, if the actor's department owns it (or the actor is the bureau)."""
    resource = _managed(db, actor, code, perms.RESOURCE_INGEST)
    return IngestTarget(
        code=resource.code,
        fields=tuple((f.name, f.data_type) for f in resource.fields),
        standardization=resource.standardization,
        quality_rules=resource.quality_rules,
        current_version=resource.current_version,
    )


def record_version(
    db: Session, actor: Principal, code: str, version: ResourceVersion, inferred_fields: list[tuple[str, str]]
) -> ResourceOut:
    """Record a committed snapshot as the resource's current version (the caller audits the ingest)."""
    resource = _managed(db, actor, code, perms.RESOURCE_INGEST)
    if inferred_fields and not resource.fields:
        resource.fields = [
            ResourceField(position=i, name=name, label=name, data_type=data_type, description="")
            for i, (name, data_type) in enumerate(inferred_fields)
        ]
        resource.search_text += " " + " ".join(name for name, _ in inferred_fields).lower()
    resource.versions.append(version)
    resource.current_version, resource.updated_at = version.version, utcnow()
    db.flush()
    return _out(db, resource)
