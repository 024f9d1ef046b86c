"""The web chat reports what its member read: a poll from a page in sight says which replies it
showed (``seen``), and those become read, as Telegram and WhatsApp report theirs; what the page
has not fetched, another session's replies, and a page out of sight stay as they were. On both
backends."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from bot.storage.models import Delivery
from tests.webhook.chat.test_chat_limits import chat_app
from tests.webhook.chat.test_chat_locale import poll


async def statuses(service: Any, session: str) -> dict[int, str]:
    async with service.db.session() as db:
        rows = await db.execute(
            select(Delivery.id, Delivery.status).where(
                Delivery.channel == "web", Delivery.address == session
            )
        )
    return {row.id: row.status for row in rows}


async def greeted(http: httpx.AsyncClient, session: str) -> int:
    """The page's first message, and its poll until the bot's greeting came: the cursor."""
    message = {"session": session, "id": uuid.uuid4().hex, "text": "/start", "lang": "en-GB"}
    assert (await http.post("/chat/api/messages", json=message)).status_code == 202
    cursor = 0
    while not cursor:
        answer = await poll(http, session, 0, wait=10)
        assert answer["messages"], "no greeting"
        cursor = answer["cursor"]
    return cursor


async def test_a_page_in_sight_reports_the_replies_it_showed_as_read(backend):
    async with chat_app(backend, workers=True) as (service, http):
        reader, other = uuid.uuid4().hex, uuid.uuid4().hex
        cursor = await greeted(http, reader)
        await greeted(http, other)
        assert set((await statuses(service, reader)).values()) == {"delivered"}

        # A page out of sight polls without `seen`: nothing is read.
        await poll(http, reader, cursor, wait=0)
        assert set((await statuses(service, reader)).values()) == {"delivered"}

        # In sight, it says it showed up to its cursor: those are read, the other chat's not.
        answer = await http.get(
            "/chat/api/messages",
            params={"session": reader, "after": cursor, "wait": 0, "seen": cursor},
        )
        assert answer.status_code == 200, answer.text
        assert set((await statuses(service, reader)).values()) == {"read"}
        assert set((await statuses(service, other)).values()) == {"delivered"}

        # A reply the page has not fetched yet is never read, whatever `seen` claims.
        agreed = {"session": reader, "id": uuid.uuid4().hex, "payload": "consent:yes"}
        assert (await http.post("/chat/api/messages", json=agreed)).status_code == 202
        newer = await poll(http, reader, cursor, wait=10)
        assert newer["messages"]
        answer = await http.get(
            "/chat/api/messages",
            params={"session": reader, "after": cursor, "wait": 0, "seen": 10**9},
        )
        assert answer.status_code == 200, answer.text
        found = await statuses(service, reader)
        assert {found[m["id"]] for m in newer["messages"]} == {"delivered"}
        assert {status for row, status in found.items() if row <= cursor} == {"read"}


async def test_seen_must_be_a_reply_number(backend):
    async with chat_app(backend) as (_, http):
        answer = await http.get(
            "/chat/api/messages",
            params={"session": uuid.uuid4().hex, "after": 0, "wait": 0, "seen": -1},
        )
        assert answer.status_code == 422
