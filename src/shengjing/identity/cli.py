"""`shengjing org|user|token|role …`: set up a deployment without the console. Thin door into identity.service."""

from __future__ import annotations

import typer

from shengjing.clikit import console, context, emit
from shengjing.identity import service
from shengjing.identity.principal import OrgType
from shengjing.identity.schemas import OrganizationCreate, TokenCreate, UserCreate, UserUpdate

org_app = typer.Typer(help="Organizations 组织", no_args_is_help=True)
user_app = typer.Typer(help="Users 用户", no_args_is_help=True)
token_app = typer.Typer(help="API tokens API 令牌", no_args_is_help=True)
role_app = typer.Typer(help="Roles 角色", no_args_is_help=True)
COMMANDS = {"org": org_app, "user": user_app, "token": token_app, "role": role_app}

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
NEW_PASSWORD = typer.Option(
    ...,
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="SHENGJING_NEW_PASSWORD",
    help="The new password (prompted for when not given; SHENGJING_NEW_PASSWORD for scripts)",
)


@org_app.command("add")
def org_add(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="Short code, e.g. SYGA"),
    name: str = typer.Option(..., "--name", help="Chinese name, e.g. 沈阳市公安局"),
    org_type: OrgType = typer.Option(..., "--type", help="Organization type"),
    name_en: str | None = typer.Option(None, "--name-en"),
    credit_code: str | None = typer.Option(None, "--credit-code", help="Unified social credit code (GB 32100)"),
    as_json: bool = JSON,
) -> None:
    """Add an organization."""
    cli = context(ctx)
    data = OrganizationCreate(code=code, name=name, name_en=name_en, org_type=org_type, credit_code=credit_code)
    with cli.transaction() as db:
        emit(service.create_organization(db, cli.actor, data), as_json=as_json)


@org_app.command("list")
def org_list(ctx: typer.Context, org_type: OrgType | None = typer.Option(None, "--type"), as_json: bool = JSON) -> None:
    """List organizations."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_organizations(db, cli.actor, org_type),
            as_json=as_json,
            columns=["code", "name", "org_type", "credit_code", "active"],
        )


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    org: str = typer.Option(..., "--org", help="Organization code"),
    display_name: str = typer.Option(..., "--name", help="Display name"),
    role: list[str] = typer.Option([], "--role", help="Role name (repeatable)"),
    email: str | None = typer.Option(None, "--email"),
    password: str = NEW_PASSWORD,
    as_json: bool = JSON,
) -> None:
    """Add a user (the password is prompted for unless given)."""
    cli = context(ctx)
    data = UserCreate(
        username=username, display_name=display_name, email=email, org_code=org, password=password, roles=role
    )
    with cli.transaction() as db:
        emit(service.create_user(db, cli.actor, data), as_json=as_json)


@user_app.command("list")
def user_list(ctx: typer.Context, org: str | None = typer.Option(None, "--org"), as_json: bool = JSON) -> None:
    """List users."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_users(db, cli.actor, org),
            as_json=as_json,
            columns=["username", "display_name", "org_code", "roles", "active", "locked"],
        )


@user_app.command("unlock")
def user_unlock(ctx: typer.Context, username: str) -> None:
    """Unlock a user locked out after failed logins."""
    cli = context(ctx)
    with cli.transaction() as db:
        service.unlock_user(db, cli.actor, username)
    console.print(f"unlocked / 已解锁: {username}")


@user_app.command("disable")
def user_disable(ctx: typer.Context, username: str) -> None:
    """Disable a user and end their sessions."""
    cli = context(ctx)
    with cli.transaction() as db:
        service.update_user(db, cli.actor, username, UserUpdate(active=False))
    console.print(f"disabled / 已停用: {username}")


@user_app.command("set-password")
def user_set_password(
    ctx: typer.Context,
    username: str,
    password: str = NEW_PASSWORD,
) -> None:
    """Set a user's password (ends their sessions, clears a lock)."""
    cli = context(ctx)
    with cli.transaction() as db:
        service.set_password(db, cli.actor, username, password)
    console.print(f"password set / 已设置密码: {username}")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: str = typer.Option(..., "--user", help="Whose token"),
    name: str = typer.Option(..., "--name", help="A name to tell tokens apart"),
    days: int | None = typer.Option(None, "--days", help="Validity in days"),
    as_json: bool = JSON,
) -> None:
    """Create an API token. The secret is printed once and never stored."""
    cli = context(ctx)
    with cli.transaction() as db:
        created = service.create_token(db, cli.actor, TokenCreate(name=name, days=days), for_username=username)
    if as_json:
        emit(created, as_json=True)
    else:
        console.print(f"[bold]{created.token}[/bold]")
        console.print(
            f"expires / 到期: {created.expires_at.isoformat()}  — shown once; store it now / 仅显示一次，请立即保存"
        )


@token_app.command("list")
def token_list(ctx: typer.Context, username: str | None = typer.Option(None, "--user"), as_json: bool = JSON) -> None:
    """List API tokens (never their secrets)."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_tokens(db, cli.actor, username),
            as_json=as_json,
            columns=["public_id", "username", "name", "expires_at", "last_used_at", "active"],
        )


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, public_id: str) -> None:
    """Revoke an API token by its public id."""
    cli = context(ctx)
    with cli.transaction() as db:
        service.revoke_token(db, cli.actor, public_id)
    console.print(f"revoked / 已吊销: {public_id}")


@role_app.command("list")
def role_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """List roles and their permissions."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_roles(db, cli.actor),
            as_json=as_json,
            columns=["name", "label_zh", "org_types", "permissions"],
        )
