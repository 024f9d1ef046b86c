"""Questions about the coalition, as members ask them, on each channel and in several languages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.service import Features
from bot.i18n import Translator
from bot.knowledge.answers import understand
from bot.knowledge.safeguarding import ALERT, CONCERN, KINDS
from bot.storage.models import UnansweredQuestion
from handlers.safeguarding import FOCAL_POINT
from tests.dialog import Member, texts
from tests.handlers.test_handoff import posted_to
from tests.handlers.test_menu import onboard
from tests.harness import running

ALERTS = "-1001234567890"
STAFF = "-1009876543210"


@pytest.fixture(scope="module")
def knowledge():
    return Features.load().knowledge


@pytest.mark.parametrize("channel", ["telegram", "whatsapp", "web"])
async def test_browsing_about_childpact_by_buttons(backend, channel, knowledge):
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, "ro", "MD")
        await member.say("/menu" if channel == "telegram" else "meniu")
        topics = await member.tap("menu:about")
        titles = knowledge.topics["ro"]
        first = knowledge.topic_ids[0]
        assert topics[-1].options[0] == titles[first].title
        answer = await member.tap(f"topic:{first}")
        assert answer[-1].text == titles[first].answer
        more = await member.tap("about:0")
        page_two = await member.tap("about:1")
        assert page_two[-1].payloads[0] == f"topic:{knowledge.topic_ids[8]}"
        del more


async def test_a_question_is_answered_in_the_language_it_is_asked(backend, knowledge):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "ro", "RO")
        answer = await member.say("Когда был основан ChildPact?")
        assert answer[-1].text == knowledge.topics["ru"]["founding"].answer
        answer = await member.say("cand s-a infiintat childpact")
        assert answer[-1].text == knowledge.topics["ro"]["founding"].answer


async def test_two_questions_in_one_message_get_both_answers(backend, knowledge):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        answer = await member.say("Hi! When was ChildPact founded? And how can our NGO join?")
        topics = knowledge.topics["en"]
        assert [a.text for a in answer[-2:]] == [
            topics["founding"].answer,
            topics["get_involved"].answer,
        ]


async def test_a_long_topic_has_a_more_button(backend, knowledge):
    async with running(backend) as stack:
        member = Member(stack, "telegram")
        await onboard(member, "en")
        answer = await member.say("tell me the history of childpact year by year")
        assert "more:history" in answer[-1].payloads
        more = await member.tap("more:history")
        assert more[-1].text == knowledge.topics["en"]["history"].more


async def test_the_bot_says_when_it_does_not_know(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp", country_code="359")
        await onboard(member, "bg", "BG")
        answer = await member.say("какво ще е времето утре в София")
        bg = Translator("bg")
        assert answer[-1].text == bg(
            "I am not sure I can answer that. I answer questions about ChildPact: who we are, "
            "our members, our work and how to take part, and about this chat. You can look "
            "through the topics, or ask the secretariat."
        )
        assert "ask:secretariat" in answer[-1].payloads
        assert not [p for p in answer[-1].payloads if p.startswith("topic:")]  # nothing near
        async with stack.service.db.session() as session:
            [logged] = list(await session.scalars(select(UnansweredQuestion)))
        assert logged.question == "какво ще е времето утре в София"


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "hi! does unicef have open grants for ngos this month?"),  # another organisation
        ("ro", "buna ziua, cum obtin tutela pentru nepotul meu?"),  # a national procedure
        ("ru", "переведите пожалуйста этот текст на английский"),  # a translation request
    ],
)
async def test_a_question_for_someone_else_is_not_answered_with_a_topic(backend, locale, text):
    """Out of scope, even after a greeting: no topic's answer, the secretariat offered, and the
    question kept for the secretariat's unanswered list."""
    async with running(backend) as stack:
        member = Member(stack, "telegram")
        await onboard(member, locale)
        answer = await member.say(text)
        assert "ask:secretariat" in answer[-1].payloads
        assert answer[-1].text in {
            Translator(locale)(
                "I am not sure I can answer that. I answer questions about ChildPact: who we "
                "are, our members, our work and how to take part, and about this chat. You can "
                "look through the topics, or ask the secretariat."
            ),
            Translator(locale)(
                "I am not sure I understood. I answer questions about ChildPact: who we are, "
                "our members, our work and how to take part, and about this chat. Perhaps you "
                "meant one of these topics; if not, the secretariat can answer you."
            ),
        }
        async with stack.service.db.session() as session:
            [logged] = list(await session.scalars(select(UnansweredQuestion)))
        assert logged.question == text


async def test_a_near_miss_offers_the_closest_topics_and_the_secretariat(backend, knowledge):
    async with running(backend) as stack:
        member = Member(stack, "telegram")
        await onboard(member, "en")
        answer = await member.say("is there a podcast")
        assert answer[-1].text == Translator("en")(
            "I am not sure I understood. I answer questions about ChildPact: who we are, our "
            "members, our work and how to take part, and about this chat. Perhaps you meant one "
            "of these topics; if not, the secretariat can answer you."
        )
        offered = [p.partition(":")[2] for p in answer[-1].payloads if p.startswith("topic:")]
        assert 1 <= len(offered) <= 3 and "ask:secretariat" in answer[-1].payloads
        async with stack.service.db.session() as session:
            [logged] = list(await session.scalars(select(UnansweredQuestion)))
        assert logged.question == "is there a podcast"
        shown = await member.tap(f"topic:{offered[0]}")
        assert shown[-1].text == knowledge.topics["en"][offered[0]].answer


