"""Talking to the secretariat: members write, staff answer by replying in their Telegram chat."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.i18n import Translator
from bot.messages import OutboundMessage
from bot.storage import outbox
from bot.storage.models import Conversation, ConversationMessage, UnansweredQuestion
from tests.dialog import Member, texts
from tests.fakes.telegram_api import SentMessage
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import Stack, eventually, running

ADMIN = "-1001112223334"
ALERTS = "-1001234567890"
STAFF_USER = {"id": 777000111, "is_bot": False, "first_name": "Elena", "language_code": "en"}
_updates = itertools.count(990000001)


def staff_update(
    stack: Stack, text: str, *, replying_to: SentMessage | None, chat: str = ADMIN
) -> dict[str, Any]:
    """What Telegram sends when a staff member writes in the group, replying to one of ours."""
    group = {"id": int(chat), "title": "ChildPact secretariat", "type": "supergroup"}
    message: dict[str, Any] = {
        "message_id": next(_updates) % 100000,
        "from": STAFF_USER,
        "chat": group,
        "date": int(time.time()),
        "text": text,
    }
    if replying_to is not None:
        message["reply_to_message"] = {
            "message_id": replying_to.message_id,
            "from": stack.telegram.me,
            "chat": group,
            "date": int(replying_to.time),
            "text": replying_to.text,
        }
    return {"update_id": next(_updates), "message": message}


async def staff_replies(stack: Stack, text: str, to: SentMessage | None, chat: str = ADMIN) -> None:
    response = await stack.post_telegram(staff_update(stack, text, replying_to=to, chat=chat))
    assert response.status_code == 200, response.text


async def posted_to(stack: Stack, chat: str, count: int = 1) -> list[SentMessage]:
    """The bot's messages in a staff chat, once there are ``count`` of them."""
    return await eventually(
        lambda: len(stack.telegram.messages_to(chat)) >= count and stack.telegram.messages_to(chat)
    )  # type: ignore[no-any-return]


async def answer_reaches(member: Member) -> list:
    """The member's next messages, which come from the secretariat, not from their own."""
    return await eventually(member.replies)  # type: ignore[no-any-return]


async def conversations_of(member: Member) -> list[tuple[Conversation, list[ConversationMessage]]]:
    contact = await contact_of(member)
    async with member.stack.service.db.session() as session:
        found = list(
            await session.scalars(
                select(Conversation)
                .where(Conversation.contact_id == contact.id)
                .order_by(Conversation.id)
            )
        )
        return [
            (
                c,
                list(
                    await session.scalars(
                        select(ConversationMessage)
                        .where(ConversationMessage.conversation_id == c.id)
                        .order_by(ConversationMessage.id)
                    )
                ),
            )
            for c in found
        ]


@pytest.mark.parametrize(
    ("channel", "locale", "country"),
    [("web", "ro", "MD"), ("whatsapp", "ru", "MD"), ("telegram", "ka", "GE")],
)
async def test_a_member_writes_and_the_staff_answer_reaches_them_in_their_language(
    backend, channel, locale, country, caplog
):
    caplog.set_level(logging.INFO)
    async with running(backend, admin_telegram_chat_id=ADMIN) as stack:
        member = Member(stack, channel)
        await onboard(member, locale, country)
        t = Translator(locale)
        invite = await member.tap("menu:secretariat")
        assert invite[-1].text == t(
            "Write your message to the secretariat here, in any language. "
            "Someone from the secretariat will answer you in this chat."
        ) + " " + t("The secretariat usually answers within a working day.")
        question = "Bună ziua! Putem găzdui următoarea adunare generală la Chișinău?"
        sent = await member.say(question)
        assert sent[-1].text == t(
            "Your message is with the secretariat. They will answer you here."
        )
        assert sent[-1].payloads == ["handoff:close", "handoff:menu"]

        relay = (await posted_to(stack, ADMIN))[0]
        contact = await contact_of(member)
        assert relay.text is not None and question in relay.text
        assert (
            relay.text.startswith("#")
            and f"member {contact.id} ({locale}, {country}, {channel})" in relay.text
        )
        assert member.address.removeprefix("whatsapp:") not in relay.text

        await staff_replies(stack, "Da, desigur: scrieți-ne data propusă.", relay)
        answer = await answer_reaches(member)
        assert (
            answer[-1].text
            == t("Reply from the ChildPact secretariat:")
            + "\n\nDa, desigur: scrieți-ne data propusă."
        )
        assert answer[-1].options == [t("Reply"), t("Close the conversation")]

        closed = await member.tap("handoff:close")
        assert closed[-1].text == t(
            "The conversation is closed. Thank you! You can write to the secretariat again from the menu."
        )
        assert closed[-1].payloads[0] == "menu:about"
        [(conversation, messages)] = await conversations_of(member)
        assert (conversation.kind, conversation.status) == ("secretariat", "closed")
        assert [m.direction for m in messages] == ["member", "secretariat"]
        assert messages[0].delivery_id is not None
        note = (await posted_to(stack, ADMIN, 2))[-1]
        assert f"#{conversation.id}" in (note.text or "") and "closed" in (note.text or "")
        # Neither the staff chat nor the log ever sees the member's number or chat address.
        for message in stack.telegram.messages_to(ADMIN):
            assert member.address.removeprefix("whatsapp:") not in (message.text or "")
        assert member.address.removeprefix("whatsapp:") not in caplog.text


