"""Answering surveys as members do: every question type on Telegram and WhatsApp in several
languages, invalid answers, back, skip, conditions, stop and resume after a restart, a FAQ
question on the way, answering again, closed and unknown surveys."""

from __future__ import annotations

import pytest

from app.service import Features
from bot.i18n import Translator
from bot.knowledge.safeguarding import CONCERN
from bot.surveys.answers import words
from handlers.safeguarding import FOCAL_POINT
from tests.dialog import Member, texts
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import running
from tests.surveys.helpers import open_survey, stored_answers


def sorry(t: Translator) -> str:
    return t("Sorry, I could not read that as an answer.")


@pytest.mark.parametrize(("channel", "locale"), [("telegram", "ro"), ("web", "en")])
async def test_every_question_type_with_buttons(backend, channel, locale):
    t = Translator(locale)
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service)
        member = Member(stack, channel)
        await onboard(member, locale)
        await member.say("/menu" if channel == "telegram" else "menu")
        listed = await member.tap("menu:surveys")
        assert listed[-1].text == t("Which survey would you like to answer?")
        assert listed[-1].payloads == [f"survey:{survey}", "menu:main"]

        opened = await member.tap(f"survey:{survey}")
        assert opened[0].text.startswith({"ro": "Verificare rapidă", "en": "Quick check"}[locale])
        assert (
            opened[-1].options[:2]
            == ({"ro": ["Conducere", "Teren"], "en": ["Lead", "Field"]}[locale])
        )
        assert t("Continue later") in opened[-1].options and t("Back") not in opened[-1].options

        await member.tap(f"sv:a:{q['role']}:1")
        ticked = await member.tap(f"sv:t:{q['topics']}:0")
        assert ticked[-1].options[0].startswith("✅ ")
        await member.tap(f"sv:t:{q['topics']}:2")
        await member.tap(f"sv:t:{q['topics']}:0")  # changed their mind
        funded = await member.tap(f"sv:d:{q['topics']}")
        assert funded[-1].options[:2] == [t("Yes"), t("No")]

        gap = await member.tap(f"sv:a:{q['funded']}:0")  # "no" shows the follow-up
        assert t("Skip") in gap[-1].options
        cases = await member.tap(f"sv:s:{q['gap']}")
        assert t("Reply with a number from {low} to {high}.", low="0", high="500") in cases[-1].text

        wrong = await member.say("many")
        assert wrong[0].text.startswith(sorry(t)) and wrong[-1].text == cases[-1].text
        await member.say("600")  # out of range
        await member.say("12")
        back = await member.tap(f"sv:b:{q['meeting']}")
        assert t("Your answer so far: {answer}", answer="12") in back[-1].text
        await member.say("15")
        bad_date = await member.say("31.02.2026")
        assert bad_date[0].text.startswith(sorry(t))
        rating = await member.say("15.03.2026")
        assert [o for o in rating[-1].options if o.isdigit()] == [str(n) for n in range(11)]
        closing = await member.tap(f"sv:a:{q['support']}:7")
        assert (
            closing[-1].text
            == {"ro": "Mulțumim, totul e salvat.", "en": "Thanks, all saved."}[locale]
        )
        assert (await contact_of(member)).flow is None

    (found,) = await stored_answers(stack.service, survey)
    assert found["response"].status == "finished" and found["response"].locale == locale
    assert found["answers"] == {
        "role": "field", "topics": ["online"], "funded": False, "gap": "skipped", "cases": 15,
        "meeting": "2026-03-15", "support": 7,
    }  # fmt: skip


