"""A member who turns to the secretariat is told, in their language, how soon it usually
answers (REPLY_TIME, one working day unless the secretariat sets another)."""

from __future__ import annotations

import pytest

from bot.config import REPLY_TIMES, Settings
from tests.dialog import Member
from tests.handlers.test_menu import onboard
from tests.harness import running

# Written out here, as a member of each language reads them.
WORKING_DAY = {
    "ro": "De obicei, secretariatul răspunde în decurs de o zi lucrătoare.",
    "ru": "Обычно секретариат отвечает в течение одного рабочего дня.",
    "ka": "სამდივნო ჩვეულებრივ ერთი სამუშაო დღის განმავლობაში პასუხობს.",
    "sq": "Sekretariati zakonisht përgjigjet brenda një dite pune.",
}
TWO_WORKING_DAYS = {
    "uk": "Зазвичай секретаріат відповідає протягом двох робочих днів.",
    "tr": "Sekretarya genellikle iki iş günü içinde yanıt verir.",
    "en": "The secretariat usually answers within two working days.",
}


@pytest.mark.parametrize(
    ("channel", "locale", "country"),
    [("web", "ro", "MD"), ("whatsapp", "ru", "MD"), ("telegram", "ka", "GE"),
     ("telegram", "sq", "AL")],
)  # fmt: skip
async def test_talk_to_the_secretariat_says_it_usually_answers_within_a_working_day(
    backend, channel, locale, country
):
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, locale, country)
        invite = await member.tap("menu:secretariat")
        assert invite[-1].text.endswith(" " + WORKING_DAY[locale])
        # Said once, when the member turns to the secretariat, not after each message.
        sent = await member.say("Putem aduce si un voluntar?")
        assert WORKING_DAY[locale] not in sent[-1].text


@pytest.mark.parametrize(("channel", "locale"), [("whatsapp", "uk"), ("web", "tr")])
async def test_the_secretariat_sets_its_usual_reply_time(backend, channel, locale):
    async with running(backend, reply_time="two_working_days") as stack:
        member = Member(stack, channel)
        await onboard(member, locale, "OTHER")
        invite = await member.tap("menu:secretariat")
        assert invite[-1].text.endswith(" " + TWO_WORKING_DAYS[locale])
        assert "  " not in invite[-1].text


async def test_a_forwarded_question_is_told_the_reply_time_too(backend):
    async with running(backend, reply_time="hours") as stack:
        member = Member(stack, "telegram")
        await onboard(member, "ru", "MD")
        unknown = await member.say("кто выиграл лигу чемпионов вчера вечером")
        assert "ask:secretariat" in unknown[-1].payloads
        asked = await member.tap("ask:secretariat")
        assert "Обычно секретариат отвечает в течение нескольких часов." in asked[-1].text


def test_an_unknown_reply_time_is_refused_with_the_choices():
    with pytest.raises(ValueError) as refused:
        Settings(_env_file=None, reply_time="soon")
    for choice in REPLY_TIMES:
        assert choice in str(refused.value)
    assert Settings(_env_file=None, reply_time="Two-Working-Days").reply_time == "two_working_days"
    assert Settings(_env_file=None).reply_time == "working_day"
