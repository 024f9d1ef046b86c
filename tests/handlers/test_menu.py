"""Commands and the menu, typed or tapped, on every channel and in several languages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.conversation.commands import words_in
from bot.i18n import LOCALES, Translator
from bot.storage.models import Contact
from tests.dialog import Member, texts
from tests.harness import Stack, eventually, running

CHANNELS = ["telegram", "whatsapp", "web"]


async def onboard(member: Member, locale: str, country: str = "RO") -> None:
    await member.say("hello")
    await member.tap("consent:yes")
    await member.tap(f"lang:{locale}")
    await member.tap(f"country:{country}")
    await member.tap("org:skip")


def command(member: Member, name: str, locale: str) -> str:
    """What a member types: a slash command on Telegram, a word in their language elsewhere."""
    return f"/{name}" if member.channel == "telegram" else words_in(Translator(locale), name)[0]


async def contact_of(member: Member) -> Contact:
    async with member.stack.service.db.session() as session:
        found = await session.scalar(
            select(Contact).where(
                Contact.channel == member.channel, Contact.address == member.address
            )
        )
    assert found is not None
    return found


@pytest.mark.parametrize("channel", CHANNELS)
async def test_stop_and_start_in_the_members_language(backend, channel):
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, "uk", "MD")
        uk = Translator("uk")
        stopped = await member.say(command(member, "stop", "uk"))
        assert texts(stopped).startswith(
            uk(
                "Done: you will get no more news from ChildPact. You can still ask me questions. To get the news again, write {start}."
            ).split("{")[0]
        )
        assert (await contact_of(member)).status == "stopped"
        resumed = await member.say(command(member, "start", "uk"))
        assert uk("Welcome back! You will receive ChildPact news again.") in resumed[-1].text
        assert (await contact_of(member)).status == "active"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_help_menu_language_country_and_cancel(backend, channel):
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, "ro")
        ro = Translator("ro")
        help_text = texts(await member.say(command(member, "help", "ro")))
        for name in ("menu", "language", "country", "stop", "start", "cancel"):
            assert command(member, name, "ro") in help_text

        menu = await member.say(command(member, "menu", "ro"))
        assert menu[-1].options == [
            ro("About ChildPact"),
            ro("Surveys"),
            ro("Settings"),
            ro("Talk to the secretariat"),
        ]

        picker = await member.say(command(member, "language", "ro"))
        assert picker[-1].payloads[0] == "lang:ro"
        switched = await member.tap("lang:tr")
        assert switched[-1].text == Translator("tr")(
            "Done, I will write to you in {language}.", language="Türkçe"
        )

        countries = await member.say(command(member, "country", "tr"))
        assert countries[-1].payloads[0] == "country:RO"  # their current country first
        saved = await member.tap("country:BG")
        assert Translator("tr").country_name("BG") in saved[-1].text

        await member.say(command(member, "menu", "tr"))
        await member.tap("menu:settings")
        await member.tap("set:organisation")
        cancelled = await member.say(command(member, "cancel", "tr"))
        assert cancelled[-1].text == Translator("tr")("Okay, cancelled.")
        assert (await contact_of(member)).flow is None


def described(help_text: str, name: str) -> bool:
    """The help has a line "{name} — what it does"."""
    return any(line.startswith(f"{name} — ") for line in help_text.splitlines())


def sent_to(stack: Stack, member: Member) -> list[str]:
    """What the member reads of each message: its text, or its content item's (with buttons)."""
    return [m.text for m in stack.twilio.messages if m.to == member.address]


@pytest.mark.parametrize(
    ("channel", "locale"),
    [("telegram", "ro"), ("telegram", "ka"), ("whatsapp", "ru"), ("whatsapp", "tr"),
     ("whatsapp", "sr_Latn")],
)  # fmt: skip
async def test_help_names_linking_topics_and_the_time_zone(backend, channel, locale):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale)
        await onboard(member, locale)
        t = Translator(locale)
        help_text = texts(await member.say(command(member, "help", locale)))
        for name in ("link", "unlink", "mydata", "deleteme", "menu", "stop"):
            assert described(help_text, command(member, name, locale)), name
        assert described(help_text, t("Topics")) and described(help_text, t("Time zone"))
        assert f"{command(member, 'menu', locale)} → {t('Settings')}" in help_text
        # Only linked chats have a preferred channel to choose.
        assert t("Preferred channel") not in help_text
        if channel == "whatsapp":
            await in_one_message(stack, member, help_text)


async def test_help_fits_one_whatsapp_message_in_every_language(backend):
    async with running(backend) as stack:
        wa, tg = Member(stack, "whatsapp"), Member(stack, "telegram")
        await onboard(wa, "en")
        await onboard(tg, "en")
        code = re.search(r"\b(\d{6})\b", texts(await tg.say("/link")))
        assert code is not None
        await wa.say(f"link {code.group(1)}")
        current = Translator("en")
        for locale in LOCALES:
            await wa.say(words_in(current, "language")[0])
            await wa.tap(f"lang:{locale}")
            current = Translator(locale)
            help_text = texts(await wa.say(words_in(current, "help")[0]))
            assert described(help_text, words_in(current, "link")[0]), locale
            assert described(help_text, current("Preferred channel")), locale  # linked
            assert len(help_text) <= 1000, (locale, len(help_text))  # about a phone screen
            await in_one_message(stack, wa, help_text)


async def in_one_message(stack: Stack, member: Member, text: str) -> None:
    """Twilio was asked to send ``text`` whole (its buttons under it): the channel did not have
    to split it."""
    await eventually(lambda: any(text in body for body in sent_to(stack, member)))


@pytest.mark.parametrize("locale", ["ru", "ro", "ka", "sr", "sr_Latn", "sq", "tr", "hy"])
async def test_whatsapp_command_words_work_in_every_language(backend, locale):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp")
        await onboard(member, locale)
        t = Translator(locale)
        for word in words_in(t, "stop"):
            await member.say(word.upper())  # members type in capitals too
            assert (await contact_of(member)).status == "stopped", word
            await member.say(words_in(t, "start")[-1])
            assert (await contact_of(member)).status == "active"
        menu = await member.say(words_in(t, "menu")[0])
        assert menu[-1].payloads[0] == "menu:about"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_menu_entries_not_built_yet_answer_politely(backend, channel):
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, "bg")
        bg = Translator("bg")
        for entry in ("about", "surveys", "secretariat"):
            await member.say(command(member, "menu", "bg"))
            answer = await member.tap(f"menu:{entry}")
            assert answer and answer[-1].text
            assert answer[-1].text != bg(
                "Sorry, I did not understand. Please choose one of the options."
            )


async def test_stop_works_even_before_onboarding(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp", country_code="40")
        await member.say("STOP")
        assert (await contact_of(member)).status == "stopped"


async def test_free_text_the_bot_cannot_answer_gets_an_honest_answer(backend):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        answer = await member.say("Where is the next general assembly?")
        # not answered with a topic: the secretariat is offered, and what the bot can tell
        offered = answer[-1].payloads
        assert "ask:secretariat" in offered and "about:0" in offered
        assert not [p for p in offered if p.startswith("topic:")]