async def test_small_talk_gets_a_short_friendly_answer(backend, knowledge):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "uk", "MD")
        answer = await member.say("дякую!")
        assert answer[-1].text == knowledge.smalltalk["uk"]["thanks"].answer


@pytest.mark.parametrize(
    ("locale", "country", "disclosure"),
    [
        ("ro", "RO", "Vecinul își bate copilul în fiecare seară, aud cum plânge"),
        ("ru", "MD", "отчим избивает мальчика, ему 9 лет"),
        ("en", "RS", "i think a girl from our shelter is being sexually abused"),
    ],
)
async def test_a_disclosure_gets_the_helpline_at_once_and_alerts_the_focal_point(
    backend, locale, country, disclosure
):
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        member = Member(stack, "web")
        await onboard(member, locale, country)
        answer = texts(await member.say(disclosure))
        helpline = Features.load().safeguarding.helpline(country)
        assert helpline.emergency[0] in answer
        if helpline.number:
            assert helpline.number in answer
        t = Translator(locale)
        assert t("ChildPact's safeguarding focal point has been told about your message.") in answer
        alerts = stack.telegram.messages_to(ALERTS)
        assert len(alerts) == 1 and disclosure[:30] in (alerts[0].text or "")
        assert member.address not in (alerts[0].text or "")  # the member's id, not their address
        found = Features.load().safeguarding.assess(disclosure, [locale, "en"])
        assert found and found.level == ALERT
        assert f"Why: {KINDS[found.kind]}" in (alerts[0].text or "")  # what the focal point reads


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "hi, how do i join the coalition? the kids next door have been alone since friday"),
        ("en", "how do i join the coalition? my neighbour's girl, 15, is leaving for a job abroad "
               "with a man she met online"),
    ],
)  # fmt: skip
async def test_a_possible_disclosure_is_never_answered_with_a_topic_alone(backend, locale, text):
    """A possible concern: the helpline and the focal point offered, the question answered too,
    the focal point's chat told with the reason; the member can then write to the focal point."""
    features = Features.load()
    t = Translator(locale)
    found = features.safeguarding.assess(text, [locale, "en"])
    assert found and found.level == CONCERN  # what this test is about
    topic = understand(features, text, t, "RO", alerted=True).topic
    assert topic  # and the question in it has a topic
    async with running(
        backend, safeguarding_telegram_chat_id=ALERTS, admin_telegram_chat_id=STAFF
    ) as stack:
        member = Member(stack, "telegram")
        await onboard(member, locale, "RO")
        answer = await member.say(text)
        helpline = features.safeguarding.helpline("RO")
        assert t(
            "If you are worried about a child, you can call the child helpline {name}: {number}.",
            name=helpline.name,
            number=helpline.number,
        ) in texts(answer)
        assert FOCAL_POINT in answer[0].payloads
        assert answer[-1].text == features.knowledge.topics[locale][topic].answer
        notes = await posted_to(stack, ALERTS)
        note = notes[0].text or ""
        assert note.startswith("Possible safeguarding concern (lower priority)")
        assert f"Why: {KINDS[found.kind]}" in note and text in note
        assert not stack.telegram.messages_to(STAFF)

        invited = await member.tap(FOCAL_POINT)
        assert invited[-1].text == t(
            "Write your message here, in any language. ChildPact's safeguarding focal point will "
            "read it and answer you in this chat."
        )
        written = await member.say("Could you call me back this afternoon, please?")
        relayed = await posted_to(stack, STAFF)
        assert "call me back this afternoon" in (relayed[0].text or "")
        assert len(stack.telegram.messages_to(ALERTS)) == 1
        assert FOCAL_POINT not in [p for r in written for p in r.payloads]  # not offered again


async def test_professional_talk_about_children_raises_no_alert(backend):
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        await member.say("what is childpact's position on physical punishment?")
        await member.say("our webinar on child abuse prevention is next monday")
        assert not stack.telegram.messages_to(ALERTS)


async def test_a_member_from_a_country_without_a_named_line_gets_its_number_in_their_language(
    backend,
):
    """No English name reaches a Russian-speaking member of another country: the line is "the
    child helpline", and the number is the European one."""
    text = "hi, how do i join the coalition? the kids next door have been alone since friday"
    ru = Translator("ru")
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        member = Member(stack, "web")
        await onboard(member, "ru", "OTHER")
        answer = texts(await member.say(text))
        assert (
            ru(
                "If you are worried about a child, you can call the child helpline: {number}.",
                number="116 111",
            )
            in answer
        )
        assert "helpline" not in answer.lower()
