"""``create_app(settings)``: the FastAPI app, assembled from what each installed domain registers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from shengjing import __version__, domains
from shengjing.config import Settings
from shengjing.store.db import make_engine, make_session_factory
from shengjing.web import errors
from shengjing.web import pages as web_pages
from shengjing.web.deps import GuardedRoute, route_guard
from shengjing.web.middleware import HttpMetrics, RequestContextMiddleware
from shengjing.web.templating import build_templates

STATIC_DIR = Path(__file__).parent / "web" / "static"


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Shengjing 盛京 API",
        version=__version__,
        description="公共数据授权运营平台 API. Authenticate with `Authorization: Bearer sjt_…` (an API token).",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_session_factory(engine, settings)
    app.state.templates = build_templates()
    app.state.metrics_registry = CollectorRegistry()

    # Routes are added flat (not include_router), so every APIRoute is in app.routes to be checked and tested.
    for router in [
        web_pages.router,
        *(m.router for m in domains.door_modules("api")),
        *(m.router for m in domains.door_modules("pages")),
    ]:
        app.router.routes.extend(router.routes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Deny by default, by construction: a route that declares neither a permission nor Public won't start.
    unguarded = [
        f"{sorted(r.methods)} {r.path}"
        for r in app.routes
        if isinstance(r, APIRoute) and (not route_guard(r) or not isinstance(r, GuardedRoute))
    ]
    if unguarded:
        raise RuntimeError(f"routes without a declared permission: {unguarded}")

    errors.install(app)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=HttpMetrics(app.state.metrics_registry),
        default_locale=settings.default_locale,
    )
    return app


def app_from_environment() -> FastAPI:
    """The factory `shengjing serve` hands to uvicorn: each worker reads the settings from the environment."""
    from shengjing.logs import configure

    settings = Settings()
    configure(settings.log_level, json=settings.log_json)
    return create_app(settings)
