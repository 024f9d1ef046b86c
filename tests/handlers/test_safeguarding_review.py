"""The focal point's view of an alert: the reason, and "Not a concern" pressed in the
safeguarding chat, which puts it in the review list (and nothing else)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from bot.storage.models import SafeguardingFlag
from tests.dialog import Member
from tests.handlers.test_handoff import ADMIN, ALERTS, STAFF_USER, posted_to
from tests.handlers.test_menu import onboard
from tests.harness import Stack, running

_ids = itertools.count(880000001)


def press(stack: Stack, button: Any, chat: str, data: str) -> dict[str, Any]:
    """What Telegram sends when someone in a group presses a button of a message of ours."""
    group = {"id": int(chat), "title": "ChildPact safeguarding", "type": "supergroup"}
    origin = {
        "message_id": button.message_id, "from": stack.telegram.me, "chat": group,
        "date": int(button.time), "text": button.text,
    }  # fmt: skip
    query = {
        "id": str(next(_ids)), "from": STAFF_USER, "message": origin,
        "chat_instance": "-7701234567890123456", "data": data,
    }  # fmt: skip
    return {"update_id": next(_ids), "callback_query": query}


async def flags(stack: Stack) -> list[SafeguardingFlag]:
    async with stack.service.db.session() as session:
        return list(await session.scalars(select(SafeguardingFlag).order_by(SafeguardingFlag.id)))


async def test_not_a_concern_puts_the_alert_in_the_review_list(backend):
    async with running(
        backend, admin_telegram_chat_id=ADMIN, safeguarding_telegram_chat_id=ALERTS
    ) as stack:
        member = Member(stack, "telegram")
        await onboard(member, "en", "RO")
        await member.say("my neighbour beats the boy next door every night, I hear him screaming")
        [alert] = await posted_to(stack, ALERTS)
        [[button]] = alert.reply_markup["inline_keyboard"]
        assert button["text"] == "Not a concern" and "Why: " in (alert.text or "")
        [flag] = await flags(stack)
        assert flag.level == "alert" and flag.dismissed_at is None
        assert button["callback_data"] == f"sgnc:{flag.id}" and flag.words

        # pressed in another staff chat (a forwarded message): nothing is recorded
        update = press(stack, alert, ADMIN, button["callback_data"])
        assert (await stack.post_telegram(update)).status_code == 200
        update = press(stack, alert, ALERTS, button["callback_data"])
        assert (await stack.post_telegram(update)).status_code == 200
        ack = (await posted_to(stack, ALERTS, 2))[1].text or ""
        assert ack.startswith(f"alert #{flag.id} marked not a concern by Telegram user 777000111")
        [flag] = await flags(stack)
        assert flag.dismissed_at is not None and "777000111" in (flag.dismissed_by or "")
        assert not stack.telegram.messages_to(ADMIN)

        again = press(stack, alert, ALERTS, button["callback_data"])
        assert (await stack.post_telegram(again)).status_code == 200
        note = (await posted_to(stack, ALERTS, 3))[2].text or ""
        assert note.startswith(f"alert #{flag.id} is already in the review list")
        answered = {c.callback_query_id for c in stack.telegram.callbacks}
        assert {update["callback_query"]["id"], again["callback_query"]["id"]} <= answered

        # the review list is for people to read: the detector has learnt nothing from it, and
        # the same words from another member are an alert again
        other = Member(stack, "telegram")
        await onboard(other, "en", "RO")
        await other.say("my neighbour beats the boy next door every night, I hear him screaming")
        fourth = (await posted_to(stack, ALERTS, 4))[3].text or ""
        assert fourth.startswith("Safeguarding alert") and "Why: " in fourth
        assert [f.level for f in await flags(stack)] == ["alert", "alert"]
