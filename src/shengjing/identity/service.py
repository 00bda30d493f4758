"""Every rule of the identity domain: who may see and change organizations, users, sessions and tokens."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from shengjing.audit.service import record, state_change
from shengjing.config import Settings
from shengjing.errors import (
    AccountDisabled,
    AccountLocked,
    Conflict,
    InvalidCredentials,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from shengjing.identity import permissions as perms
from shengjing.identity.models import ApiToken, LoginSession, Organization, Role, RolePermission, User
from shengjing.identity.principal import OrgType, Principal
from shengjing.identity.roles import builtin_roles
from shengjing.identity.schemas import (
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    PasswordChange,
    RoleOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from shengjing.store.db import utcnow


@functools.cache
def _hasher_with(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    """An Argon2id hasher, and a hash of a random password verified when the username is unknown, so that
    a miss costs as long as a wrong password."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    return hasher, hasher.hash(secrets.token_urlsafe(16))


def _hasher(db: Session) -> PasswordHasher:
    settings = _settings(db)
    return _hasher_with(settings.password_hash_time_cost, settings.password_hash_memory_kib)[0]


TOKEN_PREFIX = "sjt_"  # noqa: S105 - a public marker that makes leaked tokens findable by scanners


def _settings(db: Session) -> Settings:
    return db.info["settings"]  # type: ignore[no-any-return]


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


OwnedModel = TypeVar("OwnedModel", Organization, User, ApiToken)


def restrict(stmt: Select[tuple[OwnedModel]], actor: Principal, model: type[OwnedModel]) -> Select[tuple[OwnedModel]]:
    """Narrow a query to what the actor may see: the data bureau sees all, others their own organization."""
    if actor.sees_all_orgs:
        return stmt
    if model is Organization:
        return stmt.where(Organization.id == actor.org_id)
    if model is User:
        return stmt.where(User.org_id == actor.org_id)
    return stmt.where(ApiToken.user_id == actor.user_id)


# --- roles -------------------------------------------------------------------------------------------


@state_change("identity.role.sync", "role")
def sync_builtin_roles(db: Session, actor: Principal) -> list[str]:
    """Write the built-in roles (names, labels, permissions) to the database; returns what changed."""
    changed: list[str] = []
    for spec in builtin_roles():
        role = db.scalar(select(Role).where(Role.name == spec.name))
        wanted = {p.name for p in spec.permissions}
        org_types = ",".join(sorted(spec.org_types))
        if role is None:
            role = Role(name=spec.name, builtin=True, label_zh="", label_en="", org_types="")
            db.add(role)
        before = (
            role.label_zh,
            role.label_en,
            role.org_types,
            role.permission_names if role.id else frozenset(),
        )
        role.label_zh, role.label_en, role.org_types = spec.label_zh, spec.label_en, org_types
        role.permissions = [RolePermission(permission=name) for name in sorted(wanted)]
        if before != (spec.label_zh, spec.label_en, org_types, frozenset(wanted)):
            changed.append(spec.name)
    db.flush()
    record(db, actor, "identity.role.sync", target_type="role", details={"changed": changed})
    return changed


def list_roles(db: Session, actor: Principal) -> list[RoleOut]:
    actor.require(perms.ROLE_VIEW)
    return [_role_out(role) for role in db.scalars(select(Role).order_by(Role.name))]


def _role_out(role: Role) -> RoleOut:
    return RoleOut(
        name=role.name,
        label_zh=role.label_zh,
        label_en=role.label_en,
        org_types=sorted(role.org_type_set),
        permissions=sorted(role.permission_names),
        builtin=role.builtin,
    )


def _resolve_roles(db: Session, actor: Principal, org: Organization, names: list[str]) -> list[Role]:
    roles = []
    for name in dict.fromkeys(names):
        role = db.scalar(select(Role).where(Role.name == name))
        if role is None:
            raise NotFound.of("角色", "role", name)
        if org.org_type not in role.org_type_set:
            raise InvalidInput(
                f"角色“{role.label_zh}”不能授予该类组织（{org.org_type}）的用户。",
                f"Role '{name}' cannot be given to users of a {org.org_type} organization.",
                field="roles",
            )
        # No escalation: one may only hand out permissions one holds.
        missing = role.permission_names - actor.permissions
        if missing:
            raise PermissionDenied(sorted(missing)[0])
        roles.append(role)
    return roles


