"""Replies to a broadcast that asks for them: what members write back on Telegram, WhatsApp and
the web chat within its window reaches the secretariat's inbox, tied to the broadcast; a
question the bot answers, a command, or anything after the window, is handled as usual."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.broadcasts import replies
from bot.storage.models import Conversation, ConversationMessage, Delivery
from tests.broadcasts.test_broadcasts import _is, compose, launch, status_of
from tests.dialog import Member
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import eventually, running

ADMIN_CHAT = "-1001112223334"


async def sent(stack, broadcast_id: int) -> None:  # type: ignore[no-untyped-def]
    await launch(stack, broadcast_id)
    await eventually(lambda: _is(status_of(stack, broadcast_id), "sent"), timeout=60)


async def test_replies_on_every_channel_reach_the_inbox_tied_to_the_broadcast(backend):
    # Would catch a reply answered by the FAQ (the review's "Vom participa…" got the
    # member-countries answer), a reply kept without its broadcast, or a member not told.
    async with running(backend, admin_telegram_chat_id=ADMIN_CHAT) as stack:
        tg = Member(stack, "telegram", lang="ro")
        wa = Member(stack, "whatsapp", country_code="373")
        web = Member(stack, "web", lang="ru")
        await onboard(tg, "ro", "RO")
        await onboard(wa, "ro", "MD")
        await onboard(web, "ru", "MD")
        broadcast_id = await compose(stack, collect_replies_hours=48)
        await sent(stack, broadcast_id)
        for member in (tg, wa, web):
            await member.replies()  # the broadcast itself

        said = {
            tg: "Vom participa, delegații sunt Ana și Mihai",
            wa: "Confirmăm delegații: Ion Popescu și Maria Rusu",
            web: "Мы будем, наши делегаты Анна и Михаил",
        }
        for member, text in said.items():
            answer = await member.say(text)
            told = " ".join(r.text for r in answer)
            expected = (
                "Спасибо. Ваш ответ передан в секретариат."
                if member is web
                else "Vă mulțumim. Răspunsul dumneavoastră a fost transmis secretariatului."
            )
            assert expected in told, told

        async with stack.service.db.session() as session:
            found = await replies.of(session, broadcast_id)
            kinds = set(await session.scalars(select(Conversation.kind)))
        assert [(r.channel, r.text) for r in found] == [
            ("telegram", said[tg]), ("whatsapp", said[wa]), ("web", said[web]),
        ]  # fmt: skip
        assert kinds == {"reply"}
        # The secretariat's chat hears of each, with the broadcast named.
        posted = await eventually(lambda: len(stack.telegram.messages_to(ADMIN_CHAT)) >= 3)
        assert posted
        assert all(
            f"replies to a broadcast #{broadcast_id}" in (m.text or "")
            for m in stack.telegram.messages_to(ADMIN_CHAT)
        )

        # A question the bot answers, and a command, are not replies.
        question = await tg.say("Ce este ChildPact?")
        assert "transmis secretariatului" not in " ".join(r.text for r in question)
        menu = await wa.say("meniu")
        assert "transmis secretariatului" not in " ".join(r.text for r in menu)
        async with stack.service.db.session() as session:
            assert len(await replies.of(session, broadcast_id)) == 3


async def test_a_member_already_writing_to_the_secretariat_replies_to_the_broadcast_too(backend):
    # Would catch the reply kept only in the conversation the member had open: the broadcast's
    # page (and its export of replies) would miss a delegate's confirmation.
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="ro")
        await onboard(member, "ro", "MD")
        await member.tap("menu:secretariat")
        before = "Bună ziua, am o întrebare despre cotizația de membru"
        await member.say(before)
        broadcast_id = await compose(stack, collect_replies_hours=48)
        await sent(stack, broadcast_id)
        await member.replies()  # the broadcast itself

        reply = "Da, vom trimite doi delegați."
        told = " ".join(r.text for r in await member.say(reply))
        assert "Răspunsul dumneavoastră a fost transmis secretariatului." in told, told

        async with stack.service.db.session() as session:
            found = await replies.of(session, broadcast_id)
            conversations = list(await session.scalars(select(Conversation)))
            written = list(
                await session.scalars(
                    select(ConversationMessage.text).order_by(ConversationMessage.id)
                )
            )
        assert [r.text for r in found] == [reply]  # the message before the broadcast is not one
        assert len(conversations) == 1  # one thread: the one the member had open
        assert written == [before, reply]


async def test_after_the_window_or_without_one_the_bot_answers_as_usual(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="ro")
        await onboard(member, "ro", "RO")
        asks = await compose(stack, collect_replies_hours=24)
        await sent(stack, asks)
        await member.replies()
        contact = await contact_of(member)
        async with stack.service.db.session() as session, session.begin():
            # The broadcast reached the member 25 hours ago: its window has closed.
            row = await session.scalar(
                select(Delivery).where(
                    Delivery.broadcast_id == asks, Delivery.contact_id == contact.id
                )
            )
            assert row is not None and row.sent_at is not None
            row.sent_at -= timedelta(hours=25)
        late = await member.say("Vom participa, delegații sunt Ana și Mihai")
        assert "transmis secretariatului" not in " ".join(r.text for r in late)

        silent = await compose(stack)  # collects no replies
        await sent(stack, silent)
        await member.replies()
        answer = await member.say("Vom participa, delegații sunt Ana și Mihai")
        assert "transmis secretariatului" not in " ".join(r.text for r in answer)
        async with stack.service.db.session() as session:
            assert not list(await session.scalars(select(ConversationMessage)))
