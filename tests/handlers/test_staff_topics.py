"""The Telegram composer aims a broadcast at topics: it reaches the members who receive any of
them."""

from __future__ import annotations

from sqlalchemy import select

from bot.members import topics
from bot.storage.models import Broadcast, Contact, Topic
from tests.conftest import Backend
from tests.dialog import Member, texts
from tests.handlers.test_staff import account, members
from tests.harness import running


async def test_the_composer_sends_to_who_receives_a_topic(backend: Backend) -> None:
    async with running(backend) as stack:
        await members(stack)
        async with stack.service.db.session() as session, session.begin():
            georgian = await session.scalar(select(Contact.id).where(Contact.address == "31003"))
            calls = await session.scalar(select(Topic.id).where(Topic.key == "calls"))
            assert georgian is not None and calls is not None
            await topics.choose(session, georgian, calls, False)
        _person, code = await account(stack)
        elena = Member(stack, "telegram", lang="en")
        await elena.say(f"/staff {code}")
        await elena.say("/news")
        menu = await elena.say("A call for proposals is open.")
        assert "staffnews:topics" in menu[-1].payloads
        listed = await elena.tap("staffnews:topics")
        assert "staffnews:topic:calls" in listed[-1].payloads
        ticked = await elena.tap("staffnews:topic:calls")
        assert "✓ Calls for proposals" in ticked[-1].options
        back = await elena.tap("staffnews:menu")
        assert any("Topics: calls" in label for label in back[-1].options)
        preview = await elena.tap("staffnews:preview")
        assert "2 members will get it" in texts(preview)  # the Georgian member left calls
        async with stack.service.db.session() as session:
            draft = await session.scalar(select(Broadcast).order_by(Broadcast.id.desc()))
            assert draft is not None and draft.audience.get("topics") == ["calls"]
