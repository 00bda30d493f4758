"""Request dependencies: the database session, who is asking, and the permission each route declares.

Every route of the app depends on exactly one of :func:`requires` or :data:`PUBLIC`; ``create_app`` refuses
to start otherwise, and a test calls every route without and with its permission. Deny by default.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shengjing.errors import CsrfFailed, InvalidInput, NotAuthenticated
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
    """A bearer API token, else the console session cookie; None when neither is valid.

    The answer is kept on the request, so the guard (before the body is read) and the route's own dependency
    look the credentials up once.
    """
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    principal = _lookup(request, db)
    request.state.principal = principal
    return principal


def _lookup(request: Request, db: Session) -> Principal | None:
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


_bearer_scheme = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer sjt_…`")


class Requires:
    """The dependency that makes a route need ``permission`` (or just a login, for AUTHENTICATED)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(
        self,
        request: Request,
        db: DB,
        csrf_form: Annotated[str | None, Depends(_csrf_from_form)],
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],  # for the OpenAPI doc
    ) -> Principal:
        principal = authenticate(request, db)
        if principal is None:
            raise NotAuthenticated()
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
        return authenticate(request, db)

    def __repr__(self) -> str:
        return "Public()"


_public = Public()


def public() -> Principal | None:
    """``viewer: Principal | None = public()``: no login needed; the viewer is known if logged in."""
    return Depends(_public)  # type: ignore[no-any-return]


def route_guard(route: APIRoute) -> Requires | Public | None:
    """The Requires or Public dependency a route declares, searched through its whole dependency tree."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Requires | Public):
            return dependant.call
        stack.extend(dependant.dependencies)
    return None


class GuardedRoute(APIRoute):
    """A route that refuses an anonymous caller before FastAPI reads the request body.

    FastAPI parses and validates the body before any dependency runs, so without this an anonymous request
    with a malformed body would learn "422" instead of "401", and the server would parse uploads for anyone.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            if isinstance(route_guard(self), Requires):
                principal = await run_in_threadpool(self._authenticate, request)
                if principal is None:
                    raise NotAuthenticated()
            # No database stores a NUL in text (PostgreSQL refuses it): refuse it in the address up front.
            if "\x00" in request.url.path or "%00" in request.url.query:
                raise InvalidInput("请求地址含有空字符。", "The request address contains a NUL character.")
            return await handler(request)

        return guarded

    @staticmethod
    def _authenticate(request: Request) -> Principal | None:
        with unit_of_work(request.app.state.sessions) as db:
            return authenticate(request, db)


class ErrorBody(BaseModel):
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """How every error is answered (see shengjing.errors)."""

    error: ErrorBody
    request_id: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Malformed request body 请求体无法解析"),
        (401, "Not authenticated 未登录或令牌无效"),
        (403, "Permission denied 无权限"),
        (404, "Not found 不存在"),
        (409, "Conflict 冲突"),
        (422, "Invalid input 输入有误"),
        (423, "Account locked 账号已锁定"),
    )
}


def api_router(tag: str) -> APIRouter:
    """The router of a domain's API: under /api/v1, guarded, with the error answers documented."""
    return APIRouter(prefix=API_PREFIX, tags=[tag], route_class=GuardedRoute, responses=ERROR_RESPONSES)


def page_router() -> APIRouter:
    """The router of a domain's console pages: guarded, left out of the API description."""
    return APIRouter(include_in_schema=False, route_class=GuardedRoute)