# --- organizations -----------------------------------------------------------------------------------


def list_organizations(db: Session, actor: Principal, org_type: OrgType | None = None) -> list[OrganizationOut]:
    actor.require(perms.ORG_VIEW)
    stmt = restrict(select(Organization), actor, Organization).order_by(Organization.org_type, Organization.code)
    if org_type is not None:
        stmt = stmt.where(Organization.org_type == org_type)
    return [OrganizationOut.model_validate(org) for org in db.scalars(stmt)]


def organization_code(db: Session, actor: Principal) -> str | None:
    """The code of the actor's own organization (no permission needed to know one's own)."""
    org = db.get(Organization, actor.org_id) if actor.org_id is not None else None
    return org.code if org else None


def get_organization(db: Session, actor: Principal, code: str) -> Organization:
    actor.require(perms.ORG_VIEW)
    return _find_organization(db, actor, code)


def _find_organization(db: Session, actor: Principal, code: str) -> Organization:
    return _find(db, actor, Organization, Organization.code == code, ("组织", "organization", code))


def _find(
    db: Session, actor: Principal, model: type[OwnedModel], where: ColumnElement[bool], names: tuple[str, str, str]
) -> OwnedModel:
    """One object within the actor's reach; the caller has checked the permission for what it does with it."""
    found = db.scalar(restrict(select(model), actor, model).where(where))
    if found is None:
        raise NotFound.of(*names)
    return found


def _ensure_unique_org(db: Session, data: OrganizationCreate | OrganizationUpdate, own_id: int | None) -> None:
    for column, value, zh in (
        (Organization.code, getattr(data, "code", None), "代码"),
        (Organization.name, data.name, "名称"),
        (Organization.credit_code, data.credit_code, "统一社会信用代码"),
    ):
        if value is None:
            continue
        other = db.scalar(select(Organization.id).where(column == value))
        if other is not None and other != own_id:
            raise Conflict(
                f"组织{zh}“{value}”已被使用。",
                f"Organization {column.key} '{value}' is already taken.",
                field=column.key,
            )


@state_change("identity.organization.add", "organization")
def create_organization(db: Session, actor: Principal, data: OrganizationCreate) -> OrganizationOut:
    actor.require(perms.ORG_ADD)
    _ensure_unique_org(db, data, None)
    org = Organization(**data.model_dump())
    db.add(org)
    db.flush()
    record(
        db,
        actor,
        "identity.organization.add",
        target_type="organization",
        target_id=org.code,
        details=data.model_dump(mode="json"),
    )
    return OrganizationOut.model_validate(org)