async def test_commands_still_work_while_writing_to_the_secretariat(backend):
    async with running(backend, admin_telegram_chat_id=ADMIN) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        await member.tap("menu:secretariat")
        await member.say("First message to you")
        menu = await member.say("menu")
        assert menu[-1].payloads[0] == "menu:about"
        assert (await contact_of(member)).flow is None
        await member.say("tell me the history of childpact year by year")
        assert len(stack.telegram.messages_to(ADMIN)) == 1  # the question went to the FAQ
        # Back to it: the same open conversation continues.
        await member.say("menu")
        await member.tap("menu:secretariat")
        again = await member.say("And a second one")
        assert "handoff:close" in again[-1].payloads
        back = await member.tap("handoff:menu")
        assert back[-1].payloads[0] == "menu:about"
        [(conversation, messages)] = await conversations_of(member)
        assert conversation.status == "open" and len(messages) == 2
        relays = await posted_to(stack, ADMIN, 2)
        assert "Reply to this message" in (relays[0].text or "")
        assert "Reply to this message" not in (relays[1].text or "")


async def test_an_unanswered_question_is_counted_and_can_go_to_the_secretariat(backend):
    async with running(backend, admin_telegram_chat_id=ADMIN) as stack:
        member = Member(stack, "whatsapp", country_code="359")
        await onboard(member, "bg", "BG")
        bg = Translator("bg")
        first = await member.say("who won the champions league last night")
        assert "ask:secretariat" in first[-1].payloads
        again = await member.say("Who won the Champions League last night?!")
        assert "ask:secretariat" in again[-1].payloads
        async with stack.service.db.session() as session:
            [logged] = list(await session.scalars(select(UnansweredQuestion)))
        assert (logged.locale, logged.count) == ("bg", 2)
        assert logged.question == "who won the champions league last night"

        asked = await member.tap("ask:secretariat")
        assert asked[-1].text == bg(
            "I have passed your question to the secretariat. They will answer you here. "
            "You can add details in your next messages."
        ) + " " + bg("The secretariat usually answers within a working day.")
        relay = (await posted_to(stack, ADMIN))[0]
        assert "Who won the Champions League last night?!" in (relay.text or "")
        assert "could not answer" in (relay.text or "")
        [(conversation, messages)] = await conversations_of(member)
        assert conversation.kind == "question" and messages[0].text.startswith("Who won")

        await staff_replies(stack, "Нямаме информация за спорт.", relay)
        answer = await answer_reaches(member)
        assert answer[-1].text.startswith(bg("Reply from the ChildPact secretariat:"))
        reply = await member.tap("handoff:reply")  # "1" on WhatsApp
        assert reply[-1].text == bg("Write your reply to the secretariat.")
        await member.say("Благодаря!")
        relays = await posted_to(stack, ADMIN, 2)
        assert relays[-1].text is not None and "Благодаря!" in relays[-1].text


async def test_numbers_that_look_like_phones_stay_out_of_the_log_of_questions(backend):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        answer = await member.say("can u lend me 50 euros, call me at +40 712 345 678")
        assert "ask:secretariat" in answer[-1].payloads
        async with stack.service.db.session() as session:
            [logged] = list(await session.scalars(select(UnansweredQuestion)))
        assert "712" not in logged.question and "50 euros" in logged.question


