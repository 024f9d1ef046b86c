"""Signing in to the dashboard: checking a password under throttling, browser sessions and
their CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat import passwords
from bot.secretariat.staff import Staff, digest, normalise_email
from bot.storage.db import Database
from bot.storage.models import LoginFailure, StaffSession, StaffUser, utcnow

# Sign-in throttling, counted in ``login_failures`` under three kinds of key, each counted
# atomically *before* the password is checked, so that guesses sent in parallel are counted
# as surely as guesses sent one after another:
# - one address from one client (browser's network address): after FREE_FAILURES each attempt
#   waits longer; at PAIR_LOCK_AFTER that client may not try that address for LOCK_FOR;
# - one client, whatever the address (guessing across accounts): locked at CLIENT_LOCK_AFTER;
# - one address from anywhere: a high ceiling, ACCOUNT_LOCK_AFTER, that locks the account
#   until an administrator lifts it (or ACCOUNT_LOCK_FOR passes) and tells the administrators.
# An outsider can so lock themselves out, but not the account, short of the ceiling.
FREE_FAILURES = 3
PAIR_LOCK_AFTER = 10
CLIENT_LOCK_AFTER = 30
ACCOUNT_LOCK_AFTER = 100
LOCK_FOR = timedelta(minutes=15)
ACCOUNT_LOCK_FOR = timedelta(hours=24)
FORGET_FAILURES_AFTER = timedelta(hours=1)
MAX_DELAY = 5.0  # seconds
# Key prefixes in login_failures: no e-mail address nor ``telegram:`` (staff_chat) starts so.
ACCOUNT_KEY, PAIR_KEY, CLIENT_KEY = "signin:account:", "signin:pair:", "signin:client:"
# A signed-in person's current password, asked before it is changed: someone at an unlocked
# computer may not guess it for ever. Wrong ones are counted per account, committed before the
# check; at PASSWORD_LOCK_AFTER the checks pause for LOCK_FOR.
PASSWORD_KEY = "password:account:"
PASSWORD_LOCK_AFTER = 5


class LoginRefused(Exception):
    """Sign-in failed. ``delay`` is how long the caller should wait before answering;
    ``locked_until`` is set when this attempt may not be made until then; ``account_locked``
    names the account whose ceiling this attempt reached (the administrators are told)."""

    def __init__(
        self,
        delay: float = 0.0,
        locked_until: datetime | None = None,
        account_locked: Staff | None = None,
    ) -> None:
        super().__init__("wrong e-mail or password" if locked_until is None else "locked")
        self.delay = delay
        self.locked_until = locked_until
        self.account_locked = account_locked


def _keys(email: str, client: str) -> tuple[str, str, str]:
    client_key = hashlib.sha256(client.encode()).hexdigest()
    return (
        ACCOUNT_KEY + email[:230],
        f"{PAIR_KEY}{client_key[:16]}:{email[:220]}",
        CLIENT_KEY + client_key,
    )


async def count_attempt(
    session: AsyncSession, key: str, *, lock_after: int, lock_for: timedelta
) -> tuple[int, datetime | None]:
    """One more attempt under ``key``, counted in one statement (no lost update under any
    number of parallel attempts); returns the count and until when the key is locked. The
    attempt that reaches ``lock_after`` sets the lock; a lock that has passed, or failures
    older than FORGET_FAILURES_AFTER, start the count again."""
    now = utcnow()
    stale = or_(
        LoginFailure.last_at < now - FORGET_FAILURES_AFTER,
        and_(LoginFailure.locked_until.is_not(None), LoginFailure.locked_until <= now),
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(LoginFailure).values(email=key, count=1, last_at=now, locked_until=None)
    stmt = stmt.on_conflict_do_update(
        index_elements=["email"],
        set_={
            "count": case((stale, 1), else_=LoginFailure.count + 1),
            "locked_until": case((stale, None), else_=LoginFailure.locked_until),
            "last_at": now,
        },
    ).returning(LoginFailure.count, LoginFailure.locked_until)
    count, locked_until = (await session.execute(stmt)).one()
    if count == lock_after:
        locked_until = now + lock_for
        await session.execute(
            update(LoginFailure).where(LoginFailure.email == key).values(locked_until=locked_until)
        )
    elif count > lock_after and (locked_until is None or locked_until <= now):
        locked_until = now + lock_for  # the one that set it has not written it yet
    return count, locked_until


async def authenticate(
    db: Database, email: str, password: str, *, client: str
) -> Staff | LoginRefused:
    """The account behind an e-mail and password, tried from ``client`` (its network
    address), or why not. The attempt is counted and committed before the password is
    checked; what is refused for a lock is not checked at all. Failures are counted per
    address whether or not it has an account, so throttling tells nothing either."""
    email = normalise_email(email)[:254]
    client = (client or "unknown")[:64]
    account_key, pair_key, client_key = _keys(email, client)
    now = utcnow()
    async with db.session() as session, session.begin():
        per_client, client_lock = await count_attempt(
            session, client_key, lock_after=CLIENT_LOCK_AFTER, lock_for=LOCK_FOR
        )
        per_pair, pair_lock = await count_attempt(
            session, pair_key, lock_after=PAIR_LOCK_AFTER, lock_for=LOCK_FOR
        )
        per_account, account_lock = (0, None)
        if "@" in email:  # what cannot be an address counts against the client only
            per_account, account_lock = await count_attempt(
                session, account_key, lock_after=ACCOUNT_LOCK_AFTER, lock_for=ACCOUNT_LOCK_FOR
            )
    delay = max(_delay(per_pair), _delay(per_client - CLIENT_LOCK_AFTER // 3))
    locks = [t for t in (client_lock, pair_lock, account_lock) if t is not None and t > now]
    # The attempt that locks is still checked; those after it are not.
    earlier = [
        t for t, n, ceiling in ((client_lock, per_client, CLIENT_LOCK_AFTER),
                                (pair_lock, per_pair, PAIR_LOCK_AFTER),
                                (account_lock, per_account, ACCOUNT_LOCK_AFTER))
        if t is not None and t > now and n > ceiling
    ]  # fmt: skip
    if earlier:
        await passwords.verify(None, password)  # the same time as a wrong password
        return LoginRefused(delay=MAX_DELAY, locked_until=max(earlier))
    async with db.session() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
    stored = user.password_hash if user is not None else None
    right = await passwords.verify(stored, password)
    if right and user is not None and user.status == "active":
        async with db.session() as session, session.begin():
            await session.execute(
                delete(LoginFailure).where(LoginFailure.email.in_((pair_key, account_key)))
            )
            found = await session.get(StaffUser, user.id)
            if found is None or found.status != "active":
                return LoginRefused()
            if stored and passwords.needs_rehash(stored):
                found.password_hash = await passwords.hash_password(password)
            found.last_login_at = utcnow()
            return Staff.of(found)
    locked = Staff.of(user) if per_account == ACCOUNT_LOCK_AFTER and user is not None else None
    return LoginRefused(
        delay=delay, locked_until=max(locks) if locks else None, account_locked=locked
    )


async def count_password_check(db: Database, user_id: int) -> datetime | None:
    """Count one check of a signed-in person's current password, committed before the check;
    returns until when checks are paused when this one may not be made (the check that
    reaches the limit is still made, those after it are not)."""
    async with db.session() as session, session.begin():
        count, locked_until = await count_attempt(
            session, f"{PASSWORD_KEY}{user_id}", lock_after=PASSWORD_LOCK_AFTER, lock_for=LOCK_FOR
        )
    if count > PASSWORD_LOCK_AFTER and locked_until is not None and locked_until > utcnow():
        return locked_until
    return None


async def forget_password_checks(db: Database, user_id: int) -> None:
    """The current password was given right: its wrong guesses are forgotten."""
    async with db.session() as session, session.begin():
        await session.execute(
            delete(LoginFailure).where(LoginFailure.email == f"{PASSWORD_KEY}{user_id}")
        )


def _delay(failures: int) -> float:
    """How long to pause after this many failures in a row: nothing at first, then doubling."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, 0.5 * 2 ** (failures - FREE_FAILURES))


async def locked_accounts(session: AsyncSession) -> dict[str, datetime]:
    """The addresses whose sign-in is locked for everyone now, and until when."""
    rows = await session.execute(
        select(LoginFailure.email, LoginFailure.locked_until).where(
            LoginFailure.email.startswith(ACCOUNT_KEY, autoescape=True),
            LoginFailure.locked_until > utcnow(),
        )
    )
    return {key[len(ACCOUNT_KEY) :]: until for key, until in rows.all() if until is not None}


async def unlock(session: AsyncSession, email: str) -> None:
    """An administrator lifts a lock of an address: the account's ceiling and every
    client's throttling of it."""
    email = normalise_email(email)
    await session.execute(
        delete(LoginFailure).where(
            (LoginFailure.email == ACCOUNT_KEY + email[:230])
            | (LoginFailure.email == email)  # as counted before the keys had kinds
            | (
                LoginFailure.email.startswith(PAIR_KEY, autoescape=True)
                & LoginFailure.email.endswith(":" + email[:220], autoescape=True)
            )
        )
    )


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
