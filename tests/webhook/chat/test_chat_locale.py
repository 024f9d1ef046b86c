"""The page's own words follow the language the member chose in the conversation: every poll
says which, on both backends, and says nothing before they chose (their browser's is a hint)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from bot.i18n import Translator
from tests.webhook.chat.test_chat_limits import chat_app


async def test_the_poll_gives_the_language_the_member_chose(backend):
    ro = Translator("ro")
    async with chat_app(backend, workers=True) as (_, http):
        session, cursor = uuid.uuid4().hex, 0

        async def send(until: str, **body: Any) -> str | None:
            """Send as the page does, then poll as it does until a reply holds ``until``; the
            locale the last poll gave."""
            nonlocal cursor
            message = {"session": session, "id": uuid.uuid4().hex, "lang": "en-GB", **body}
            assert (await http.post("/chat/api/messages", json=message)).status_code == 202
            texts: list[str] = []
            while not any(until in text for text in texts):
                answer = await poll(http, session, cursor, wait=10)
                assert answer["messages"], f"no reply holding {until!r}"
                texts += [m["text"] for m in answer["messages"]]
                cursor = answer["cursor"]
            return answer["locale"]

        assert await send("Do you agree?", text="/start") is None  # the browser's is no choice
        assert await send("Which language", payload="consent:yes") is None
        assert await send(ro("Which country do you work in?"), payload="lang:ro") == "ro"
        quiet = await poll(http, session, cursor, wait=0)  # a later load, with nothing new
        assert (quiet["messages"], quiet["locale"]) == ([], "ro")
        assert (await poll(http, uuid.uuid4().hex, 0, wait=0))["locale"] is None  # another one


async def poll(http: httpx.AsyncClient, session: str, after: int, wait: float) -> dict[str, Any]:
    params: dict[str, Any] = {"session": session, "after": after, "wait": wait}
    response = await http.get("/chat/api/messages", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