async def test_a_disclosure_opens_a_conversation_and_a_reply_to_the_alert_reaches_the_member(
    backend,
):
    async with running(
        backend, admin_telegram_chat_id=ADMIN, safeguarding_telegram_chat_id=ALERTS
    ) as stack:
        member = Member(stack, "whatsapp")
        await onboard(member, "ro", "RO")
        disclosure = "Vecinul își bate copilul în fiecare seară, aud cum plânge"
        await member.say(disclosure)
        alert = (await posted_to(stack, ALERTS))[0]
        [(conversation, messages)] = await conversations_of(member)
        assert conversation.kind == "safeguarding" and messages[0].text == disclosure
        assert not stack.telegram.messages_to(ADMIN)  # the alert chat has it already

        await staff_replies(stack, "Vă sunăm astăzi. Sunteți în siguranță?", alert, chat=ALERTS)
        answer = await answer_reaches(member)
        ro = Translator("ro")
        assert (
            answer[-1].text
            == ro("Reply from the ChildPact secretariat:")
            + "\n\nVă sunăm astăzi. Sunteți în siguranță?"
        )
        [(conversation, messages)] = await conversations_of(member)
        assert [m.direction for m in messages] == ["member", "secretariat"]


async def test_a_disclosure_while_writing_to_the_secretariat_still_gets_the_helpline(backend):
    async with running(
        backend, admin_telegram_chat_id=ADMIN, safeguarding_telegram_chat_id=ALERTS
    ) as stack:
        member = Member(stack, "web")
        await onboard(member, "en", "RS")
        await member.tap("menu:secretariat")
        await member.say("Hello, I have a question about membership")
        answer = texts(await member.say("i think a girl from our shelter is being sexually abused"))
        assert (
            Translator("en")(
                "ChildPact's safeguarding focal point has been told about your message."
            )
            in answer
        )
        await posted_to(stack, ALERTS)
        [(conversation, messages)] = await conversations_of(member)
        assert conversation.kind == "safeguarding" and len(messages) == 2


async def test_without_a_staff_chat_the_conversation_is_kept_for_the_inbox(backend):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "uk", "MD")
        await member.tap("menu:secretariat")
        sent = await member.say("Коли наступні збори?")
        assert sent[-1].text == Translator("uk")(
            "Your message is with the secretariat. They will answer you here."
        )
        [(conversation, messages)] = await conversations_of(member)
        assert messages[0].delivery_id is None and conversation.status == "open"
        assert not stack.telegram.messages


async def test_staff_talk_and_replies_to_unknown_messages(backend):
    async with running(backend, admin_telegram_chat_id=ADMIN) as stack:
        await staff_replies(stack, "Colleagues, the meeting is at 3.", None)  # not a reply: ignored
        unknown = SentMessage("sendMessage", ADMIN, 424242, "hello", None, None, time.time())
        await staff_replies(stack, "Answering nothing", unknown)
        [note] = await posted_to(stack, ADMIN)
        assert "reaches no member" in (note.text or "")


async def test_a_safeguarding_group_that_became_a_supergroup_keeps_getting_alerts(backend, caplog):
    # Telegram answers a group upgraded to a supergroup with migrate_to_chat_id, and refuses
    # every message to the old id from then on. Would catch an alert lost to that refusal,
    # logged where no one looks, or a staff answer from the new group not reaching the member.
    supergroup = "-1009998887776"
    async with running(
        backend, admin_telegram_chat_id=ADMIN, safeguarding_telegram_chat_id=ALERTS,
        telegram={"migrated": {ALERTS: int(supergroup)}},
    ) as stack:  # fmt: skip
        member = Member(stack, "whatsapp")
        await onboard(member, "ro", "RO")
        with caplog.at_level(logging.ERROR, logger="bot.channels.telegram"):
            await member.say("Vecinul își bate copilul în fiecare seară, aud cum plânge")
            alert = (await posted_to(stack, supergroup))[0]
        assert not stack.telegram.messages_to(ALERTS)
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any(supergroup in e and "SAFEGUARDING_TELEGRAM_CHAT_ID" in e for e in errors)

        await staff_replies(stack, "Vă sunăm astăzi.", alert, chat=supergroup)
        answer = await answer_reaches(member)
        assert answer[-1].text.endswith("Vă sunăm astăzi.")

        before = len(stack.telegram.messages_to(supergroup))
        requests = stack.telegram.requests
        async with stack.service.db.session() as session, session.begin():  # the next alert
            outbox.enqueue(session, outbox.Chat("telegram", ALERTS), OutboundMessage("Alert 2"))
        await stack.service.coordinator.notify("outbox")
        await posted_to(stack, supergroup, count=before + 1)
        assert stack.telegram.requests - requests == 1, "the old id was tried again"
        async with stack.service.db.session() as session:
            moves = await outbox.chat_moves(session)
        assert [(m.channel, m.address, m.moved_to) for m in moves] == [
            ("telegram", ALERTS, supergroup)
        ]
