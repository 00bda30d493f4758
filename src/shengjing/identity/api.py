"""Identity API: thin door into identity.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status
from pydantic import BaseModel, ConfigDict, Field

from shengjing.identity import permissions as perms
from shengjing.identity import service
from shengjing.identity.principal import OrgType, Principal
from shengjing.identity.schemas import (
    Me,
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
from shengjing.web.deps import DB, api_router, requires

router = api_router("identity")


class PasswordSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenRequest(TokenCreate):
    username: Annotated[str | None, Field(max_length=64, description="another user's (needs user-change rights)")] = (
        None
    )


@router.get("/me")
def me(db: DB, actor: Principal = requires(perms.AUTHENTICATED)) -> Me:
    return Me(
        username=actor.username,
        display_name=actor.display_name,
        org_code=service.organization_code(db, actor),
        org_name=actor.org_name,
        org_type=actor.org_type,
        permissions=sorted(actor.permissions),
        via=actor.via,
    )


@router.put("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_my_password(body: PasswordChange, db: DB, actor: Principal = requires(perms.AUTHENTICATED)) -> None:
    service.change_own_password(db, actor, body)


@router.get("/organizations")
def list_organizations(
    db: DB, org_type: Annotated[OrgType | None, Query()] = None, actor: Principal = requires(perms.ORG_VIEW)
) -> list[OrganizationOut]:
    return service.list_organizations(db, actor, org_type)


@router.post("/organizations", status_code=status.HTTP_201_CREATED)
def create_organization(
    body: OrganizationCreate, db: DB, actor: Principal = requires(perms.ORG_ADD)
) -> OrganizationOut:
    return service.create_organization(db, actor, body)


@router.get("/organizations/{code}")
def get_organization(code: str, db: DB, actor: Principal = requires(perms.ORG_VIEW)) -> OrganizationOut:
    return OrganizationOut.model_validate(service.get_organization(db, actor, code))


@router.patch("/organizations/{code}")
def update_organization(
    code: str, body: OrganizationUpdate, db: DB, actor: Principal = requires(perms.ORG_CHANGE)
) -> OrganizationOut:
    return service.update_organization(db, actor, code, body)


@router.get("/users")
def list_users(
    db: DB,
    org: Annotated[str | None, Query(max_length=64)] = None,
    actor: Principal = requires(perms.USER_VIEW),
) -> list[UserOut]:
    return service.list_users(db, actor, org)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, db: DB, actor: Principal = requires(perms.USER_ADD)) -> UserOut:
    return service.create_user(db, actor, body)


@router.get("/users/{username}")
def get_user(username: str, db: DB, actor: Principal = requires(perms.USER_VIEW)) -> UserOut:
    return service.user_out(service.get_user(db, actor, username))


@router.patch("/users/{username}")
def update_user(username: str, body: UserUpdate, db: DB, actor: Principal = requires(perms.USER_CHANGE)) -> UserOut:
    return service.update_user(db, actor, username, body)


@router.post("/users/{username}/unlock")
def unlock_user(username: str, db: DB, actor: Principal = requires(perms.USER_CHANGE)) -> UserOut:
    return service.unlock_user(db, actor, username)


@router.put("/users/{username}/password", status_code=status.HTTP_204_NO_CONTENT)
def set_password(username: str, body: PasswordSet, db: DB, actor: Principal = requires(perms.USER_CHANGE)) -> None:
    service.set_password(db, actor, username, body.password)


@router.get("/roles")
def list_roles(db: DB, actor: Principal = requires(perms.ROLE_VIEW)) -> list[RoleOut]:
    return service.list_roles(db, actor)


@router.get("/tokens")
def list_tokens(
    db: DB,
    username: Annotated[str | None, Query(max_length=64)] = None,
    actor: Principal = requires(perms.TOKEN_VIEW),
) -> list[TokenOut]:
    return service.list_tokens(db, actor, username)


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenRequest, db: DB, actor: Principal = requires(perms.TOKEN_ADD)) -> TokenCreated:
    return service.create_token(db, actor, TokenCreate(name=body.name, days=body.days), for_username=body.username)


@router.delete("/tokens/{public_id}")
def revoke_token(public_id: str, db: DB, actor: Principal = requires(perms.TOKEN_DELETE)) -> TokenOut:
    return service.revoke_token(db, actor, public_id)
