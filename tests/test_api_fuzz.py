"""Schemathesis fuzzing of every /api/v1 operation, in-process over ASGI, on every database backend.

The schema is read once at import from an app built like the test apps (the routes do not depend on settings;
``test_fuzzed_schema_is_the_apps`` checks that each backend's app serves the very same document). Each
operation is one pytest item per backend, and its cases go to that test's own app and fresh database through
``case.call_and_validate(app=app)``, so state built by one example (users, organizations, tokens) is there
for the next. ``schemathesis.pytest.from_fixture`` would be the other door for a per-test app, but in
schemathesis 4.32 it rewrites ``request.node._nodeid``, which pytest 9.2 nodes no longer have.

Runs are bounded and reproducible: schemathesis' examples and coverage phases, then ``max_examples``
derandomized Hypothesis cases per operation, no example database on disk. Generation is steered with
schemathesis dictionaries and one hook: references to objects that exist (so the code behind the 404s is
reached), and a few hostile strings and integers (NUL, long CJK text, int4 overflow) in every parameter.

Every error status the app answers on purpose (shengjing.errors; 400 for an unparsable body) is declared in the
schema with the JSON error envelope, so schemathesis' strict ``status_code_conformance`` and
``response_schema_conformance`` apply to error answers too.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, HookContext, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from shengjing.app import create_app
from shengjing.config import Settings
from shengjing.identity.models import ApiToken
from shengjing.identity.principal import OrgType
from shengjing.web.deps import Public, route_guard
from tests.conftest import World
from tests.test_route_permissions import PUBLIC_ROUTES

OPENAPI = "/api/v1/openapi.json"

# The acting administrator and its organization have names no generator will hit, so fuzzed PATCHes, role
# changes, password resets and revocations land on the victims below and never lock the fuzzer out halfway.
ADMIN_ORG = "FZ-BUREAU-5c1d"
ADMIN = "fz-admin-5c1d"
VICTIM_ORG = "FZ-DEPT"
VICTIM = "fz-victim"
VICTIM_TOKEN = "f0f0f0f0f0f0"
EXISTING_PATH = {"code": VICTIM_ORG, "username": VICTIM, "public_id": VICTIM_TOKEN}
# Query and body fields that name an existing object, drawn from these dictionaries half the time.
REFERENCES = {
    "query.org": "orgs",
    "body.org_code": "orgs",
    "query.username": "users",
    "body.username": "users",
}
# Hostile values for every other string and integer parameter; schemathesis keeps only schema-valid ones in
# positive cases. NUL and 150 CJK characters are valid strings; 2**31 overflows a PostgreSQL integer.
HOSTILE_TEXT = ["a\x00b", "名" * 150, "\U0001d518", "%_/\\'\"", " "]
HOSTILE_INTEGERS = [2**31, 2**31 - 1, 2**53 + 1, -1, 0]

ERROR_FIELDS = {"code", "message_zh", "message_en", "details"}

FUZZ = settings(
    max_examples=20,  # per operation and backend, on top of schemathesis' explicit examples and coverage cases
    derandomize=True,
    database=None,
    deadline=None,
    # No shrinking: a failure's state-changing history cannot be replayed faithfully, and time stays bounded.
    phases=[Phase.explicit, Phase.generate],
    # One app and database per operation and backend: its state is meant to carry over between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _openapi_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as var:
        (Path(var) / "lake").mkdir()
        app = create_app(Settings(_env_file=None, var_dir=Path(var), database_url="sqlite://"))  # type: ignore[call-arg]
        document = app.openapi()
        app.state.engine.dispose()
    return copy.deepcopy(document)


def _types(schema: dict[str, Any]) -> set[str]:
    return {schema.get("type", "")} | {t for option in schema.get("anyOf", []) for t in _types(option)}


def _config(document: dict[str, Any]) -> schemathesis.Config:
    """Dictionaries bound to every path, query and top-level body field of the document, by type."""
    components = document.get("components", {}).get("schemas", {})
    fields: dict[str, dict[str, Any]] = {}
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                fields[f"{parameter['in']}.{parameter['name']}"] = parameter.get("schema", {})
            for content in operation.get("requestBody", {}).get("content", {}).values():
                body = content.get("schema", {})
                body = components.get(body.get("$ref", "").rsplit("/", 1)[-1], body)
                fields.update({f"body.{name}": prop for name, prop in body.get("properties", {}).items()})
    parameters: dict[str, Any] = {}
    for key, field in sorted(fields.items()):
        if key in REFERENCES:
            parameters[key] = {"dictionary": REFERENCES[key], "probability": 0.5}
        elif "string" in _types(field):
            parameters[key] = {"dictionary": "hostile-text", "probability": 0.2}
        elif "integer" in _types(field):
            parameters[key] = {"dictionary": "hostile-integers", "probability": 0.2}
    return schemathesis.Config.from_dict(
        {
            "dictionaries": {
                "orgs": {"values": [VICTIM_ORG]},
                "users": {"values": [VICTIM]},
                "hostile-text": {"values": HOSTILE_TEXT},
                "hostile-integers": {"values": HOSTILE_INTEGERS},
            },
            "parameters": parameters,
        }
    )


DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=_config(DOCUMENT))


@schema.hook
def flatmap_path_parameters(context: HookContext, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """Half the time aim at an object that exists, so updates, role changes and revocations are fuzzed too."""
    if not path_parameters:
        return st.just(path_parameters)
    existing = {name: EXISTING_PATH[name] for name in path_parameters if name in EXISTING_PATH}
    return st.sampled_from([path_parameters, {**path_parameters, **existing}])


# --- checks ------------------------------------------------------------------------------------------


def error_envelope(response: Response) -> dict[str, Any]:
    """The app's JSON error body, asserted field by field; returns its ``error`` object."""
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error", "request_id"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == ERROR_FIELDS, body
    assert all(isinstance(error[key], str) and error[key] for key in ("code", "message_zh", "message_en")), body
    assert isinstance(error["details"], dict), body
    assert body["request_id"] and response.headers.get("x-request-id") == [body["request_id"]], body
    return error


