"""A broadcast from launch to approval, on both databases, without starting the service: the
threshold, another administrator's approval, an edit that takes it back, cancelling,
follow-ups and copies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, lifecycle
from bot.members import linking
from bot.storage.db import Database
from bot.storage.models import Broadcast, Delivery, utcnow
from tests.broadcasts.rules import ADMIN, MD_EDITOR, OTHER_ADMIN, Staff
from tests.broadcasts.rules import add as _add
from tests.broadcasts.rules import broadcast as _broadcast
from tests.broadcasts.rules import member as _member

# ---------------------------------------------------------------- launch and approval


async def _launch(session, broadcast: Broadcast, size: int, above: int | None = 10,  # type: ignore[no-untyped-def]
                  staff: Staff = ADMIN, **options: Any) -> str:  # fmt: skip
    return await broadcasts.launch(
        session, broadcast, staff, audience_size=size, approval_above=above, **options
    )


@pytest.mark.parametrize(
    ("size", "above", "status"),
    [(10, 10, "scheduled"), (11, 10, "awaiting_approval"), (0, 0, "scheduled"),
     (1, 0, "awaiting_approval"), (10_000, None, "scheduled")],
)  # fmt: skip
async def test_a_broadcast_to_more_than_the_threshold_waits_for_approval(
    clean_db: Database, size: int, above: int | None, status: str
) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        await _add(session, broadcast)
        assert await _launch(session, broadcast, size, above) == status
        assert broadcast.status == status


async def test_only_another_administrator_approves(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        draft = _broadcast()
        await _add(session, broadcast, draft)
        await _launch(session, broadcast, 50)
        for staff, code in [(MD_EDITOR, "not_admin"), (ADMIN, "own")]:
            with pytest.raises(BroadcastError) as refused:
                await broadcasts.approve(session, broadcast, staff)
            assert refused.value.code == code
            assert (broadcast.status, broadcast.approved_by) == ("awaiting_approval", None)
        with pytest.raises(BroadcastError) as refused:
            await broadcasts.approve(session, draft, OTHER_ADMIN)
        assert refused.value.code == "not_waiting"
        await broadcasts.approve(session, broadcast, OTHER_ADMIN)
        assert (broadcast.status, broadcast.approved_by) == ("scheduled", OTHER_ADMIN.id)
        # Launched again at the same time, approved it stays.
        assert await _launch(session, broadcast, 50) == "scheduled"


async def test_an_approved_broadcast_edited_waits_for_approval_again(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        await _add(session, broadcast)
        await _launch(session, broadcast, 50)
        await broadcasts.approve(session, broadcast, OTHER_ADMIN)
        before = lifecycle.content(broadcast)
        assert not broadcasts.changed(broadcast, before)  # saved without a change
        assert (broadcast.status, broadcast.approved_by) == ("scheduled", OTHER_ADMIN.id)
        broadcasts.set_text(broadcast, "en", "The annual meeting moves to 4 June.")
        assert broadcasts.changed(broadcast, before)
        assert (broadcast.status, broadcast.approved_by) == ("awaiting_approval", None)
        # Nothing sends it before another approval.
        assert lifecycle.lacks_approval(broadcast, 50, 10)
        await broadcasts.approve(session, broadcast, OTHER_ADMIN)
        assert broadcast.status == "scheduled"


async def test_a_broadcast_edited_while_it_waits_goes_back_to_draft(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        await _add(session, broadcast)
        await _launch(session, broadcast, 50)
        before = lifecycle.content(broadcast)
        broadcast.audience = Audience(countries=["RO"]).to_json()
        assert not broadcasts.changed(broadcast, before)
        assert broadcast.status == "draft"
        with pytest.raises(BroadcastError):
            await broadcasts.approve(session, broadcast, OTHER_ADMIN)


async def test_a_small_scheduled_broadcast_edited_stays_scheduled(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        await _add(session, broadcast)
        await _launch(session, broadcast, 5)
        before = lifecycle.content(broadcast)
        broadcast.title = "Annual meeting, new title"
        assert not broadcasts.changed(broadcast, before)
        assert (broadcast.status, broadcast.approved_by) == ("scheduled", None)
        assert not broadcasts.changed(broadcast)  # without what it was: as changed
        assert broadcast.status == "scheduled"


async def test_an_approval_is_for_one_time(clean_db: Database) -> None:
    at = datetime(2030, 6, 1, 9, tzinfo=UTC)
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        await _add(session, broadcast)
        await _launch(session, broadcast, 50, at=at)
        await broadcasts.approve(session, broadcast, OTHER_ADMIN)
        assert await _launch(session, broadcast, 50, at=at) == "scheduled"
        assert await _launch(session, broadcast, 50, at=at, local_hour=9) == "awaiting_approval"
        assert broadcast.approved_by is None


@pytest.mark.parametrize(("hour", "ok"), [(-1, False), (0, True), (23, True), (24, False)])
async def test_the_local_hour_is_an_hour_of_the_day(
    clean_db: Database, hour: int, ok: bool
) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        await _add(session, broadcast)
        if ok:
            assert await _launch(session, broadcast, 1, local_hour=hour) == "scheduled"
            assert broadcast.local_hour == hour
        else:
            with pytest.raises(BroadcastError) as refused:
                await _launch(session, broadcast, 1, local_hour=hour)
            assert refused.value.code == "local_hour" and broadcast.status == "draft"


async def test_what_cannot_be_launched(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        sent = _broadcast(status="sent")
        empty = Broadcast(title="x", base_locale="en", texts={}, buttons=[], audience={},
                          templates={}, created_by=ADMIN.id)  # fmt: skip
        await _add(session, sent, empty)
        with pytest.raises(BroadcastError) as refused:
            await _launch(session, sent, 1)
        assert refused.value.code == "not_draft"
        with pytest.raises(BroadcastError) as refused:
            await _launch(session, empty, 1)
        assert refused.value.code == "no_base_text"
        # Several problems: the first is named (the base text before a translation's length).
        broadcasts.set_text(empty, "ro", "Adunarea anuală. " * 400)
        assert [p.code for p in broadcasts.check(empty)][:2] == ["no_base_text", "too_long"]
        with pytest.raises(BroadcastError) as refused:
            await _launch(session, empty, 1)
        assert refused.value.code == "no_base_text"


async def test_a_coordinator_launches_to_their_own_country_only(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast(Audience(countries=["RO"], channels=["telegram"]))
        await _add(session, broadcast)
        await _launch(session, broadcast, 1, staff=MD_EDITOR)
        assert broadcast.audience == {"countries": ["MD"], "channels": ["telegram"]}
        other = _broadcast(Audience(countries=["RO"]))
        await _add(session, other)
        await _launch(session, other, 1)
        assert other.audience == {"countries": ["RO"]}


async def test_a_repeating_broadcast_starts_its_series(clean_db: Database) -> None:
    at = datetime(2030, 6, 1, 9, tzinfo=UTC)
    async with clean_db.session() as session, session.begin():
        weekly = _broadcast(repeat="weekly", repeat_zone="Europe/Chisinau")
        once = _broadcast()
        ended = _broadcast(repeat="daily", repeat_until=date(2030, 5, 31))
        await _add(session, weekly, once, ended)
        await _launch(session, weekly, 1, at=at)
        assert (weekly.occurrence, weekly.repeat_pending) == (1, True)
        await _launch(session, once, 1, at=at)
        assert (once.occurrence, once.repeat_pending) == (None, False)
        with pytest.raises(BroadcastError) as refused:
            await _launch(session, ended, 1, at=at)
        assert refused.value.code == "repeat_until"
        last_day = _broadcast(repeat="daily", repeat_until=date(2030, 6, 1))
        await _add(session, last_day)
        assert await _launch(session, last_day, 1, at=at) == "scheduled"


async def test_cancel_holds_back_what_has_not_gone(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        members = [_member(f"75{i}") for i in range(3)]
        broadcast = _broadcast(repeat="weekly")
        await _add(session, *members, broadcast)
        await _launch(session, broadcast, 3)
        for contact, status in zip(members, ["queued", "queued", "sent"], strict=True):
            session.add(Delivery(contact_id=contact.id, broadcast_id=broadcast.id,
                                 channel="telegram", address=contact.address,
                                 message={"text": "x"}, status=status))  # fmt: skip
        await session.flush()
        assert await broadcasts.cancel(session, broadcast) == 2
        assert broadcast.status == "cancelled" and broadcast.cancelled_at is not None
        assert broadcast.repeat_pending is False  # a series that never started stops
        rows = await session.scalars(
            select(Delivery.status).where(Delivery.broadcast_id == broadcast.id)
        )
        assert sorted(rows) == ["cancelled", "cancelled", "sent"]
        with pytest.raises(BroadcastError) as refused:
            await broadcasts.cancel(session, broadcast)
        assert refused.value.code == "finished"
        started = _broadcast(repeat="weekly")
        await _add(session, started)
        await _launch(session, started, 1)
        started.started_at = utcnow()
        assert await broadcasts.cancel(session, started) == 0  # nothing was queued
        assert started.repeat_pending is True  # the series goes on from its first one


async def test_a_follow_up_reaches_those_it_did_not_reach_and_can_be_reached(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        got, failed, stopped, lost = (_member(f"76{i}") for i in range(4))
        linked_tg, linked_wa = _member("765"), _member("whatsapp:+37360000765")
        missed_tg, missed_wa = _member("766"), _member("whatsapp:+37360000766")
        lost.unreachable_at = utcnow()
        stopped.status = "stopped"
        broadcast = _broadcast(Audience(countries=["MD"]), status="sent")
        await _add(session, got, failed, stopped, lost, linked_tg, linked_wa, missed_tg,
                   missed_wa, broadcast)  # fmt: skip
        await linking.join(session, [linked_tg, linked_wa])
        await linking.join(session, [missed_tg, missed_wa])
        for contact, status in [(got, "delivered"), (failed, "failed"), (stopped, "failed"),
                                (lost, "undelivered"), (linked_tg, "failed"),
                                (linked_wa, "read"), (missed_tg, "failed"),
                                (missed_wa, "skipped")]:  # fmt: skip
            session.add(Delivery(contact_id=contact.id, broadcast_id=broadcast.id,
                                 channel=contact.channel, address=contact.address,
                                 message={"text": "x"}, status=status))  # fmt: skip
        await session.flush()
        again = await broadcasts.follow_up(session, broadcast, ADMIN.id)
        # Reached on one chat: not again on the other. Reached on none: both chats are in it
        # (the sending picks one per person).
        assert again.audience == {
            "countries": ["MD"], "contact_ids": [failed.id, missed_tg.id, missed_wa.id],
        }  # fmt: skip
        assert (again.status, again.parent_id, again.texts) == ("draft", broadcast.id,
                                                                broadcast.texts)  # fmt: skip
        everyone = _broadcast(status="sent")
        await _add(session, everyone)
        session.add(Delivery(contact_id=got.id, broadcast_id=everyone.id, channel="telegram",
                             address=got.address, message={"text": "x"}, status="sent"))  # fmt: skip
        await session.flush()
        with pytest.raises(BroadcastError) as refused:
            await broadcasts.follow_up(session, everyone, ADMIN.id)
        assert refused.value.code == "nobody"


async def test_launched_from_the_command_line_nobody_narrows_the_audience(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast(Audience(countries=["RO"]))
        await _add(session, broadcast)
        assert (
            await broadcasts.launch(session, broadcast, None, audience_size=1, approval_above=None)
            == "scheduled"
        )
        assert broadcast.audience == {"countries": ["RO"]}


def test_a_copy_is_a_new_draft_that_starts_from_the_first_member() -> None:
    template = "HX" + "4" * 32  # WhatsApp members outside the window need it in the copy too
    buttons = [{"kind": "url", "url": "https://childpact.org/assembly", "labels": {"en": "More"}}]
    original = _broadcast(Audience(countries=["MD"]), status="sent", expanded_to=500,
                          templates={"ro": template}, buttons=buttons,
                          image_url="https://childpact.org/a.jpg")  # fmt: skip
    again = lifecycle.copied(original, parent_id=7)
    assert (again.status, again.expanded_to, again.parent_id) == ("draft", 0, 7)
    assert (again.texts, again.audience) == (original.texts, original.audience)
    assert (again.templates, again.buttons, again.image_url) == (
        {"ro": template}, buttons, "https://childpact.org/a.jpg",
    )  # fmt: skip
    assert again.collect_replies_hours == 0  # collects no replies unless the original did
    assert lifecycle.copied(_broadcast(collect_replies_hours=24)).collect_replies_hours == 24
    again.texts["en"]["text"] = "changed"
    assert original.texts["en"]["text"] != "changed"


async def test_the_audience_size_and_the_threshold_are_named_by_every_caller(
    clean_db: Database,
) -> None:
    """Two numbers side by side: swapped, a large broadcast would go without approval; the
    launch takes them by name only."""
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast()
        await _add(session, broadcast)
        with pytest.raises(TypeError):
            await broadcasts.launch(session, broadcast, ADMIN, 10, 5000)  # type: ignore[misc]
        assert broadcast.status == "draft"
