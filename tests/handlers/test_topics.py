"""Settings → Topics, as dialogs: switching topics on and off by taps and by numbers, in the
member's language, kept through "stop" and "start"."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.i18n import Translator
from bot.storage.models import Subscription, Topic
from tests.dialog import Member
from tests.handlers.test_menu import command, contact_of, onboard
from tests.harness import running

SEEDED = ["news", "events", "calls", "surveys"]


def topic(t: Translator, name: str) -> str:
    return t.pgettext("topic", name)


@pytest.mark.parametrize(("channel", "locale"), [("telegram", "ro"), ("whatsapp", "ka")])
async def test_a_member_switches_topics_and_keeps_them_through_stop_and_start(
    backend, channel, locale
):
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, locale, "GE" if locale == "ka" else "RO")
        t = Translator(locale)
        await member.say(command(member, "menu", locale))
        settings = await member.tap("menu:settings")
        assert "set:topics" in settings[-1].payloads and "set:timezone" in settings[-1].payloads

        listed = await member.tap("set:topics")
        assert listed[-1].payloads == [f"sub:{k}" for k in SEEDED] + ["set:back", "menu:main"]
        assert listed[-1].options[:2] == [f"✓ {topic(t, 'News')}", f"✓ {topic(t, 'Events')}"]
        assert (
            t("Which topics would you like to receive? Choose one to switch it on or off.")
            in listed[-1].text
        )

        off = await member.tap("sub:events")  # a tap on Telegram, "2" on WhatsApp
        assert t("You will no longer receive: {topic}.", topic=topic(t, "Events")) in off[-1].text
        assert off[-1].options[:2] == [f"✓ {topic(t, 'News')}", f"✗ {topic(t, 'Events')}"]

        await member.say(command(member, "stop", locale))
        await member.say(command(member, "menu", locale))
        await member.tap("menu:settings")
        stopped = await member.tap("set:topics")
        assert t("The news is stopped: you receive none until you write {start}.",
                 start=command(member, "start", locale)) in stopped[-1].text  # fmt: skip
        await member.say(command(member, "start", locale))
        assert (await contact_of(member)).status == "active"

        await member.say(command(member, "menu", locale))
        await member.tap("menu:settings")
        again = await member.tap("set:topics")
        assert [o[0] for o in again[-1].options[:4]] == ["✓", "✗", "✓", "✓"]
        on = await member.tap("sub:events")
        assert t("You will receive: {topic}.", topic=topic(t, "Events")) in on[-1].text
        assert on[-1].options[1] == f"✓ {topic(t, 'Events')}"

        contact = await contact_of(member)
        async with stack.service.db.session() as session:
            stored = (
                await session.execute(
                    select(Topic.key, Subscription.subscribed, Subscription.chosen_at)
                    .join(Topic, Topic.id == Subscription.topic_id)
                    .where(Subscription.contact_id == contact.id)
                )
            ).all()
        # Only the choice made is stored, with its time; the other topics keep their default.
        assert [(key, subscribed) for key, subscribed, _ in stored] == [("events", True)]
        assert stored[0].chosen_at is not None


async def test_an_archived_topic_leaves_the_list_and_a_stale_tap_is_answered(backend):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        await member.say("menu")
        await member.tap("menu:settings")
        await member.tap("set:topics")
        async with stack.service.db.session() as session, session.begin():
            calls = await session.scalar(select(Topic).where(Topic.key == "calls"))
            assert calls is not None
            from bot.members import topics

            topics.archive(calls)
        stale = await member.tap("sub:calls")
        assert "This topic is no longer offered." in stale[-1].text
        assert "sub:calls" not in stale[-1].payloads
