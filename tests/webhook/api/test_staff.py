"""The secretariat's accounts (bot.secretariat) on both databases: sign-in throttling and
lock, sessions, the audit log that cannot be changed, and the account changes the API and
dashboard make."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from bot.secretariat import accounts
from bot.secretariat.audit import audit_entries, record
from bot.secretariat.signin import (
    FORGET_FAILURES_AFTER,
    FREE_FAILURES,
    LOCK_AFTER,
    MAX_DELAY,
    LoginRefused,
    authenticate,
    open_session,
    session_staff,
    unlock,
)
from bot.secretariat.staff import AccountError, Staff
from bot.storage.db import Database
from bot.storage.models import LoginFailure, StaffSession, utcnow
from tests.webhook.api.conftest import PASSWORD


async def make(db: Database, email: str = "ana@childpact.org", role: str = "admin"):
    async with db.session() as session, session.begin():
        user = await accounts.create_account(session, email, role, password=PASSWORD)
        return Staff.of(user)


async def sign_in(db: Database, email: str, password: str):
    async with db.session() as session, session.begin():
        return await authenticate(session, email, password)


async def test_failed_sign_ins_slow_down_then_lock_the_address(db):
    await make(db)
    delays = []
    for _ in range(LOCK_AFTER):
        refused = await sign_in(db, "ana@childpact.org", "wrong password")
        assert isinstance(refused, LoginRefused)
        delays.append(refused.delay)
    assert delays[:FREE_FAILURES] == [0.0] * FREE_FAILURES
    assert delays[FREE_FAILURES : FREE_FAILURES + 3] == [1.0, 2.0, 4.0]
    assert max(delays) == MAX_DELAY
    assert refused.locked_until is not None
    locked = await sign_in(db, "ANA@childpact.org ", PASSWORD)  # the right password, too late
    assert isinstance(locked, LoginRefused) and locked.locked_until is not None
    async with db.session() as session, session.begin():
        await unlock(session, "ana@childpact.org")
    person = await sign_in(db, "ana@childpact.org", PASSWORD)
    assert isinstance(person, Staff) and person.role == "admin"


async def test_unknown_addresses_are_throttled_alike_and_old_failures_forgotten(db):
    for _ in range(LOCK_AFTER):
        refused = await sign_in(db, "nobody@example.org", "guess")
    assert refused.locked_until is not None
    await make(db, "late@childpact.org")
    for _ in range(FREE_FAILURES + 1):
        await sign_in(db, "late@childpact.org", "wrong")
    async with db.session() as session, session.begin():
        await session.execute(
            update(LoginFailure).values(last_at=utcnow() - FORGET_FAILURES_AFTER * 2)
        )
    fresh = await sign_in(db, "late@childpact.org", "wrong")
    assert fresh.delay == 0.0  # counting starts again
    assert isinstance(await sign_in(db, "late@childpact.org", PASSWORD), Staff)


async def test_sessions_expire_when_idle_and_when_old(db):
    person = await make(db)
    async with db.session() as session, session.begin():
        token, csrf = await open_session(session, person, lifetime=timedelta(hours=1))
    async with db.session() as session, session.begin():
        found = await session_staff(session, token, idle=timedelta(minutes=30))
    assert found == (person, csrf)
    async with db.session() as session, session.begin():
        await session.execute(update(StaffSession).values(seen_at=utcnow() - timedelta(minutes=31)))
    async with db.session() as session, session.begin():
        assert await session_staff(session, token, idle=timedelta(minutes=30)) is None
    async with db.session() as session, session.begin():
        old, _ = await open_session(session, person, lifetime=timedelta(hours=1))
        await session.execute(update(StaffSession).values(expires_at=utcnow()))
    async with db.session() as session, session.begin():
        assert await session_staff(session, old, idle=timedelta(days=1)) is None


async def test_the_audit_log_records_sign_ins_and_refuses_to_be_changed(db):
    person = await make(db)
    async with db.session() as session, session.begin():
        await record(session, person, "login")
        await record(session, None, "member.delete", "member:7")
    async with db.session() as session:
        entries, total = await audit_entries(session)
        assert total == 2 and [e.action for e in entries] == ["member.delete", "login"]
        assert entries[1].actor == "ana@childpact.org" and entries[0].actor == "system"
        only, _ = await audit_entries(session, actor="Ana@childpact.org")
        assert [e.action for e in only] == ["login"]
    for statement in ("UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError):
            async with db.session() as session, session.begin():
                await session.execute(text(statement))
    async with db.session() as session:
        assert (await audit_entries(session))[1] == 2


async def test_account_changes_keep_an_administrator_and_end_a_disabled_persons_sessions(db):
    admin = await make(db)
    editor = await make(db, "ed@childpact.org", "editor")
    async with db.session() as session, session.begin():
        await open_session(session, editor, lifetime=timedelta(hours=1))
        invited, _ = await accounts.invite(session, "new@childpact.org", "viewer")
    async with db.session() as session, session.begin():
        with pytest.raises(AccountError, match="last active administrator"):
            await accounts.update_account(session, admin, admin.id, status="disabled")
        with pytest.raises(AccountError, match="invitation"):
            await accounts.update_account(session, admin, invited.id, status="active")
        changed = await accounts.update_account(
            session, admin, editor.id, status="disabled", country="md"
        )
        assert (changed.status, changed.country) == ("disabled", "MD")
        kept = await accounts.update_account(session, admin, editor.id, role="viewer")
        assert kept.country == "MD"  # not given: unchanged
        assert await accounts.update_account(session, admin, 999999, role="viewer") is None
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM staff_sessions")) == 0
        accounts_now = await accounts.list_accounts(session)
        assert [a.email for a in accounts_now] == [
            "ana@childpact.org",
            "ed@childpact.org",
            "new@childpact.org",
        ]
        entries, _ = await audit_entries(session, action="account.")
        assert [e.detail for e in entries] == [
            {"role": "viewer"},
            {"country": "MD", "status": "disabled"},
        ]
