"""Identity rules: passwords, lock-out, sessions, CSRF, tokens, organization scope and no privilege escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shengjing.errors import AccountLocked, InvalidCredentials, InvalidInput, NotFound, PermissionDenied
from shengjing.identity import service as identity
from shengjing.identity.models import ApiToken, LoginSession, User
from shengjing.identity.principal import OrgType
from shengjing.identity.schemas import TokenCreate, UserCreate, UserUpdate
from shengjing.store.db import unit_of_work, utcnow
from tests.conftest import PASSWORD, World, csrf_of


@pytest.fixture
def city(world: World) -> World:
    world.org("BUREAU")
    world.org("POLICE", OrgType.DEPARTMENT)
    world.org("HEALTH", OrgType.DEPARTMENT)
    world.user("admin", "BUREAU", "platform_admin")
    world.user("police", "POLICE", "department_admin")
    world.user("doctor", "HEALTH", "department_admin")
    return world


def _principal(world: World, username: str):  # type: ignore[no-untyped-def]
    with world.db() as db:
        return identity.principal_for(identity._find_user(db, world.system, username), "session")


def test_passwords_are_argon2_hashed_and_policed(city: World) -> None:
    with city.db() as db:
        stored = db.scalar(select(User.password_hash).where(User.username == "admin"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    for weak in ("short1!", "onlyletterslong", "admin-Password-1"):
        with pytest.raises(InvalidInput), unit_of_work(city.sessions) as db:
            identity.create_user(
                db,
                city.system,
                UserCreate(
                    username="newbie" if "admin" not in weak else "admin2",
                    display_name="n",
                    org_code="BUREAU",
                    password=weak.replace("admin", "admin2") if "admin" in weak else weak,
                ),
            )


def _login(world: World, username: str, password: str) -> identity.LoginResult:
    with unit_of_work(world.sessions) as db:
        return identity.login(db, username, password, client_ip="127.0.0.1", user_agent="pytest")


def test_lockout_after_repeated_failures_and_unlock(city: World) -> None:
    threshold = 5
    for _ in range(threshold - 1):
        assert isinstance(_login(city, "police", "wrong").error, InvalidCredentials)
    assert isinstance(_login(city, "police", "wrong").error, AccountLocked)
    # Locked: even the right password is refused until an administrator unlocks or the lock expires.
    assert isinstance(_login(city, "police", PASSWORD).error, AccountLocked)
    with unit_of_work(city.sessions) as db:
        assert identity.unlock_user(db, city.system, "police").locked is False
    assert _login(city, "police", PASSWORD).principal is not None


def test_lock_expires_by_itself(city: World) -> None:
    for _ in range(5):
        _login(city, "police", "wrong")
    with unit_of_work(city.sessions) as db:
        db.execute(update(User).where(User.username == "police").values(locked_until=utcnow() - timedelta(seconds=1)))
    assert _login(city, "police", PASSWORD).principal is not None


def test_unknown_user_and_wrong_password_look_the_same(city: World) -> None:
    unknown, wrong = _login(city, "nobody", "x"), _login(city, "admin", "x")
    assert type(unknown.error) is type(wrong.error) is InvalidCredentials
    assert unknown.error.to_dict() == wrong.error.to_dict()


def test_sessions_expire_when_idle_and_end_on_logout(city: World) -> None:
    result = _login(city, "admin", PASSWORD)
    assert result.session_token
    with unit_of_work(city.sessions) as db:
        assert identity.resolve_session(db, result.session_token) is not None
        db.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(hours=1)))
    with unit_of_work(city.sessions) as db:
        assert identity.resolve_session(db, result.session_token) is None
    other = _login(city, "admin", PASSWORD)
    with unit_of_work(city.sessions) as db:
        principal = identity.resolve_session(db, other.session_token or "")
        assert principal is not None
        identity.logout(db, principal)
    with unit_of_work(city.sessions) as db:
        assert identity.resolve_session(db, other.session_token or "") is None


def test_session_cookie_flags_and_csrf(client, city: World) -> None:  # type: ignore[no-untyped-def]
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": client.cookies.get("sj_login_csrf")},
        follow_redirects=False,
    )
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("sj_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    csrf = csrf_of(client)
    # A cookie-authenticated change without the CSRF token is refused and changes nothing.
    refused = client.post("/organizations", data={"code": "EVIL", "name": "恶意", "org_type": "department"})
    assert refused.status_code == 403
    accepted = client.post(
        "/organizations",
        data={"code": "GOOD", "name": "正常单位", "org_type": "department", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    codes = [o["code"] for o in client.get("/api/v1/organizations").json()]
    assert "GOOD" in codes and "EVIL" not in codes


def test_login_form_needs_its_csrf_cookie(client, city: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403 and "sj_session" not in response.cookies


def test_open_redirect_is_refused(client, city: World) -> None:  # type: ignore[no-untyped-def]
    client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": client.cookies.get("sj_login_csrf"),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_tokens_are_shown_once_hashed_expiring_and_revocable(city: World) -> None:
    with unit_of_work(city.sessions) as db:
        created = identity.create_token(db, city.system, TokenCreate(name="ci", days=1), for_username="admin")
    secret = created.token.split("_", 2)[2]
    with city.db() as db:
        row = db.scalar(select(ApiToken).where(ApiToken.public_id == created.public_id))
        assert row is not None and secret not in row.secret_hash
        assert all("token" not in t.model_dump() for t in identity.list_tokens(db, city.system))
    with unit_of_work(city.sessions) as db:
        assert identity.resolve_token(db, created.token) is not None
        db.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    with unit_of_work(city.sessions) as db:
        assert identity.resolve_token(db, created.token) is None
    with pytest.raises(InvalidInput), unit_of_work(city.sessions) as db:
        identity.create_token(db, city.system, TokenCreate(name="forever", days=3650), for_username="admin")


def test_departments_see_and_manage_only_their_own(city: World) -> None:
    police = _principal(city, "police")
    with city.db() as db:
        assert [u.username for u in identity.list_users(db, police)] == ["police"]
        assert [o.code for o in identity.list_organizations(db, police)] == ["POLICE"]
        with pytest.raises(NotFound):
            identity.get_user(db, police, "doctor")
    with pytest.raises(NotFound), unit_of_work(city.sessions) as db:
        identity.create_user(
            db,
            police,
            UserCreate(username="spy", display_name="spy", org_code="HEALTH", password=PASSWORD, roles=[]),
        )
    with unit_of_work(city.sessions) as db:
        identity.create_user(
            db,
            police,
            UserCreate(
                username="officer",
                display_name="警员",
                org_code="POLICE",
                password=PASSWORD,
                roles=["department_admin"],
            ),
        )


def test_no_privilege_escalation(city: World) -> None:
    police = _principal(city, "police")
    # A role for another kind of organization is refused, and so is a role with permissions one lacks.
    with pytest.raises(InvalidInput), unit_of_work(city.sessions) as db:
        identity.update_user(db, police, "police", UserUpdate(roles=["platform_admin"]))
    city.role("superpowers", "audit.chain.verify", "identity.user.view")
    with pytest.raises(PermissionDenied), unit_of_work(city.sessions) as db:
        identity.update_user(db, police, "police", UserUpdate(roles=["superpowers"]))


def test_disabling_a_user_ends_their_sessions(city: World) -> None:
    result = _login(city, "police", PASSWORD)
    with unit_of_work(city.sessions) as db:
        identity.update_user(db, city.system, "police", UserUpdate(active=False))
    with unit_of_work(city.sessions) as db:
        assert identity.resolve_session(db, result.session_token or "") is None
    assert _login(city, "police", PASSWORD).principal is None


def test_console_user_page_changes_roles_and_refuses_escalation(client, city: World) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import login

    csrf = login(client, "admin")
    page = client.get("/users/police")
    assert page.status_code == 200 and 'value="department_admin" checked' in page.text
    assert 'value="platform_admin"' not in page.text  # a bureau role is not offered to a department's user
    saved = client.post(
        "/users/police", data={"display_name": "公安数据员", "roles": [], "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303
    with city.db() as db:
        assert identity._find_user(db, city.system, "police").roles == []
    refused = client.post("/users/police", data={"display_name": "x", "roles": ["platform_admin"], "csrf_token": csrf})
    assert refused.status_code == 422 and "platform_admin" not in [
        r.name for r in identity._find_user(city.db(), city.system, "police").roles
    ]
