"""Request dependencies: the database session, who is asking, and the permission each route declares.

Every route of the app depends on exactly one of :func:`requires` or :data:`PUBLIC`; ``create_app`` refuses
to start otherwise, and a test calls every route without and with its permission. Deny by default.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from shengjing.errors import CsrfFailed, NotAuthenticated
from shengjing.identity import service as identity
from shengjing.identity.permissions import AUTHENTICATED, Permission
from shengjing.identity.principal import Principal
from shengjing.store.db import unit_of_work

API_PREFIX = "/api/v1"
SESSION_COOKIE = "sj_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent, rolled back on any error."""
    with unit_of_work(request.app.state.sessions) as db:
        yield db


DB = Annotated[Session, Depends(get_db, scope="function")]


def authenticate(request: Request, db: Session) -> Principal | None:
    """A bearer API token, else the console session cookie; None when neither is valid."""
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        return identity.resolve_token(db, credentials.strip()) if scheme.lower() == "bearer" else None
    cookie = request.cookies.get(SESSION_COOKIE)
    return identity.resolve_session(db, cookie) if cookie else None


async def _csrf_from_form(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "")
    if request.method in SAFE_METHODS or not content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return None
    value = (await request.form()).get(CSRF_FIELD)  # cached by Starlette for the endpoint's own Form()s
    return value if isinstance(value, str) else None


def check_csrf(request: Request, expected: str | None, form_value: str | None) -> None:
    """Cookie-authenticated changes must echo the session's CSRF token (header for htmx, field for forms)."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER) or form_value or ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfFailed()


class Requires:
    """The dependency that makes a route need ``permission`` (or just a login, for AUTHENTICATED)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(
        self, request: Request, db: DB, csrf_form: Annotated[str | None, Depends(_csrf_from_form)]
    ) -> Principal:
        principal = authenticate(request, db)
        if principal is None:
            raise NotAuthenticated()
        request.state.principal = principal
        if principal.via == "session":
            check_csrf(request, principal.csrf_token, csrf_form)
        if self.permission is not AUTHENTICATED:
            principal.require(self.permission)
        return principal

    def __repr__(self) -> str:
        return f"Requires({self.permission.name})"


def requires(permission: Permission) -> Principal:
    """``actor: Principal = requires(perms.USER_VIEW)`` in a route's signature."""
    return Depends(Requires(permission))  # type: ignore[no-any-return]


class Public:
    """Marks a route as reachable without login. Only the allow-list in tests may carry it."""

    def __call__(self, request: Request, db: DB) -> Principal | None:
        principal = authenticate(request, db)
        request.state.principal = principal
        return principal

    def __repr__(self) -> str:
        return "Public()"


_public = Public()


def public() -> Principal | None:
    """``viewer: Principal | None = public()``: no login needed; the viewer is known if logged in."""
    return Depends(_public)  # type: ignore[no-any-return]
