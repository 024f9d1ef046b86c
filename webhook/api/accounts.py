"""Who is calling, and the secretariat's accounts over HTTP: administrators list, invite and
change them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from bot.secretariat import accounts
from bot.secretariat.audit import record
from bot.secretariat.staff import AccountError
from bot.storage.models import StaffUser
from webhook.api.common import READ, ItemId, errors
from webhook.auth import AdminDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["accounts"])

Role = Literal["admin", "editor", "viewer"]
Country = Field(
    default=None,
    pattern=r"^[A-Za-z]{2}$",
    description="two-letter country code: the account sees only that country's members; "
    "null: every country",
)


class Me(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    country: str | None
    locale: str
    can_send: bool = Field(description="may answer, send and change (admin and editor)")
    is_admin: bool


class AccountOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    country: str | None
    locale: str
    status: Literal["invited", "active", "disabled"]
    last_login_at: datetime | None
    created_at: datetime


class Accounts(BaseModel):
    accounts: list[AccountOut]


class NewAccount(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    role: Role
    country: str | None = Country
    locale: Literal["en", "ro", "ru"] = "en"


class Invitation(BaseModel):
    account: AccountOut
    invite_path: str = Field(
        description="the one-time link to send the person, /admin/invite/{token}; shown once, "
        "valid for 7 days"
    )


class AccountChange(BaseModel):
    """Only the fields given change; `country: null` gives the account every country."""

    role: Role | None = None
    country: str | None = Country
    status: Literal["active", "disabled"] | None = None


def account_out(user: StaffUser) -> AccountOut:
    return AccountOut.model_validate(user, from_attributes=True)


@router.get("/me", response_model=Me, summary="Who am I", responses=READ)
async def me(person: StaffDep) -> Me:
    """The account behind the token or session, with its role and country scope."""
    return Me(
        id=person.id,
        email=person.email,
        name=person.name,
        role=person.role,  # type: ignore[arg-type]
        country=person.country,
        locale=person.locale,
        can_send=person.can_send,
        is_admin=person.is_admin,
    )


@router.get(
    "/accounts", response_model=Accounts, summary="List accounts", responses=errors(401, 403)
)
async def list_accounts(person: AdminDep, service: ServiceDep) -> Accounts:
    """Administrators: every account, invited and disabled ones too."""
    async with service.db.session() as session:
        found = await accounts.list_accounts(session, person)
    return Accounts(accounts=[account_out(u) for u in found])


@router.post(
    "/accounts",
    response_model=Invitation,
    status_code=201,
    summary="Invite someone",
    responses=errors(401, 403, 409, 422),
)
async def invite(body: NewAccount, person: AdminDep, service: ServiceDep) -> Invitation:
    """Administrators: a new account that waits for its person to open the invitation link,
    choose their name and password. The link is returned once; send it to them yourself."""
    async with service.db.session() as session, session.begin():
        try:
            user, token = await accounts.invite(
                session,
                body.email,
                body.role,
                country=body.country,
                locale=body.locale,
                by=person,
            )
        except AccountError as exc:
            code = 409 if "already" in str(exc) else 422
            raise HTTPException(code, str(exc)) from None
        await record(
            session, person, "account.invite", f"account:{user.id}", role=user.role,
            country=user.country,
        )  # fmt: skip
    return Invitation(account=account_out(user), invite_path=f"/admin/invite/{token}")


@router.patch(
    "/accounts/{account_id}",
    response_model=AccountOut,
    summary="Change an account",
    responses=errors(401, 403, 404, 409, 422),
)
async def update(
    account_id: ItemId, body: AccountChange, person: AdminDep, service: ServiceDep
) -> AccountOut:
    """Administrators: change the role, the country scope or the status. Disabling signs the
    person out and stops their API tokens. The last active administrator cannot be demoted or
    disabled (409)."""
    country = body.country if "country" in body.model_fields_set else ...
    async with service.db.session() as session, session.begin():
        try:
            user = await accounts.update_account(
                session, person, account_id, role=body.role, country=country, status=body.status
            )
        except AccountError as exc:
            code = 409 if "last active administrator" in str(exc) else 422
            raise HTTPException(code, str(exc)) from None
        if user is None:
            raise HTTPException(404, "no such account")
        out = account_out(user)
    return out