async def test_whatsapp_numbers_words_and_conditions_in_russian(backend):
    ru = Translator("ru")
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service)
        member = Member(stack, "whatsapp", country_code="373")
        await onboard(member, "ru", "MD")
        await member.say("меню")
        await member.tap("menu:surveys")
        first = await member.tap(f"survey:{survey}")
        assert first[-1].payloads == [f"sv:a:{q['role']}:0", f"sv:a:{q['role']}:1"]  # no extras

        topics = await member.say("1")
        assert "1. Уход\n2. Правосудие\n3. Онлайн" in topics[-1].text
        assert ru("Reply with the numbers of your choices, for example: 1, 3") in topics[-1].text
        assert (
            ru("Write “{word}” to change your previous answer.", word=words(ru, "back")[0])
            in topics[-1].text
        )
        wrong = await member.say("1, 7")
        assert wrong[0].text.startswith(sorry(ru))
        await member.say("1, 3")
        cases = await member.say("да")  # funded: the follow-up question is left out
        assert (
            ru("Reply with a number from {low} to {high}.", low="0", high="500") in cases[-1].text
        )
        number = await member.say("назад")
        assert ru("Your answer so far: {answer}", answer=ru("Yes")) in number[-1].text
        await member.say("нет")
        gap = await member.say("пропустить")  # skips the follow-up
        assert ru("Reply with a number from {low} to {high}.", low="0", high="500") in gap[-1].text
        await member.say("1 250")  # too many
        await member.say("42")
        await member.say("2026-03-15")
        closing = await member.say("8")
        assert closing[-1].text == "Спасибо, всё сохранено."

    (found,) = await stored_answers(stack.service, survey)
    assert found["answers"] == {
        "role": "lead", "topics": ["care", "online"], "funded": False, "gap": "skipped",
        "cases": 42, "meeting": "2026-03-15", "support": 8,
    }  # fmt: skip
    assert found["response"].channel == "whatsapp" and found["response"].country == "MD"


async def test_stop_pauses_and_the_survey_resumes_after_a_restart(backend):
    uk = Translator("uk")
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service)
        member = Member(stack, "telegram", lang="uk")
        await onboard(member, "uk", "MD")
        await member.say("/menu")
        await member.tap("menu:surveys")
        await member.tap(f"survey:{survey}")
        await member.tap(f"sv:a:{q['role']}:0")
        paused = await member.say("/stop")
        assert paused[-1].text.startswith(
            uk("Paused. Your answers are saved: you can continue whenever you like.")
        )
        assert paused[-1].payloads[0] == f"survey:{survey}"
        contact = await contact_of(member)
        assert contact.status == "active" and contact.flow is None  # the news go on
        faq = await member.say("Що таке ChildPact?")  # no longer in the survey: the FAQ answers
        assert faq and not faq[-1].text.startswith(sorry(uk))
        address, builder, cursor = member.address, member.builder, member.cursor

    async with running(backend) as stack:  # days later, after a restart
        member = Member(stack, "telegram", lang="uk")
        member.address, member.builder, member.cursor = address, builder, cursor
        await member.say("/menu")
        listed = await member.tap("menu:surveys")
        # No Ukrainian texts: the survey speaks Moldova's usual language, as broadcasts do.
        assert listed[-1].options[0] == uk("{title} (continue)", title="Verificare rapidă")
        resumed = await member.tap(f"survey:{survey}")
        assert resumed[0].text == uk("Welcome back! Let us continue where you left off.")
        assert resumed[-1].text.startswith("Teme?")
        # "stop" twice: the survey first, then the news.
        await member.say("/stop")
        await member.say("/stop")
        assert (await contact_of(member)).status == "stopped"
    (found,) = await stored_answers(stack.service, survey)
    assert found["answers"] == {"role": "lead"} and found["response"].status == "started"


async def test_a_faq_question_mid_survey_is_answered_and_the_survey_goes_on(backend):
    en = Translator("en")
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service)
        member = Member(stack, "whatsapp")
        await onboard(member, "en")
        await member.say("menu")
        await member.tap("menu:surveys")
        await member.tap(f"survey:{survey}")
        await member.say("2")
        await member.say("2")
        await member.say("yes")
        answered = await member.say("What is ChildPact?")  # asked at the number question
        assert "Regional Coalition for Child Protection" in answered[0].text
        assert "How many children?" in answered[-1].text
        assert not texts(answered).startswith(sorry(en))
        cancelled = await member.say("cancel")
        assert cancelled[-1].text.startswith(
            en("Paused. Your answers are saved: you can continue whenever you like.")
        )
        await member.tap(f"survey:{survey}")
        done = await member.say("7")
        assert "Next meeting?" in done[-1].text


