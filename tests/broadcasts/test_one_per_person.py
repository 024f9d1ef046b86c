"""A member with linked chats gets a broadcast once: on the preferred channel, or on the next
one when the preferred cannot deliver, decided when the audience is expanded or, for a
permanent failure, when the message fails. The preview counts people, not addresses."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import broadcasts
from bot.broadcasts import BroadcastError
from bot.storage.models import Broadcast, Contact, Delivery, Person, utcnow
from tests.broadcasts.test_broadcasts import ADMIN, TEXTS, _is, add_members, compose, launch
from tests.broadcasts.test_broadcasts import status_of as broadcast_status
from tests.conftest import Backend
from tests.harness import Stack, eventually, running

RECENT = {"last_inbound_at": utcnow() - timedelta(hours=1)}
OLD = {"last_inbound_at": utcnow() - timedelta(days=3)}


async def link(stack: Stack, ids: list[int], preferred: str | None = None) -> int:
    async with stack.service.db.session() as session, session.begin():
        person = Person(preferred_channel=preferred)
        session.add(person)
        await session.flush()
        for contact_id in ids:
            contact = await session.get(Contact, contact_id)
            assert contact is not None
            contact.person_id = person.id
        return person.id


async def preview(stack: Stack, broadcast_id: int) -> broadcasts.Preview:
    async with stack.service.db.session() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return await broadcasts.preview(session, broadcast, ADMIN, {"telegram": 30.0})


async def sent_to(stack: Stack, broadcast_id: int) -> dict[int, str]:
    async with stack.service.db.session() as session:
        rows = await session.execute(
            select(Delivery.contact_id, Delivery.status).where(
                Delivery.broadcast_id == broadcast_id
            )
        )
        return {contact: status for contact, status in rows.all()}


async def send(stack: Stack, broadcast_id: int) -> None:
    await launch(stack, broadcast_id)
    await eventually(lambda: _is(broadcast_status(stack, broadcast_id), "sent"), timeout=60)


def member(address: str, **fields: Any) -> dict[str, Any]:
    channel = "whatsapp" if address.startswith("whatsapp:") else "telegram"
    return {"channel": channel, "address": address, "locale": "ro", "country": "MD", **fields}


async def test_a_linked_member_gets_it_once_on_the_preferred_channel_and_the_preview_counts_people(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        tg, wa, alone = await add_members(
            stack,
            member("301", **RECENT),
            member("whatsapp:+37360000301", **RECENT),
            member("302"),
        )
        await link(stack, [tg, wa], preferred="whatsapp")
        broadcast_id = await compose(stack)
        seen = await preview(stack, broadcast_id)
        assert (seen.recipients, seen.people, seen.addresses) == (2, 2, 3)
        assert seen.by_channel == {"whatsapp": 1, "telegram": 1}

        await send(stack, broadcast_id)
        assert [m.body for m in stack.twilio.messages] == [TEXTS["ro"]]
        assert [m.chat_id for m in stack.telegram.messages] == ["302"]
        assert set(await sent_to(stack, broadcast_id)) == {wa, alone}


async def test_outside_the_window_without_a_template_it_goes_to_telegram_instead(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        tg, wa = await add_members(
            stack, member("311", **OLD), member("whatsapp:+37360000311", **OLD)
        )
        await link(stack, [tg, wa], preferred="whatsapp")
        broadcast_id = await compose(stack)
        seen = await preview(stack, broadcast_id)
        assert seen.recipients == 1 and seen.by_channel == {"telegram": 1} and not seen.skipped

        await send(stack, broadcast_id)
        assert stack.twilio.messages == []
        assert [(m.chat_id, m.text) for m in stack.telegram.messages] == [("311", TEXTS["ro"])]

        # With an approved template for their language, WhatsApp carries it after all.
        templated = await compose(stack, templates={"ro": "HX" + "2" * 32})
        await send(stack, templated)
        assert [m.content_sid for m in stack.twilio.messages] == ["HX" + "2" * 32]
        assert len(stack.telegram.messages) == 1


async def test_blocked_on_telegram_it_falls_back_to_whatsapp_once(backend: Backend) -> None:
    async with running(backend, telegram={"blocked": ["321"]}) as stack:
        tg, wa = await add_members(
            stack, member("321", **RECENT), member("whatsapp:+37360000321", **RECENT)
        )
        await link(stack, [tg, wa], preferred="telegram")
        broadcast_id = await compose(stack)
        await send(stack, broadcast_id)
        assert stack.telegram.messages == []
        assert [m.body for m in stack.twilio.messages] == [TEXTS["ro"]]
        statuses = await sent_to(stack, broadcast_id)
        assert statuses[tg] == "failed" and statuses[wa] in ("sent", "delivered", "read")
        async with stack.service.db.session() as session:
            blocked = await session.get(Contact, tg)
        assert blocked is not None and blocked.unreachable_at is not None

        # Known to be blocked now: the next broadcast goes straight to WhatsApp.
        again = await compose(stack)
        assert (await preview(stack, again)).by_channel == {"whatsapp": 1}
        await send(stack, again)
        assert len(stack.twilio.messages) == 2 and stack.telegram.messages == []


async def test_a_whatsapp_failure_reported_later_falls_back_to_telegram(backend: Backend) -> None:
    number = "whatsapp:+37360000331"
    async with running(backend) as stack:
        tg, wa = await add_members(stack, member("331", **RECENT), member(number, **RECENT))
        stack.twilio.forget(number)  # Twilio counts their window closed: 63016 after the send
        await link(stack, [tg, wa], preferred="whatsapp")
        broadcast_id = await compose(stack)
        await launch(stack, broadcast_id)

        async def reached_telegram() -> bool:
            return [m.chat_id for m in stack.telegram.messages] == ["331"]

        await eventually(reached_telegram, timeout=60)
        await eventually(lambda: _is(broadcast_status(stack, broadcast_id), "sent"), timeout=60)

        # The broadcast counts as sent before Twilio's late failure report comes in; the
        # Telegram copy that report causes is recorded once Telegram has answered the sender.
        async def recorded() -> bool:
            statuses = await sent_to(stack, broadcast_id)
            return statuses[wa] == "failed" and statuses[tg] == "sent"

        await eventually(recorded, timeout=60)
        assert [m.text for m in stack.telegram.messages] == [TEXTS["ro"]]
        # They got it: a follow-up "to those who did not receive it" leaves them out.
        async with stack.service.db.session() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            with pytest.raises(BroadcastError) as nobody:
                await broadcasts.follow_up(session, broadcast, ADMIN.id)
        assert nobody.value.code == "nobody"


async def test_a_stopped_member_is_counted_once_and_gets_nothing(backend: Backend) -> None:
    async with running(backend) as stack:
        tg, wa = await add_members(
            stack,
            member("341", status="stopped", **RECENT),
            member("whatsapp:+37360000341", status="stopped", **RECENT),
        )
        await link(stack, [tg, wa])
        broadcast_id = await compose(stack)
        seen = await preview(stack, broadcast_id)
        assert (seen.recipients, seen.people, seen.addresses) == (0, 1, 2)
        assert seen.skipped == {"stopped": 1}
        await send(stack, broadcast_id)
        assert stack.telegram.messages == [] and stack.twilio.messages == []
        assert list((await sent_to(stack, broadcast_id)).values()) == ["skipped"]


async def test_marked_unreachable_by_a_status_report_the_next_broadcast_goes_to_telegram(
    backend: Backend,
) -> None:
    """WhatsApp reports that the member blocked us (63014) after a broadcast went; another,
    queued on WhatsApp for their local hour, is skipped there and queued for their linked
    Telegram chat instead."""
    number = "whatsapp:+37360000351"
    async with running(backend, twilio={"blocked": [number]}) as stack:
        tg, wa = await add_members(stack, member("351", **RECENT), member(number, **RECENT))
        await link(stack, [tg, wa], preferred="whatsapp")
        reports = asyncio.Event()  # Twilio's status reports wait until the second is queued

        async def held_back(seconds: float) -> None:
            await reports.wait()

        stack.twilio.sleep = held_back
        first = await compose(stack)
        await launch(stack, first)

        async def went() -> bool:
            return (await sent_to(stack, first)).get(wa) == "sent"

        await eventually(went, timeout=60)
        later = await compose(stack)
        await launch(stack, later, local_hour=(utcnow() + timedelta(hours=6)).hour)

        async def queued_on_whatsapp() -> bool:
            return (await sent_to(stack, later)).get(wa) == "queued"

        await eventually(queued_on_whatsapp, timeout=60)
        reports.set()

        async def moved() -> bool:
            statuses = await sent_to(stack, later)
            return statuses.get(wa) == "skipped" and statuses.get(tg) == "queued"

        await eventually(moved, timeout=60)
        assert (await sent_to(stack, first))[wa] == "undelivered"
        async with stack.service.db.session() as session:
            contact = await session.get(Contact, wa)
        assert contact is not None and contact.unreachable_at is not None
