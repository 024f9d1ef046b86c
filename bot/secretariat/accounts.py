"""The secretariat's accounts: roles and country scope, passwords, sign-in throttling, browser
sessions, personal API tokens, invitations and the audit log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import DASHBOARD_LOCALES
from bot.storage.models import (
    ApiToken,
    AuditEntry,
    Contact,
    LoginFailure,
    StaffSession,
    StaffUser,
    utcnow,
)

ROLES = ("admin", "editor", "viewer")
TOKEN_PREFIX = "cpm_"  # lets secret scanners and people recognise our tokens

# Sign-in throttling: after FREE_FAILURES wrong passwords for one address, each further attempt
# waits a little longer; at LOCK_AFTER the address is locked for LOCK_FOR.
FREE_FAILURES = 3
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)
FORGET_FAILURES_AFTER = timedelta(hours=1)
MAX_DELAY = 5.0  # seconds

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this when the address is unknown costs the same time as a real check,
# so response times do not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why, for the secretariat."""


class LoginRefused(Exception):
    """Sign-in failed. ``delay`` is how long the caller should wait before answering;
    ``locked_until`` is set when the address is locked."""

    def __init__(self, delay: float = 0.0, locked_until: datetime | None = None) -> None:
        super().__init__("wrong e-mail or password" if locked_until is None else "locked")
        self.delay = delay
        self.locked_until = locked_until


@dataclass(frozen=True)
class Staff:
    """Who is acting, as the permission checks need it."""

    id: int
    email: str
    name: str
    role: str
    country: str | None
    locale: str

    @classmethod
    def of(cls, user: StaffUser) -> Staff:
        return cls(user.id, user.email, user.name, user.role, user.country, user.locale)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_send(self) -> bool:
        """Compose and send broadcasts and surveys, answer the inbox, change members."""
        return self.role in ("admin", "editor")

    def sees(self, country: str | None) -> bool:
        """Whether a member of ``country`` is within this person's scope."""
        return self.country is None or country == self.country


def member_scope(stmt: Select[Any], staff: Staff) -> Select[Any]:
    """Limit a query over contacts to the members this person may see."""
    if staff.country is None:
        return stmt
    return stmt.where(Contact.country == staff.country)


def digest(token: str) -> str:
    """What is stored of a session, invitation or API token: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def hash_password(password: str) -> str:
    """Argon2 costs a good part of a second on purpose: off the event loop, so that a sign-in
    does not hold up webhooks and pages."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise AccountError("the password needs at least 10 characters")
    if len(password) > 1024:
        raise AccountError("the password is too long")


def _validate(email: str, role: str, country: str | None, locale: str) -> None:
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise AccountError("that is not an e-mail address")
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise AccountError("the country must be a two-letter code")
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
        check_password_strength(password)
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
    check_password_strength(password)
    user.name = name.strip()[:200]
    user.password_hash = await hash_password(password)
    user.status = "active"
    user.invite_hash = None
    user.invite_expires_at = None
    await session.flush()
    return Staff.of(user)


async def set_password(session: AsyncSession, user: StaffUser, password: str) -> None:
    """A new password; every session of the account ends with it."""
    check_password_strength(password)
    user.password_hash = await hash_password(password)
    await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))


async def authenticate(session: AsyncSession, email: str, password: str) -> Staff | LoginRefused:
    """The account behind an e-mail and password, or why not. The refusal is returned, not
    raised, so that the caller's transaction commits the failure it counted. Failures are
    counted per address, whether or not it has an account, so throttling tells nothing either."""
    email = normalise_email(email)[:254]
    now = utcnow()
    failure = await session.get(LoginFailure, email)
    if failure is not None and failure.last_at < now - FORGET_FAILURES_AFTER:
        failure.count, failure.locked_until = 0, None
    if failure is not None and failure.locked_until is not None and failure.locked_until > now:
        return LoginRefused(delay=MAX_DELAY, locked_until=failure.locked_until)
    user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    ok = await asyncio.to_thread(_verify, stored, password[:1024]) and stored is not _DUMMY_HASH
    if ok and user is not None and user.status == "active":
        if failure is not None:
            await session.delete(failure)
        if _hasher.check_needs_rehash(stored):
            user.password_hash = await hash_password(password)
        user.last_login_at = now
        return Staff.of(user)
    if failure is None:
        failure = LoginFailure(email=email, count=0)
        session.add(failure)
    failure.count += 1
    failure.last_at = now
    if failure.count >= LOCK_AFTER:
        failure.locked_until = now + LOCK_FOR
    await session.flush()
    delay = (
        min(MAX_DELAY, 0.5 * 2 ** (failure.count - FREE_FAILURES))
        if failure.count > FREE_FAILURES
        else 0.0
    )
    return LoginRefused(delay=delay, locked_until=failure.locked_until)


