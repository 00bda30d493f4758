"""Every rule of the catalog: who sees and manages which resources, and how the catalog is searched."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import TypeAdapter
from sqlalchemy import Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session, object_session

from shengjing.audit.service import record, state_change
from shengjing.catalog import permissions as perms
from shengjing.catalog.models import DataElement, Resource, ResourceField, ResourceVersion
from shengjing.catalog.schemas import (
    DataElementIn,
    DataElementOut,
    Facet,
    FieldIn,
    FieldOut,
    FieldType,
    ResourceIn,
    ResourceOut,
    SearchResult,
    ShareType,
    VersionOut,
)
from shengjing.errors import Conflict, DataFormatError, InvalidInput, NotFound, PermissionDenied
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


# The resources published as open data (无条件/有条件开放): the public pages, DCAT feed and CKAN API see these.
PUBLISHED = Resource.open_type != ShareType.NONE.value


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

    for name, load in (("standardization", standardize.load_rules), ("quality_rules", quality.load_rules)):
        text = getattr(data, name)
        if not text.strip():
            continue
        if "\n" not in text and text.strip().endswith((".yaml", ".yml")):
            # standardize.load_rules reads a path ending in .yaml: stored rules are YAML text, never a server path.
            text += "\n"
        try:
            load(text)
        except InvalidInput as exc:
            exc.details.setdefault("field", name)  # which editor to show the error beside
            raise


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
    # The data bureau holds what it builds itself (base and theme libraries); every other resource a department's.
    if org.org_type not in (OrgType.DEPARTMENT.value, OrgType.DATA_BUREAU.value):
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


def resource_code_taken(db: Session, code: str) -> bool:
    """Whether any resource, visible to the caller or not, holds this code (codes are unique catalog-wide)."""
    return db.scalar(select(Resource.id).where(Resource.code == code)) is not None


def _describe(resource: Resource, data: ResourceIn, department: Organization) -> None:
    """Set what a resource's description holds besides its code and fields (both create and update do)."""
    resource.name, resource.summary, resource.department_id = data.name, data.summary, department.id
    resource.share_type, resource.open_type = data.share_type.value, data.open_type.value
    resource.update_frequency = data.update_frequency.value
    resource.themes, resource.tags, resource.formats, resource.contact = (
        data.themes,
        data.tags,
        data.formats,
        data.contact,
    )
    resource.standardization, resource.quality_rules = data.standardization, data.quality_rules
    resource.search_text = _search_text(data)


@state_change("catalog.resource.add", "resource")
def create_resource(db: Session, actor: Principal, data: ResourceIn) -> ResourceOut:
    actor.require(perms.RESOURCE_ADD)
    _validate_rules(data)
    department = _department(db, actor, data.department)
    if resource_code_taken(db, data.code):
        raise Conflict(f"资源代码“{data.code}”已被使用。", f"Resource code '{data.code}' is taken.", field="code")
    resource = Resource(code=data.code, fields=_fields(db, data.fields))
    _describe(resource, data, department)
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
    field_rows = _fields(db, data.fields)
    resource.fields.clear()
    db.flush()  # the old rows go first: the new ones may reuse their names, unique per resource
    resource.fields.extend(field_rows)
    _describe(resource, data, department)
    resource.updated_at = utcnow()
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


def manages(db: Session, actor: Principal, code: str) -> bool:
    """Whether the resource belongs to the actor's department (the data bureau manages every resource)."""
    actor.require(perms.RESOURCE_VIEW)
    return _can_manage(actor, _get(db, actor, code))


def get_resource_to_change(db: Session, actor: Principal, code: str) -> ResourceOut:
    """A resource for its edit form: only for one who may change it."""
    return _out(db, _managed(db, actor, code, perms.RESOURCE_CHANGE))


def _terms(query: str) -> list[tuple[str, ...]]:
    """Each whitespace-separated term with its expansions: every term must match, any of its forms will do."""
    terms = []
    for term in query.lower().split():
        terms.append((term, *ABBREVIATIONS.get(term, ())))
    return terms


