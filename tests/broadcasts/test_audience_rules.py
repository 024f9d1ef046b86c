"""Who a broadcast reaches, when it needs a second person's approval, and where it goes when a
linked member's chat is lost, on both databases, without starting the service: only members
who agreed to the privacy notice, the filters and a coordinator's country, "not those who got
X" meaning those it reached (on any of their chats), an approval that an edit takes back, and
the next chat of a person who lost one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, fallback, lifecycle
from bot.members import linking, topics
from bot.secretariat.staff import Staff
from bot.storage.db import Database
from bot.storage.models import Broadcast, Contact, Delivery, Person, Subscription, Topic, utcnow

ADMIN = Staff(1, "admin@example.org", "Ana", "admin", None, "en")
OTHER_ADMIN = Staff(2, "second@example.org", "Ion", "admin", None, "en")
MD_EDITOR = Staff(3, "md@example.org", "Maria", "editor", "MD", "ro")
RECENT = utcnow() - timedelta(hours=1)


def _member(address: str, **fields: Any) -> Contact:
    channel = "whatsapp" if address.startswith("whatsapp:") else "telegram"
    values = {"channel": channel, "address": address, "status": "active", "locale": "ro",
              "country": "MD", "consent_version": "1", "flow_data": {}, "choices": [],
              "last_inbound_at": RECENT} | fields  # fmt: skip
    return Contact(**values)


def _broadcast(audience: Audience | None = None, **fields: Any) -> Broadcast:
    values = {"title": "Annual meeting", "base_locale": "en", "texts": {}, "buttons": [],
              "audience": (audience or Audience()).to_json(), "templates": {},
              "created_by": ADMIN.id} | fields  # fmt: skip
    status = values.pop("status", "draft")
    broadcast = Broadcast(**values, status="draft")
    broadcasts.set_text(broadcast, "en", "The annual meeting is on 3 June in Chisinau.")
    broadcasts.set_text(broadcast, "ro", "Adunarea anuală are loc pe 3 iunie la Chișinău.")
    broadcast.status = status
    return broadcast


async def _add(session, *rows: Any) -> None:  # type: ignore[no-untyped-def]
    session.add_all(rows)
    await session.flush()


async def _audience(session, audience: Audience, staff: Staff | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    return [c.id for c in await session.scalars(broadcasts.audience_query(audience, staff))]


# ---------------------------------------------------------------- the audience


async def test_only_members_who_agreed_to_the_notice_are_in_the_audience(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        active = _member("701")
        stopped = _member("702", status="stopped")
        new = _member("703", status="new", consent_version=None)
        declined = _member("704", status="declined", consent_version=None)
        await _add(session, active, stopped, new, declined)
        assert await _audience(session, Audience()) == [active.id, stopped.id]
        broadcast = _broadcast()
        await _add(session, broadcast)
        seen = await broadcasts.preview(session, broadcast, ADMIN, {})
        # The stopped member is counted as skipped; the two who never agreed not at all.
        assert (seen.recipients, seen.people, seen.skipped) == (1, 2, {"stopped": 1})


async def test_the_filters_narrow_the_audience(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        md = _member("711", organisation="  Copil Comunitate ")
        ro = _member("712", country="RO", organisation="Other")
        wa = _member("whatsapp:+37360000713", organisation="copil comunitate")
        await _add(session, md, ro, wa)
        assert await _audience(session, Audience(countries=["MD"])) == [md.id, wa.id]
        assert await _audience(session, Audience(channels=["whatsapp"])) == [wa.id]
        assert await _audience(session, Audience(organisations=["Copil Comunitate"])) == [
            md.id, wa.id,
        ]  # fmt: skip
        assert await _audience(session, Audience(contact_ids=[ro.id, wa.id])) == [ro.id, wa.id]
        assert await _audience(session, Audience(countries=["MD"], channels=["telegram"])) == [
            md.id
        ]
        # A coordinator reaches their own country only, whatever the filter says.
        assert await _audience(session, Audience(), MD_EDITOR) == [md.id, wa.id]
        assert await _audience(session, Audience(countries=["RO"]), MD_EDITOR) == []
        assert await _audience(session, Audience(), ADMIN) == [md.id, ro.id, wa.id]


async def test_a_topic_reaches_those_who_chose_it_or_did_not_choose(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        events = await topics.by_key(session, "events")
        if events is None:
            events = Topic(key="events", names={"en": "Events"}, default_on=True)
            await _add(session, events)
        left, took, silent = _member("721"), _member("722"), _member("723")
        await _add(session, left, took, silent)
        await topics.choose(session, left.id, events.id, False)
        await topics.choose(session, took.id, events.id, True)
        assert await _audience(session, Audience(topics=["events"])) == [took.id, silent.id]


async def test_not_those_who_got_it_means_those_it_reached(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        members = [_member(f"73{i}") for i in range(6)]
        earlier = _broadcast(status="sent")
        await _add(session, *members, earlier)
        statuses = ["sent", "delivered", "read", "failed", "queued", "undelivered"]
        for contact, status in zip(members, statuses, strict=True):
            session.add(Delivery(contact_id=contact.id, broadcast_id=earlier.id,
                                 channel="telegram", address=contact.address,
                                 message={"text": "x"}, status=status))  # fmt: skip
        await session.flush()
        follow = Audience(exclude_broadcasts=[earlier.id])
        assert await broadcasts.excluded_members(session, follow) == {
            members[0].id, members[1].id, members[2].id,
        }  # fmt: skip
        assert await broadcasts.excluded_members(session, Audience()) == frozenset()
        again = _broadcast(follow)
        await _add(session, again)
        seen = await broadcasts.preview(session, again, ADMIN, {})
        assert (seen.recipients, seen.skipped) == (3, {"excluded": 3})


async def test_not_those_who_got_it_leaves_out_a_linked_person_on_their_other_chat(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _member("741"), _member("whatsapp:+37360000741")
        earlier = _broadcast(status="sent")
        await _add(session, tg, wa, earlier)
        await linking.join(session, [tg, wa])
        await linking.set_preferred(session, tg, "whatsapp")
        session.add(Delivery(contact_id=tg.id, broadcast_id=earlier.id, channel="telegram",
                             address=tg.address, message={"text": "x"}, status="read"))  # fmt: skip
        await session.flush()
        again = _broadcast(Audience(exclude_broadcasts=[earlier.id]))
        await _add(session, again)
        seen = await broadcasts.preview(session, again, ADMIN, {})
        assert (seen.recipients, seen.people, seen.skipped) == (0, 1, {"excluded": 1})
        excluded = await broadcasts.excluded_members(session, Audience.from_json(again.audience))
        found = broadcasts.choose(again, [tg, wa], "whatsapp", utcnow(), excluded)
        assert found is not None and found.skip == "excluded"


def test_a_coordinator_sees_and_sends_to_their_country_only() -> None:
    assert broadcasts.visible(_broadcast(Audience(countries=["MD"])), MD_EDITOR)
    assert not broadcasts.visible(_broadcast(Audience(countries=["RO"])), MD_EDITOR)
    assert not broadcasts.visible(_broadcast(Audience()), MD_EDITOR)
    assert broadcasts.visible(_broadcast(Audience(countries=["RO"])), ADMIN)
    assert broadcasts.scoped(Audience(countries=["RO", "MD"]), MD_EDITOR).countries == ["MD"]
    assert broadcasts.scoped(Audience(countries=["RO"]), ADMIN).countries == ["RO"]


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
        await broadcasts.cancel(session, started)
        assert started.repeat_pending is True  # the series goes on from its first one


async def test_a_follow_up_reaches_those_it_did_not_reach_and_can_be_reached(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        got, failed, stopped, lost = (_member(f"76{i}") for i in range(4))
        linked_tg, linked_wa = _member("765"), _member("whatsapp:+37360000765")
        lost.unreachable_at = utcnow()
        stopped.status = "stopped"
        broadcast = _broadcast(Audience(countries=["MD"]), status="sent")
        await _add(session, got, failed, stopped, lost, linked_tg, linked_wa, broadcast)
        await linking.join(session, [linked_tg, linked_wa])
        for contact, status in [(got, "delivered"), (failed, "failed"), (stopped, "failed"),
                                (lost, "undelivered"), (linked_tg, "failed"),
                                (linked_wa, "read")]:  # fmt: skip
            session.add(Delivery(contact_id=contact.id, broadcast_id=broadcast.id,
                                 channel=contact.channel, address=contact.address,
                                 message={"text": "x"}, status=status))  # fmt: skip
        await session.flush()
        again = await broadcasts.follow_up(session, broadcast, ADMIN.id)
        assert again.audience == {"countries": ["MD"], "contact_ids": [failed.id]}
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


# ---------------------------------------------------------------- the next chat


async def _queued(session, broadcast: Broadcast) -> dict[int, str]:  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(Delivery.contact_id, Delivery.status).where(Delivery.broadcast_id == broadcast.id)
    )
    return dict(rows.all())


async def test_a_lost_chat_passes_the_broadcast_to_the_persons_next_chat_once(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _member("771"), _member("whatsapp:+37360000771")
        web = _member("web771", channel="web", last_inbound_at=utcnow() - timedelta(days=2))
        alone = _member("772")
        broadcast = _broadcast(status="sending")
        await _add(session, tg, wa, web, alone, broadcast)
        await linking.join(session, [tg, wa, web])
        await linking.set_preferred(session, tg, "telegram")
        for contact in (tg, alone):
            session.add(Delivery(contact_id=contact.id, broadcast_id=broadcast.id,
                                 channel="telegram", address=contact.address,
                                 message={"text": "x"}, status="failed"))  # fmt: skip
        await session.flush()
        lost = [(broadcast.id, tg.id), (broadcast.id, alone.id), (broadcast.id, tg.id)]
        assert await fallback.deliver_elsewhere(session, lost) == 1
        # the chat written from most recently, in the member's language
        assert await _queued(session, broadcast) == {
            tg.id: "failed", alone.id: "failed", wa.id: "queued",
        }  # fmt: skip
        row = await session.scalar(select(Delivery).where(Delivery.contact_id == wa.id))
        assert row is not None and "Adunarea" in str(row.message)
        # Lost again there: one of their chats has it, nothing more is queued.
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, tg.id)]) == 0
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, wa.id)]) == 0


async def test_the_next_chat_must_be_one_the_broadcast_may_reach(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg = _member("781")
        wa = _member("whatsapp:+37360000781", last_inbound_at=utcnow() - timedelta(days=3))
        web = _member("web781", channel="web")
        broadcast = _broadcast(status="sending")
        telegram_only = _broadcast(Audience(channels=["telegram", "whatsapp"]), status="sending")
        cancelled = _broadcast(status="cancelled")
        await _add(session, tg, wa, web, broadcast, telegram_only, cancelled)
        await linking.join(session, [tg, wa, web])
        await linking.set_preferred(session, tg, "whatsapp")
        # WhatsApp, preferred, is outside its window without a template: the web chat takes it.
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, tg.id)]) == 1
        assert set(await _queued(session, broadcast)) == {web.id}
        # The web chat is not among the channels chosen: nowhere to go.
        assert await fallback.deliver_elsewhere(session, [(telegram_only.id, tg.id)]) == 0
        assert await fallback.deliver_elsewhere(session, [(cancelled.id, tg.id)]) == 0
        assert await _queued(session, telegram_only) == {}
        # With a template WhatsApp may carry it, and the preferred channel comes first.
        templated = _broadcast(templates={"ro": "HX" + "3" * 32}, status="sending")
        await _add(session, templated)
        assert await fallback.deliver_elsewhere(session, [(templated.id, tg.id)]) == 1
        row = await session.scalar(
            select(Delivery).where(Delivery.broadcast_id == templated.id)
        )
        assert row is not None and row.contact_id == wa.id
        assert row.message.get("template") == "HX" + "3" * 32


async def test_no_next_chat_for_a_member_alone_or_whose_other_chat_stopped(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        alone = _member("791")
        tg, wa = _member("792"), _member("whatsapp:+37360000792", status="stopped")
        broadcast = _broadcast(status="sending")
        await _add(session, alone, tg, wa, broadcast)
        await linking.join(session, [tg, wa])
        wa.status = "stopped"  # joining took tg's newest settings; this chat said stop since
        await session.flush()
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, alone.id)]) == 0
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, tg.id)]) == 0
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, 10**9)]) == 0
        assert await _queued(session, broadcast) == {}
        person = await session.get(Person, tg.person_id)
        assert person is not None
        assert await session.scalar(select(Subscription).limit(1)) is None


async def test_launched_from_the_command_line_nobody_narrows_the_audience(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        broadcast = _broadcast(Audience(countries=["RO"]))
        await _add(session, broadcast)
        assert await broadcasts.launch(
            session, broadcast, None, audience_size=1, approval_above=None
        ) == "scheduled"
        assert broadcast.audience == {"countries": ["RO"]}


def test_a_copy_is_a_new_draft_that_starts_from_the_first_member() -> None:
    original = _broadcast(Audience(countries=["MD"]), status="sent", expanded_to=500)
    again = lifecycle.copied(original, parent_id=7)
    assert (again.status, again.expanded_to, again.parent_id) == ("draft", 0, 7)
    assert (again.texts, again.audience) == (original.texts, original.audience)
    again.texts["en"]["text"] = "changed"
    assert original.texts["en"]["text"] != "changed"
