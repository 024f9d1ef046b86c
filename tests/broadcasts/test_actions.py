"""What the secretariat does to a broadcast, on both databases: each action changes what the
dashboard shows, leaves its one audit entry, and names the worker to wake."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, actions
from bot.broadcasts import series as broadcast_series
from bot.coordination.keys import BROADCASTS
from bot.secretariat.staff import Staff
from bot.storage.models import AuditEntry, Broadcast, Contact, Delivery, StaffUser, utcnow

AUTHOR = Staff(1, "ana@childpact.org", "Ana", "admin", None, "en")
SECOND = Staff(2, "ion@childpact.org", "Ion", "admin", None, "en")
MD_EDITOR = Staff(3, "maria@childpact.org", "Maria", "editor", "MD", "ro")


async def members(session: AsyncSession, *countries: str) -> list[Contact]:
    found = [
        Contact(
            channel="telegram",
            address=str(100 + i),
            status="active",
            country=country,
            locale="en",
            consent_version="1",
            flow_data={},
            choices=[],
        )  # fmt: skip
        for i, country in enumerate(countries)
    ]
    session.add_all(found)
    await session.flush()
    return found


async def draft(session: AsyncSession, author: Staff = AUTHOR, **fields: Any) -> Broadcast:
    found = Broadcast(
        title="Annual meeting", base_locale="en", status="draft", texts={}, buttons=[],
        audience=Audience().to_json(), templates={}, created_by=author.id, expanded_to=0,
    )  # fmt: skip
    broadcasts.set_text(found, "en", "The annual meeting is on 3 June in Chisinau.")
    for name, value in fields.items():
        setattr(found, name, value)
    session.add(found)
    await session.flush()
    return found


async def audit(session: AsyncSession, action: str) -> list[AuditEntry]:
    found = await session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    )
    return list(found)


async def test_sending_launches_records_and_names_the_worker(db):
    at = datetime(2030, 12, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as session, session.begin():
        await members(session, "MD", "MD", "RO")
        b = await draft(session)
        sent = await actions.send(session, b, AUTHOR, approval_above=None, at=at)
        assert (sent.status, sent.recipients, sent.wake) == ("scheduled", 3, BROADCASTS)
        assert b.status == "scheduled" and b.scheduled_at == at
        (entry,) = await audit(session, "broadcast.send")
        assert (entry.actor, entry.target) == (AUTHOR.email, f"broadcast:{b.id}")
        assert entry.detail == {"status": "scheduled", "recipients": 3, "at": at.isoformat(),
                                "local_hour": None, "repeat": None}  # fmt: skip


async def test_a_coordinators_send_stays_in_their_country_and_names_its_front_end(db):
    async with db.session() as session, session.begin():
        await members(session, "MD", "MD", "RO")
        b = await draft(session, MD_EDITOR)
        sent = await actions.send(session, b, MD_EDITOR, approval_above=1, via="telegram")
        assert (sent.status, sent.recipients) == ("awaiting_approval", 2)
        assert Audience.from_json(b.audience).countries == ["MD"]
        (entry,) = await audit(session, "broadcast.send")
        assert entry.detail["via"] == "telegram" and entry.detail["recipients"] == 2


async def test_a_refused_send_changes_nothing_and_leaves_no_entry(db):
    async with db.session() as session, session.begin():
        b = await draft(session, texts={})
        with pytest.raises(BroadcastError) as refused:
            await actions.send(session, b, AUTHOR, approval_above=None)
        assert refused.value.code == "no_base_text"
        assert b.status == "draft" and await audit(session, "broadcast.send") == []


async def test_approval_is_someone_elses_and_is_recorded(db):
    async with db.session() as session, session.begin():
        await members(session, "MD", "RO")
        b = await draft(session)
        await actions.send(session, b, AUTHOR, approval_above=1)
        with pytest.raises(BroadcastError) as refused:
            await actions.approve(session, b, AUTHOR)
        assert refused.value.code == "own" and await audit(session, "broadcast.approve") == []
        assert await actions.approve(session, b, SECOND) == BROADCASTS
        assert (b.status, b.approved_by) == ("scheduled", SECOND.id)
        (entry,) = await audit(session, "broadcast.approve")
        assert (entry.actor, entry.target, entry.detail) == (SECOND.email, f"broadcast:{b.id}", {})


async def test_cancelling_holds_back_what_is_queued_and_says_how_much(db):
    async with db.session() as session, session.begin():
        await members(session, "MD", "MD", "RO")
        b = await draft(session)
        await actions.send(session, b, AUTHOR, approval_above=None)
        assert await broadcasts.expand(session, b, {}) == 3
        cancelled = await actions.cancel(session, b, AUTHOR, survey=7)
        assert (cancelled.held_back, cancelled.wake) == (3, BROADCASTS)
        assert b.status == "cancelled"
        statuses = await session.scalars(
            select(Delivery.status).where(Delivery.broadcast_id == b.id)
        )
        assert set(statuses) == {"cancelled"}
        (entry,) = await audit(session, "broadcast.cancel")
        assert entry.detail == {"survey": 7, "held_back": 3}
        with pytest.raises(BroadcastError) as refused:
            await actions.cancel(session, b, AUTHOR)
        assert refused.value.code == "finished"
        assert len(await audit(session, "broadcast.cancel")) == 1


async def test_stopping_a_series_is_recorded_once(db):
    async with db.session() as session, session.begin():
        await members(session, "MD")
        b = await draft(session)
        broadcast_series.set_rule(b, "weekly", until=None, times=None, zone="Europe/Chisinau")
        await actions.send(session, b, AUTHOR, approval_above=None, at=utcnow() + timedelta(days=1))
        stopped = await actions.stop_series(session, b, None, via="command line")
        assert (stopped.cancelled, stopped.wake) == (0, BROADCASTS)
        assert b.repeat_stopped_at is not None and not b.repeat_pending
        with pytest.raises(BroadcastError) as refused:
            await actions.stop_series(session, b, None)
        assert refused.value.code == "series_stopped"
        (entry,) = await audit(session, "broadcast.stop_series")
        assert entry.actor == "system"
        assert entry.detail == {"series": b.id, "cancelled": 0, "via": "command line"}


async def test_a_follow_up_waits_for_the_end_then_goes_to_those_not_reached(db):
    async with db.session() as session, session.begin():
        reached, missed = await members(session, "MD", "MD")
        b = await draft(session)
        await actions.send(session, b, AUTHOR, approval_above=None)
        await broadcasts.expand(session, b, {})
        with pytest.raises(BroadcastError) as refused:
            await actions.follow_up(session, b, AUTHOR)
        assert refused.value.code == "not_finished"
        row = await session.scalar(select(Delivery).where(Delivery.contact_id == reached.id))
        assert row is not None
        row.status = "delivered"
        await actions.cancel(session, b, AUTHOR)
        again = await actions.follow_up(session, b, AUTHOR)
        assert again.status == "draft" and again.parent_id == b.id
        assert Audience.from_json(again.audience).contact_ids == [missed.id]
        (entry,) = await audit(session, "broadcast.follow_up")
        assert (entry.target, entry.detail) == (f"broadcast:{again.id}", {"parent": b.id})


async def test_a_test_goes_to_the_authors_chat_once_per_language_written(db):
    async with db.session() as session, session.begin():
        (own, member) = await members(session, "MD", "MD")
        # the author's account is linked to the Telegram chat ``own``; ``member`` is anyone's
        session.add(
            StaffUser(email=AUTHOR.email, name="Ana", role="admin", telegram_chat_id=own.address)
        )
        await session.flush()
        with pytest.raises(BroadcastError):  # a test needs no approval: never to a member
            await actions.send_test(session, await draft(session), AUTHOR, member, {})
        b = await draft(session)
        broadcasts.set_text(b, "ro", "Adunarea anuală are loc pe 3 iunie la Chișinău.")
        tested = await actions.send_test(session, b, AUTHOR, own, {})
        assert (tested.queued, tested.wake) == (2, "outbox")
        assert (await actions.send_test(session, b, AUTHOR, own, {}, "ro")).queued == 1
        await session.flush()
        texts = await session.scalars(select(Delivery.message).where(Delivery.contact_id == own.id))
        assert sorted(m["text"].partition("\n")[0] for m in texts) == [
            "[TEST en]", "[TEST ro]", "[TEST ro]"
        ]  # fmt: skip
        assert b.status == "draft"
        entries = await audit(session, "broadcast.test")
        assert [e.detail for e in entries] == [{"member": own.id}] * 2
