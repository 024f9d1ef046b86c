"""The invitation goes out as a broadcast through the running service, in each member's
language; its button opens the survey."""

from __future__ import annotations

from bot.broadcasts import Audience
from bot.i18n import Translator
from bot.secretariat.staff import Staff
from bot.storage.models import Survey
from bot.surveys.launch import launch
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
