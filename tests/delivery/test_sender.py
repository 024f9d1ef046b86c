"""The sender against the fake platforms: limits, 429 pauses, blocked members, retries, priority.

The fakes refuse what the platforms refuse, 429s by their own clock included; on a busy
machine that clock can see sends bunched that left in good order. So the limits are judged
on the sender's own plan (the journal below), and `test_pacing.py` checks the plan's timing
on a clock the test moves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.service import Service
from bot.coordination import Bucket, Coordinator
from bot.delivery.pacing import SLOTS
from bot.messages import OutboundMessage
from bot.storage.models import Contact, Delivery, utcnow
from bot.storage.outbox import BULK, REPLY
from tests.harness import eventually, running


async def enqueue(
    service: Service,
    channel: str,
    addresses: list[str],
    *,
    priority: int = BULK,
    per_member: int = 1,
    text: str | None = None,
) -> None:
    """What a broadcast leaves in the outbox: one row per message, queued."""
    async with service.db.session() as session, session.begin():
        contacts = {}
        for address in dict.fromkeys(addresses):
            contact = await session.scalar(
                select(Contact).where(Contact.channel == channel, Contact.address == address)
            )
            if contact is None:
                # They wrote a minute ago: inside WhatsApp's 24-hour window.
                contact = Contact(
                    channel=channel, address=address, status="active", flow_data={}, choices=[],
                    last_inbound_at=utcnow() - timedelta(minutes=1),
                )  # fmt: skip
                session.add(contact)
                await session.flush()
            contacts[address] = contact
        for address in addresses:
            for n in range(per_member):
                message = OutboundMessage(text=text or f"News {n + 1} for {address}")
                session.add(
                    Delivery(contact_id=contacts[address].id, channel=channel, address=address,
                             priority=priority, message=message.to_json())
                )  # fmt: skip
    await service.coordinator.notify("outbox")


async def statuses(service: Service) -> dict[str, int]:
    async with service.db.session() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return dict(rows.all())


async def all_done(service: Service) -> bool:
    found = await statuses(service)
    return not found.get("queued") and not found.get("sending")


@dataclass(frozen=True)
class Entry:
    """One step of the sender's plan: a slot booked, a token granted, a pause or a send.

    ``asked`` and ``answered`` bracket the step on this process's clock: the coordinator
    decided somewhere between them (on Redis, by Redis's clock), however slow the round trip.
    """

    what: str
    key: str
    asked: float
    answered: float
    task: asyncio.Task[Any] | None
    seconds: float = 0.0  # a slot's wait, or a pause's length
    interval: float = 0.0  # a slot's schedule's spacing


class Journal:
    """What the sender did, in order: every coordinator answer it paced by, and every send."""

    def __init__(self, service: Service) -> None:
        self.entries: list[Entry] = []
        pacer = service.sender.pacer
        pacer.coordinator = _Watched(pacer.coordinator, self)
        for channel in service.sender.channels.values():
            self._watch_sends(channel)

    def note(self, what: str, key: str, asked: float, **details: float) -> None:
        task = asyncio.current_task()
        self.entries.append(Entry(what, key, asked, time.monotonic(), task, **details))

    def _watch_sends(self, channel: Any) -> None:
        send = channel.send

        async def watched(address: str, message: OutboundMessage) -> Any:
            self.note("send", address, time.monotonic())
            return await send(address, message)

        channel.send = watched

    def of(self, what: str, key: str | None = None) -> list[Entry]:
        return [e for e in self.entries if e.what == what and key in (None, e.key)]


class _Watched:
    """The sender's coordinator, with its pacing answers written into the journal."""

    def __init__(self, inner: Coordinator, journal: Journal) -> None:
        self._inner, self._journal = inner, journal

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def take(self, buckets: Sequence[Bucket], n: float = 1) -> float:
        asked = time.monotonic()
        wait = await self._inner.take(buckets, n)
        if wait <= 0:
            for bucket in buckets:
                self._journal.note("token", bucket.key, asked)
        return wait

    async def take_each(self, buckets: Sequence[Bucket]) -> list[float]:
        asked = time.monotonic()
        waits = await self._inner.take_each(buckets)
        for bucket, wait in zip(buckets, waits, strict=True):
            if wait <= 0:
                self._journal.note("token", bucket.key, asked)
        return waits

    async def reserve(self, key: str, interval: float) -> float:
        asked = time.monotonic()
        wait = await self._inner.reserve(key, interval)
        self._journal.note("slot", key, asked, seconds=wait, interval=interval)
        return wait

    async def pause(self, scope: str, seconds: float) -> None:
        self._journal.note("pause", scope, time.monotonic(), seconds=seconds)
        await self._inner.pause(scope, seconds)


async def test_every_message_waits_for_its_slot_of_the_bots_overall_limit(backend):
    # Would catch a message sent without booking the channel's shared schedule, before its
    # slot, or on a schedule spaced closer than the limit allows (Telegram would answer 429).
    async with running(backend, telegram_rate=20) as stack:  # the fake keeps Telegram's 30/s
        journal = Journal(stack.service)
        chats = [str(500000000 + n) for n in range(60)]
        await enqueue(stack.service, "telegram", chats)
        await eventually(lambda: all_done(stack.service), timeout=60)
        assert sorted(m.chat_id for m in stack.telegram.messages) == chats  # each once
        slots = journal.of("slot", "rate:telegram")
        # The schedule keeps its slots this far apart (tests/coordination checks it does).
        assert {s.interval for s in slots} == {1 / (20 * SLOTS)}
        sends = journal.of("send")
        assert len(sends) >= 60  # more only if a 429 sent some again
        for send in sends:
            booked = [s for s in slots if s.task is send.task and s.asked <= send.asked]
            assert booked, "sent without a slot of the schedule"
            # Not before its slot (the pacer read its clock a moment before the journal did).
            assert send.asked >= booked[-1].asked + booked[-1].seconds - 0.005


async def test_one_chat_gets_one_message_a_second_in_order(backend):
    # Would catch a chat's message sent without its chat's token (Telegram allows one a
    # second per chat), or the chat's messages sent out of order.
    async with running(backend, fast_chats=False) as stack:
        journal = Journal(stack.service)
        chat = "612345678"
        await enqueue(stack.service, "telegram", [chat], per_member=4)
        await eventually(lambda: all_done(stack.service), timeout=30)
        sent = stack.telegram.messages_to(chat)
        assert [m.text for m in sent] == [f"News {n} for {chat}" for n in (1, 2, 3, 4)]
        key = stack.service.sender.pacer.chat_bucket("telegram", chat, OutboundMessage("")).key
        tokens = journal.of("token", key)
        # A token a second: consecutive grants lie a second apart on the coordinator's clock.
        for early, late in zip(tokens, tokens[1:], strict=False):
            assert late.answered - early.asked >= 0.99
        # Every send spends a token granted before it and not spent by an earlier send.
        unspent = 0
        for entry in journal.entries:
            if entry.key == key and entry.what == "token":
                unspent += 1
            elif entry.key == chat and entry.what == "send":
                assert unspent > 0, "a message went without its chat's token"
                unspent -= 1


async def test_a_429_pauses_the_whole_bot_then_sending_resumes(backend):
    # Would catch a 429's retry_after ignored, by this process or by any other sharing its
    # coordinator, or a refused message lost or sent twice.
    async with running(backend) as stack:
        journal = Journal(stack.service)
        stack.telegram.flood_next(1, retry_after=2)  # the first request is refused, whenever
        chats = [str(700000000 + n) for n in range(10)]
        await enqueue(stack.service, "telegram", chats)
        await eventually(lambda: all_done(stack.service), timeout=30)
        assert stack.telegram.rate_limited >= 1
        assert sorted(m.chat_id for m in stack.telegram.messages) == chats  # each once
        pause = journal.of("pause", "telegram")[0]
        assert pause.seconds >= 2.0
        # Sends already on their way when the 429 came may finish; none starts in the pause.
        later = [s for s in journal.of("send") if s.asked > pause.answered]
        assert later and all(s.asked >= pause.asked + 2.0 for s in later)


async def test_a_photo_with_a_long_text_takes_a_slot_for_each_message_it_makes(backend):
    # Telegram counts messages, not our outbox rows: a photo with 1,500 characters is a photo
    # and then a text. Would catch the text sent on the photo's slot (twice the rate: 429s).
    async with running(backend, telegram_rate=20) as stack:
        journal = Journal(stack.service)
        stack.telegram.host_photo("https://childpact.org/p.jpg")
        chats = [str(520000000 + n) for n in range(12)]
        text = ("Coalition news. " * 100).strip()  # 1,599 characters: over the caption limit
        async with stack.service.db.session() as session, session.begin():
            for address in chats:
                message = OutboundMessage(text=text, image_url="https://childpact.org/p.jpg")
                session.add(Delivery(channel="telegram", address=address, priority=BULK,
                                     message=message.to_json()))  # fmt: skip
        await stack.service.coordinator.notify("outbox")
        await eventually(lambda: all_done(stack.service), timeout=60)
        assert [m.method for m in stack.telegram.messages].count("sendPhoto") == 12
        assert len(stack.telegram.messages) == 24
        slots = journal.of("slot", "rate:telegram")
        for send in journal.of("send"):
            mine = [s for s in slots if s.task is send.task]
            assert len(mine) >= 2, "one slot for a photo and its text"
        assert len(slots) >= 24


async def test_a_whatsapp_message_in_several_pieces_takes_a_slot_for_each_piece(backend):
    # Twilio's 1,600 characters a message: four paragraphs of 900 characters are four
    # messages, each counted against the sender's rate. Would catch the pieces sent on the
    # row's one slot.
    async with running(backend, twilio_rate=20) as stack:
        journal = Journal(stack.service)
        members = [f"whatsapp:+4072{n:07d}" for n in range(6)]
        for address in members:
            stack.twilio.received(address)
        text = ("Coalition news, paragraph by paragraph. " * 22 + "\n\n") * 4
        await enqueue(stack.service, "whatsapp", members, text=text)
        await eventually(lambda: all_done(stack.service), timeout=60)
        assert len(stack.twilio.messages) == 6 * 4
        assert stack.twilio.refused == []
        slots = journal.of("slot", "rate:whatsapp")
        sends = journal.of("send")
        assert len(sends) == 6
        for send in sends:
            mine = [s for s in slots if s.task is send.task]
            assert len(mine) >= 4, "one slot for each of the four pieces"


async def test_a_groups_429_holds_that_group_and_no_one_else(backend):
    # Telegram's 20 a minute is per group: its 429 says that group must wait. Would catch the
    # whole bot paused for it (members' replies and button answers stuck behind a staff chat).
    group = "-1001876543210"
    async with running(backend) as stack:
        journal = Journal(stack.service)
        stack.telegram.flood_next(1, retry_after=3)  # the group's message is refused
        await enqueue(stack.service, "telegram", [group])
        await eventually(lambda: stack.telegram.rate_limited == 1)
        chats = [str(730000000 + n) for n in range(5)]
        await enqueue(stack.service, "telegram", chats)
        await eventually(lambda: all_done(stack.service), timeout=60)
        assert journal.of("pause") == []
        assert sorted(m.chat_id for m in stack.telegram.messages) == sorted([*chats, group])
        async with stack.service.db.session() as session:
            row = await session.scalar(select(Delivery).where(Delivery.address == group))
        assert row is not None and row.status == "sent" and row.attempts == 1


async def test_blocked_members_are_marked_unreachable_and_not_retried(backend):
    blocked, deactivated, missing = "811111111", "822222222", "833333333"
    async with running(
        backend, telegram={"blocked": [blocked], "deactivated": [deactivated], "missing": [missing]}
    ) as stack:
        journal = Journal(stack.service)
        await enqueue(
            stack.service, "telegram", [blocked, deactivated, missing, "844444444"], per_member=2
        )
        await eventually(lambda: all_done(stack.service), timeout=60)
        async with stack.service.db.session() as session:
            unreachable = set(
                (
                    await session.scalars(
                        select(Contact.address).where(Contact.unreachable_at.is_not(None))
                    )
                ).all()
            )
        assert unreachable == {blocked, deactivated, missing}
        found = await statuses(stack.service)
        assert found == {"failed": 3, "skipped": 3, "sent": 2}
        # A blocked member's second message is skipped, not tried: one request was made.
        assert len(journal.of("send", blocked)) == 1


async def test_transient_errors_are_retried_with_backoff(backend):
    async with running(backend) as stack:
        stack.telegram.fail_next(2, status=502)
        await enqueue(stack.service, "telegram", ["912345678"])
        await eventually(lambda: all_done(stack.service), timeout=30)
        async with stack.service.db.session() as session:
            row = await session.scalar(select(Delivery))
        assert row is not None and row.status == "sent" and row.attempts == 3
        assert len(stack.telegram.messages) == 1


async def test_replies_to_members_go_ahead_of_bulk(backend):
    # Would catch a reply queued behind the bulk, or bulk claimed far ahead of its turn.
    async with running(backend, telegram_rate=10) as stack:
        journal = Journal(stack.service)
        await enqueue(stack.service, "telegram", [str(300000000 + n) for n in range(40)])
        await eventually(lambda: len(journal.of("send")) >= 3)
        await enqueue(stack.service, "telegram", ["399999999"], priority=REPLY)
        # Counted in sends, not seconds: what was claimed before the reply was queued (a
        # quarter second's worth, twice over if a claim was running meanwhile) may go first.
        before = len(journal.of("send"))
        ahead = stack.service.sender.pacer.lookahead("telegram", 128)
        await eventually(lambda: journal.of("send", "399999999"), timeout=30)
        sends = journal.of("send")
        position = next(i for i, s in enumerate(sends) if s.key == "399999999")
        assert position <= before + 2 * ahead  # well before the remaining bulk messages
        await eventually(lambda: all_done(stack.service), timeout=60)


async def test_whatsapp_errors_are_classified(backend):
    stopped = "+40711000001"
    wrote = [stopped, "+40711000003"]
    async with running(backend, twilio={"opted_out": [stopped], "wrote": wrote}) as stack:
        await enqueue(stack.service, "whatsapp", [f"whatsapp:{stopped}", "whatsapp:+40711000003"])
        await eventually(lambda: all_done(stack.service), timeout=60)
        async with stack.service.db.session() as session:
            rows = {r.address: r for r in (await session.scalars(select(Delivery))).all()}
            contact = await session.scalar(
                select(Contact).where(Contact.address == f"whatsapp:{stopped}")
            )
        assert rows[f"whatsapp:{stopped}"].status == "failed"
        assert rows[f"whatsapp:{stopped}"].error_code == "21610"
        assert contact is not None and contact.unreachable_at is not None
        assert rows["whatsapp:+40711000003"].platform_id.startswith("SM")