def _theme_list(text: str | None) -> list[str]:
    """A resource's themes from the text of their JSON list (as grouped by search)."""
    return (json.loads(text) or []) if text else []


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
    themes_text = cast(Resource.themes, Text)  # a JSON list; as text it can be grouped on SQLite and PostgreSQL

    def matching(*columns: Any) -> Select[Any]:
        stmt = select(*columns).join(Organization, Organization.id == Resource.department_id)
        stmt = stmt.where(PUBLISHED) if public_only else restrict_visible(stmt, actor)
        for forms in _terms(query):
            stmt = stmt.where(or_(*(Resource.search_text.contains(form, autoescape=True) for form in forms)))
        if department:
            stmt = stmt.where(Organization.code == department)
        if share_type:
            stmt = stmt.where(Resource.share_type == share_type.value)
        return stmt

    # Facets and total are counted in SQL, from groups rather than a row per match, and full objects are built
    # only for the page shown. With search terms the substring match is the costly part: one scan groups the
    # matches per (department, share type, theme list) with their codes, and the page is loaded by code.
    # Without terms scans are cheap and the theme lists are counted apart (department × share type × theme
    # list would make thousands of groups), and the code index pages through the visible resources.
    facets: dict[str, Counter[str]] = {"department": Counter(), "theme": Counter(), "share_type": Counter()}
    page_stmt = select(Resource, Organization).join(Organization, Organization.id == Resource.department_id)
    if _terms(query):
        key = (Organization.code, Resource.share_type, themes_text)
        groups = db.execute(matching(*key, func.count(), func.aggregate_strings(Resource.code, ",")).group_by(*key))
        rows = [(code, share, _theme_list(text), count, codes) for code, share, text, count, codes in groups]
        rows = [row for row in rows if not theme or theme in row[2]]
        page_codes = sorted(code for *_, codes in rows for code in codes.split(","))[offset : offset + limit]
        page_stmt = page_stmt.where(Resource.code.in_(page_codes))  # codes are [A-Za-z0-9_-]: no commas
    else:
        lists = [
            (text, _theme_list(text), n)
            for text, n in db.execute(matching(themes_text, func.count()).group_by(themes_text))
        ]
        lists = [entry for entry in lists if not theme or theme in entry[1]]
        wanted = matching(Organization.code, Resource.share_type, func.count()).group_by(
            Organization.code, Resource.share_type
        )
        page_stmt = matching(Resource, Organization).order_by(Resource.code).offset(offset).limit(limit)
        if theme:
            wanted = wanted.where(themes_text.in_([text for text, _, _ in lists]))
            page_stmt = page_stmt.where(themes_text.in_([text for text, _, _ in lists]))
        rows = [(code, share, [], count, "") for code, share, count in db.execute(wanted)]
        for _, names, count in lists:
            for name in names:
                facets["theme"][name] += count
    for code, share, names, count, _ in rows:
        facets["department"][code] += count
        facets["share_type"][share] += count
        for name in names:
            facets["theme"][name] += count
    total = sum(row[3] for row in rows)
    page = sorted(db.execute(page_stmt).all(), key=lambda row: row[0].code) if total else []
    # Departments are counted by code and shown by name.
    labels = {
        code: (name, name_en)
        for code, name, name_en in db.execute(
            select(Organization.code, Organization.name, Organization.name_en).where(
                Organization.code.in_(list(facets["department"]))
            )
        )
    }

    def facet(value: str, count: int) -> Facet:
        label, label_en = labels.get(value, (None, None))
        return Facet(value=value, count=count, label=label, label_en=label_en)

    return SearchResult(
        total=total,
        resources=[resource_out(r, org) for r, org in page],
        facets={
            k: [facet(v, n) for v, n in sorted(c.items(), key=lambda vn: (-vn[1], vn[0]))] for k, c in facets.items()
        },
    )


class DepartmentChoice(NamedTuple):
    code: str
    name: str
    name_en: str | None


