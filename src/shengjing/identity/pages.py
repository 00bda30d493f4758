"""Identity console pages: login, organizations, users, API tokens, one's own account. Thin door into the service."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from shengjing.identity import permissions as perms
from shengjing.identity import service
from shengjing.identity.principal import ORG_TYPE_LABELS, Principal
from shengjing.identity.schemas import OrganizationCreate, PasswordChange, TokenCreate, UserCreate, UserUpdate
from shengjing.web import i18n
from shengjing.web.deps import DB, SESSION_COOKIE, page_router, public, requires
from shengjing.web.forms import attempt
from shengjing.web.i18n import N_
from shengjing.web.nav import NavItem, register
from shengjing.web.pages import safe_next
from shengjing.web.templating import render

router = page_router()
register(
    NavItem("/organizations", N_("组织"), perms.ORG_VIEW, order=10),
    NavItem("/users", N_("用户"), perms.USER_VIEW, order=20),
    NavItem("/tokens", N_("API 令牌"), perms.TOKEN_VIEW, order=30),
)
LOGIN_CSRF_COOKIE = "sj_login_csrf"
Text = Annotated[str, Form(max_length=500)]
OptionalText = Annotated[str, Form(max_length=500)]


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        path="/",
        secure=request.app.state.settings.cookie_secure,
    )


@router.get("/login")
def login_form(request: Request, next: str | None = None, viewer: Principal | None = public()) -> Response:
    if viewer is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next, None, 200)


def _login_page(request: Request, next: str | None, error: str | None, status: int) -> Response:
    # Login CSRF: a random value in a cookie and in the form; a cross-site form cannot know it.
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "identity/login.html",
        {"next": safe_next(next), "error": error, "login_csrf": token},
        status_code=status,
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
def login_submit(
    request: Request,
    db: DB,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
    viewer: Principal | None = public(),
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, next, i18n.gettext("登录表单已过期，请重试。"), 403)
    client = request.client.host if request.client else None
    result = service.login(db, username, password, client_ip=client, user_agent=request.headers.get("user-agent"))
    if result.error is not None:
        return _login_page(request, next, result.error.message(i18n.locale_var.get()), result.error.http_status)
    response = RedirectResponse(safe_next(next), status_code=303)
    _set_cookie(
        request,
        response,
        SESSION_COOKIE,
        result.session_token or "",
        request.app.state.settings.session_max_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, db: DB, actor: Principal = requires(perms.AUTHENTICATED)) -> Response:
    service.logout(db, actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- organizations -----------------------------------------------------------------------------------


def _organizations_page(
    request: Request, db: DB, actor: Principal, error: str | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "identity/organizations.html",
        {
            # A refused form re-renders this page for someone who may add but not list: show no list then.
            "organizations": service.list_organizations(db, actor) if actor.has(perms.ORG_VIEW) else [],
            "org_types": ORG_TYPE_LABELS,
            "can_add": actor.has(perms.ORG_ADD),
            "error": error,
            "done": request.query_params.get("done"),
        },
        status_code=status,
    )


@router.get("/organizations")
def organizations(request: Request, db: DB, actor: Principal = requires(perms.ORG_VIEW)) -> Response:
    return _organizations_page(request, db, actor)


@router.post("/organizations")
def organization_add(
    request: Request,
    db: DB,
    code: Text,
    name: Text,
    org_type: Text,
    name_en: OptionalText = "",
    credit_code: OptionalText = "",
    actor: Principal = requires(perms.ORG_ADD),
) -> Response:
    _, error = attempt(
        lambda: service.create_organization(
            db,
            actor,
            OrganizationCreate(
                code=code.strip(),
                name=name.strip(),
                name_en=name_en.strip() or None,
                org_type=org_type,  # type: ignore[arg-type]
                credit_code=credit_code.strip() or None,
            ),
        )
    )
    if error:
        return _organizations_page(request, db, actor, error, 422)
    return RedirectResponse(f"/organizations?done={code}", status_code=303)


# --- users -------------------------------------------------------------------------------------------


def _users_page(request: Request, db: DB, actor: Principal, error: str | None = None, status: int = 200) -> Response:
    can_add = actor.has(perms.USER_ADD)
    return render(
        request,
        "identity/users.html",
        {
            "users": service.list_users(db, actor) if actor.has(perms.USER_VIEW) else [],
            "organizations": service.list_organizations(db, actor) if can_add and actor.has(perms.ORG_VIEW) else [],
            "roles": service.list_roles(db, actor) if can_add and actor.has(perms.ROLE_VIEW) else [],
            "can_add": can_add,
            "can_change": actor.has(perms.USER_CHANGE),
            "error": error,
            "done": request.query_params.get("done"),
        },
        status_code=status,
    )


@router.get("/users")
def users(request: Request, db: DB, actor: Principal = requires(perms.USER_VIEW)) -> Response:
    return _users_page(request, db, actor)


@router.post("/users")
def user_add(
    request: Request,
    db: DB,
    username: Annotated[str, Form(max_length=64)],
    display_name: Text,
    org_code: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    email: OptionalText = "",
    roles: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006 - FastAPI copies form defaults
    actor: Principal = requires(perms.USER_ADD),
) -> Response:
    _, error = attempt(
        lambda: service.create_user(
            db,
            actor,
            UserCreate(
                username=username.strip().lower(),
                display_name=display_name.strip(),
                email=email.strip() or None,
                org_code=org_code,
                password=password,
                roles=roles,
            ),
        )
    )
    if error:
        return _users_page(request, db, actor, error, 422)
    return RedirectResponse(f"/users?done={username}", status_code=303)


@router.get("/users/{username}")
def user_detail(request: Request, username: str, db: DB, actor: Principal = requires(perms.USER_VIEW)) -> Response:
    return _user_page(request, db, actor, username)


def _user_page(
    request: Request, db: DB, actor: Principal, username: str, error: str | None = None, status: int = 200
) -> Response:
    user = service.user_out(service.get_user(db, actor, username))
    can_change = actor.has(perms.USER_CHANGE)
    roles = service.list_roles(db, actor) if can_change and actor.has(perms.ROLE_VIEW) else []
    return render(
        request,
        "identity/user.html",
        {
            "user": user,
            "roles": [r for r in roles if user.org_type in r.org_types],
            "can_change": can_change,
            "error": error,
            "done": request.query_params.get("done"),
        },
        status_code=status,
    )


@router.post("/users/{username}")
def user_change(
    request: Request,
    username: str,
    db: DB,
    display_name: Text,
    email: OptionalText = "",
    roles: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006 - FastAPI copies form defaults
    actor: Principal = requires(perms.USER_CHANGE),
) -> Response:
    _, error = attempt(
        lambda: service.update_user(
            db, actor, username, UserUpdate(display_name=display_name.strip(), email=email.strip() or None, roles=roles)
        )
    )
    if error:
        return (
            _user_page(request, db, actor, username, error, 422)
            if actor.has(perms.USER_VIEW)
            else _users_page(request, db, actor, error, 422)
        )
    return RedirectResponse(f"/users/{username}?done=saved", status_code=303)


@router.post("/users/{username}/password")
def user_password(
    request: Request,
    username: str,
    db: DB,
    password: Annotated[str, Form(max_length=200)],
    actor: Principal = requires(perms.USER_CHANGE),
) -> Response:
    _, error = attempt(lambda: service.set_password(db, actor, username, password))
    if error:
        return _users_page(request, db, actor, error, 422)
    return RedirectResponse(f"/users/{username}?done=password", status_code=303)


@router.post("/users/{username}/unlock")
def user_unlock(request: Request, username: str, db: DB, actor: Principal = requires(perms.USER_CHANGE)) -> Response:
    _, error = attempt(lambda: service.unlock_user(db, actor, username))
    return _users_page(request, db, actor, error, 422) if error else RedirectResponse("/users?done=unlock", 303)


@router.post("/users/{username}/active")
def user_set_active(
    request: Request,
    username: str,
    db: DB,
    active: Annotated[bool, Form()],
    actor: Principal = requires(perms.USER_CHANGE),
) -> Response:
    _, error = attempt(lambda: service.update_user(db, actor, username, UserUpdate(active=active)))
    return _users_page(request, db, actor, error, 422) if error else RedirectResponse("/users?done=active", 303)


# --- API tokens and one's own account ----------------------------------------------------------------


def _tokens_page(
    request: Request,
    db: DB,
    actor: Principal,
    *,
    created: object = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "identity/tokens.html",
        {
            "tokens": service.list_tokens(db, actor) if actor.has(perms.TOKEN_VIEW) else [],
            "created": created,
            "can_add": actor.has(perms.TOKEN_ADD),
            "can_revoke": actor.has(perms.TOKEN_DELETE),
            "default_days": request.app.state.settings.token_default_days,
            "error": error,
        },
        status_code=status,
    )


@router.get("/tokens")
def tokens(request: Request, db: DB, actor: Principal = requires(perms.TOKEN_VIEW)) -> Response:
    return _tokens_page(request, db, actor)


@router.post("/tokens")
def token_add(
    request: Request,
    db: DB,
    name: Annotated[str, Form(max_length=100)],
    days: Annotated[int, Form(ge=1, le=3650)],
    actor: Principal = requires(perms.TOKEN_ADD),
) -> Response:
    created, error = attempt(lambda: service.create_token(db, actor, TokenCreate(name=name.strip(), days=days)))
    # The secret is shown in this one response and never again (no redirect: it must not land in history).
    return _tokens_page(request, db, actor, created=created, error=error, status=422 if error else 201)


@router.post("/tokens/{public_id}/revoke")
def token_revoke(request: Request, public_id: str, db: DB, actor: Principal = requires(perms.TOKEN_DELETE)) -> Response:
    _, error = attempt(lambda: service.revoke_token(db, actor, public_id))
    return _tokens_page(request, db, actor, error=error, status=422) if error else RedirectResponse("/tokens", 303)


@router.get("/account")
def account(request: Request, actor: Principal = requires(perms.AUTHENTICATED)) -> Response:
    return render(request, "identity/account.html", {"error": None, "done": request.query_params.get("done")})


@router.post("/account/password")
def account_password(
    request: Request,
    db: DB,
    current_password: Annotated[str, Form(max_length=200)],
    new_password: Annotated[str, Form(max_length=200)],
    actor: Principal = requires(perms.AUTHENTICATED),
) -> Response:
    _, error = attempt(
        lambda: service.change_own_password(
            db, actor, PasswordChange(current_password=current_password, new_password=new_password)
        )
    )
    if error:
        return render(request, "identity/account.html", {"error": error, "done": None}, status_code=422)
    return RedirectResponse("/account?done=password", status_code=303)