async def unlock(session: AsyncSession, email: str) -> None:
    """An administrator lifts a lock (or the person proved who they are another way)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.email == normalise_email(email)))


async def open_session(
    session: AsyncSession, staff: Staff, *, lifetime: timedelta
) -> tuple[str, str]:
    """A new browser session: the cookie's token and the session's CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        StaffSession(
            token_hash=digest(token),
            user_id=staff.id,
            csrf=csrf,
            created_at=now,
            seen_at=now,
            expires_at=now + lifetime,
        )  # fmt: skip
    )
    await session.flush()
    return token, csrf


async def session_staff(
    session: AsyncSession, token: str, *, idle: timedelta
) -> tuple[Staff, str] | None:
    """Who is signed in with this cookie, and their CSRF token; None when it has expired, has
    been idle too long or its account is no longer active."""
    if not token or len(token) > 128:
        return None
    found = (
        await session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffSession.token_hash == digest(token))
        )
    ).first()
    if found is None:
        return None
    browser, user = found
    now = utcnow()
    if browser.expires_at <= now or browser.seen_at <= now - idle or user.status != "active":
        await session.delete(browser)
        return None
    if now - browser.seen_at > timedelta(minutes=1):  # one write a minute, not one per request
        browser.seen_at = now
    return Staff.of(user), browser.csrf


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == digest(token)))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


async def create_api_token(session: AsyncSession, staff: Staff, name: str) -> tuple[ApiToken, str]:
    """A personal API token; the plain token is returned once and never stored."""
    name = name.strip()[:100]
    if not name:
        raise AccountError("give the token a name, so you know later what uses it")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=staff.id, name=name, prefix=token[:12], token_hash=digest(token))
    session.add(row)
    await session.flush()
    return row, token


async def token_staff(session: AsyncSession, token: str) -> Staff | None:
    """Whose token this is, when it is valid and its owner active."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    found = (
        await session.execute(
            select(ApiToken, StaffUser)
            .join(StaffUser, StaffUser.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
        )
    ).first()
    if found is None or found[1].status != "active":
        return None
    row, user = found
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
    return Staff.of(user)


async def revoke_api_token(session: AsyncSession, staff: Staff, token_id: int) -> bool:
    """Revoke one of ``staff``'s own tokens (an administrator may revoke anyone's)."""
    stmt = update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
    if not staff.is_admin:
        stmt = stmt.where(ApiToken.user_id == staff.id)
    result = await session.execute(stmt.values(revoked_at=utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record(
    session: AsyncSession,
    actor: Staff | None,
    action: str,
    target: str | None = None,
    **detail: Any,
) -> None:
    """One line of the audit log, in the caller's transaction: the change and its record
    commit together or not at all. ``detail`` holds ids and settings, never member texts."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor_id=actor.id if actor else None,
            actor=actor.email if actor else "system",
            action=action,
            target=target,
            detail=detail,
        )
    )


# ---------------------------------------------------------------- for the dashboard and the API


