"""Deny by default: every route of the app is either on the public allow-list or needs the permission it
declares — and is really refused without it, and really reachable with only it."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from shengjing.identity.permissions import AUTHENTICATED, REGISTRY
from shengjing.web.deps import Public, Requires, route_guard
from tests.conftest import World

PUBLIC_ROUTES = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/lang/{code}"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    # The open-data catalog: its pages, its DCAT files and CKAN's read-only action API (open resources only).
    ("GET", "/opendata"),
    ("GET", "/opendata/{code}"),
    ("GET", "/opendata/catalog.ttl"),
    ("GET", "/opendata/catalog.jsonld"),
    ("GET", "/api/action/{action}"),
    ("POST", "/api/action/{action}"),
    ("GET", "/api/3/action/{action}"),
    ("POST", "/api/3/action/{action}"),
    # The registry's public side: certificate lookup (by number or QR), publicity, and the transparency log.
    ("GET", "/registry/publicity"),
    ("GET", "/registry/lookup"),
    ("GET", "/registry/certificates/{number}"),
    ("GET", "/registry/certificates/{number}/bundle.json"),
    ("GET", "/registry/certificates/{number}/certificate.pdf"),
    ("GET", "/api/v1/registry/certificates/{number}"),
    ("GET", "/api/v1/registry/certificates/{number}/bundle"),
    ("GET", "/api/v1/registry/publicity"),
    ("GET", "/api/v1/registry/log/checkpoint"),
    ("GET", "/api/v1/registry/log/entries"),
    ("GET", "/api/v1/registry/log/proof/inclusion"),
    ("GET", "/api/v1/registry/log/proof/consistency"),
    ("GET", "/api/v1/registry/log/keys"),
}
# Starlette routes outside FastAPI's dependency system: the API description and the static assets.
PUBLIC_PLAIN = {"/api/v1/openapi.json", "/api/v1/docs", "/static"}


def _api_routes(app) -> list[tuple[str, APIRoute]]:  # type: ignore[no-untyped-def]
    return [(method, r) for r in app.routes if isinstance(r, APIRoute) for method in sorted(r.methods)]


def _url(route: APIRoute) -> str:
    return re.sub(r"\{[^}]+\}", "does-not-exist", route.path)


def test_every_route_declares_exactly_its_guard(app) -> None:  # type: ignore[no-untyped-def]
    seen_public = set()
    for method, route in _api_routes(app):
        guard = route_guard(route)
        assert guard is not None, f"{method} {route.path} declares no permission"
        if (method, route.path) in PUBLIC_ROUTES:
            assert isinstance(guard, Public), f"{method} {route.path} should be public"
            seen_public.add((method, route.path))
        else:
            assert isinstance(guard, Requires), f"{method} {route.path} is public but not on the allow-list"
            assert guard.permission is AUTHENTICATED or guard.permission.name in REGISTRY
    assert seen_public == PUBLIC_ROUTES
    plain = {r.path for r in app.routes if isinstance(r, Route | Mount) and not isinstance(r, APIRoute)}
    assert plain == PUBLIC_PLAIN


def test_every_guarded_route_refuses_anonymous(app, client) -> None:  # type: ignore[no-untyped-def]
    for method, route in _api_routes(app):
        if isinstance(route_guard(route), Public):
            continue
        response = client.request(method, _url(route), follow_redirects=False)
        if route.path.startswith("/api/") or method != "GET":
            assert response.status_code == 401, f"{method} {route.path}: {response.status_code}"
        else:  # a console page sends the browser to the login form
            assert response.status_code == 303, f"{method} {route.path}: {response.status_code}"
            assert response.headers["location"].startswith("/login?next=")


@pytest.fixture
def tokens_by_permission(world: World) -> dict[str, tuple[str, str]]:
    """For each permission: a token of a user holding only it, and one holding every other permission."""
    world.org("BUREAU")
    tokens = {}
    for name in sorted(REGISTRY):
        only, without = f"only-{name}", f"without-{name}"
        world.role(only, name)
        world.role(without, *(p for p in REGISTRY if p != name))
        world.user(only.replace(".", "-"), "BUREAU", only)
        world.user(without.replace(".", "-"), "BUREAU", without)
        tokens[name] = (world.token(only.replace(".", "-")), world.token(without.replace(".", "-")))
    return tokens


def test_each_route_needs_its_permission_and_only_it(app, client, world: World, tokens_by_permission) -> None:  # type: ignore[no-untyped-def]
    world.role("nothing")
    world.user("nobody", "BUREAU", "nothing")
    nobody = world.token("nobody")
    checked = 0
    for method, route in _api_routes(app):
        guard = route_guard(route)
        if not isinstance(guard, Requires):
            continue
        url = _url(route)
        if guard.permission is AUTHENTICATED:
            response = client.request(
                method, url, headers={"Authorization": f"Bearer {nobody}"}, follow_redirects=False
            )
            assert response.status_code not in (401, 403), f"{method} {route.path}: {response.status_code}"
            continue
        only, without = tokens_by_permission[guard.permission.name]
        refused = client.request(method, url, headers={"Authorization": f"Bearer {without}"}, follow_redirects=False)
        assert refused.status_code == 403, f"{method} {route.path} without {guard.permission}: {refused.status_code}"
        allowed = client.request(method, url, headers={"Authorization": f"Bearer {only}"}, follow_redirects=False)
        assert allowed.status_code not in (401, 403), (
            f"{method} {route.path} with only {guard.permission}: {allowed.status_code} {allowed.text[:200]}"
        )
        checked += 1
    assert checked >= 25


def test_a_bad_or_revoked_token_is_anonymous(client, world: World) -> None:  # type: ignore[no-untyped-def]
    world.org("BUREAU")
    world.user("admin", "BUREAU", "platform_admin")
    token = world.token("admin")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic YWRtaW46eA=="}).status_code == 401
    public_id = token.split("_")[1]
    revoked = client.delete(f"/api/v1/tokens/{public_id}", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
