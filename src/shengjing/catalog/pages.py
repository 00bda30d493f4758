"""Catalog console pages: search, a resource's detail, its edit form, upload, quality report and the data-element
library. Thin door into catalog.service and ingest.service."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any, Literal

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from shengjing.catalog import permissions as perms
from shengjing.catalog import service
from shengjing.catalog.schemas import (
    DataElementIn,
    FieldIn,
    FieldType,
    ResourceIn,
    ResourceOut,
    ShareType,
    UpdateFrequency,
)
from shengjing.errors import PermissionDenied, ShengjingError
from shengjing.exports import XLSX_MEDIA_TYPE, xlsx_bytes
from shengjing.identity.principal import Principal
from shengjing.ingest import service as ingest
from shengjing.web import i18n
from shengjing.web.deps import DB, page_router, requires
from shengjing.web.forms import attempt
from shengjing.web.i18n import N_
from shengjing.web.labels import FIELD_TYPE_LABELS, FREQUENCY_LABELS
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import render

router = page_router()
register(
    NavItem("/catalog", N_("数据资源目录"), perms.RESOURCE_VIEW, order=40),
    NavItem("/catalog/elements", N_("数据元"), perms.RESOURCE_VIEW, order=45),
)
PAGE_SIZE = 20
QUARANTINE_PREVIEW_ROWS = 50
EXPORT_QUARANTINE_ROWS = 100_000  # an export is for reading in a spreadsheet; the lake keeps every row

SHARE_TYPE_LABELS = {
    ShareType.UNCONDITIONAL: N_("无条件"),
    ShareType.CONDITIONAL: N_("有条件"),
    ShareType.NONE: N_("不予"),
}
ENCODINGS = ("utf-8", "gbk", "gb18030")
FORMATS = ("csv", "tsv", "xlsx", "jsonl", "parquet")
MODES = {"replace": N_("替换"), "append": N_("追加")}
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=200)]
Rules = Annotated[str, Form(max_length=100_000)]
Column = Annotated[list[str], Form(max_length=500)]


def _labels() -> dict[str, Any]:
    return {
        "share_types": SHARE_TYPE_LABELS,
        "frequencies": FREQUENCY_LABELS,
        "field_types": FIELD_TYPE_LABELS,
    }


# --- search ------------------------------------------------------------------------------------------------


@router.get("/catalog")
def catalog_search(
    request: Request,
    db: DB,
    q: Annotated[str, Query(max_length=200)] = "",
    department: Annotated[str, Query(max_length=64)] = "",
    theme: Annotated[str, Query(max_length=64)] = "",
    share_type: Annotated[ShareType | Literal[""], Query()] = "",  # the search form sends "" for "any"
    page: Annotated[int, Query(ge=1, le=10**5)] = 1,
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> Response:
    result = service.search(
        db,
        actor,
        q,
        department=department or None,
        theme=theme or None,
        share_type=share_type or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    query = {"q": q, "department": department, "theme": theme, "share_type": share_type}
    context = {
        **_labels(),
        "result": result,
        "query": query,
        "page": page,
        "pages": max(1, -(-result.total // PAGE_SIZE)),
        "can_add": actor.has(perms.RESOURCE_ADD),
    }
    # htmx asks for the results alone when the query or a facet changes; a plain request gets the whole page.
    template = "catalog/_results.html" if request.headers.get("hx-request") else "catalog/search.html"
    return render(request, template, context)


# --- new and edit ------------------------------------------------------------------------------------------


def _split_list(value: str) -> list[str]:
    """Themes, tags and formats are typed as one line, separated by commas (either width) or 、."""
    return [part.strip() for part in re.split(r"[,，、;；]", value) if part.strip()]


def _form_fields(
    names: list[str], labels: list[str], types: list[str], elements: list[str], units: list[str]
) -> list[dict[str, str]]:
    """The field rows as posted (blank rows dropped): kept as text so a refused form shows what was typed."""
    rows = []
    for i, name in enumerate(names):
        row = {
            "name": name.strip(),
            "label": labels[i].strip() if i < len(labels) else "",
            "data_type": types[i] if i < len(types) else FieldType.STRING.value,
            "data_element": elements[i].strip() if i < len(elements) else "",
            "unit": units[i].strip() if i < len(units) else "",
        }
        if row["name"] or row["label"]:
            rows.append(row)
    return rows


def _resource_in(form: dict[str, Any]) -> ResourceIn:
    return ResourceIn(
        code=form["code"],
        name=form["name"],
        summary=form["summary"],
        department=form["department"],
        share_type=form["share_type"],
        open_type=form["open_type"],
        update_frequency=form["update_frequency"],
        themes=_split_list(form["themes"]),
        tags=_split_list(form["tags"]),
        formats=_split_list(form["formats"]),
        contact=form["contact"] or None,
        fields=[
            FieldIn(
                name=f["name"],
                label=f["label"],
                data_type=f["data_type"],
                data_element=f["data_element"] or None,
                unit=f["unit"] or None,
            )
            for f in form["fields"]
        ],
        standardization=form["standardization"],
        quality_rules=form["quality_rules"],
    )


def _form_of(resource: ResourceOut) -> dict[str, Any]:
    return {
        **resource.model_dump(mode="json", include={"code", "name", "summary", "department", "contact"}),
        "share_type": resource.share_type.value,
        "open_type": resource.open_type.value,
        "update_frequency": resource.update_frequency.value,
        "themes": "，".join(resource.themes),
        "tags": "，".join(resource.tags),
        "formats": "，".join(resource.formats),
        "contact": resource.contact or "",
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "data_type": f.data_type,
                "data_element": f.data_element or "",
                "unit": f.unit or "",
            }
            for f in resource.fields
        ],
        "standardization": resource.standardization,
        "quality_rules": resource.quality_rules,
    }


EMPTY_FORM: dict[str, Any] = {
    "code": "",
    "name": "",
    "summary": "",
    "department": "",
    "share_type": ShareType.CONDITIONAL.value,
    "open_type": ShareType.CONDITIONAL.value,
    "update_frequency": UpdateFrequency.MONTHLY.value,
    "themes": "",
    "tags": "",
    "formats": "",
    "contact": "",
    "fields": [],
    "standardization": "",
    "quality_rules": "",
}


def _edit_page(
    request: Request,
    db: Session,
    actor: Principal,
    form: dict[str, Any],
    *,
    editing: str | None,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "catalog/edit.html",
        {
            **_labels(),
            "form": form,
            "editing": editing,
            "departments": service.department_choices(db, actor),
            # Suggestions for the fields' data elements, for those who may read the library.
            "elements": service.list_data_elements(db, actor) if actor.has(perms.RESOURCE_VIEW) else [],
            "error": error,
            "error_field": error_field,
        },
        status_code=status,
    )


def _save(request: Request, db: Session, actor: Principal, form: dict[str, Any], editing: str | None) -> Response:
    refusals: list[ShengjingError] = []

    def call() -> ResourceOut:
        try:
            data = _resource_in(form)
            if editing is None:
                return service.create_resource(db, actor, data)
            return service.update_resource(db, actor, editing, data)
        except ShengjingError as exc:
            refusals.append(exc)
            raise

    saved, error = attempt(call)
    if saved is None:
        refusal = refusals[0] if refusals else None
        if isinstance(refusal, PermissionDenied):  # not a mistake in the form: the error page says so
            raise refusal
        return _edit_page(
            request,
            db,
            actor,
            form,
            editing=editing,
            error=error,
            error_field=refusal.details.get("field") if refusal else None,  # a rule editor shows its error beside it
            status=refusal.http_status if refusal else 422,
        )
    return RedirectResponse(f"/catalog/{saved.code}?done=saved", status_code=303)


def resource_form(
    code_: Annotated[str, Form(alias="code", max_length=64)] = "",  # not `code`: that is the routes' path parameter
    name: Short = "",
    summary: Text = "",
    department: Annotated[str, Form(max_length=64)] = "",
    share_type: Annotated[str, Form(max_length=16)] = "",
    open_type: Annotated[str, Form(max_length=16)] = "",
    update_frequency: Annotated[str, Form(max_length=16)] = "",
    themes: Short = "",
    tags: Text = "",
    formats: Short = "",
    contact: Short = "",
    field_name: Column = [],  # noqa: B006 - FastAPI copies form defaults
    field_label: Column = [],  # noqa: B006
    field_type: Column = [],  # noqa: B006
    field_element: Column = [],  # noqa: B006
    field_unit: Column = [],  # noqa: B006
    standardization: Rules = "",
    quality_rules: Rules = "",
) -> dict[str, Any]:
    """The resource form as posted, kept as text so a refused form shows exactly what was typed."""
    return {
        "code": code_.strip(),
        "name": name.strip(),
        "summary": summary.strip(),
        "department": department,
        "share_type": share_type,
        "open_type": open_type,
        "update_frequency": update_frequency,
        "themes": themes,
        "tags": tags,
        "formats": formats,
        "contact": contact.strip(),
        "fields": _form_fields(field_name, field_label, field_type, field_element, field_unit),
        "standardization": standardization,
        "quality_rules": quality_rules,
    }


ResourceForm = Annotated[dict[str, Any], Depends(resource_form)]


@router.get("/catalog/new")
def resource_new(request: Request, db: DB, actor: Principal = requires(perms.RESOURCE_ADD)) -> Response:
    departments = service.department_choices(db, actor)
    form = {**EMPTY_FORM, "department": departments[0].code if len(departments) == 1 else ""}
    return _edit_page(request, db, actor, form, editing=None)


@router.post("/catalog/new")
def resource_create(
    request: Request, db: DB, form: ResourceForm, actor: Principal = requires(perms.RESOURCE_ADD)
) -> Response:
    return _save(request, db, actor, form, None)


@router.get("/catalog/{code}/edit")
def resource_edit(request: Request, code: str, db: DB, actor: Principal = requires(perms.RESOURCE_CHANGE)) -> Response:
    resource = service.get_resource_to_change(db, actor, code)
    return _edit_page(request, db, actor, _form_of(resource), editing=code)


@router.post("/catalog/{code}/edit")
def resource_update(
    request: Request, code: str, db: DB, form: ResourceForm, actor: Principal = requires(perms.RESOURCE_CHANGE)
) -> Response:
    return _save(request, db, actor, {**form, "code": code}, code)


# --- data elements (before /catalog/{code}, which would take "elements" for a resource code) ------------------


def element_form(
    code_: Annotated[str, Form(alias="code", max_length=64)] = "",  # not `code`: that is the routes' path parameter
    name: Short = "",
    name_en: Short = "",
    definition: Text = "",
    data_type: Annotated[str, Form(max_length=16)] = FieldType.STRING.value,
    format: Short = "",
    unit: Short = "",
    code_list: Short = "",
    standard: Short = "",
) -> dict[str, str]:
    return {
        "code": code_.strip(),
        "name": name.strip(),
        "name_en": name_en.strip(),
        "definition": definition.strip(),
        "data_type": data_type,
        "format": format.strip(),
        "unit": unit.strip(),
        "code_list": code_list.strip(),
        "standard": standard.strip(),
    }


ElementForm = Annotated[dict[str, str], Depends(element_form)]
OPTIONAL_ELEMENT_TEXT = ("name_en", "format", "unit", "code_list", "standard")


def _element_in(form: dict[str, str]) -> DataElementIn:
    return DataElementIn(**{k: (v or None) if k in OPTIONAL_ELEMENT_TEXT else v for k, v in form.items()})


@router.get("/catalog/elements")
def elements(
    request: Request,
    db: DB,
    q: Annotated[str, Query(max_length=200)] = "",
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> Response:
    context = {
        **_labels(),
        "elements": service.list_data_elements(db, actor, q),
        "q": q,
        "can_add": actor.has(perms.ELEMENT_ADD),
        "can_change": actor.has(perms.ELEMENT_CHANGE),
        "done": request.query_params.get("done"),
    }
    template = "catalog/_elements_table.html" if request.headers.get("hx-request") else "catalog/elements.html"
    return render(request, template, context)


def _element_page(
    request: Request, form: dict[str, str], editing: str | None, error: str | None = None, status: int = 200
) -> Response:
    context = {**_labels(), "form": form, "editing": editing, "error": error}
    return render(request, "catalog/element_edit.html", context, status_code=status)


@router.get("/catalog/elements/new")
def element_new(request: Request, actor: Principal = requires(perms.ELEMENT_ADD)) -> Response:
    return _element_page(request, element_form(), None)


@router.post("/catalog/elements/new")
def element_create(
    request: Request, db: DB, form: ElementForm, actor: Principal = requires(perms.ELEMENT_ADD)
) -> Response:
    saved, error = attempt(lambda: service.create_data_element(db, actor, _element_in(form)))
    if saved is None:
        return _element_page(request, form, None, error, 422)
    return RedirectResponse(f"/catalog/elements?done={saved.code}", status_code=303)


@router.get("/catalog/elements/{code}/edit")
def element_edit(request: Request, code: str, db: DB, actor: Principal = requires(perms.ELEMENT_CHANGE)) -> Response:
    element = service.get_data_element(db, actor, code)
    form = {k: v or "" for k, v in element.model_dump(mode="json", exclude={"used_by"}).items()}
    return _element_page(request, form, code)


@router.post("/catalog/elements/{code}/edit")
def element_update(
    request: Request, code: str, db: DB, form: ElementForm, actor: Principal = requires(perms.ELEMENT_CHANGE)
) -> Response:
    form = {**form, "code": code}
    saved, error = attempt(lambda: service.update_data_element(db, actor, code, _element_in(form)))
    if saved is None:
        return _element_page(request, form, code, error, 422)
    return RedirectResponse(f"/catalog/elements?done={code}", status_code=303)


# --- detail ------------------------------------------------------------------------------------------------


def _detail_context(db: Session, actor: Principal, code: str) -> dict[str, Any]:
    resource = service.get_resource(db, actor, code)
    manages = service.manages(db, actor, code)
    return {
        **_labels(),
        "resource": resource,
        "snapshots": ingest.list_snapshots(db, actor, code),
        "can_edit": manages and actor.has(perms.RESOURCE_CHANGE),
        "can_upload": manages and actor.has(perms.RESOURCE_INGEST),
        "modes": MODES,
    }


@router.get("/catalog/{code}")
def resource_detail(request: Request, code: str, db: DB, actor: Principal = requires(perms.RESOURCE_VIEW)) -> Response:
    context = _detail_context(db, actor, code)
    return render(request, "catalog/detail.html", {**context, "done": request.query_params.get("done")})


@router.get("/catalog/{code}/diff")
def snapshot_diff(
    request: Request,
    code: str,
    db: DB,
    from_version: Annotated[int, Query(ge=1, le=10**9)],
    to_version: Annotated[int, Query(ge=1, le=10**9)],
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> Response:
    diff = ingest.diff_snapshots(db, actor, code, from_version, to_version)
    return render(request, "catalog/_diff.html", {"diff": diff})


@router.post("/catalog/{code}/rollback")
def snapshot_rollback(
    request: Request,
    code: str,
    db: DB,
    version: Annotated[int, Form(ge=1, le=10**9)],
    actor: Principal = requires(perms.RESOURCE_INGEST),
) -> Response:
    _, error = attempt(lambda: ingest.rollback(db, actor, code, version))
    if error:
        context = _detail_context(db, actor, code)
        return render(request, "catalog/detail.html", {**context, "done": None, "error": error}, status_code=422)
    return RedirectResponse(f"/catalog/{code}?done=rollback", status_code=303)


# --- upload ------------------------------------------------------------------------------------------------


def _upload_page(
    request: Request,
    resource: ResourceOut,
    *,
    report: object = None,
    error: ShengjingError | None = None,
    status: int = 200,
) -> Response:
    context = {
        "resource": resource,
        "report": report,
        "error": error.message(i18n.locale_var.get()) if error else None,
        # Where the data went wrong (file, line, field …): shown beside the message, never data values.
        "error_details": {k: v for k, v in error.details.items() if v is not None} if error else {},
        "encodings": ENCODINGS,
        "formats": FORMATS,
        "modes": MODES,
    }
    return render(request, "catalog/upload.html", context, status_code=status)


@router.get("/catalog/{code}/upload")
def upload_form(request: Request, code: str, db: DB, actor: Principal = requires(perms.RESOURCE_INGEST)) -> Response:
    service.ingest_target(db, actor, code)  # refuses a resource of another department
    return _upload_page(request, service.get_resource(db, actor, code))


@router.post("/catalog/{code}/upload")
def upload_submit(
    request: Request,
    code: str,
    db: DB,
    file: Annotated[UploadFile, File()],
    mode: Annotated[str, Form(max_length=16)] = "replace",
    encoding: Annotated[str, Form(max_length=16)] = "",
    format: Annotated[str, Form(max_length=16)] = "",
    actor: Principal = requires(perms.RESOURCE_INGEST),
) -> Response:
    resource = service.get_resource(db, actor, code)
    # Ingest runs its own short transactions; on SQLite the request's open one (BEGIN IMMEDIATE) would block
    # them until it timed out. End it here: nothing was changed in it, and the session reopens one if asked.
    db.commit()
    try:
        report = ingest.ingest_upload(
            request.app.state.sessions,
            actor,
            code,
            file.file,
            file.filename or "upload",
            mode=mode,
            encoding=encoding or None,
            format=format or None,
        )
    except ShengjingError as exc:
        return _upload_page(request, resource, error=exc, status=exc.http_status)
    return _upload_page(request, service.get_resource(db, actor, code), report=report)


# --- quality report and exports ----------------------------------------------------------------------------


def _quality(request: Request, db: Session, actor: Principal, code: str, version: int | None, rows: int) -> Any:
    """The report of one version (the current one by default) and up to ``rows`` of its quarantined rows: the
    department's own data as it came, so only for those who may ingest into the resource (else None)."""
    report = ingest.quality_report(db, actor, code, version)
    if not (actor.has(perms.RESOURCE_INGEST) and service.manages(db, actor, code)):
        return report, None
    db.commit()  # read_quarantine opens its own transaction: the request's must not hold SQLite's write lock
    held = ingest.read_quarantine(request.app.state.sessions, actor, code, report.version, limit=rows)
    return report, held


