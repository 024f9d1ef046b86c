"""WhatsApp's 24-hour window, end to end through the real twilio client, the strict fake Twilio
and signed webhooks: inside it the full text goes; outside it the approved template carries a
short notice, and the full text follows the member's answer, before the answer to it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from bot import broadcasts
from bot.secretariat import inbox, relay
from bot.storage.models import Broadcast, Contact, Delivery, utcnow
from tests.broadcasts.test_broadcasts import _is, add_members, launch, status_of
from tests.conftest import Backend
from tests.fakes.twilio_api import TwilioMessage
from tests.harness import AUTH, PUBLIC, Stack, eventually, running

HX = {"en": "HX" + "e" * 32, "ro": "HX" + "a" * 32, "ru": "HX" + "b" * 32}
NEWS = {
    "en": "Annual meeting on 3 June\n\nThe coalitions meet in Chisinau.     Bring your report.\n\n"
    "Registration\tcloses on 20 May.",
    "ro": "Adunarea anuală pe 3 iunie\n\nCoalițiile se întâlnesc la Chișinău.\n\n"
    "Înscrierile se închid pe 20 mai.",
    "ru": "Ежегодное собрание 3 июня\n\nКоалиции встречаются в Кишинёве.\n\n"
    "Регистрация закрывается 20 мая.",
}
FIRST_LINE = {loc: text.split("\n", 1)[0] for loc, text in NEWS.items()}
RECENT, OLD = timedelta(hours=1), timedelta(days=2)


def whatsapp(address: str, locale: str, wrote: timedelta) -> dict[str, Any]:
    return {"channel": "whatsapp", "address": address, "locale": locale, "country": "MD",
            "last_inbound_at": utcnow() - wrote}  # fmt: skip


async def compose(stack: Stack, **fields: Any) -> int:
    async with stack.service.db.session() as session, session.begin():
        broadcast = Broadcast(
            title="Annual meeting", base_locale="en", texts={}, buttons=[], audience={},
            templates=dict(HX), created_by=1, **fields,
        )  # fmt: skip
        session.add(broadcast)
        for locale, text in NEWS.items():
            broadcasts.set_text(broadcast, locale, text)
        await session.flush()
        return broadcast.id


def to(stack: Stack, address: str) -> list[TwilioMessage]:
    return stack.twilio.to(address)


def no_refusal(stack: Stack) -> None:
    """Twilio refused nothing, at once or later."""
    assert stack.twilio.refused == []
    failed = [c.params for c in stack.twilio.callbacks if c.params["MessageStatus"] == "failed"]
    assert failed == []


async def test_a_three_paragraph_broadcast_reaches_telegram_and_whatsapp_inside_and_outside(
    backend: Backend,
) -> None:
    # The "done when": news of three paragraphs in English, Romanian and Russian
    # reaches Telegram members, WhatsApp members inside the window (the full text) and
    # outside it (the template, then the full text after their reply), and neither fake
    # refuses anything on the way.
    async with running(backend) as stack:
        inside, outside_ro, outside_ru = (
            "whatsapp:+37360000401",
            "whatsapp:+37360000402",
            ("whatsapp:+37360000403"),
        )
        telegram = {"en": "670000001", "ro": "670000002", "ru": "670000003"}
        await add_members(
            stack,
            whatsapp(inside, "en", RECENT),
            whatsapp(outside_ro, "ro", OLD),
            whatsapp(outside_ru, "ru", OLD),
            *({"address": chat, "locale": locale, "country": "MD"}
              for locale, chat in telegram.items()),
        )  # fmt: skip
        broadcast_id = await compose(stack)
        await launch(stack, broadcast_id)
        await eventually(lambda: _is(status_of(stack, broadcast_id), "sent"), timeout=60)
        await eventually(lambda: len(stack.twilio.messages) == 3)

        # Telegram: each member the full text in their language, all three paragraphs.
        for locale, chat in telegram.items():
            [news] = stack.telegram.messages_to(chat)
            assert news.text == NEWS[locale].strip()
        assert stack.telegram.refused == []

        # Inside the window: the full text itself, as written.
        [full] = to(stack, inside)
        assert (full.content_sid, full.body) == (None, NEWS["en"].strip())
        # Outside it: the language's template, its variable a single clean line.
        for address, locale in ((outside_ro, "ro"), (outside_ru, "ru")):
            [notice] = to(stack, address)
            assert notice.content_sid == HX[locale]
            assert json.loads(notice.content_variables or "") == {"1": FIRST_LINE[locale]}
            assert notice.text == f"ChildPact: {FIRST_LINE[locale]}"

        # They answer, each in their way: a word, or the template's "Read it".
        answered = await stack.post_whatsapp(Body="Bună ziua", From=outside_ro)
        tapped = await stack.post_whatsapp(
            From=outside_ru, Body="Read it", ButtonText="Read it", ButtonPayload="read",
            MessageType="button",
        )  # fmt: skip
        assert answered.status_code == tapped.status_code == 200
        await eventually(lambda: len(to(stack, outside_ro)) >= 3)
        await eventually(lambda: len(to(stack, outside_ru)) >= 2)
        ro_after = [m.body for m in to(stack, outside_ro)[1:]]
        assert ro_after[0] == NEWS["ro"]  # the news first, then the answer to "Bună ziua"
        assert len(ro_after) >= 2 and all(NEWS["ro"] not in b for b in ro_after[1:])
        await stack.service.sender.flush()
        assert [m.body for m in to(stack, outside_ru)[1:]] == [NEWS["ru"]]  # and nothing else
        await stack.twilio.settle()
        no_refusal(stack)
        # Every status report was Twilio's, signed for the public URL.
        validator = RequestValidator(AUTH)
        assert all(
            validator.validate(c.url, c.params, c.signature) and c.url.startswith(PUBLIC)
            for c in stack.twilio.callbacks
        )


async def test_the_window_is_judged_as_each_message_goes_not_when_it_was_planned(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        member = "whatsapp:+37360000411"
        [member_id] = await add_members(stack, whatsapp(member, "ro", RECENT))
        # Planned while they are in the window, sent at 9:00 of their day, hours later.
        broadcast_id = await compose(stack)
        await launch(stack, broadcast_id, local_hour=(utcnow() + timedelta(hours=6)).hour)

        async def planned() -> bool:
            async with stack.service.db.session() as session:
                return bool(
                    await session.scalar(
                        select(Delivery.id).where(Delivery.contact_id == member_id)
                    )
                )

        await eventually(planned, timeout=60)
        # The hours pass: their last message is two days old when the message is due.
        async with stack.service.db.session() as session, session.begin():
            await session.execute(
                update(Contact).where(Contact.id == member_id)
                .values(last_inbound_at=utcnow() - OLD)
            )  # fmt: skip
            await session.execute(
                update(Delivery).where(Delivery.contact_id == member_id).values(due_at=0.0)
            )
        stack.twilio.forget(member)
        stack.twilio.received(member, ago=OLD.total_seconds())
        await stack.service.coordinator.notify("outbox")
        await eventually(lambda: to(stack, member))
        [notice] = to(stack, member)
        assert notice.content_sid == HX["ro"]
        await stack.twilio.settle()
        no_refusal(stack)


async def test_a_63016_sends_the_template_instead(backend: Backend) -> None:
    async with running(backend) as stack:
        member = "whatsapp:+37360000421"
        await add_members(stack, whatsapp(member, "ro", RECENT))
        stack.twilio.forget(member)  # Twilio counts their window closed: we did not know
        broadcast_id = await compose(stack)
        await launch(stack, broadcast_id)
        await eventually(lambda: len(to(stack, member)) == 2, timeout=60)
        free, notice = to(stack, member)
        assert free.content_sid is None and free.statuses[-1] == "failed"
        assert notice.content_sid == HX["ro"]
        await stack.twilio.settle()
        assert notice.statuses[-1] == "read"


async def test_the_secretariats_answer_outside_the_window_goes_as_the_notice_template(
    backend: Backend,
) -> None:
    notice_sid = "HX" + "c" * 32
    async with running(backend, whatsapp_notice_templates=f"ro={notice_sid}") as stack:
        member = "whatsapp:+37360000431"
        [member_id] = await add_members(stack, whatsapp(member, "ro", OLD))
        async with stack.service.db.session() as session, session.begin():
            conversation = await inbox.open_conversation(session, member_id, "question")
            await relay.answer_member(
                session, stack.service.settings, conversation, "Da.\n\nVă sunăm mâine."
            )
        await stack.service.coordinator.notify("outbox")
        await eventually(lambda: to(stack, member))
        [notice] = to(stack, member)
        assert notice.content_sid == notice_sid
        assert json.loads(notice.content_variables or "") == {
            "1": "Secretariatul v-a răspuns: răspundeți pentru a citi."
        }

        # Choices the template never showed are not theirs: "1" is a word, not "Reply".
        async def choices() -> list[str] | None:
            async with stack.service.db.session() as session:
                contact = await session.get(Contact, member_id)
                # The payloads (each kept with its label: see ``choosing.entry``).
                return None if contact is None else [c.split("\n")[0] for c in contact.choices]

        await eventually(lambda: _is(choices(), []))

        await stack.post_whatsapp(From=member, Body="Read it", ButtonPayload="read")
        await eventually(lambda: len(to(stack, member)) == 2)
        answer = to(stack, member)[1]
        assert "Da.\n\nVă sunăm mâine." in answer.text and answer.content_sid  # with buttons
        await eventually(lambda: _is(choices(), ["handoff:reply", "handoff:close"]))
        await stack.twilio.settle()
        no_refusal(stack)
