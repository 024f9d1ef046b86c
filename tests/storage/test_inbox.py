"""The inbox's group commit: many webhook requests' messages stored together, each told its own
outcome, and one bad message refused alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.storage.db import Database
from bot.storage.inbox import Inbox
from bot.storage.models import Inbound, utcnow


def row(platform_id: str, address: str | None = "412345678") -> dict[str, object]:
    return {
        "channel": "telegram", "platform_id": platform_id, "address": address,
        "message": {"text": "hello"}, "status": "pending", "attempts": 0,
        "received_at": utcnow(),
    }  # fmt: skip


async def stored_ids(db: Database) -> list[str]:
    async with db.session() as session:
        found = await session.scalars(select(Inbound.platform_id).order_by(Inbound.platform_id))
        return list(found.all())


async def test_messages_arriving_together_are_each_stored_once(db: Database) -> None:
    inbox = Inbox(db)
    ids = await asyncio.gather(*(inbox.store(row(f"u{n:03}")) for n in range(150)))
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 150
    assert await stored_ids(db) == [f"u{n:03}" for n in range(150)]
    # The platform repeats some of them, alongside new ones: the repeats are no new rows.
    again = await asyncio.gather(*(inbox.store(row(f"u{n:03}")) for n in (3, 150, 7)))
    assert again[0] is None and isinstance(again[1], int) and again[2] is None
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Inbound)) == 151


async def test_the_same_update_twice_in_one_batch_is_stored_once(db: Database) -> None:
    inbox = Inbox(db)
    first, second = await asyncio.gather(inbox.store(row("dup")), inbox.store(row("dup")))
    assert isinstance(first, int) and second is None
    assert await stored_ids(db) == ["dup"]


async def test_a_message_that_cannot_be_stored_fails_alone(db: Database) -> None:
    inbox = Inbox(db)
    results = await asyncio.gather(
        inbox.store(row("a1")),
        inbox.store(row("bad", address=None)),  # refused by the database (NOT NULL)
        inbox.store(row("a2")),
        return_exceptions=True,
    )
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert isinstance(results[1], Exception)  # its webhook answers 503; the platform retries
    assert await stored_ids(db) == ["a1", "a2"]
    # The inbox goes on storing afterwards.
    assert isinstance(await inbox.store(row("a3")), int)


@pytest.mark.parametrize("count", [1, 250])
async def test_every_request_waits_for_its_own_commit(db: Database, count: int) -> None:
    """Whatever the batch's size (past one statement's rows too), once ``store`` returns, the
    row is there for any other connection to read."""
    inbox = Inbox(db)
    await asyncio.gather(*(inbox.store(row(f"c{n:03}")) for n in range(count)))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Inbound)) == count
