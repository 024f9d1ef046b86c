"""Where a broadcast goes when a linked member's chat is lost (blocked, an invalid number),
on both databases, without starting the service: their next chat that may take it, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.broadcasts import Audience, fallback
from bot.members import linking
from bot.storage.db import Database
from bot.storage.models import Broadcast, Delivery, Person, Subscription, utcnow
from tests.broadcasts.rules import add as _add
from tests.broadcasts.rules import broadcast as _broadcast
from tests.broadcasts.rules import member as _member

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
        row = await session.scalar(select(Delivery).where(Delivery.broadcast_id == templated.id))
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


async def test_one_lost_message_with_nowhere_to_go_does_not_hold_back_the_others(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        alone = _member("795")
        tg, wa = _member("796"), _member("whatsapp:+37360000796")
        cancelled = _broadcast(status="cancelled")
        broadcast = _broadcast(status="sending")
        await _add(session, alone, tg, wa, cancelled, broadcast)
        await linking.join(session, [tg, wa])
        lost = [(cancelled.id, tg.id), (broadcast.id, alone.id), (broadcast.id, 10**9),
                (broadcast.id, tg.id)]  # fmt: skip
        assert alone.id < tg.id and cancelled.id < broadcast.id
        assert await fallback.deliver_elsewhere(session, lost) == 1
        assert await _queued(session, broadcast) == {wa.id: "queued"}


async def test_a_chat_outside_the_chosen_channels_is_passed_over_for_the_next(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg = _member("797")
        web = _member("web797", channel="web")  # written from last, and preferred
        wa = _member("whatsapp:+37360000797", last_inbound_at=utcnow() - timedelta(hours=5))
        broadcast = _broadcast(Audience(channels=["telegram", "whatsapp"]), status="sending")
        await _add(session, tg, web, wa, broadcast)
        await linking.join(session, [tg, web, wa])
        await linking.set_preferred(session, tg, "web")
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, tg.id)]) == 1
        assert await _queued(session, broadcast) == {wa.id: "queued"}


async def test_a_person_left_with_one_chat_has_no_next_chat(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg = _member("798")
        person = Person()
        broadcast = _broadcast(status="sending")
        await _add(session, tg, person, broadcast)
        tg.person_id = person.id
        await session.flush()
        assert await fallback.deliver_elsewhere(session, [(broadcast.id, tg.id)]) == 0
        assert await _queued(session, broadcast) == {}
