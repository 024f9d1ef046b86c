"""One set of coordination tests, run over the in-process and the Redis backends.

In process, time is a clock the test moves, so every figure is exact. Redis keeps its own
clock, so there a test brackets what it checks with the time it measured around the calls:
a slow round trip on a busy machine widens the bracket, and never fails the test.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from bot.coordination import Bucket, Coordinator, create_coordinator
from bot.coordination.memory import MemoryCoordinator
from tests.backends import require_redis, unique_prefix
from tests.clock import VirtualClock


class World:
    """Processes that share their coordination, and the time that passes for them.

    Calling it starts a "process": in memory that is the same coordinator (one process);
    over Redis it is a new client, as in another process.
    """

    def __init__(self, url: str | None, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.clock = None if url else VirtualClock()
        self._shared = MemoryCoordinator(self.clock) if self.clock else None
        self.started: list[Coordinator] = []

    async def __call__(self) -> Coordinator:
        coordinator = self._shared or create_coordinator(self.url, self.prefix)
        await coordinator.start()
        self.started.append(coordinator)
        return coordinator

    def now(self) -> float:
        return self.clock() if self.clock else time.monotonic()

    async def later(self, seconds: float) -> None:
        """Let ``seconds`` pass (at least)."""
        if self.clock:
            self.clock.advance(seconds)
            await asyncio.sleep(0)  # as a real wait would, let other tasks run
        else:
            await asyncio.sleep(seconds)

    def since(self, began: float) -> float:
        """Seconds since ``began`` (from ``now()``), at least as many as passed for Redis."""
        return self.now() - began


MS = 0.001  # Redis tells a pause's time left in whole milliseconds


@pytest.fixture(params=["memory", "redis"])
async def spawn(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    url = require_redis() if request.param == "redis" else None
    world = World(url, unique_prefix())
    yield world
    for coordinator in world.started:
        await coordinator.close()
    if url:
        async with redis.asyncio.from_url(url) as client:
            keys = [key async for key in client.scan_iter(match=world.prefix + "*")]
            if keys:
                await client.delete(*keys)


@pytest.fixture
async def coordinator(spawn: World) -> Coordinator:
    return await spawn()


async def granted_within(
    world: World, coordinator: Coordinator, bucket: Bucket, seconds: float
) -> int:
    """Take one token at a time for ``seconds``, waiting as told; count the grants."""
    granted = 0
    began = world.now()
    while world.since(began) < seconds:
        wait = await coordinator.take([bucket])
        if wait == 0:
            granted += 1
        else:
            await world.later(min(max(wait, 0.001), 0.05))
    return granted


class TestCoordinator:
    async def test_ping(self, coordinator: Coordinator) -> None:
        assert await coordinator.ping()

    async def test_lock_is_exclusive_until_released(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        lease = await a.try_lock("contact:1")
        assert lease is not None and lease.key == "contact:1"
        assert await b.try_lock("contact:1") is None
        assert await b.try_lock("contact:2") is not None
        await lease.release()
        assert await b.try_lock("contact:1") is not None

    async def test_lock_lapses_when_its_holder_dies(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        began = spawn.now()
        assert await a.try_lock("contact:1", ttl=0.5) is not None  # never released
        held = await b.try_lock("contact:1") is None
        assert held or spawn.since(began) >= 0.5  # held, unless the check came past its ttl
        await spawn.later(0.6)
        assert await b.try_lock("contact:1") is not None

    async def test_only_the_holder_releases_or_extends(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        stale = await a.try_lock("contact:1", ttl=0.1)
        assert stale is not None
        await spawn.later(0.2)
        current = await b.try_lock("contact:1", ttl=5)
        assert current is not None
        await stale.release()
        assert not await stale.extend(5)
        assert await a.try_lock("contact:1") is None
        await current.release()
        await current.release()  # twice is harmless
        assert await a.try_lock("contact:1") is not None

    async def test_extend_keeps_the_lock(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        began = spawn.now()
        lease = await a.try_lock("contact:1", ttl=1.0)
        assert lease is not None
        await spawn.later(0.5)
        extended = spawn.now()
        assert await lease.extend(1.0) or spawn.since(began) >= 1.0
        await spawn.later(0.7)
        # Past the first ttl, within the second (unless the machine stalled past it too).
        held = await b.try_lock("contact:1") is None
        assert held or spawn.since(extended) >= 1.0
        await spawn.later(1.1)
        assert await b.try_lock("contact:1") is not None
        assert not await lease.extend(1)

    async def test_bucket_starts_full_then_says_how_long_to_wait(self, spawn: World) -> None:
        coordinator = await spawn()
        bucket = Bucket("telegram:chat:1", rate=1, burst=2)
        began = spawn.now()
        assert await coordinator.take([bucket]) == 0.0
        assert await coordinator.take([bucket]) == 0.0
        wait = await coordinator.take([bucket])
        # A token a second: the third comes a second after the bucket emptied.
        assert 1.0 - spawn.since(began) <= wait <= 1.0
        await spawn.later(wait)
        assert await coordinator.take([bucket]) == 0.0

    async def test_bucket_grants_its_rate_over_time(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        bucket = Bucket("telegram:global", rate=50, burst=100)
        assert await a.take_batch(bucket, 100) == 100
        emptied = spawn.now()
        await spawn.later(0.5)
        # Another process finds what half a second refilled: 25, or more if it came later.
        granted = await b.take_batch(bucket, 100)
        assert 25 <= granted <= bucket.rate * spawn.since(emptied) + 1

    async def test_take_over_several_buckets_is_all_or_nothing(self, spawn: World) -> None:
        coordinator = await spawn()
        roomy = Bucket("telegram:global", rate=1, burst=5)
        tight = Bucket("telegram:chat:1", rate=1, burst=1)
        began = spawn.now()
        assert await coordinator.take([roomy, tight]) == 0.0
        wait = await coordinator.take([roomy, tight])
        assert 1.0 - spawn.since(began) <= wait <= 1.0
        left = await coordinator.take_batch(roomy, 10)
        assert 4 <= left <= 4 + spawn.since(began)  # the denied take consumed nothing
        assert await coordinator.take([roomy, tight], n=0) == 0.0

    async def test_take_waits_for_the_slowest_bucket(self, spawn: World) -> None:
        coordinator = await spawn()
        slow = Bucket("slow", rate=1, burst=2)
        fast = Bucket("fast", rate=100, burst=2)
        began = spawn.now()
        assert await coordinator.take([slow, fast], n=2) == 0.0
        wait = await coordinator.take([slow, fast], n=2)
        assert 2.0 - spawn.since(began) <= wait <= 2.0

    async def test_unlimited_buckets_never_limit(self, coordinator: Coordinator) -> None:
        free = [Bucket("a", rate=0, burst=0), Bucket("b", rate=math.inf, burst=1)]
        for _ in range(20):
            assert await coordinator.take(free, n=3) == 0.0
        assert await coordinator.take_batch(free[1], 1000) == 1000
        limited = Bucket("c", rate=1, burst=1)
        assert await coordinator.take([*free, limited]) == 0.0
        assert await coordinator.take([*free, limited]) > 0

    async def test_impossible_takes_are_refused(self, coordinator: Coordinator) -> None:
        with pytest.raises(ValueError):
            await coordinator.take([Bucket("a", rate=1, burst=2)], n=3)
        with pytest.raises(ValueError):
            await coordinator.take([Bucket("a", 1, 2), Bucket("a", 1, 2)])
        with pytest.raises(ValueError):
            await coordinator.take_batch(Bucket("a", 1, 2), -1)

    async def test_take_batch_grants_what_there_is(self, spawn: World) -> None:
        coordinator = await spawn()
        bucket = Bucket("whatsapp:account", rate=1, burst=5)
        began = spawn.now()
        assert await coordinator.take_batch(bucket, 3) == 3
        second = await coordinator.take_batch(bucket, 3)
        assert 2 <= second <= 2 + spawn.since(began)  # what is left, and what refilled since
        emptied = spawn.now()
        await spawn.later(2.1)
        granted = await coordinator.take_batch(bucket, 3)
        assert 2 <= granted <= 1 + bucket.rate * spawn.since(emptied)
        assert await coordinator.take_batch(bucket, 0) == 0

    async def test_take_each_takes_from_every_bucket_that_has_a_token(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        chats = [Bucket(f"telegram:chat:{n}", rate=1, burst=1) for n in range(3)]
        free = Bucket("free", rate=0, burst=0)
        began = spawn.now()
        assert await a.take_each([chats[0], free]) == [0.0, 0.0]
        waits = await b.take_each([*chats, free])  # another process sees the first take
        assert 1.0 - spawn.since(began) <= waits[0] <= 1.0
        assert waits[1:] == [0.0, 0.0, 0.0]  # one bucket's refusal stops no other
        assert await a.take_each([]) == []
        await spawn.later(waits[0])
        assert await a.take_each(chats[:1]) == [0.0]
        with pytest.raises(ValueError):
            await a.take_each([Bucket("tiny", rate=1, burst=0.5)])

    async def test_pause_extends_never_shortens_then_ends(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        assert await b.paused_for("telegram") == 0.0
        began = spawn.now()
        await a.pause("telegram", 3.0)
        left = await b.paused_for("telegram")
        assert 3.0 - spawn.since(began) - MS <= left <= 3.0
        await b.pause("telegram", 0.05)  # shorter: changes nothing
        left = await a.paused_for("telegram")
        assert 3.0 - spawn.since(began) - MS <= left <= 3.0
        longer = spawn.now()
        await b.pause("telegram", 5.0)
        left = await a.paused_for("telegram")
        assert 5.0 - spawn.since(longer) - MS <= left <= 5.0
        await a.forget(["telegram"])
        await a.pause("telegram", 0.1)
        await spawn.later(0.15)
        assert await a.paused_for("telegram") == 0.0  # and a pause ends

    async def test_seen_marks_the_first_time_until_ttl(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        began = spawn.now()
        assert not await a.seen("telegram:update:1", ttl=0.5)
        again = [await b.seen("telegram:update:1", ttl=0.5), await a.seen("telegram:update:1", 0.5)]
        assert again == [True, True] or spawn.since(began) >= 0.5
        assert not await b.seen("telegram:update:2", ttl=0.5)
        await spawn.later(0.6)
        assert not await b.seen("telegram:update:1", ttl=0.5)

    async def test_notify_wakes_a_waiter_in_another_process(self, spawn: World) -> None:
        waiter, sender = await spawn(), await spawn()
        assert not await waiter.wait("outbox", timeout=0.05)
        waiting = asyncio.create_task(waiter.wait("outbox", timeout=60))
        await asyncio.sleep(0.1)
        await sender.notify("outbox")
        # Woken by the notify (a timeout answers False), long before its minute was up.
        assert await asyncio.wait_for(waiting, 10)
        assert not await waiter.wait("outbox", timeout=0.05)

    async def test_notify_between_waits_is_not_lost(self, spawn: World) -> None:
        waiter, sender = await spawn(), await spawn()
        assert not await waiter.wait("outbox", timeout=0.05)
        await sender.notify("outbox")  # while the waiter is busy elsewhere
        await asyncio.sleep(0.05)
        assert await waiter.wait("outbox", timeout=0.01)
        assert not await waiter.wait("outbox", timeout=0.05)
        await sender.notify("outbox")
        await sender.notify("outbox")
        assert await asyncio.wait_for(waiter.wait("outbox", timeout=60), 10)

    async def test_notify_before_the_first_wait_is_not_lost(self, spawn: World) -> None:
        waiter, sender = await spawn(), await spawn()
        await sender.notify("inbound")
        assert await waiter.wait("inbound", timeout=0.01)

    async def test_notify_wakes_every_waiter_of_its_topic_only(self, spawn: World) -> None:
        a, b, sender = await spawn(), await spawn(), await spawn()
        await asyncio.gather(a.wait("outbox", 0.01), b.wait("outbox", 0.01))
        waiting = [asyncio.create_task(c.wait("outbox", timeout=60)) for c in (a, a, b)]
        other = asyncio.create_task(b.wait("inbound", timeout=0.3))
        await asyncio.sleep(0.1)
        await sender.notify("outbox")
        assert await asyncio.wait_for(asyncio.gather(*waiting), 10) == [True, True, True]
        assert not await other

    async def test_a_listener_hears_a_notify_that_another_waiter_used_up(self, spawn: World):
        # Two polls of one chat: an abandoned one still waits; a new one checked for replies
        # and found none, and the reply's notify comes before it waits.
        poller, sender = await spawn(), await spawn()
        assert not await poller.wait("chat:1", timeout=0.05)
        abandoned = asyncio.create_task(poller.wait("chat:1", timeout=60))
        await asyncio.sleep(0.1)
        lost = await poller.listen("chat:1")
        bell = await poller.listen("chat:1")
        await sender.notify("chat:1")
        assert await asyncio.wait_for(abandoned, 10)
        # The abandoned poll may have used the notify up for wait(); each event taken before
        # the check was set by it all the same.
        await asyncio.wait_for(asyncio.gather(bell.wait(), lost.wait()), 10)
        later = await poller.listen("chat:1")
        assert not later.is_set()  # a new listener waits for the next notify

    async def test_forget_drops_every_trace_of_a_key(self, spawn: World) -> None:
        a, b = await spawn(), await spawn()
        bucket = Bucket("contact:9", rate=0.001, burst=1)
        assert await a.try_lock("contact:9") is not None
        assert await a.take([bucket]) == 0.0
        await a.pause("contact:9", 60)
        assert not await a.seen("contact:9", ttl=60)
        await b.forget(["contact:9", "contact:unknown"])
        await b.forget([])
        assert await a.try_lock("contact:9") is not None
        assert await a.take([bucket]) == 0.0
        assert await a.paused_for("contact:9") == 0.0
        assert not await a.seen("contact:9", ttl=60)

    async def test_two_processes_never_exceed_the_rate_together(self, spawn: World) -> None:
        # A bucket promises a total, not fairness: one task may get nothing, so only sums count.
        # How many it grants on a busy machine is a matter of timing; that it never grants
        # more than its rate is not.
        a, b = await spawn(), await spawn()
        bucket = Bucket("telegram:global", rate=50, burst=10)
        began = spawn.now()
        grants = await asyncio.gather(
            *(granted_within(spawn, c, bucket, 0.8) for c in (a, b, a, b)),
        )
        assert sum(grants) <= bucket.burst + bucket.rate * spawn.since(began)
        assert sum(grants) > bucket.burst  # and it refilled meanwhile


async def test_create_coordinator_picks_the_backend() -> None:
    assert isinstance(create_coordinator(None), MemoryCoordinator)
    assert isinstance(create_coordinator(""), MemoryCoordinator)
    from bot.coordination.redis import RedisCoordinator

    remote = create_coordinator("redis://127.0.0.1:1/0", prefix="x:")
    assert isinstance(remote, RedisCoordinator)
    with pytest.raises(ConnectionError, match="REDIS_URL"):
        await remote.start()
    assert not await remote.ping()
    await remote.close()


async def test_closing_right_after_the_first_wait_never_hangs() -> None:
    """A close that lands while the listener is still subscribing ends.

    redis-py can swallow that cancellation (about one close in a hundred here, more on a busy
    machine), and a single cancel then left the service's shutdown waiting forever.
    """
    url = require_redis()
    prefix = unique_prefix()
    for _ in range(200):
        coordinator = create_coordinator(url, prefix)
        await coordinator.start()
        await coordinator.notify("inbound")
        await coordinator.wait("inbound", timeout=0.01)
        await asyncio.wait_for(coordinator.close(), 30)


class TestReserve:
    """Slots of a shared schedule: never closer than the interval, whichever process books."""

    async def test_slots_are_spaced_by_the_interval(self, spawn: World) -> None:
        # Ten seconds between slots, so that no stall of a busy machine lets the schedule
        # lapse between two bookings. Slot n is n intervals after the first, which was
        # booked between "began" and the first answer: wait n lies between n intervals less
        # the time since "began", and n intervals.
        a, b = await spawn(), await spawn()
        began = spawn.now()
        waits = [await (a, b)[n % 2].reserve("sched", 10.0) for n in range(5)]
        elapsed = spawn.since(began)
        for n, wait in enumerate(waits):
            assert n * 10.0 - elapsed <= wait <= n * 10.0 + 1e-5  # Redis rounds to microseconds

    async def test_an_idle_schedule_starts_again_from_now(self, spawn: World) -> None:
        coordinator = await spawn()
        await coordinator.reserve("idle", 0.05)
        await spawn.later(0.2)
        assert await coordinator.reserve("idle", 0.05) == pytest.approx(0.0, abs=0.01)
