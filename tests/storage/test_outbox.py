"""The outbox: what a queued message promises the member (its turn, its numbered options) and
what happens to the rest of their queue once they cannot be reached."""

from __future__ import annotations

from sqlalchemy import select

from bot.broadcasts.fallback import deliver_elsewhere
from bot.channels.web import WebChannel
from bot.config import Settings
from bot.conversation.choosing import payload_of
from bot.coordination import MemoryCoordinator
from bot.delivery.sender import Sender
from bot.i18n import Translator
from bot.messages import Button, OutboundMessage
from bot.storage import outbox
from bot.storage.db import Database
from bot.storage.models import Contact, Delivery, utcnow

ROMANIAN_HINT = "Răspundeți cu numărul opțiunii alese."


async def add_member(db: Database, address: str, channel: str = "whatsapp") -> int:
    async with db.session() as session, session.begin():
        member = Contact(
            channel=channel, address=address, status="active", flow_data={}, choices=["old:1"]
        )
        session.add(member)
        await session.flush()
        return member.id


def options(*payloads: str) -> list[list[Button]]:
    return [[Button(payload.title(), payload)] for payload in payloads]


async def test_a_reply_with_options_tells_the_member_to_answer_with_a_number(db: Database) -> None:
    member_id = await add_member(db, "whatsapp:+40700000001")
    async with db.session() as session, session.begin():
        member = await session.get(Contact, member_id)
        assert member is not None
        message = OutboundMessage(
            "Which topic?",
            [*options("sub:health", "sub:law"), [Button("Website", "", url="https://x.org")]],
        )
        outbox.enqueue(session, member, message, inbound_id=7, t=Translator("ro"))

    async with db.session() as session:
        row = await session.scalar(select(Delivery))
        member = await session.get(Contact, member_id)
    assert row is not None and member is not None
    assert (row.contact_id, row.channel, row.address) == (
        member_id, "whatsapp", "whatsapp:+40700000001"
    )  # fmt: skip
    assert (row.inbound_id, row.priority, row.status) == (7, outbox.REPLY, "queued")
    assert row.message["choice_hint"] == ROMANIAN_HINT
    # "1" and "2" now pick these; a link is no choice.
    assert [payload_of(c) for c in member.choices] == ["sub:health", "sub:law"]


async def test_a_message_without_options_keeps_the_members_earlier_choices(
    db: Database,
) -> None:
    member_id = await add_member(db, "whatsapp:+40700000002")
    async with db.session() as session, session.begin():
        member = await session.get(Contact, member_id)
        assert member is not None
        outbox.enqueue(session, member, OutboundMessage("Noted."), t=Translator("ro"))

    async with db.session() as session:
        row = await session.scalar(select(Delivery))
        member = await session.get(Contact, member_id)
    assert row is not None and member is not None
    assert row.message["choice_hint"] is None
    assert member.choices == ["old:1"]


async def test_a_turn_numbers_the_options_of_its_last_message_that_offers_any(
    db: Database,
) -> None:
    member_id = await add_member(db, "whatsapp:+40700000003")
    turn = [
        OutboundMessage("Menu", options("menu:about", "menu:news")),
        OutboundMessage("Survey", options("sv:a:1:0", "sv:a:1:1")),
        OutboundMessage("Thanks for waiting."),
    ]
    async with db.session() as session, session.begin():
        member = await session.get(Contact, member_id)
        assert member is not None
        outbox.remember_choices(member, turn, Translator("en"))
        for message in turn:
            outbox.enqueue(session, member, message)

    async with db.session() as session:
        hints = (await session.scalars(select(Delivery.message).order_by(Delivery.id))).all()
        member = await session.get(Contact, member_id)
    assert member is not None
    assert [m["choice_hint"] for m in hints] == [
        "Reply with the number of your choice.",
        "Reply with the number of your choice.",
        None,
    ]
    assert [payload_of(c) for c in member.choices] == ["sv:a:1:0", "sv:a:1:1"]


