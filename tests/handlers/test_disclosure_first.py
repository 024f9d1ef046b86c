"""A child in danger comes before the privacy notice and before any question the bot waits a
typed answer to: the helplines at once and the focal point told, then the notice or the question
again; the disclosure is never kept as an organisation's name."""

from __future__ import annotations

import pytest

from bot.i18n import Translator
from tests.dialog import Member
from tests.handlers.test_menu import contact_of
from tests.harness import eventually, running

ALERTS = "-1001234567890"
DISCLOSURE = "Vecinul își bate copilul în fiecare seară, aud cum plânge"
HARMLESS = "Bună ziua, cum pot deveni membru al coaliției?"


@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
async def test_a_disclosure_as_the_first_message_gets_the_helplines_before_the_notice(
    backend, channel
):
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        t = Translator("ro")
        member = Member(stack, channel, lang="ro", country_code="40")
        said = [r.text for r in await member.say(DISCLOSURE)]
        now = t("Thank you for telling us. If a child is in danger right now, call {number}.",
                number="112")  # fmt: skip
        assert now in said[0]
        # Romania's child helpline by its name where the phone number tells the country; the
        # European number where nothing tells it yet
        assert ("Telefonul Copilului" if channel == "whatsapp" else "116 111") in said[0]
        assert t("Do you agree?") in said[-1]
        [alert] = await eventually(lambda: stack.telegram.messages_to(ALERTS))
        assert DISCLOSURE in alert.text
        assert (await contact_of(member)).consent_version is None  # nothing agreed for them

        # The notice is still answered as usual, and the member goes on with onboarding.
        again = [r.text for r in await member.say("da")]
        assert t("Which language do you prefer?") in again[-1]


async def test_a_harmless_first_message_gets_the_notice_alone(backend):
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        t = Translator("ro")
        member = Member(stack, "telegram", lang="ro")
        [notice] = [r.text for r in await member.say(HARMLESS)]
        assert t("Do you agree?") in notice
        assert stack.telegram.messages_to(ALERTS) == []


async def test_a_disclosure_typed_at_the_organisation_question_is_not_kept_as_its_name(backend):
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        t = Translator("ro")
        member = Member(stack, "telegram", lang="ro")
        await member.say("salut")
        await member.tap("consent:yes")
        await member.tap("lang:ro")
        await member.tap("country:MD")
        said = [r.text for r in await member.say(DISCLOSURE)]
        assert "Telefonul Copilului" in said[0]  # Moldova's child helpline, by its name
        assert said[-1] == t("Which organisation do you work for? Type its name, or choose Skip.")
        await eventually(lambda: stack.telegram.messages_to(ALERTS))
        assert (await contact_of(member)).organisation is None
        done = [r.text for r in await member.say("Salvați Copiii Moldova")]
        assert t("Thank you, you are all set!") in done[-1]
        assert (await contact_of(member)).organisation == "Salvați Copiii Moldova"
