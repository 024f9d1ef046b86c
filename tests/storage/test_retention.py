"""Retention: old message texts are erased, recent ones and everything else are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.privacy.retention import drop_unagreed_web, drop_unfetched, erase_old_texts
from bot.storage import outbox
from bot.storage.db import Database
from bot.storage.models import (
    Consent,
    Contact,
    Conversation,
    ConversationMessage,
    ConversationNote,
    Delivery,
    Inbound,
    SafeguardingFlag,
    UnansweredQuestion,
    utcnow,
)
from tests.conftest import Backend


async def test_texts_older_than_the_retention_are_erased_and_the_rest_kept(
    backend: Backend,
) -> None:
    db = Database(backend.database_url, schema=backend.schema)
    await db.migrate()
    old, recent = utcnow() - timedelta(days=400), utcnow() - timedelta(days=3)
    async with db.session() as session, session.begin():
        member = Contact(
            channel="telegram", address="555", status="active", flow_data={}, choices=[]
        )
        session.add(member)
        await session.flush()
        for n, when in enumerate((old, recent)):
            session.add(
                Inbound(
                    channel="telegram",
                    platform_id=f"u{n}",
                    address="555",
                    status="done",
                    message={"channel": "telegram", "kind": "text", "text": f"secret {n}"},
                    received_at=when,
                )
            )
            session.add(
                Delivery(
                    contact_id=member.id,
                    channel="telegram",
                    address="555",
                    status="delivered",
                    message={"text": f"answer {n}", "buttons": []},
                    created_at=when,
                )
            )
            session.add(UnansweredQuestion(locale="en", question=f"q{n}", normalised=f"q{n}",
                                           first_at=when, last_at=when))  # fmt: skip
        # A broadcast still waiting to go keeps its text, however old its row.
        session.add(
            Delivery(
                contact_id=member.id, channel="telegram", address="555", status="queued",
                message={"text": "tomorrow's news", "buttons": []}, created_at=old,
            )
        )  # fmt: skip
        conversation = Conversation(contact_id=member.id, kind="secretariat", status="closed")
        session.add(conversation)
        await session.flush()
        session.add_all(
            [
                ConversationMessage(conversation_id=conversation.id, direction="member",
                                    text="old worry", created_at=old),
                ConversationMessage(conversation_id=conversation.id, direction="member",
                                    text="new worry", created_at=recent),
            ]
        )  # fmt: skip
        for when, noted in ((old, "old note"), (recent, "new note")):
            session.add(ConversationNote(conversation_id=conversation.id, author_id=None,
                                         author="Ana", text=noted, created_at=when))  # fmt: skip
        for when, said in ((old, "old alert"), (recent, "new alert")):
            session.add(SafeguardingFlag(contact_id=member.id, level="alert", kind="abuse",
                                         words="", danger=0.99, text=said, created_at=when))  # fmt: skip

    async with db.session() as session, session.begin():
        counts = await erase_old_texts(session, days=365)
    assert counts == {
        "inbound": 1, "outbox": 1, "conversations": 1, "notes": 1, "safeguarding": 1,
        "unanswered": 1,
    }  # fmt: skip
    async with db.session() as session, session.begin():
        assert await erase_old_texts(session, days=365) == dict.fromkeys(counts, 0)

    async with db.session() as session:
        inbound = {r.platform_id: r.message for r in await session.scalars(select(Inbound))}
        outbox = sorted(
            (r.status, r.message.get("text", "(erased)"))
            for r in await session.scalars(select(Delivery))
        )
        said = sorted(r.text for r in await session.scalars(select(ConversationMessage)))
        questions = [q.question for q in await session.scalars(select(UnansweredQuestion))]
        flagged = sorted(f.text for f in await session.scalars(select(SafeguardingFlag)))
        noted = sorted(n.text for n in await session.scalars(select(ConversationNote)))
    assert flagged == ["", "new alert"]
    assert "text" not in inbound["u0"] and inbound["u0"]["kind"] == "text"
    assert inbound["u1"]["text"] == "secret 1"
    assert outbox == [
        ("delivered", "(erased)"), ("delivered", "answer 1"), ("queued", "tomorrow's news")
    ]  # fmt: skip
    assert said == ["", "new worry"]
    assert noted == ["", "new note"]
    assert questions == ["q1"]
    await db.dispose()


async def test_a_members_own_data_never_fetched_goes_after_a_day(backend: Backend) -> None:
    db = Database(backend.database_url, schema=backend.schema)
    await db.migrate()
    old, recent = utcnow() - timedelta(hours=25), utcnow() - timedelta(hours=1)
    async with db.session() as session, session.begin():
        for n, (when, ephemeral) in enumerate(((old, True), (recent, True), (old, False))):
            session.add(
                Delivery(
                    channel="web", address=f"web{n}", status="sent", created_at=when,
                    message={"text": f"data {n}", "buttons": [], "ephemeral": ephemeral},
                )
            )  # fmt: skip
    async with db.session() as session, session.begin():
        assert await drop_unfetched(session) == 1
    async with db.session() as session:
        left = await session.scalars(select(Delivery.address).order_by(Delivery.address))
        assert list(left) == ["web1", "web2"]
    await db.dispose()


async def test_web_chats_that_never_agreed_go_a_day_after_they_last_wrote(
    backend: Backend,
) -> None:
    db = Database(backend.database_url, schema=backend.schema)
    await db.migrate()
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    later = start + timedelta(hours=20)
    chats = {  # address: (channel, status, agreed at, last wrote)
        "lurker": ("web", "new", None, start),
        "declined": ("web", "declined", None, start),
        "still-talking": ("web", "new", None, later),
        "member": ("web", "active", start, start),
        "withdrew": ("web", "declined", None, start),
        "telegram": ("telegram", "new", None, start),
    }
    async with db.session() as session, session.begin():
        for address, (channel, status, agreed, wrote) in chats.items():
            contact = Contact(channel=channel, address=address, status=status, flow_data={},
                              choices=[], consent_at=agreed, consent_version=agreed and "1",
                              created_at=start, last_inbound_at=wrote)  # fmt: skip
            session.add(contact)
            await session.flush()
            session.add(Inbound(channel=channel, platform_id=f"in-{address}", address=address,
                                status="done", received_at=wrote,
                                message={"channel": channel, "kind": "text", "text": "hi"}))  # fmt: skip
            if address in ("member", "withdrew"):
                session.add(Consent(contact_id=contact.id, event="given", version="1",
                                    locale="en", channel=channel, text_digest="d", at=start))  # fmt: skip

    async def left() -> list[str]:
        async with db.session() as session:
            return sorted(await session.scalars(select(Contact.address)))

    async with db.session() as session, session.begin():
        erased = await drop_unagreed_web(session, now=start + timedelta(hours=23))
    assert erased.contacts == 0 and await left() == sorted(chats)

    async with db.session() as session, session.begin():
        erased = await drop_unagreed_web(session, now=start + timedelta(hours=25))
    assert erased.contacts == 2
    assert await left() == ["member", "still-talking", "telegram", "withdrew"]
    async with db.session() as session:
        inbound = sorted(await session.scalars(select(Inbound.address)))
    assert inbound == ["member", "still-talking", "telegram", "withdrew"]

    async with db.session() as session, session.begin():
        erased = await drop_unagreed_web(session, now=later + timedelta(hours=25))
    assert erased.contacts == 1
    assert await left() == ["member", "telegram", "withdrew"]
    await db.dispose()


async def test_status_reports_no_send_claimed_are_dropped_after_a_day(backend: Backend) -> None:
    # A report kept for a send not recorded yet (Twilio's callback overtook its create call's
    # answer) that no send ever claims: the process stopped before recording it, or the sid
    # was never ours. Would catch such rows kept for ever, or dropped while still awaited.
    db = Database(backend.database_url, schema=backend.schema)
    await db.migrate()
    await outbox.keep_early_report(db, "SM" + "1" * 32, "delivered", None)
    async with db.session() as session:
        kept_at = await session.scalar(select(Delivery.created_at))
    assert kept_at is not None
    kept_at = kept_at if kept_at.tzinfo else kept_at.replace(tzinfo=UTC)
    await outbox.keep_early_report(db, "SM" + "2" * 32, "read", None)

    async def left() -> list[str]:
        async with db.session() as session:
            return sorted(await session.scalars(select(Delivery.platform_id)))

    async with db.session() as session, session.begin():
        assert await outbox.drop_unmatched_reports(session, now=kept_at + timedelta(hours=23)) == 0
    assert await left() == ["SM" + "1" * 32, "SM" + "2" * 32]
    # Still claimable within the day: the send recorded late takes it.
    assert await outbox.take_early_reports(db, ["SM" + "2" * 32]) == [
        ("SM" + "2" * 32, "read", None)
    ]
    async with db.session() as session, session.begin():
        assert await outbox.drop_unmatched_reports(session, now=kept_at + timedelta(hours=25)) == 1
    assert await left() == []
    await db.dispose()
