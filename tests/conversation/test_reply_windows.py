"""Whether a broadcast may be collecting replies, as a process keeps it in memory: a broadcast
launched by another process is seen at once, one nobody announced within the recheck, a
scheduled one from its time, and a window no longer once it has closed. On SQLite with the
in-process coordinator, then on PostgreSQL with two Redis coordinators (two processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.conversation.reply_windows import ReplyWindows
from bot.coordination import Coordinator, create_coordinator
from bot.coordination.keys import BROADCASTS
from bot.storage.db import Database
from bot.storage.models import Broadcast, Delivery, utcnow
from tests.conftest import Backend
from tests.harness import eventually


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def processes(backend: Backend) -> AsyncIterator[tuple[Coordinator, Coordinator]]:
    """This process's coordinator and another process's (the same one when embedded)."""
    ours = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
    await ours.start()
    theirs = ours
    if backend.redis_url is not None:
        theirs = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
        await theirs.start()
    try:
        yield ours, theirs
    finally:
        if theirs is not ours:
            await theirs.close()
        await ours.close()


async def is_open(db: Database, windows: ReplyWindows) -> bool:
    async with db.session() as session:
        return await windows.open(session)


async def add_broadcast(
    db: Database, status: str, hours: int, sent_at: datetime | None = None, **fields: object
) -> int:
    async with db.session() as session, session.begin():
        broadcast = Broadcast(title="Your views", status=status, collect_replies_hours=hours,
                              **fields)  # fmt: skip
        session.add(broadcast)
        await session.flush()
        if sent_at is not None:
            session.add(
                Delivery(broadcast_id=broadcast.id, channel="telegram", address="42",
                         priority=5, message={"text": "Tell us"}, status="sent",
                         status_rank=2, sent_at=sent_at)
            )  # fmt: skip
        return broadcast.id


async def test_a_broadcast_sent_by_another_process_is_seen_at_once(
    db: Database, processes: tuple[Coordinator, Coordinator]
) -> None:
    ours, theirs = processes
    clock = Clock()
    windows = ReplyWindows(ours, now=clock, recheck=timedelta(days=1))
    assert not await is_open(db, windows)
    await add_broadcast(db, "sent", 0, sent_at=clock.now)  # collects no replies
    await add_broadcast(db, "draft", 24)  # not sent yet: its launch will say so
    await theirs.notify(BROADCASTS)
    await eventually(lambda: windows.told)
    assert not await is_open(db, windows)

    await add_broadcast(db, "sending", 24)
    await theirs.notify(BROADCASTS)
    # No time passes here: only the notify can tell this process.
    assert await eventually(lambda: is_open(db, windows))


async def test_a_change_nobody_announced_is_seen_after_the_recheck(
    db: Database, processes: tuple[Coordinator, Coordinator]
) -> None:
    clock = Clock()
    windows = ReplyWindows(processes[0], now=clock, recheck=timedelta(seconds=30))
    assert not await is_open(db, windows)
    await add_broadcast(db, "sent", 24, sent_at=clock.now, finished_at=clock.now)
    clock.now += timedelta(seconds=29)
    assert not await is_open(db, windows)  # kept in memory: no query per message
    clock.now += timedelta(seconds=2)
    assert await is_open(db, windows)


async def test_a_window_closes_with_its_hours_and_a_scheduled_one_opens_at_its_time(
    db: Database, processes: tuple[Coordinator, Coordinator]
) -> None:
    ours, _ = processes
    clock = Clock()
    windows = ReplyWindows(ours, now=clock, recheck=timedelta(days=1))
    sent = clock.now - timedelta(hours=1)
    await add_broadcast(db, "sent", 2, sent_at=sent, finished_at=sent)
    assert await is_open(db, windows)
    clock.now += timedelta(minutes=59)
    assert await is_open(db, windows)
    clock.now += timedelta(minutes=2)  # two hours after it reached the member
    assert not await is_open(db, windows)

    starts = clock.now + timedelta(hours=3)
    later = await add_broadcast(db, "scheduled", 24, scheduled_at=starts)
    await ours.notify(BROADCASTS)
    await eventually(lambda: windows.told)
    assert not await is_open(db, windows)  # nothing of it can reach anyone before its time
    clock.now = starts
    assert await is_open(db, windows)

    # Cancelled with a copy still on its way: that copy may yet open a window.
    async with db.session() as session, session.begin():
        await session.execute(
            update(Broadcast).where(Broadcast.id == later)
            .values(status="cancelled", cancelled_at=clock.now)
        )  # fmt: skip
        session.add(
            Delivery(broadcast_id=later, channel="telegram", address="43", priority=5,
                     message={"text": "Tell us"}, status="sending", status_rank=1)
        )  # fmt: skip
    await ours.notify(BROADCASTS)
    await eventually(lambda: windows.told)
    assert await is_open(db, windows)
    async with db.session() as session, session.begin():
        await session.execute(
            update(Delivery).where(Delivery.broadcast_id == later)
            .values(status="failed", status_rank=5)
        )  # fmt: skip
    clock.now += timedelta(seconds=1)
    await ours.notify(BROADCASTS)
    assert await eventually(lambda: _closed(db, windows))


async def _closed(db: Database, windows: ReplyWindows) -> bool:
    return not await is_open(db, windows)