async def test_answering_again_is_refused_unless_the_survey_allows_it(backend):
    short = {"title": "One", "questions": [{"id": "ok", "type": "yes_no", "text": "OK?"}]}
    ro = Translator("ro")
    async with running(backend) as stack:
        once, _ = await open_survey(stack.service, short)
        again, _ = await open_survey(stack.service, short, allow_again=True)
        closed, _ = await open_survey(stack.service, short, status="closed")
        draft, _ = await open_survey(stack.service, short, status="draft")
        member = Member(stack, "telegram")
        await onboard(member, "ro")
        for survey in (once, again):
            await member.say("/menu")
            await member.tap("menu:surveys")
            await member.tap(f"survey:{survey}")
            finished = await member.say("da")
            assert finished[-1].text == ro("Thank you! Your answers are saved.")
        await member.say("/menu")
        listed = await member.tap("menu:surveys")
        assert listed[-1].payloads == [f"survey:{again}", "menu:main"]  # the finished one is gone
        refused = await member.tap(f"survey:{again}")
        assert refused[-1].text == "OK?"
        member.last[-1].payloads.append(f"survey:{once}")  # an old invitation, tapped again
        refused = await member.tap(f"survey:{once}")
        assert refused[-1].text == ro("You have already answered this survey. Thank you!")
        member.last[-1].payloads += [f"survey:{closed}", f"survey:{draft}"]
        assert (await member.tap(f"survey:{closed}"))[-1].text == ro(
            "This survey is closed. Thank you for your interest!"
        )
        member.last[-1].payloads.append(f"survey:{draft}")
        assert (await member.tap(f"survey:{draft}"))[-1].text == ro("This survey is not available.")
    assert [r["response"].attempt for r in await stored_answers(stack.service, again)] == [1, 2]


async def test_a_required_question_cannot_be_skipped_and_old_buttons_ask_the_current_one(backend):
    en = Translator("en")
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service)
        member = Member(stack, "telegram", lang="en")
        await onboard(member, "en")
        await member.say("/menu")
        await member.tap("menu:surveys")
        await member.tap(f"survey:{survey}")
        refused = await member.say("skip")
        assert refused[0].text == en("This question needs an answer.")
        first = await member.say("back")
        assert first[0].text == en("This is the first question.")
        old = member.last
        await member.tap(f"sv:a:{q['role']}:0")
        member.last = old + member.last
        stale = await member.tap(f"sv:a:{q['role']}:1")  # the first question's button again
        assert stale[-1].text == "Topics?"
        none = await member.tap(f"sv:d:{q['topics']}")
        assert none[0].text == en("Please choose at least one option.")
    (found,) = await stored_answers(stack.service, survey)
    assert found["answers"] == {"role": "lead"}


async def test_a_disclosure_mid_survey_gets_the_helplines_and_the_survey_waits(backend):
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service)
        member = Member(stack, "telegram")
        await onboard(member, "en")
        await member.say("/menu")
        await member.tap("menu:surveys")
        await member.tap(f"survey:{survey}")
        await member.tap(f"sv:a:{q['role']}:0")
        await member.tap(f"sv:t:{q['topics']}:0")
        await member.tap(f"sv:d:{q['topics']}")
        await member.tap(f"sv:a:{q['funded']}:0")
        helped = await member.say(
            "my neighbour beats the boy next door every night, I hear him screaming"
        )
        assert "116 111" in texts(helped)
        assert (await contact_of(member)).flow is None  # no next question after that
    (found,) = await stored_answers(stack.service, survey)
    assert "gap" not in found["answers"] and found["response"].status == "started"


async def test_a_possible_concern_mid_survey_gets_the_helpline_and_the_survey_goes_on(backend):
    text = "Mostly funding. And the kids next door have been alone since friday."
    found = Features.load().safeguarding.assess(text, ["en", "en"])
    assert found and found.level == CONCERN  # what this test is about
    en = Translator("en")
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service)
        member = Member(stack, "telegram")
        await onboard(member, "en")
        await member.say("/menu")
        await member.tap("menu:surveys")
        await member.tap(f"survey:{survey}")
        await member.tap(f"sv:a:{q['role']}:0")
        await member.tap(f"sv:t:{q['topics']}:0")
        await member.tap(f"sv:d:{q['topics']}")
        await member.tap(f"sv:a:{q['funded']}:0")
        helped = await member.say(text)
        assert "116 111" in texts(helped) and FOCAL_POINT in helped[0].payloads
        assert en("Reply with a number from {low} to {high}.", low="0", high="500") in (
            helped[-1].text
        )  # the next question
        assert (await contact_of(member)).flow is not None
    (stored,) = await stored_answers(stack.service, survey)
    assert stored["answers"]["gap"] == text