def _score_pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


@router.get("/catalog/{code}/quality")
def quality_page(
    request: Request,
    code: str,
    db: DB,
    version: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> Response:
    report, held = _quality(request, db, actor, code, version, QUARANTINE_PREVIEW_ROWS)
    chart = {
        "fields": [[name, _score_pct(score)] for name, score in report.field_scores.items()],
        "history": [[h.version, _score_pct(h.score)] for h in report.history],
        "rules": [[r.rule_id, _score_pct(r.pass_rate)] for r in report.rules],
        "labels": {
            "fields": i18n.gettext("各数据项质量得分"),
            "history": i18n.gettext("质量得分历史"),
            "rules": i18n.gettext("规则通过率"),
            "version": i18n.gettext("版本"),
        },
    }
    context = {
        "report": report,
        "chart": chart,
        "held": held is not None,
        "held_columns": held.column_names if held is not None else [],
        "held_rows": held.to_pylist() if held is not None else [],
        "pct": _score_pct,
        "preview_rows": QUARANTINE_PREVIEW_ROWS,
    }
    return render(request, "catalog/quality.html", context)


def _export_tables(report: Any, held: Any) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as (sheet title, header, rows): rules, field scores, quarantined rows."""
    gettext = i18n.gettext
    return [
        (
            gettext("质量规则"),
            [
                gettext("规则"),
                gettext("类型"),
                gettext("数据项"),
                gettext("阻断"),
                gettext("检查行数"),
                gettext("不通过行数"),
                gettext("通过率"),
            ],
            [[r.rule_id, r.kind, r.field, r.blocking, r.checked, r.failed, r.pass_rate] for r in report.rules],
        ),
        (
            gettext("数据项得分"),
            [gettext("数据项"), gettext("得分")],
            [[name, score] for name, score in report.field_scores.items()],
        ),
    ] + (
        [(gettext("隔离行"), list(held.column_names), [list(row.values()) for row in held.to_pylist()])]
        if held is not None
        else []
    )


def _export_name(report: Any, suffix: str) -> str:
    return f"{report.resource}-v{report.version}-quality.{suffix}"


@router.get("/catalog/{code}/quality.csv")
def quality_csv(
    request: Request,
    code: str,
    db: DB,
    version: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> Response:
    report, held = _quality(request, db, actor, code, version, EXPORT_QUARANTINE_ROWS)
    out = io.StringIO()
    writer = csv.writer(out)
    for index, (title, header, rows) in enumerate(_export_tables(report, held)):
        if index:
            writer.writerow([])
        writer.writerow([f"# {title}"])
        writer.writerow(header)
        writer.writerows(rows)
    # UTF-8 with a byte-order mark: Excel on Chinese Windows otherwise opens it as GBK and garbles it.
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(report, "csv")}"'},
    )


@router.get("/catalog/{code}/quality.xlsx")
def quality_xlsx(
    request: Request,
    code: str,
    db: DB,
    version: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> Response:
    report, held = _quality(request, db, actor, code, version, EXPORT_QUARANTINE_ROWS)
    return Response(
        xlsx_bytes(_export_tables(report, held)),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{_export_name(report, "xlsx")}"'},
    )
