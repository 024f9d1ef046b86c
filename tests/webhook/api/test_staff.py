"""The secretariat's accounts (bot.secretariat) on both databases: sign-in throttling and
lock, sessions, the audit log that cannot be changed, and the account changes the API and
dashboard make."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from bot.secretariat import accounts
from bot.secretariat.audit import audit_entries, record
from bot.secretariat.signin import (
    ACCOUNT_LOCK_AFTER,
    FORGET_FAILURES_AFTER,
    FREE_FAILURES,
    MAX_DELAY,
    PAIR_LOCK_AFTER,
    LoginRefused,
    authenticate,
    locked_accounts,
    open_session,
    session_staff,
    unlock,
)
from bot.secretariat.staff import AccountError, Staff
from bot.secretariat.staff_chat import link_telegram, telegram_link_code
from bot.storage.db import Database
from bot.storage.models import LoginFailure, StaffSession, StaffUser, utcnow
from tests.webhook.api.conftest import PASSWORD


async def make(db: Database, email: str = "ana@childpact.org", role: str = "admin"):
    async with db.session() as session, session.begin():
        user = await accounts.create_account(session, email, role, password=PASSWORD)
        return Staff.of(user)


async def sign_in(db: Database, email: str, password: str, client: str = "192.0.2.1"):
    return await authenticate(db, email, password, client=client)


async def test_failed_sign_ins_slow_down_then_lock_the_address_for_that_client(db):
    await make(db)
    delays = []
    for _ in range(PAIR_LOCK_AFTER):
        refused = await sign_in(db, "ana@childpact.org", "wrong password")
        assert isinstance(refused, LoginRefused)
        delays.append(refused.delay)
    assert delays[:FREE_FAILURES] == [0.0] * FREE_FAILURES
    assert delays[FREE_FAILURES : FREE_FAILURES + 3] == [1.0, 2.0, 4.0]
    assert max(delays) == MAX_DELAY
    assert refused.locked_until is not None
    locked = await sign_in(db, "ANA@childpact.org ", PASSWORD)  # the right password, too late
    assert isinstance(locked, LoginRefused) and locked.locked_until is not None
    # Another client is not locked out: the guesser cannot shut the owner out.
    elsewhere = await sign_in(db, "ana@childpact.org", PASSWORD, client="198.51.100.7")
    assert isinstance(elsewhere, Staff)
    async with db.session() as session, session.begin():
        await unlock(session, "ana@childpact.org")
    person = await sign_in(db, "ana@childpact.org", PASSWORD)
    assert isinstance(person, Staff) and person.role == "admin"


async def test_unknown_addresses_are_throttled_alike_and_old_failures_forgotten(db):
    for _ in range(PAIR_LOCK_AFTER):
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


async def test_parallel_wrong_passwords_are_all_counted_and_none_fails(db, monkeypatch):
    import asyncio

    from bot.secretariat import signin

    monkeypatch.setattr(signin, "MAX_DELAY", 0.0)
    await make(db)
    outcomes = await asyncio.gather(
        *(sign_in(db, "ana@childpact.org", f"wrong {i}") for i in range(30)),
        return_exceptions=True,
    )
    assert all(isinstance(o, LoginRefused) for o in outcomes), outcomes
    assert sum(o.locked_until is not None for o in outcomes) >= 30 - PAIR_LOCK_AFTER + 1
    async with db.session() as session:
        counts = sorted((await session.scalars(select(LoginFailure.count))).all())
    assert counts == [30, 30, 30]  # this client and address, this client, this address
    refused = await sign_in(db, "ana@childpact.org", PASSWORD)
    assert isinstance(refused, LoginRefused) and refused.locked_until is not None


async def test_guesses_from_everywhere_lock_the_account_at_a_high_ceiling_only(db, monkeypatch):
    from bot.secretariat import signin

    assert ACCOUNT_LOCK_AFTER >= 5 * PAIR_LOCK_AFTER  # a ceiling, far above one client's lock
    monkeypatch.setattr(signin, "ACCOUNT_LOCK_AFTER", 12)  # the same shape, fewer attempts
    person = await make(db)
    named = []
    for i in range(12):
        refused = await sign_in(
            db, "ana@childpact.org", "guess", client=f"10.0.{i // 250}.{i % 250}"
        )
        assert isinstance(refused, LoginRefused)
        if i < 12 - 1:
            assert refused.locked_until is None  # each client tried once: nobody is locked
        if refused.account_locked is not None:
            named.append(refused.account_locked)
    assert named == [person]  # the lock that the administrators are told of, once
    locked = await sign_in(db, "ana@childpact.org", PASSWORD, client="203.0.113.9")
    assert isinstance(locked, LoginRefused) and locked.locked_until is not None
    async with db.session() as session:
        assert "ana@childpact.org" in await locked_accounts(session)
    async with db.session() as session, session.begin():
        await unlock(session, "ana@childpact.org")
    assert isinstance(await sign_in(db, "ana@childpact.org", PASSWORD, client="203.0.113.9"), Staff)


async def test_sign_ins_under_a_telegram_chats_name_do_not_lock_its_linking(db):
    person = await make(db)
    for _ in range(PAIR_LOCK_AFTER + 1):
        await sign_in(db, "telegram:3001", "guess")
    async with db.session() as session, session.begin():
        code, _ = await telegram_link_code(session, person)
    async with db.session() as session, session.begin():
        linked = await link_telegram(session, code, "3001")
    assert linked is not None and linked.id == person.id


WEAK = (
    "aaaaaaaaaa",
    "qwertyuiop",
    "Password123!",
    "password1234",
    "childpact2026!",
)


async def test_common_and_guessable_passwords_are_refused_everywhere_one_is_set(db):
    person = await make(db)
    for n, weak in enumerate(WEAK):
        with pytest.raises(AccountError, match="too easy to guess|at least 10"):
            async with db.session() as session, session.begin():
                await accounts.create_account(session, f"x{n}@example.org", "viewer",
                                              password=weak)  # fmt: skip
        with pytest.raises(AccountError, match="too easy to guess"):
            async with db.session() as session, session.begin():
                user = await session.get(StaffUser, person.id)
                await accounts.set_password(session, user, weak)
        async with db.session() as session, session.begin():
            _, token = await accounts.invite(session, f"inv{n}@example.org", "viewer")
        with pytest.raises(AccountError, match="too easy to guess"):
            async with db.session() as session, session.begin():
                await accounts.accept_invite(session, token, "Ana", weak)
    with pytest.raises(AccountError, match="too easy to guess"):  # one's own address
        async with db.session() as session, session.begin():
            user = await session.get(StaffUser, person.id)
            await accounts.set_password(session, user, "ana@childpact.org1")
    assert isinstance(await sign_in(db, "ana@childpact.org", PASSWORD), Staff)  # unchanged
