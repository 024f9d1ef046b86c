"""The invitation goes out as a broadcast through the running service, in each member's
language; its button opens the survey."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from bot.broadcasts import Audience
from bot.i18n import Translator
from bot.secretariat.staff import Staff
from bot.storage.models import Contact, Survey, utcnow
from bot.surveys.launch import launch, remind
from tests.dialog import Member
from tests.handlers.test_menu import onboard
from tests.harness import eventually, running
from tests.surveys.helpers import open_survey, stored_answers

EDITOR = Staff(
    id=1, email="editor@childpact.org", name="", role="editor", country=None, locale="en"
)


async def test_the_invitation_opens_the_survey_on_both_channels(backend):
    async with running(backend) as stack:
        survey_id, q = await open_survey(stack.service, status="draft")
        telegram, whatsapp = (
            Member(stack, "telegram"),
            Member(stack, "whatsapp", country_code="373"),
        )
        await onboard(telegram, "ro")
        await onboard(whatsapp, "ru", "MD")
        async with stack.service.db.session() as session, session.begin():
            survey = await session.get(Survey, survey_id)
            await launch(session, survey, EDITOR, Audience(), templates={}, approval_above=None)
        await stack.service.coordinator.notify("broadcasts")

        async def invited() -> bool:
            return bool(await telegram.replies()) and bool(await whatsapp.replies())

        await eventually(invited)
        for member, locale, title in ((telegram, "ro", "Verificare rapidă"),
                                      (whatsapp, "ru", "Быстрый опрос")):  # fmt: skip
            (invitation,) = member.last
            assert invitation.text.startswith(title)
            assert invitation.options == [Translator(locale)("Answer the survey")]
            if member.channel == "whatsapp":
                # A broadcast does not (yet) make its options the member's numbered choices,
                # so on WhatsApp the survey is opened from the menu.
                await member.say("меню")
                await member.tap("menu:surveys")
            opened = await member.tap(f"survey:{survey_id}")
            assert opened[0].text.startswith(title)
        await telegram.tap(f"sv:a:{q['role']}:0")
        await whatsapp.say("2")
    found = await stored_answers(stack.service, survey_id)
    assert [f["answers"] for f in found] == [{"role": "lead"}, {"role": "field"}]
    assert all(f["response"].invited for f in found)


async def _outside_the_window(stack, member: Member) -> None:  # type: ignore[no-untyped-def]
    """Two days pass since the member last wrote: their 24-hour window is closed, for us and
    for Twilio."""
    async with stack.service.db.session() as session, session.begin():
        await session.execute(
            update(Contact).where(Contact.channel == "whatsapp", Contact.address == member.address)
            .values(last_inbound_at=utcnow() - timedelta(days=2))
        )  # fmt: skip
    stack.twilio.forget(member.address)
    stack.twilio.received(member.address, ago=timedelta(days=2).total_seconds())


async def test_a_whatsapp_member_outside_the_window_is_invited_and_reminded_by_the_template(
    backend,
):
    # The invitation and the reminder are each the notice template (a short line), and the
    # full text with its choice comes after the member's reply. Would catch either sent as
    # free text (63016: lost), or its full text not following the member's answer.
    notice = "HX" + "d" * 32
    async with running(backend) as stack:
        survey_id, _q = await open_survey(stack.service, status="draft")
        member = Member(stack, "whatsapp", country_code="373")
        await onboard(member, "ro", "MD")
        await _outside_the_window(stack, member)
        before = len(stack.twilio.to(member.address))
        async with stack.service.db.session() as session, session.begin():
            survey = await session.get(Survey, survey_id)
            await launch(session, survey, EDITOR, Audience(), templates={"ro": notice},
                         approval_above=None)  # fmt: skip
        await stack.service.coordinator.notify("broadcasts")

        await eventually(lambda: len(stack.twilio.to(member.address)) > before)
        invited = stack.twilio.to(member.address)[before]
        assert invited.content_sid == notice
        assert json.loads(invited.content_variables or "") == {"1": "Verificare rapidă"}
        replies = await member.say("Bună ziua")
        assert replies[0].text.startswith("Verificare rapidă\n\nȘase întrebări.")
        assert replies[0].options == [Translator("ro")("Answer the survey")]

        # The reminder, two days later, to the member who has not answered.
        await _outside_the_window(stack, member)
        before = len(stack.twilio.to(member.address))
        async with stack.service.db.session() as session, session.begin():
            survey = await session.get(Survey, survey_id)
            assert await remind(session, survey) is not None
        await stack.service.coordinator.notify("broadcasts")
        await eventually(lambda: len(stack.twilio.to(member.address)) > before)
        reminded = stack.twilio.to(member.address)[before]
        assert reminded.content_sid == notice
        [line] = json.loads(reminded.content_variables or "").values()
        assert line.startswith("Un memento: chestionarul „Verificare rapidă”")
        replies = await member.say("Da")
        assert replies[0].text.startswith("Un memento: chestionarul „Verificare rapidă”")
        assert replies[0].options == [Translator("ro")("Answer the survey")]
        await stack.twilio.settle()
        assert stack.twilio.refused == []
        assert [c for c in stack.twilio.callbacks if c.params["MessageStatus"] == "failed"] == []