async def audit_entries(
    session: AsyncSession,
    *,
    offset: int = 0,
    limit: int = 100,
    action: str | None = None,
    actor: str | None = None,
) -> tuple[list[AuditEntry], int]:
    """A page of the audit log, newest first, and how many entries match in all. ``action``
    matches exactly or as a prefix ending in a dot ("member." finds every member action);
    ``actor`` is an e-mail address."""
    stmt = select(AuditEntry)
    if action:
        stmt = stmt.where(
            AuditEntry.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if actor:
        stmt = stmt.where(AuditEntry.actor == normalise_email(actor))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    found = await session.scalars(
        stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset(offset).limit(limit)
    )
    return list(found), int(total or 0)


async def list_accounts(session: AsyncSession, by: Staff | None = None) -> list[StaffUser]:
    """Every account, invited and disabled ones too, by e-mail address; for an administrator
    limited to a country, the accounts of that country."""
    stmt = select(StaffUser).order_by(StaffUser.email)
    if by is not None and by.country is not None:
        stmt = stmt.where(StaffUser.country == by.country)
    return list(await session.scalars(stmt))


def scoped_country(by: Staff | None, country: str | None) -> str | None:
    """The country an account may have when ``by`` gives it: an administrator limited to a
    country creates and changes accounts of that country only."""
    country = country.strip().upper() if country else None
    if by is None or by.country is None:
        return country
    if country not in (None, by.country):
        raise AccountError(f"you manage accounts of {by.country} only")
    return by.country


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
        if role not in ROLES:
            raise AccountError(f"the role must be one of {', '.join(ROLES)}")
        changes["role"] = role
    if not isinstance(country, EllipsisType):  # None means every country, so ... is unchanged
        country = scoped_country(actor, country)
        if country is not None and not (len(country) == 2 and country.isalpha()):
            raise AccountError("the country must be a two-letter code")
        if country != user.country:
            changes["country"] = country
    if status is not None and status != user.status:
        if status not in ("active", "disabled"):
            raise AccountError("the status must be active or disabled")
        if status == "active" and user.password_hash is None:
            raise AccountError("this person has not accepted their invitation yet")
        changes["status"] = status
    demoted = changes.get("role", "admin") != "admin" or changes.get("status") == "disabled"
    if user.role == "admin" and user.status == "active" and demoted:
        admins = await session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.role == "admin", StaffUser.status == "active")
        )
        if (admins or 0) <= 1:
            raise AccountError("this is the last active administrator; make someone else one first")
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("status") == "disabled":
        await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    if changes:
        await record(session, actor, "account.update", f"account:{user.id}", **changes)
    await session.flush()
    return user


async def list_api_tokens(session: AsyncSession, staff: Staff) -> list[ApiToken]:
    """``staff``'s own tokens, revoked ones too, newest first. Only their prefix is known."""
    return list(
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == staff.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


LINK_CODE_FOR = timedelta(minutes=10)
LINK_ATTEMPTS = 5  # wrong codes one chat may send before it is locked out for LOCK_FOR
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


async def telegram_link_code(session: AsyncSession, staff: Staff) -> tuple[str, datetime]:
    """A one-time code the person sends to the bot (``/staff CODE``) from their own Telegram
    chat, and until when it works."""
    user = await session.get(StaffUser, staff.id)
    if user is None:
        raise AccountError("no such account")
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    user.link_hash = digest(code)
    user.link_expires_at = utcnow() + LINK_CODE_FOR
    return code, user.link_expires_at


async def link_telegram(session: AsyncSession, code: str, chat_id: str) -> Staff | None:
    """Link the chat that sent a valid code to its account; the code works once."""
    code = "".join(code.split()).upper()
    # Wrong codes count like wrong passwords, per chat: guessing one locks the chat out.
    key, now = f"telegram:{chat_id}"[:254], utcnow()
    failure = await session.get(LoginFailure, key)
    if failure is not None and failure.locked_until is not None and failure.locked_until > now:
        return None
    user = None
    if 4 <= len(code) <= 16:
        user = await session.scalar(select(StaffUser).where(StaffUser.link_hash == digest(code)))
    valid = user is not None and user.status == "active" and user.link_expires_at is not None
    if user is None or not valid or user.link_expires_at <= now:  # type: ignore[operator]
        if failure is None:
            failure = LoginFailure(email=key, count=0)
            session.add(failure)
        failure.count += 1
        failure.last_at = now
        if failure.count >= LINK_ATTEMPTS:
            failure.locked_until = now + LOCK_FOR
        return None
    # One chat belongs to one account: a shared phone moves the link.
    await session.execute(
        update(StaffUser).where(StaffUser.telegram_chat_id == chat_id).values(telegram_chat_id=None)
    )
    user.telegram_chat_id = chat_id
    user.link_hash = None
    user.link_expires_at = None
    await session.flush()
    return Staff.of(user)


async def telegram_staff(session: AsyncSession, chat_id: str) -> Staff | None:
    """The active account linked to this Telegram chat, if any."""
    user = await session.scalar(
        select(StaffUser).where(StaffUser.telegram_chat_id == chat_id, StaffUser.status == "active")
    )
    return Staff.of(user) if user is not None else None