async def test_a_turn_without_options_leaves_no_number_to_pick(db: Database) -> None:
    member_id = await add_member(db, "whatsapp:+40700000004")
    async with db.session() as session, session.begin():
        member = await session.get(Contact, member_id)
        assert member is not None
        outbox.remember_choices(member, [OutboundMessage("Thank you!")], Translator("en"))

    async with db.session() as session:
        member = await session.get(Contact, member_id)
    assert member is not None and member.choices == []


async def test_a_reply_goes_out_before_a_broadcast_queued_earlier(db: Database) -> None:
    member_id = await add_member(db, "web-session-1", channel="web")
    async with db.session() as session, session.begin():
        member = await session.get(Contact, member_id)
        assert member is not None
        outbox.enqueue(session, member, OutboundMessage("News"), priority=outbox.BULK)
        outbox.enqueue(session, member, OutboundMessage("Your answer"))
        outbox.enqueue(session, outbox.Chat("web", "web-session-2"), OutboundMessage("Hello"))

    sender = Sender(
        db, MemoryCoordinator(), {"web": WebChannel()}, Settings(_env_file=None),
        on_lost=deliver_elsewhere,
    )  # fmt: skip
    claimed = await sender.claim(10, ["web"])
    # One message per chat at a time: the member's reply first, the news after it.
    assert sorted(row.message["text"] for row in claimed) == ["Hello", "Your answer"]


async def test_an_unreachable_member_is_marked_and_their_queue_skipped(db: Database) -> None:
    gone = await add_member(db, "whatsapp:+40700000005")
    other = await add_member(db, "whatsapp:+40700000006")
    async with db.session() as session, session.begin():
        for member_id in (gone, other):
            member = await session.get(Contact, member_id)
            assert member is not None
            sent = outbox.enqueue(session, member, OutboundMessage("Welcome"))
            sent.status, sent.status_rank = "sent", outbox.Rank.SENT
            outbox.enqueue(session, member, OutboundMessage("A reply"))
            news = outbox.enqueue(session, member, OutboundMessage("News"), priority=outbox.BULK)
            news.broadcast_id = 3

    async with db.session() as session, session.begin():
        lost = await outbox.mark_unreachable(session, [gone])
    # The broadcast they will not get here, which a chat linked to theirs may still carry.
    assert lost == [(3, gone)]

    async with db.session() as session:
        rows = await session.execute(
            select(Delivery.contact_id, Delivery.message, Delivery.status, Delivery.error_code)
            .order_by(Delivery.id)
        )  # fmt: skip
        queues = [(c, m["text"], s, e) for c, m, s, e in rows.all()]
        unreachable = {
            c.id: c.unreachable_at is not None for c in await session.scalars(select(Contact))
        }
    assert queues == [
        (gone, "Welcome", "sent", None),
        (gone, "A reply", "skipped", "unreachable"),
        (gone, "News", "skipped", "unreachable"),
        (other, "Welcome", "sent", None),
        (other, "A reply", "queued", None),
        (other, "News", "queued", None),
    ]
    assert unreachable == {gone: True, other: False}


async def test_a_broadcast_page_written_twice_gives_each_member_one_copy(db: Database) -> None:
    reader = await add_member(db, "whatsapp:+40700000007")
    stopped = await add_member(db, "whatsapp:+40700000008")
    for _attempt in range(2):  # a page written again after a crash
        async with db.session() as session, session.begin():
            members = [await session.get(Contact, i) for i in (reader, stopped)]
            assert members[0] is not None and members[1] is not None
            news = OutboundMessage("Știri").to_json()
            copies = [
                outbox.BroadcastCopy(members[0], "ro", news, due_at=1.0),
                outbox.BroadcastCopy(members[1], "ro", news, skip="stopped"),
            ]
            await outbox.enqueue_broadcast(session, 9, copies, utcnow())

    async with db.session() as session:
        rows = await session.execute(
            select(Delivery.contact_id, Delivery.status, Delivery.error_code, Delivery.priority)
            .where(Delivery.broadcast_id == 9)
            .order_by(Delivery.contact_id)
        )  # fmt: skip
    assert rows.all() == [
        (reader, "queued", None, outbox.BULK),
        (stopped, "skipped", "stopped", outbox.BULK),
    ]