def app_error_envelope(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every 4xx and 5xx under /api is the JSON error envelope, never FastAPI's bare ``{"detail": ...}``."""
    if response.status_code >= 400:
        error_envelope(response)


def not_authenticated(ctx: CheckContext, response: Response, case: Case) -> None:
    """Without valid credentials every operation answers 401 ``not_authenticated``, whatever else is sent."""
    if response.request.method != case.operation.method.upper():
        return  # a coverage probe with another method is no run of the operation: routing answers 405
    assert response.status_code == 401, f"expected 401 without valid credentials, got {response.status_code}"
    assert error_envelope(response)["code"] == "not_authenticated"


ADMIN_CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    app_error_envelope,
]


def readable_without_login(ctx: CheckContext, response: Response, case: Case) -> None:
    """A public operation (the registry's certificates, publicity and transparency log) answers any reader, never
    401: credentials that are not valid make the caller an anonymous reader, who sees only what is public."""
    if response.request.method != case.operation.method.upper():
        return
    assert response.status_code != 401, "a public operation asked for credentials"


ANONYMOUS_CHECKS = [not_a_server_error, not_authenticated]
PUBLIC_CHECKS = [not_a_server_error, readable_without_login]
# The /api/v1 operations anyone may call: those of the public allow-list (tests/test_route_permissions.py).
PUBLIC_API = {(method, path) for method, path in PUBLIC_ROUTES if path.startswith("/api/v1/")}
ANONYMOUS = [
    {},
    {"Authorization": "Bearer sjt_000000000000_forged"},
    {"Authorization": "Basic Zm9vOmJhcg=="},
]


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _dispose_engine(app: Any) -> Iterator[None]:
    yield
    app.state.engine.dispose()


@pytest.fixture
def admin_headers(world: World) -> dict[str, str]:
    """A platform administrator who is also an auditor, in a data bureau; plus a department, its user, a token."""
    world.org(ADMIN_ORG)
    world.user(ADMIN, ADMIN_ORG, "platform_admin", "auditor")
    world.org(VICTIM_ORG, OrgType.DEPARTMENT)
    world.user(VICTIM, VICTIM_ORG, "department_admin")
    public_id = world.token(VICTIM).split("_")[1]
    with world.db() as db:
        db.execute(update(ApiToken).where(ApiToken.public_id == public_id).values(public_id=VICTIM_TOKEN))
        db.commit()
    return {"Authorization": f"Bearer {world.token(ADMIN)}"}


# --- tests -------------------------------------------------------------------------------------------


def test_fuzzed_schema_is_the_apps(app: Any) -> None:
    """The fuzzed document is the one this backend's app serves; it holds every /api/v1 route, none public."""
    assert TestClient(app).get(OPENAPI).json() == DOCUMENT
    api = [r for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/api/v1/")]
    fuzzed = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert api and fuzzed == {(method, route.path) for route in api for method in route.methods}
    # test_fuzz_unauthenticated_is_always_401 expects 401 everywhere but on the public operations listed.
    public = {(method, r.path) for r in api for method in r.methods if isinstance(route_guard(r), Public)}
    assert public == PUBLIC_API


@schema.parametrize()
@FUZZ
def test_fuzz_as_platform_admin_and_auditor(case: Case, app: Any, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(app=app, headers=dict(admin_headers), checks=ADMIN_CHECKS)


@schema.parametrize()
@FUZZ
def test_fuzz_unauthenticated_is_always_401(case: Case, app: Any) -> None:
    public = (case.operation.method.upper(), case.operation.path) in PUBLIC_API
    for headers in ANONYMOUS:
        case.call_and_validate(app=app, headers=dict(headers), checks=PUBLIC_CHECKS if public else ANONYMOUS_CHECKS)
