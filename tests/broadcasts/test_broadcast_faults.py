"""A broadcast survives its process being killed: after the restart every member gets it, and
only messages that were in flight at the moment of the kill can arrive twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bot import broadcasts
from bot.storage.db import Database
from bot.storage.models import Broadcast, Contact, Delivery
from tests.backends import require_postgres
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import eventually
from tests.processes import Process, channel_env, postgres_database

MEMBERS = 2000


@asynccontextmanager
async def database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
        return
    async with postgres_database(require_postgres()) as url:
        yield url


async def prepare(url: str) -> int:
    """Members and a launched broadcast, as the dashboard leaves them."""
    db = Database(url)
    await db.migrate()
    async with db.session() as session, session.begin():
        await session.execute(
            insert(Contact),
            [
                {"channel": "telegram", "address": str(800000 + n), "status": "active",
                 "locale": ("ro", "ru", "en")[n % 3], "flow_data": {}, "choices": []}
                for n in range(MEMBERS)
            ],
        )  # fmt: skip
        broadcast = Broadcast(
            title="crash", base_locale="en", texts={}, buttons=[], audience={}, templates={}
        )
        session.add(broadcast)
        broadcasts.set_text(broadcast, "en", "The General Assembly meets on 12 May.")
        broadcasts.set_text(broadcast, "ro", "Adunarea Generală are loc pe 12 mai.")
        await session.flush()
        await broadcasts.launch(
            session, broadcast, None, audience_size=MEMBERS, approval_above=None
        )
        broadcast_id = broadcast.id
    await db.dispose()
    return broadcast_id


async def in_flight(url: str, broadcast_id: int, statuses: tuple[str, ...] = ("sending",)) -> int:
    db = Database(url)
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).where(
                Delivery.broadcast_id == broadcast_id, Delivery.status.in_(statuses)
            )
        )
    await db.dispose()
    return int(count or 0)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_killed_in_the_middle_of_a_broadcast_every_member_gets_it_after_restart(
    kind: str, tmp_path: Path
) -> None:
    async with (
        FakeTelegram(rate=None, chat_rate=None) as fake,
        FakeTwilio() as twilio,
        database(kind, tmp_path) as url,
    ):
        broadcast_id = await prepare(url)
        env = {**channel_env(fake.url, twilio.url), "DATABASE_URL": url, "TELEGRAM_RATE": "300"}
        process = Process(env, tmp_path / "serve.log")
        await process.start()
        try:
            await eventually(lambda: len(fake.messages) >= MEMBERS // 4, timeout=60)
            process.kill()
            reached = len(fake.messages)
            flying = await in_flight(url, broadcast_id)
            assert reached < MEMBERS, "the kill came too late to test anything"

            await process.start()
            await eventually(lambda: len({m.chat_id for m in fake.messages}) == MEMBERS, timeout=90)

            async def recorded() -> bool:
                # Every send's outcome written down: anything sent twice has reached the fake.
                return await in_flight(url, broadcast_id, ("queued", "sending")) == 0

            await eventually(recorded, timeout=60)
        finally:
            process.stop()
        copies = Counter(m.chat_id for m in fake.messages)
        doubled = sum(n - 1 for n in copies.values())
        print(
            f"\n{kind}: killed after {reached} of {MEMBERS} messages with {flying} in flight; "
            f"after restart all {MEMBERS} members got it, {doubled} of them twice"
        )
        assert doubled <= flying
        assert max(copies.values()) <= 2
