"""Signing in to the dashboard: checking a password under throttling, browser sessions and
their CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat import passwords
from bot.secretariat.staff import Staff, digest, normalise_email
from bot.storage.models import LoginFailure, StaffSession, StaffUser, utcnow

# Sign-in throttling: after FREE_FAILURES wrong passwords for one address, each further attempt
# waits a little longer; at LOCK_AFTER the address is locked for LOCK_FOR.
FREE_FAILURES = 3
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)
FORGET_FAILURES_AFTER = timedelta(hours=1)
MAX_DELAY = 5.0  # seconds


class LoginRefused(Exception):
    """Sign-in failed. ``delay`` is how long the caller should wait before answering;
    ``locked_until`` is set when the address is locked."""

    def __init__(self, delay: float = 0.0, locked_until: datetime | None = None) -> None:
        super().__init__("wrong e-mail or password" if locked_until is None else "locked")
        self.delay = delay
        self.locked_until = locked_until


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
    stored = user.password_hash if user is not None else None
    if await passwords.verify(stored, password) and user is not None and user.status == "active":
        if failure is not None:
            await session.delete(failure)
        if stored and passwords.needs_rehash(stored):
            user.password_hash = await passwords.hash_password(password)
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
    return LoginRefused(delay=_delay(failure.count), locked_until=failure.locked_until)


def _delay(failures: int) -> float:
    """How long to pause after this many failures in a row: nothing at first, then doubling."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, 0.5 * 2 ** (failures - FREE_FAILURES))


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
