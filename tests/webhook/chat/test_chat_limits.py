"""The web chat's limits, on both backends: a body above a few kilobytes is refused (413) on
every route before it is read; a visitor, a client address and the new visitors from one
address each have a rate (429 with Retry-After), shared by every process through Redis; the
client address comes from a proxy only when the operator listed it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select

from app.web import create_app
from bot.config import Settings
from bot.storage.models import Inbound
from tests.conftest import Backend
from tests.harness import start_service


@asynccontextmanager
async def chat_app(
    backend: Backend, *, workers: bool = False, **limits: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app on ``backend``; with ``workers``, the bot also answers what it is sent."""
    values: dict[str, Any] = {"trusted_proxies": "127.0.0.1", **limits}
    settings = Settings(
        _env_file=None, database_url=backend.database_url, redis_url=backend.redis_url, **values
    )
    service = await start_service(backend, settings, workers=workers)
    app = create_app(settings, service=service)
    app.state.service = service
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http:
            yield service, http
    finally:
        await service.stop()


def visitor() -> str:
    return uuid.uuid4().hex


async def say(
    http: httpx.AsyncClient, session: str, text: str = "hello", client: str = "192.0.2.1"
):
    return await http.post(
        "/chat/api/messages",
        json={"session": session, "id": uuid.uuid4().hex[:16], "text": text},
        headers={"X-Forwarded-For": client},
    )


async def stored(service: Any) -> int:
    async with service.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Inbound)) or 0)


async def test_a_large_body_is_refused_on_every_route_before_it_is_read(backend):
    async with chat_app(backend) as (service, http):
        big = (
            b'{"session":"aaaaaaaaaaaaaaaaaaaa","id":"1","text":"x","junk":['
            + b"1," * 1_500_000
            + b"1]}"
        )
        refused = await http.post(
            "/chat/api/messages", content=big, headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == 413

        # Without a declared length (chunked), the body is cut off as it arrives.
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(big), 65536):
                yield big[start : start + 65536]

        chunked = await http.post("/chat/api/messages", content=chunks())
        assert chunked.status_code == 413
        for path in ("/chat", "/chat/embed.js", f"/chat/api/messages?session={visitor()}&wait=0"):
            answer = await http.request("GET", path, content=b"x" * 20_000)
            assert answer.status_code == 413, path
        assert await stored(service) == 0
        assert (await say(http, visitor())).status_code == 202  # a real message still goes


async def test_a_visitor_writing_too_fast_is_paused_and_others_are_not(backend):
    async with chat_app(backend, web_chat_visitor_per_minute=5) as (service, http):
        flooder = visitor()
        answers = [(await say(http, flooder, f"flood {i}")).status_code for i in range(8)]
        assert answers == [202] * 5 + [429] * 3
        paused = await say(http, flooder)
        assert paused.status_code == 429 and int(paused.headers["Retry-After"]) >= 1
        assert await stored(service) == 5
        assert (await say(http, visitor())).status_code == 202


async def test_one_address_has_a_rate_and_a_cap_on_new_visitors(backend):
    async with chat_app(
        backend, web_chat_client_per_minute=1000, web_chat_new_visitors_per_hour=3
    ) as (service, http):
        first = [visitor() for _ in range(4)]
        answers = [(await say(http, s, "/start")).status_code for s in first]
        assert answers == [202, 202, 202, 429]  # the fourth new visitor from one address
        assert (await say(http, first[0], "again")).status_code == 202  # known ones go on
        assert (await say(http, first[3], "/start", client="198.51.100.9")).status_code == 202

    async with chat_app(backend, web_chat_client_per_minute=4) as (service, http):
        # (Other addresses than above: under Redis, the buckets outlive one app.)
        answers = [(await say(http, visitor(), client="192.0.2.50")).status_code for _ in range(6)]
        assert answers == [202] * 4 + [429] * 2
        assert (await say(http, visitor(), client="198.51.100.50")).status_code == 202


async def test_the_limits_hold_across_processes(backend):
    if backend.redis_url is None:
        return  # one process: the in-process coordinator is the whole truth
    async with (
        chat_app(backend, web_chat_visitor_per_minute=4) as (_, one),
        chat_app(backend, web_chat_visitor_per_minute=4) as (_, two),
    ):
        flooder = visitor()
        answers = [(await say(http, flooder, f"m{i}")).status_code
                   for i, http in zip(range(6), [one, two] * 3, strict=True)]  # fmt: skip
        assert answers == [202] * 4 + [429] * 2


async def test_a_forwarded_address_counts_only_from_a_listed_proxy(backend):
    async with chat_app(backend, web_chat_new_visitors_per_hour=2, trusted_proxies="") as (_, http):
        # Not behind a listed proxy: every claimed address is the same peer.
        answers = [(await say(http, visitor(), client=f"203.0.113.{i}")).status_code
                   for i in range(3)]  # fmt: skip
        assert answers == [202, 202, 429]