def department_choices(db: Session, actor: Principal) -> list[DepartmentChoice]:
    """Departments the actor may file resources for: its own, or every one for the data bureau. (Not through
    identity's organization list: filing a resource must not need the permission to view organizations.)"""
    stmt = select(Organization.code, Organization.name, Organization.name_en).where(
        Organization.org_type == OrgType.DEPARTMENT.value
    )
    if not actor.sees_all_orgs:
        stmt = stmt.where(Organization.id == actor.org_id)
    return [DepartmentChoice(*row) for row in db.execute(stmt.order_by(Organization.code))]


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


@dataclass(frozen=True)
class ReferencedKey:
    """Where a ``reference`` quality rule finds its keys: a field of another resource's current version."""

    resource: str
    field: str
    version: int


def referenced_versions(db: Session, actor: Principal, rules: list[tuple[str, str, str]]) -> dict[str, ReferencedKey]:
    """For each (rule id, resource code, key field): the referenced resource's current version, which the
    actor must be able to see, and which must hold data and that field."""
    found = {}
    for rule_id, code, field in rules:
        resource = _get(db, actor, code)
        if field not in {f.name for f in resource.fields}:
            raise InvalidInput(
                f"引用规则 {rule_id} 所引用的数据资源“{code}”没有数据项“{field}”。",
                f"Reference rule {rule_id}: resource '{code}' has no field '{field}'.",
                rule=rule_id,
                field=field,
            )
        if resource.current_version is None:
            raise InvalidInput(
                f"引用规则 {rule_id} 所引用的数据资源“{code}”还没有数据，请先导入它。",
                f"Reference rule {rule_id}: resource '{code}' holds no data yet; ingest it first.",
                rule=rule_id,
                resource=code,
            )
        found[rule_id] = ReferencedKey(code, field, resource.current_version)
    return found


def record_version(
    db: Session,
    actor: Principal,
    code: str,
    version: ResourceVersion,
    inferred_fields: list[tuple[str, str]],
    *,
    expected_current: int | None,
) -> ResourceOut:
    """Record a committed snapshot as the resource's current version (the caller audits the ingest).

    ``expected_current`` is the version the ingest started from: if another ingest was recorded meanwhile,
    this one is refused rather than silently replacing it (an append would otherwise lose the other's rows).
    """
    resource = _managed(db, actor, code, perms.RESOURCE_INGEST)
    if resource.current_version != expected_current:
        raise Conflict(
            "导入期间该数据资源已有新版本，请重新导入。",
            "Another ingest into this resource finished first; run this one again.",
            resource=code,
        )
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


def set_current_version(db: Session, actor: Principal, code: str, version: int) -> ResourceOut:
    """Make an earlier recorded version current again (the caller rolls the lake back and audits it)."""
    resource = _managed(db, actor, code, perms.RESOURCE_INGEST)
    if version not in {v.version for v in resource.versions}:
        raise NotFound.of("数据版本", "version", f"{code}@v{version}")
    resource.current_version, resource.updated_at = version, utcnow()
    db.flush()
    return _out(db, resource)


# --- classification support: what the classify domain reads about resources ------------------------------


@dataclass(frozen=True)
class ClassificationSubject:
    """A resource as classification sees it: its fields' names, labels and data elements, and its words."""

    id: int
    code: str
    name: str
    department_id: int
    department: str
    department_name: str
    managed: bool  # the actor's department holds it, or the actor is the data bureau or the local system
    fields: tuple[tuple[str, str, str | None], ...]  # (name, label, data element code)
    text: str  # name, summary, tags and themes: what domain rules look for words in
    current_version: int | None


