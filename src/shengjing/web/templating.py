"""Jinja2 for the console: one environment over every domain's ``templates/`` folder, with i18n and filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from shengjing import domains
from shengjing.identity.principal import ORG_TYPE_LABELS, OrgType, Principal
from shengjing.web import i18n
from shengjing.web.nav import visible_nav

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _template_dirs() -> list[Path]:
    web = Path(__file__).parent
    dirs = [web / "templates"]
    for domain in domains.DOMAINS:
        folder = web.parent / domain / "templates"
        if folder.is_dir():
            dirs.append(folder)
    return dirs


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Timestamps are stored in UTC and shown in Asia/Shanghai."""
    return "" if value is None else value.astimezone(SHANGHAI).strftime(fmt)


def org_type_label(value: str | OrgType) -> str:
    zh, en = ORG_TYPE_LABELS[OrgType(value)]
    return i18n.pick(zh, en)


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in _template_dirs()]),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local_time"] = local_time
    env.filters["org_type_label"] = org_type_label
    env.globals["pick"] = i18n.pick
    env.globals["LOCALES"] = i18n.LOCALES
    return Jinja2Templates(env=env)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    base = {
        "principal": principal,
        "nav": visible_nav(principal, request.url.path),
        "locale": i18n.locale_var.get(),
        "csrf_token": principal.csrf_token if principal and principal.csrf_token else "",
        "request_id": getattr(request.state, "request_id", ""),
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, {**base, **(context or {})}, status_code=status_code)
