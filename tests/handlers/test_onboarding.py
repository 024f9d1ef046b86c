"""Onboarding as members meet it, on every channel and in several languages."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import LANGUAGE_NAMES, Translator
from tests.dialog import Member, texts
from tests.harness import eventually, running

CHANNELS = ["telegram", "whatsapp", "web"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_new_member_is_onboarded_in_a_few_taps(backend, channel):
    async with running(backend) as stack:
        ana = Member(
            stack, channel, lang="ro", country_code="373"
        )  # Telegram/web hint ro; Moldova → ro
        ro = Translator("ro")

        welcome = await ana.say("Bună ziua")
        assert ro("Do you agree?") in texts(welcome)
        assert welcome[-1].payloads == ["consent:yes", "consent:no"]
        assert welcome[-1].options == [ro("Yes, I agree"), ro("No, thanks")]

        languages = await ana.tap("consent:yes")
        assert languages[-1].payloads[0] == "lang:ro"  # the hinted language comes first
        assert set(languages[-1].options) == set(LANGUAGE_NAMES.values())

        countries = await ana.tap("lang:ru")
        ru = Translator("ru")
        assert countries[-1].text == ru("Which country do you work in?")
        assert ru.country_name("MD") in countries[-1].options

        organisation = await ana.tap("country:MD")
        assert organisation[-1].payloads == ["org:skip"]

        done = await ana.say("Salvați Copiii Moldova")
        assert ru("Thank you, you are all set!") in done[-1].text
        assert done[-1].payloads == [
            "menu:about",
            "menu:surveys",
            "menu:settings",
            "menu:secretariat",
        ]
        assert done[-1].options[0] == ru("About ChildPact")

        settings = await ana.tap("menu:settings")
        assert "Salvați Copiii Moldova" in settings[-1].text
        assert ru.country_name("MD") in settings[-1].text


@pytest.mark.parametrize("channel", CHANNELS)
async def test_saying_no_keeps_nothing_and_start_asks_again(backend, channel):
    async with running(backend) as stack:
        member = Member(stack, channel, lang="en", country_code="44")
        en = Translator("en")
        await member.say("hi")
        declined = await member.tap("consent:no")
        said = texts(declined)
        # Truthful: what is kept is named, and how to delete it too.
        assert said.startswith(en("All right. I send you no news").split("{")[0][:25])
        assert "deleteme" in said or "delete me" in said
        again = await member.say("start" if channel != "telegram" else "/start")
        assert again[-1].payloads == ["consent:yes", "consent:no"]


async def test_whatsapp_numbers_pick_options_shown_as_buttons(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp", country_code="995")  # Georgia → ka
        ka = Translator("ka")
        welcome = await member.say("hello")
        assert ka("Do you agree?") in welcome[-1].text
        shown = stack.twilio.offered(member.address)
        assert shown is not None and ka("Do you agree?") in shown[0].text
        assert shown[1].choices() == [
            ("consent:yes", ka("Yes, I agree")), ("consent:no", ka("No, thanks"))
        ]  # fmt: skip
        languages = await member.say("1")  # a typed number still picks
        assert languages[-1].payloads[0] == "lang:ka"
        nonsense = await member.say("42")  # not an option: the question again, nothing changes
        assert nonsense[-1].payloads == languages[-1].payloads


async def test_typed_language_and_skip_of_organisation(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp", country_code="380")
        await member.say("привіт")
        await member.tap("consent:yes")
        countries = await member.say("Türkçe")
        tr = Translator("tr")
        assert countries[-1].text == tr("Which country do you work in?")
        await member.tap("country:OTHER")
        done = await member.tap("org:skip")
        assert done[-1].payloads[0] == "menu:about"


async def test_a_member_who_blocks_the_bot_is_unreachable_until_they_come_back(backend):
    from sqlalchemy import select

    from bot.storage.models import Contact

    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        await member.say("hello")
        builder = member.builder
        assert builder is not None
        assert (await stack.post_telegram(builder.my_chat_member("kicked"))).status_code == 200
        await member.replies()

        async def unreachable() -> bool:
            async with stack.service.db.session() as session:
                contact = await session.scalar(
                    select(Contact).where(Contact.address == member.address)
                )
            return contact is not None and contact.unreachable_at is not None

        assert await unreachable()
        await member.say("/start")  # writing again means they unblocked us
        assert not await unreachable()
        # Blocked, then unblocked without a word: Telegram's my_chat_member says so, and it
        # reaches the bot only because the webhook asked for it by name.
        await stack.post_telegram(builder.my_chat_member("kicked"))
        await eventually(unreachable)
        await stack.post_telegram(builder.my_chat_member("member"))
        await eventually(lambda: _not(unreachable()))
        assert stack.telegram.withheld == []


async def _not(check: Any) -> bool:
    return not await check