def classification_subjects(db: Session, actor: Principal, code: str | None = None) -> list[ClassificationSubject]:
    """The resources the actor can see (or the one named ``code``, NotFound if it cannot see it). The caller,
    classify.service, checks its own permissions; the catalog's visibility applies all the same."""
    stmt = restrict_visible(select(Resource), actor).order_by(Resource.code)
    if code is not None:
        stmt = stmt.where(Resource.code == code)
    resources = list(db.scalars(stmt))
    if code is not None and not resources:
        raise NotFound.of("数据资源", "resource", code)
    departments = {
        o.id: o
        for o in db.scalars(select(Organization).where(Organization.id.in_({r.department_id for r in resources})))
    }
    elements = dict(db.execute(select(DataElement.id, DataElement.code)).all())
    return [
        ClassificationSubject(
            id=r.id,
            code=r.code,
            name=r.name,
            department_id=r.department_id,
            department=departments[r.department_id].code,
            department_name=departments[r.department_id].name,
            managed=_can_manage(actor, r),
            fields=tuple((f.name, f.label, elements.get(f.data_element_id)) for f in r.fields),
            text=" ".join([r.name, r.summary, *r.tags, *r.themes]),
            current_version=r.current_version,
        )
        for r in resources
    ]


# --- authorized operation support: what the sandbox reads about the resources it authorizes ----------------


@dataclass(frozen=True)
class SandboxSubject:
    """A resource as the sandbox sees it: its department, its fields' names, labels and types, its current version."""

    id: int
    code: str
    name: str
    department_id: int
    department: str
    department_name: str
    fields: tuple[tuple[str, str, str], ...]  # (name, label, data type)
    current_version: int | None
    identifying_fields: frozenset[str] = frozenset()  # a value of its own in every row of the current version


def sandbox_subjects(
    db: Session, codes: list[str] | None = None, *, ids: set[int] | None = None, visible_to: Principal | None = None
) -> list[SandboxSubject]:
    """The resources named ``codes`` (in that order), or those of ``ids``; NotFound for a code that does not exist,
    or that ``visible_to`` cannot see in the catalog (an operator drafting an authorization). Without
    ``visible_to`` the caller, the sandbox's service, has checked the authorization that lets its operator read
    them."""
    stmt = select(Resource).where(Resource.code.in_(codes) if codes is not None else Resource.id.in_(ids or set()))
    if visible_to is not None:
        stmt = restrict_visible(stmt, visible_to)
    found = {r.code: r for r in db.scalars(stmt)}
    codes = codes if codes is not None else sorted(found)
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound.of("数据资源", "resource", missing[0])
    departments = {
        o.id: o
        for o in db.scalars(select(Organization).where(Organization.id.in_({r.department_id for r in found.values()})))
    }
    current_versions = {r.id: r.current_version for r in found.values() if r.current_version is not None}
    identifying = {
        v.resource_id: frozenset(v.details.get("identifying_fields", ()))
        for v in db.scalars(
            select(ResourceVersion).where(
                ResourceVersion.resource_id.in_(current_versions),
                ResourceVersion.version.in_(set(current_versions.values())),
            )
        )
        if v.version == current_versions[v.resource_id]
    }
    return [
        SandboxSubject(
            id=r.id,
            code=r.code,
            name=r.name,
            department_id=r.department_id,
            department=departments[r.department_id].code,
            department_name=departments[r.department_id].name,
            fields=tuple((f.name, f.label, f.data_type) for f in r.fields),
            current_version=r.current_version,
            identifying_fields=identifying.get(r.id, frozenset()),
        )
        for r in (found[c] for c in codes)
    ]


# --- data elements (数据元): the bureau's standard definitions that fields point to ---------------------


def _element_out(db: Session, element: DataElement) -> DataElementOut:
    used_by = db.scalar(select(func.count(ResourceField.id)).where(ResourceField.data_element_id == element.id))
    return DataElementOut(
        code=element.code,
        name=element.name,
        name_en=element.name_en,
        definition=element.definition,
        data_type=FieldType(element.data_type),
        format=element.format,
        unit=element.unit,
        code_list=element.code_list,
        standard=element.standard,
        used_by=used_by or 0,
    )


