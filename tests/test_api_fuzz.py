"""Schemathesis fuzzing of every /api/v1 operation, in-process over ASGI, on every database backend.

The schema is the app's own /api/v1/openapi.json. Each operation gets one bounded, derandomized Hypothesis run
of ``operation.as_strategy()`` (positive and negative data), and every failing operation is reported at the
end, not just the first. ``schemathesis.pytest.from_fixture`` would be the natural door for a per-test app, but
in schemathesis 4.32 it rewrites ``request.node._nodeid``, which pytest 9.2's nodes no longer have; so the
operations are iterated here.

Known, reported gap kept out of the strict checks: the schema documents only 2xx and 422 answers, while the
app answers 400, 401, 403, 404, 409 and 423 by design (shengjing.errors), so schemathesis'
``status_code_conformance`` fails on most operations. :func:`status_documented_or_app_error` runs that check
and forgives only those statuses, and only with the app's JSON error body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import UndefinedStatusCode

from shengjing.identity.principal import OrgType
from tests.conftest import World

OPENAPI = "/api/v1/openapi.json"
# The acting administrator and its organization have names the generators will not hit, so fuzzed PATCHes,
# role changes and revocations land on the victims below and never lock the fuzzer out halfway.
ADMIN_ORG = "FZ-BUREAU-5c1d"
ADMIN = "fz-admin-5c1d"
VICTIM_ORG = "FZ-DEPT"
VICTIM = "fz-victim"
MAX_EXAMPLES = 25
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
# Statuses the app answers on purpose (shengjing.errors, FastAPI's unparsable body) without declaring them.
APP_ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 423})
ERROR_FIELDS = {"code", "message_zh", "message_en", "details"}

Check = Callable[[CheckContext, Response, Case], "bool | None"]


def error_body(response: Response) -> dict[str, Any]:
    """The app's error envelope, asserted field by field; returns the inner ``error`` object."""
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error", "request_id"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == ERROR_FIELDS, body
    assert all(isinstance(error[key], str) and error[key] for key in ("code", "message_zh", "message_en")), (
        body
    )
    assert isinstance(error["details"], dict), body
    assert body["request_id"] and response.headers.get("x-request-id") == [body["request_id"]], body
    return error


def app_error_envelope(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every 4xx/5xx under /api is the JSON error envelope, never FastAPI's bare ``{"detail": ...}``."""
    if response.status_code >= 400:
        error_body(response)


def status_documented_or_app_error(ctx: CheckContext, response: Response, case: Case) -> None:
    """schemathesis' status_code_conformance, forgiving only the app's undeclared error statuses."""
    try:
        status_code_conformance(ctx, response, case)
    except UndefinedStatusCode:
        if response.status_code not in APP_ERROR_STATUSES:
            raise


def not_authenticated(ctx: CheckContext, response: Response, case: Case) -> None:
    assert response.status_code == 401, f"expected 401 without credentials, got {response.status_code}"
    assert error_body(response)["code"] == "not_authenticated"


def fuzz(
    app: Any,
    checks: list[Check],
    headers: list[dict[str, str]],
    path_parameters: Callable[[APIOperation], list[dict[str, str]]] = lambda op: [],
) -> tuple[list[str], list[str]]:
    """Run every operation of the app's schema; returns (labels run, failure reports)."""
    schema = schemathesis.openapi.from_asgi(OPENAPI, app, config=schemathesis.Config())
    labels, failures = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
        # Existing targets, so the code behind the 404 (updates, role changes, revocation) is reached too.
        strategies += [operation.as_strategy(path_parameters=known) for known in path_parameters(operation)]

        @FUZZ_SETTINGS
        @given(case=st.one_of(strategies))
        def run(case: Case) -> None:
            for extra in headers:
                try:
                    case.call_and_validate(headers=extra, checks=checks)
                except FailureGroup as exc:  # a BaseExceptionGroup: made an AssertionError for Hypothesis
                    raise AssertionError(str(exc)) from None

        try:
            run()
        except Exception as exc:
            notes = "\n".join(getattr(exc, "__notes__", []))
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}\n{notes}")
    return labels, failures


@pytest.fixture
def engine_disposed(app: Any) -> Any:
    yield
    app.state.engine.dispose()


@pytest.mark.usefixtures("engine_disposed")
def test_fuzz_as_platform_admin_and_auditor(app: Any, world: World) -> None:
    world.org(ADMIN_ORG)
    world.user(ADMIN, ADMIN_ORG, "platform_admin", "auditor")
    world.org(VICTIM_ORG, OrgType.DEPARTMENT)
    world.user(VICTIM, VICTIM_ORG, "department_admin")
    victim_token = world.token(VICTIM).split("_")[1]
    admin = {"Authorization": f"Bearer {world.token(ADMIN)}"}
    known = {"code": VICTIM_ORG, "username": VICTIM, "public_id": victim_token}

    def existing(operation: APIOperation) -> list[dict[str, str]]:
        names = [p.name for p in operation.path_parameters]
        return [{name: known[name] for name in names}] if names else []

    labels, failures = fuzz(
        app,
        [
            not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
            status_documented_or_app_error,
            app_error_envelope,
        ],
        [admin],
        existing,
    )
    assert len(labels) == 18, labels  # every operation of the schema was fuzzed
    assert not failures, "\n\n".join(failures)


@pytest.mark.usefixtures("engine_disposed")
def test_every_operation_refuses_the_unauthenticated(app: Any, world: World) -> None:
    world.org(ADMIN_ORG)
    world.user(ADMIN, ADMIN_ORG, "platform_admin", "auditor")
    labels, failures = fuzz(
        app,
        [not_a_server_error, not_authenticated],
        [{}, {"Authorization": "Bearer sjt_000000000000_forged"}, {"Authorization": "Basic Zm9vOmJhcg=="}],
    )
    assert len(labels) == 18, labels
    assert not failures, "\n\n".join(failures)
