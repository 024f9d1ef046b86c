"""The secretariat's accounts: creating and inviting them, taking an invitation, setting or
changing a password, and an administrator listing and changing them."""

from __future__ import annotations

import secrets
from datetime import timedelta
from types import EllipsisType
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import DASHBOARD_LOCALES
from bot.secretariat.audit import record
from bot.secretariat.passwords import check_password_strength, hash_password, verify
from bot.secretariat.staff import (
    ROLES,
    AccountError,
    Staff,
    digest,
    normalise_email,
    scoped_country,
)
from bot.secretariat.tokens import revoke_all
from bot.storage.models import StaffSession, StaffUser, utcnow


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")


def _check_country(country: str | None) -> None:
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise AccountError("the country must be a two-letter code")


def _validate(email: str, role: str, country: str | None, locale: str) -> None:
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise AccountError("that is not an e-mail address")
    _check_role(role)
    _check_country(country)
    if locale not in DASHBOARD_LOCALES:
        raise AccountError(f"the language must be one of {', '.join(DASHBOARD_LOCALES)}")


async def create_account(
    session: AsyncSession,
    email: str,
    role: str,
    *,
    password: str | None = None,
    name: str = "",
    country: str | None = None,
    locale: str = "en",
) -> StaffUser:
    """A new account; without a password it stays ``invited`` until the invitation is taken."""
    email = normalise_email(email)
    country = country.upper() if country else None
    _validate(email, role, country, locale)
    if await session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise AccountError("there is already an account with that e-mail address")
    if password is not None:
        check_password_strength(password, about=(email, name))
    user = StaffUser(
        email=email,
        name=name.strip()[:200],
        role=role,
        country=country,
        locale=locale,
        status="active" if password is not None else "invited",
        password_hash=await hash_password(password) if password is not None else None,
    )
    session.add(user)
    await session.flush()
    return user


async def invite(
    session: AsyncSession,
    email: str,
    role: str,
    *,
    country: str | None = None,
    locale: str = "en",
    valid_for: timedelta = timedelta(days=7),
    by: Staff | None = None,
) -> tuple[StaffUser, str]:
    """An invited account and the one-time token of its link (shown once, stored hashed)."""
    country = scoped_country(by, country)
    user = await create_account(session, email, role, country=country, locale=locale)
    token = secrets.token_urlsafe(32)
    user.invite_hash = digest(token)
    user.invite_expires_at = utcnow() + valid_for
    return user, token


async def accept_invite(session: AsyncSession, token: str, name: str, password: str) -> Staff:
    """The invited person sets their name and password; the link works once."""
    user = await session.scalar(select(StaffUser).where(StaffUser.invite_hash == digest(token)))
    if user is None or user.status != "invited":
        raise AccountError("this invitation is not valid (it may have been used already)")
    if user.invite_expires_at is None or user.invite_expires_at <= utcnow():
        raise AccountError("this invitation has expired; ask an administrator for a new one")
    check_password_strength(password, about=(user.email, name))
    user.name = name.strip()[:200]
    user.password_hash = await hash_password(password)
    user.status = "active"
    user.invite_hash = None
    user.invite_expires_at = None
    await session.flush()
    return Staff.of(user)


async def set_password(session: AsyncSession, user: StaffUser, password: str) -> int:
    """A new password; every session and every API token of the account ends with it (a
    reset is what one does when a password may be known to someone else, and a token made
    with it would outlive it otherwise). Returns how many tokens were revoked."""
    check_password_strength(password, about=(user.email, user.name or ""))
    user.password_hash = await hash_password(password)
    await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    return await revoke_all(session, user.id)


WRONG_CURRENT = "the current password is not right"


async def change_own_password(
    session: AsyncSession, user_id: int, current: str, new: str, *, this_session: str
) -> int:
    """A signed-in person replaces their password: the current one first, the new one by the
    same rule as an invitation's. Their other browser sessions and every API token end; the
    session ``this_session`` (its cookie's token) stays. Returns how many tokens were revoked."""
    user = await session.get(StaffUser, user_id)
    if user is None or not await verify(user.password_hash, current):
        raise AccountError(WRONG_CURRENT)
    check_password_strength(new, about=(user.email, user.name or ""))
    user.password_hash = await hash_password(new)
    await session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.token_hash != digest(this_session)
        )
    )
    return await revoke_all(session, user.id)


async def list_accounts(session: AsyncSession, by: Staff | None = None) -> list[StaffUser]:
    """Every account, invited and disabled ones too, by e-mail address; for an administrator
    limited to a country, the accounts of that country."""
    stmt = select(StaffUser).order_by(StaffUser.email)
    if by is not None and by.country is not None:
        stmt = stmt.where(StaffUser.country == by.country)
    return list(await session.scalars(stmt))


async def update_account(
    session: AsyncSession,
    actor: Staff,
    user_id: int,
    *,
    role: str | None = None,
    country: str | None | EllipsisType = ...,
    status: str | None = None,
) -> StaffUser | None:
    """Change someone's role, country scope (None: every country) or status (active or
    disabled); None when there is no such account. Disabling ends the person's sessions and
    tokens stop working with it. The last active administrator stays one, so that someone can
    always manage accounts. The change is recorded in the audit log."""
    user = await session.get(StaffUser, user_id)
    if user is None or (actor.country is not None and user.country != actor.country):
        return None
    changes: dict[str, Any] = {}
    if role is not None and role != user.role:
        _check_role(role)
        changes["role"] = role
    if not isinstance(country, EllipsisType):  # None means every country, so ... is unchanged
        country = scoped_country(actor, country)
        _check_country(country)
        if country != user.country:
            changes["country"] = country
    if status is not None and status != user.status:
        if status not in ("active", "disabled"):
            raise AccountError("the status must be active or disabled")
        if status == "active" and user.password_hash is None:
            raise AccountError("this person has not accepted their invitation yet")
        changes["status"] = status
    if user.role == "admin" and user.status == "active" and _demotes(changes):
        await _keep_an_administrator(session)
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("status") == "disabled":
        await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    if changes:
        await record(session, actor, "account.update", f"account:{user.id}", **changes)
    await session.flush()
    return user


def _demotes(changes: dict[str, Any]) -> bool:
    """Whether these changes would stop an active administrator being one."""
    return changes.get("role", "admin") != "admin" or changes.get("status") == "disabled"


async def _keep_an_administrator(session: AsyncSession) -> None:
    admins = await session.scalar(
        select(func.count())
        .select_from(StaffUser)
        .where(StaffUser.role == "admin", StaffUser.status == "active")
    )
    if (admins or 0) <= 1:
        raise AccountError("this is the last active administrator; make someone else one first")