@state_change("identity.organization.change", "organization")
def update_organization(db: Session, actor: Principal, code: str, data: OrganizationUpdate) -> OrganizationOut:
    actor.require(perms.ORG_CHANGE)
    org = _find_organization(db, actor, code)
    _ensure_unique_org(db, data, org.id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(org, key, value)
    db.flush()
    record(
        db,
        actor,
        "identity.organization.change",
        target_type="organization",
        target_id=org.code,
        details=data.model_dump(mode="json", exclude_unset=True),
    )
    return OrganizationOut.model_validate(org)


# --- users -------------------------------------------------------------------------------------------


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        org_code=user.organization.code,
        org_name=user.organization.name,
        org_type=OrgType(user.organization.org_type),
        active=user.active,
        locked=is_locked(user),
        roles=[role.name for role in user.roles],
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


def list_users(db: Session, actor: Principal, org_code: str | None = None) -> list[UserOut]:
    actor.require(perms.USER_VIEW)
    stmt = restrict(select(User), actor, User).order_by(User.username)
    if org_code:
        stmt = stmt.join(Organization).where(Organization.code == org_code)
    return [user_out(user) for user in db.scalars(stmt)]


def get_user(db: Session, actor: Principal, username: str) -> User:
    actor.require(perms.USER_VIEW)
    return _find_user(db, actor, username)


def _find_user(db: Session, actor: Principal, username: str) -> User:
    return _find(db, actor, User, User.username == username, ("用户", "user", username))


def check_password_policy(settings: Settings, password: str, username: str) -> None:
    problems = []
    if len(password) < settings.password_min_length:
        problems.append(
            (
                f"至少 {settings.password_min_length} 个字符",
                f"at least {settings.password_min_length} characters",
            )
        )
    if sum(any(test(c) for c in password) for test in (str.isdigit, str.isalpha, lambda c: not c.isalnum())) < 2:
        problems.append(("至少包含字母、数字、符号中的两类", "at least two of letters, digits and symbols"))
    if username.lower() in password.lower():
        problems.append(("不得包含用户名", "must not contain the username"))
    if problems:
        raise InvalidInput(
            "密码不符合要求：" + "；".join(zh for zh, _ in problems) + "。",
            "The password is too weak: " + "; ".join(en for _, en in problems) + ".",
            field="password",
        )


@state_change("identity.user.add", "user")
def create_user(db: Session, actor: Principal, data: UserCreate) -> UserOut:
    actor.require(perms.USER_ADD)
    org = _find_organization(db, actor, data.org_code)
    if db.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(f"用户名“{data.username}”已被使用。", f"Username '{data.username}' is taken.", field="username")
    check_password_policy(_settings(db), data.password, data.username)
    user = User(
        username=data.username,
        display_name=data.display_name,
        email=data.email,
        org_id=org.id,
        password_hash=_hasher(db).hash(data.password),
        roles=_resolve_roles(db, actor, org, data.roles),
    )
    db.add(user)
    db.flush()
    record(
        db,
        actor,
        "identity.user.add",
        target_type="user",
        target_id=user.username,
        details={"org": org.code, "roles": data.roles},
    )
    return user_out(user)


@state_change("identity.user.change", "user")
def update_user(db: Session, actor: Principal, username: str, data: UserUpdate) -> UserOut:
    actor.require(perms.USER_CHANGE)
    user = _find_user(db, actor, username)
    changes = data.model_dump(exclude_unset=True)
    if "roles" in changes and changes["roles"] is not None:
        # Removing a role one does not hold would also be an escalation of reach; check both sides.
        _resolve_roles(db, actor, user.organization, [r.name for r in user.roles])
        user.roles = _resolve_roles(db, actor, user.organization, changes.pop("roles"))
    changes.pop("roles", None)
    if changes.get("active") is False and user.id == actor.user_id:
        raise InvalidInput("不能停用自己的账号。", "You cannot disable your own account.", field="active")
    for key, value in changes.items():
        setattr(user, key, value)
    if changes.get("active") is False:
        _end_sessions_of(db, user)
    db.flush()
    record(
        db,
        actor,
        "identity.user.change",
        target_type="user",
        target_id=user.username,
        details=data.model_dump(mode="json", exclude_unset=True),
    )
    return user_out(user)


@state_change("identity.user.unlock", "user")
def unlock_user(db: Session, actor: Principal, username: str) -> UserOut:
    actor.require(perms.USER_CHANGE)
    user = _find_user(db, actor, username)
    user.locked_until, user.failed_logins = None, 0
    record(db, actor, "identity.user.unlock", target_type="user", target_id=user.username)
    return user_out(user)


@state_change("identity.user.set_password", "user")
def set_password(db: Session, actor: Principal, username: str, password: str) -> None:
    """An administrator sets a user's password (and ends that user's sessions)."""
    actor.require(perms.USER_CHANGE)
    user = _find_user(db, actor, username)
    check_password_policy(_settings(db), password, username)
    user.password_hash, user.password_changed_at = _hasher(db).hash(password), utcnow()
    user.locked_until, user.failed_logins = None, 0
    _end_sessions_of(db, user)
    record(db, actor, "identity.user.set_password", target_type="user", target_id=username)


@state_change("identity.user.change_own_password", "user")
def change_own_password(db: Session, actor: Principal, data: PasswordChange) -> None:
    user = _acting_user(db, actor)
    if not _verify_password(db, user, data.current_password):
        raise InvalidCredentials()
    check_password_policy(_settings(db), data.new_password, user.username)
    user.password_hash, user.password_changed_at = _hasher(db).hash(data.new_password), utcnow()
    _end_sessions_of(db, user, keep=actor.session_id)
    record(db, actor, "identity.user.change_own_password", target_type="user", target_id=user.username)


def _acting_user(db: Session, actor: Principal) -> User:
    user = db.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotAuthenticated()
    return user


def _verify_password(db: Session, user: User, password: str) -> bool:
    try:
        return _hasher(db).verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def principal_for(user: User, via: str, **extra: object) -> Principal:
    permissions = frozenset(name for role in user.roles for name in role.permission_names)
    return Principal(
        username=user.username,
        permissions=permissions,
        via=via,
        user_id=user.id,
        display_name=user.display_name,
        org_id=user.org_id,
        org_name=user.organization.name,
        org_type=OrgType(user.organization.org_type),
        **extra,  # type: ignore[arg-type]
    )


# --- login and console sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt came to. Failures are committed (counter, lock, audit) before the door raises."""

    principal: Principal | None
    session_token: str | None
    error: InvalidCredentials | AccountLocked | AccountDisabled | None


def _anonymous(username: str) -> Principal:
    return Principal(username=f"anonymous:{username[:64]}", permissions=frozenset(), via="anonymous")


def login(db: Session, username: str, password: str, *, client_ip: str | None, user_agent: str | None) -> LoginResult:
    """Check a password, count failures, lock after the threshold, and open a console session on success."""
    settings = _settings(db)
    now = utcnow()
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        _verify_dummy(db, password)
        _login_event(db, _anonymous(username), username[:64], "failed", {"reason": "unknown_user", "ip": client_ip})
        return LoginResult(None, None, InvalidCredentials())
    actor = principal_for(user, "session")
    if is_locked(user, now):
        _login_event(db, actor, user.username, "denied", {"reason": "locked", "ip": client_ip})
        return LoginResult(None, None, _locked_error(user))
    if not _verify_password(db, user, password):
        user.failed_logins += 1
        details: dict[str, object] = {
            "reason": "wrong_password",
            "failures": user.failed_logins,
            "ip": client_ip,
        }
        error: InvalidCredentials | AccountLocked = InvalidCredentials()
        if user.failed_logins >= settings.lockout_threshold:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            details["locked_until"] = user.locked_until.isoformat()
            error = _locked_error(user)
        _login_event(db, actor, user.username, "failed", details)
        return LoginResult(None, None, error)
    if not user.active or not user.organization.active:
        _login_event(db, actor, user.username, "denied", {"reason": "disabled", "ip": client_ip})
        return LoginResult(None, None, AccountDisabled("账号已停用。", "This account is disabled."))
    if _hasher(db).check_needs_rehash(user.password_hash):
        user.password_hash = _hasher(db).hash(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token = secrets.token_urlsafe(32)
    session = LoginSession(
        id=_sha256(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        client_ip=client_ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    db.add(session)
    _login_event(db, actor, user.username, "success", {"ip": client_ip})
    return LoginResult(
        principal_for(user, "session", session_id=session.id, csrf_token=session.csrf_token), token, None
    )


def _login_event(db: Session, actor: Principal, username: str, outcome: str, details: dict[str, object]) -> None:
    record(
        db, actor, "identity.session.login", target_type="user", target_id=username, outcome=outcome, details=details
    )


def _verify_dummy(db: Session, password: str) -> None:
    settings = _settings(db)
    hasher, dummy = _hasher_with(settings.password_hash_time_cost, settings.password_hash_memory_kib)
    with contextlib.suppress(VerificationError):
        hasher.verify(dummy, password)


def _locked_error(user: User) -> AccountLocked:
    until = user.locked_until.isoformat(timespec="minutes") if user.locked_until else ""
    return AccountLocked(
        "登录失败次数过多，账号已临时锁定，请稍后再试或联系管理员解锁。",
        "Too many failed logins: the account is locked for a while; try later or ask an administrator.",
        locked_until=until,
    )


def resolve_session(db: Session, token: str) -> Principal | None:
    """The principal behind a session cookie, or None if the session is unknown, ended, idle or expired."""
    settings = _settings(db)
    now = utcnow()
    session = db.get(LoginSession, _sha256(token))
    if session is None or session.ended_at is not None or session.expires_at <= now:
        return None
    if session.last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now:
        return None
    user = db.get(User, session.user_id)
    if user is None or not user.active or not user.organization.active:
        return None
    # Touch at most once a minute, so page loads do not each write the database.
    if now - session.last_seen_at > timedelta(minutes=1):
        session.last_seen_at = now
    return principal_for(user, "session", session_id=session.id, csrf_token=session.csrf_token)


@state_change("identity.session.logout", "session")
def logout(db: Session, actor: Principal) -> None:
    session = db.get(LoginSession, actor.session_id) if actor.session_id else None
    if session is not None and session.ended_at is None:
        session.ended_at = utcnow()
    record(db, actor, "identity.session.logout", target_type="user", target_id=actor.username)


def _end_sessions_of(db: Session, user: User, keep: str | None = None) -> None:
    now = utcnow()
    for session in db.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    ):
        if session.id != keep:
            session.ended_at = now


# --- API tokens --------------------------------------------------------------------------------------


def _token_out(token: ApiToken) -> TokenOut:
    now = utcnow()
    return TokenOut(
        id=token.id,
        name=token.name,
        username=token.user.username,
        public_id=token.public_id,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        active=token.revoked_at is None and token.expires_at > now,
    )


@state_change("identity.token.add", "token")
def create_token(db: Session, actor: Principal, data: TokenCreate, *, for_username: str | None = None) -> TokenCreated:
    """Create a token for the actor (or, with user-change rights, for another user). The secret is returned once."""
    actor.require(perms.TOKEN_ADD)
    settings = _settings(db)
    if for_username is not None and for_username != actor.username:
        actor.require(perms.USER_CHANGE)
        user = _find_user(db, actor, for_username)
    else:
        user = _acting_user(db, actor)
    days = data.days if data.days is not None else settings.token_default_days
    if days > settings.token_max_days:
        raise InvalidInput(
            f"令牌有效期不能超过 {settings.token_max_days} 天。",
            f"A token may be valid for at most {settings.token_max_days} days.",
            field="days",
        )
    if db.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.name == data.name)):
        raise Conflict(f"令牌名称“{data.name}”已存在。", f"A token named '{data.name}' exists already.", field="name")
    public_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = ApiToken(
        public_id=public_id,
        user_id=user.id,
        name=data.name,
        secret_hash=_sha256(secret),
        expires_at=utcnow() + timedelta(days=days),
    )
    db.add(token)
    db.flush()
    db.refresh(token)
    record(
        db,
        actor,
        "identity.token.add",
        target_type="token",
        target_id=public_id,
        details={"name": data.name, "user": user.username, "days": days},
    )
    return TokenCreated(**_token_out(token).model_dump(), token=f"{TOKEN_PREFIX}{public_id}_{secret}")


def list_tokens(db: Session, actor: Principal, username: str | None = None) -> list[TokenOut]:
    actor.require(perms.TOKEN_VIEW)
    stmt = restrict(select(ApiToken), actor, ApiToken).join(User).order_by(ApiToken.created_at.desc())
    if username:
        stmt = stmt.where(User.username == username)
    return [_token_out(token) for token in db.scalars(stmt)]


@state_change("identity.token.revoke", "token")
def revoke_token(db: Session, actor: Principal, public_id: str) -> TokenOut:
    actor.require(perms.TOKEN_DELETE)
    token = _find(db, actor, ApiToken, ApiToken.public_id == public_id, ("API 令牌", "API token", public_id))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    record(
        db,
        actor,
        "identity.token.revoke",
        target_type="token",
        target_id=public_id,
        details={"user": token.user.username},
    )
    return _token_out(token)


def resolve_token(db: Session, raw: str) -> Principal | None:
    """The principal behind a bearer token, or None if it is malformed, unknown, revoked or expired."""
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        return None
    public_id, _, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    token = db.scalar(select(ApiToken).where(ApiToken.public_id == public_id))
    now = utcnow()
    if token is None or not hmac.compare_digest(token.secret_hash, _sha256(secret)):
        return None
    if token.revoked_at is not None or token.expires_at <= now:
        return None
    user = token.user
    if not user.active or not user.organization.active or is_locked(user, now):
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return principal_for(user, "token", token_id=token.id)


# --- overview ----------------------------------------------------------------------------------------


def counts(db: Session, actor: Principal) -> dict[str, int]:
    """Organizations and users the actor can see, for the dashboard."""
    actor.require(perms.CONSOLE_HOME)
    orgs = restrict(select(Organization), actor, Organization).subquery()
    users = restrict(select(User), actor, User).subquery()
    return {
        "organizations": db.scalar(select(func.count()).select_from(orgs)) or 0,
        "users": db.scalar(select(func.count()).select_from(users)) or 0,
    }


def organizations_by_type(db: Session, actor: Principal) -> dict[str, int]:
    actor.require(perms.CONSOLE_HOME)
    stmt = restrict(select(Organization), actor, Organization).subquery()
    rows = db.execute(select(stmt.c.org_type, func.count()).group_by(stmt.c.org_type))
    return {org_type: n for org_type, n in rows}