def _element(db: Session, code: str) -> DataElement:
    element = db.scalar(select(DataElement).where(DataElement.code == code))
    if element is None:
        raise NotFound.of("数据元", "data element", code)
    return element


def list_data_elements(db: Session, actor: Principal, query: str = "") -> list[DataElementOut]:
    """Every data element whose code, name, English name or standard contains each term of ``query``."""
    actor.require(perms.RESOURCE_VIEW)
    stmt = select(DataElement).order_by(DataElement.code)
    for term in query.lower().split():
        columns = (DataElement.code, DataElement.name, DataElement.name_en, DataElement.standard)
        stmt = stmt.where(or_(*(func.lower(c).contains(term, autoescape=True) for c in columns)))
    return [_element_out(db, e) for e in db.scalars(stmt)]


def data_element_exists(db: Session, code: str) -> bool:
    """Whether the library of data elements has ``code`` (what a data model's attribute may point to)."""
    return db.scalar(select(DataElement.id).where(DataElement.code == code)) is not None


def get_data_element(db: Session, actor: Principal, code: str) -> DataElementOut:
    if not actor.has(perms.ELEMENT_CHANGE):  # whoever may change an element may read it (its edit form)
        actor.require(perms.RESOURCE_VIEW)
    return _element_out(db, _element(db, code))


def _apply_element(element: DataElement, data: DataElementIn) -> None:
    for name in ("name", "name_en", "definition", "format", "unit", "code_list", "standard"):
        setattr(element, name, getattr(data, name))
    element.data_type = data.data_type.value


@state_change("catalog.element.add", "data_element")
def create_data_element(db: Session, actor: Principal, data: DataElementIn) -> DataElementOut:
    actor.require(perms.ELEMENT_ADD)
    if db.scalar(select(DataElement.id).where(DataElement.code == data.code)) is not None:
        raise Conflict(f"数据元代码“{data.code}”已被使用。", f"Data element code '{data.code}' is taken.", field="code")
    element = DataElement(code=data.code)
    _apply_element(element, data)
    db.add(element)
    db.flush()
    record(db, actor, "catalog.element.add", target_type="data_element", target_id=data.code)
    return _element_out(db, element)


@state_change("catalog.element.change", "data_element")
def update_data_element(db: Session, actor: Principal, code: str, data: DataElementIn) -> DataElementOut:
    """Replace a data element's definition. Its code stays; its data type stays while data depends on it."""
    actor.require(perms.ELEMENT_CHANGE)
    element = _element(db, code)
    if data.code != code:
        raise InvalidInput("数据元代码不能修改。", "A data element's code cannot change.", field="code")
    if data.data_type.value != element.data_type:
        holding = db.scalars(
            select(Resource.code)
            .join(ResourceField, ResourceField.resource_id == Resource.id)
            .where(ResourceField.data_element_id == element.id, Resource.current_version.is_not(None))
            .distinct()
            .order_by(Resource.code)
        ).all()
        if holding:
            raise Conflict(
                f"已有数据的资源引用了该数据元（{', '.join(holding)}），其数据类型不能修改。",
                f"Resources holding data reference this data element ({', '.join(holding)}): "
                "its data type cannot change.",
                field="data_type",
            )
    before, after = _element_out(db, element).model_dump(mode="json"), data.model_dump(mode="json")
    changed = sorted(name for name, value in after.items() if before[name] != value)
    _apply_element(element, data)
    db.flush()
    record(
        db, actor, "catalog.element.change", target_type="data_element", target_id=code, details={"changed": changed}
    )
    return _element_out(db, element)


