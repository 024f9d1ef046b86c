"""The inbound bench's load: members' conversations as Telegram updates, serialized before
the clock starts, and two ways to send them to the webhook (closed loop and paced)."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.common import (
    SECRET,
)

HEADERS = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}

ORGANISATIONS = (
    "Save the Children Moldova", "Hope and Homes for Children Romania",
    "Partnerships for Every Child", "Terre des hommes Albania", "World Vision Armenia",
    "SOS Children's Villages Bosnia and Herzegovina", "For Our Children Foundation",
)  # fmt: skip
QUESTIONS = (
    "How can our organisation become a member of the coalition?",
    "When is the next regional meeting on deinstitutionalisation?",
    "Where can I find the annual report in my language?",
    "Is there funding for small NGOs working with children with disabilities?",
    "Who is the contact person for Moldova?",
)


@dataclass(slots=True)
class Item:
    """One webhook request: a member's update, serialized before the clock starts."""

    update_id: int
    member: int
    body: bytes


@dataclass(slots=True)
class Sent:
    update_id: int
    sent_at: float  # wall clock, comparable with the service's timestamps
    latency: float  # seconds to the HTTP answer
    status: int | str

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


def conversation(builder: Any, rng: random.Random) -> list[dict[str, Any]]:
    """What one member sends: onboarding by buttons and text, then the menu and questions."""
    from bot.countries import MEMBER_COUNTRIES
    from bot.i18n import LOCALES

    return [
        builder.message("/start"),
        builder.callback_query("consent:yes"),
        builder.callback_query(f"lang:{rng.choice(LOCALES)}"),
        builder.callback_query(f"country:{rng.choice(MEMBER_COUNTRIES)}"),
        builder.message(rng.choice(ORGANISATIONS)),
        builder.callback_query("menu:about"),
        builder.message(rng.choice(QUESTIONS)),
        builder.message("/help"),
        builder.callback_query("menu:settings"),
        builder.message(rng.choice(QUESTIONS)),
    ]


def build_load(members: int, total: int, seed: int) -> list[Item]:
    """``total`` updates from ``members`` members: everybody's first message (in a random
    order), then everybody's second, and so on, so that chats interleave as in real life."""
    from tests.fakes.telegram_updates import UpdateBuilder

    rng = random.Random(seed)
    base = rng.randrange(10**6, 10**7) * 1000
    chats: list[list[dict[str, Any]]] = []
    for n in range(members):
        builder = UpdateBuilder(
            chat_id=5_000_000_000 + n,
            first_name=f"Member{n}",
            username=f"member_{n}",
            language_code=rng.choice(("ro", "ru", "en", "sq", "hy", "ka", "uk", None)),
            first_update_id=base + n * 100,
        )
        chats.append(conversation(builder, rng))
    per_member = len(chats[0])
    if total > members * per_member:
        raise SystemExit(
            f"{total} requests need more than {members} members x {per_member} messages: "
            "raise --members"
        )
    items: list[Item] = []
    for turn in range(per_member):
        order = list(range(members))
        rng.shuffle(order)
        for n in order:
            update = chats[n][turn]
            items.append(Item(update["update_id"], n, json.dumps(update).encode()))
            if len(items) == total:
                return items
    return items


async def post(session: aiohttp.ClientSession, url: str, item: Item, due: float) -> Sent:
    """Send one update; latency counts from ``due`` (perf_counter), when it should have left."""
    wall = time.time() - (time.perf_counter() - due)
    try:
        async with session.post(url, data=item.body, headers=HEADERS) as response:
            await response.read()
            status: int | str = response.status
    except Exception as exc:  # counted as an error; the run goes on
        status = type(exc).__name__
    return Sent(item.update_id, wall, time.perf_counter() - due, status)


async def closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    items: Sequence[Item],
    connections: int,
    seconds: float | None = None,
) -> list[Sent]:
    """As fast as the server answers with ``connections`` requests in flight, until the items
    or the ``seconds`` run out."""
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds if seconds else math.inf
    queue = iter(items)
    last: dict[int, asyncio.Future[None]] = {}
    results: list[Sent] = []

    async def connection() -> None:
        for item in queue:
            before = last.get(item.member)
            done = last[item.member] = loop.create_future()
            try:
                if before is not None and not before.done():
                    await before
                if time.perf_counter() >= deadline:
                    return
                results.append(await post(session, url, item, time.perf_counter()))
            finally:
                done.set_result(None)

    await asyncio.gather(*(connection() for _ in range(connections)))
    return results


async def paced(
    session: aiohttp.ClientSession,
    url: str,
    items: Sequence[Item],
    rate: float,
    seconds: float | None = None,
) -> list[Sent]:
    """Open loop: one request every 1/rate s whatever the answers. Latency counts from when a
    request was due, so a slow server cannot hide its queue (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    last: dict[int, asyncio.Future[None]] = {}
    tasks: list[asyncio.Task[Sent]] = []

    async def one(item: Item, due: float, before: Any, done: asyncio.Future[None]) -> Sent:
        try:
            if before is not None and not before.done():
                await before
            return await post(session, url, item, due)
        finally:
            done.set_result(None)

    start = time.perf_counter()
    for i, item in enumerate(items):
        due = start + i / rate
        if seconds and due - start >= seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        before = last.get(item.member)
        done = last[item.member] = loop.create_future()
        tasks.append(asyncio.create_task(one(item, due, before, done)))
    return list(await asyncio.gather(*tasks))