def load_data_elements(db: Session, actor: Principal, elements: list[DataElementIn]) -> tuple[int, int, int]:
    """Upsert many data elements in the caller's transaction: (added, changed, unchanged).

    Each add or change is audited on its own; an element identical to the stored one is left alone, so
    loading the same library twice records nothing the second time.
    """
    actor.require(perms.ELEMENT_ADD)
    codes = [e.code for e in elements]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise InvalidInput(
            f"数据元代码重复：{', '.join(duplicates)}。", f"Duplicate data element codes: {', '.join(duplicates)}."
        )
    added = changed = unchanged = 0
    for data in elements:
        existing = db.scalar(select(DataElement).where(DataElement.code == data.code))
        if existing is None:
            create_data_element(db, actor, data)
            added += 1
        elif _element_out(db, existing).model_dump(exclude={"used_by"}) == data.model_dump():  # same definition
            unchanged += 1
        else:
            update_data_element(db, actor, data.code, data)
            changed += 1
    return added, changed, unchanged


STANDARD_ELEMENTS_FILE = Path(__file__).with_name("elements.yaml")


def parse_data_elements(text: str, *, file: str) -> list[DataElementIn]:
    """Data elements from a YAML (or JSON) document: a list, or a mapping with an ``elements`` list."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise DataFormatError(
            f"数据元文件 {file} 不是有效的 YAML（第 {line + 1 if line is not None else '?'} 行）。",
            f"The data element file {file} is not valid YAML (line {line + 1 if line is not None else '?'}).",
            file=file,
            line=line + 1 if line is not None else None,
        ) from None
    if isinstance(document, dict):
        document = document.get("elements")
    if not isinstance(document, list):
        raise DataFormatError(
            f"数据元文件 {file} 应为数据元列表（或含 elements 列表的映射）。",
            f"The data element file {file} must hold a list of data elements (or a mapping with 'elements').",
            file=file,
        )
    return TypeAdapter(list[DataElementIn]).validate_python(document)


def standard_data_elements() -> list[DataElementIn]:
    """The library of national-standard data elements shipped with Shengjing (loaded by the demo, not init)."""
    return parse_data_elements(STANDARD_ELEMENTS_FILE.read_text("utf-8"), file=STANDARD_ELEMENTS_FILE.name)


# --- open data support: what the opendata domain reads (DCAT export and import, CKAN API, public pages) -------


def _public_resources() -> Select[tuple[Resource, Organization]]:
    """Resources whose open type allows publishing (无条件/有条件开放), with their departments."""
    return select(Resource, Organization).join(Organization, Organization.id == Resource.department_id).where(PUBLISHED)


def export_resources(db: Session, actor: Principal | None, *, public_only: bool) -> list[ResourceOut]:
    """Every resource the actor sees (or, public_only, every openly published one, for anyone), by code."""
    if public_only:
        stmt = _public_resources()
    else:
        if actor is None:
            raise PermissionDenied(perms.RESOURCE_VIEW.name)
        actor.require(perms.RESOURCE_VIEW)
        stmt = restrict_visible(
            select(Resource, Organization).join(Organization, Organization.id == Resource.department_id), actor
        )
    return [resource_out(r, org) for r, org in db.execute(stmt.order_by(Resource.code)).all()]


def public_codes(db: Session) -> list[str]:
    """The codes of the openly published resources, sorted."""
    return list(db.scalars(select(Resource.code).where(PUBLISHED).order_by(Resource.code)))


def public_resource(db: Session, code: str) -> ResourceOut:
    """An openly published resource, for anyone; a resource that is not open is as absent as one that isn't."""
    row = db.execute(_public_resources().where(Resource.code == code)).first()
    if row is None:
        raise NotFound.of("数据资源", "resource", code)
    return resource_out(row[0], row[1])


def is_department(db: Session, code: str) -> bool:
    """Whether an organization with this code exists and is a department (an import's publisher check)."""
    org_type = db.scalar(select(Organization.org_type).where(Organization.code == code))
    return org_type == OrgType.DEPARTMENT.value


def public_department_names(db: Session) -> dict[str, str]:
    """Code → name of the departments that publish open resources (the public catalog's facet labels)."""
    rows = db.execute(
        select(Organization.code, Organization.name)
        .join(Resource, Resource.department_id == Organization.id)
        .where(PUBLISHED)
        .distinct()
    ).all()
    return dict(sorted((code, name) for code, name in rows))
