"""One set of coordination tests, run over the in-process and the Redis backends."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio

from bot.coordination import Bucket, Coordinator, create_coordinator
from bot.coordination.memory import MemoryCoordinator
from tests.backends import require_redis, unique_prefix

# A "process": a coordinator that shares its world with the others a test spawns. In memory
# that is the same object (one process); over Redis it is a new client, as in another process.
Spawn = Callable[[], Awaitable[Coordinator]]


@pytest.fixture(params=["memory", "redis"])
async def spawn(request: pytest.FixtureRequest) -> AsyncIterator[Spawn]:
    url = require_redis() if request.param == "redis" else None
    prefix = unique_prefix()
    started: list[Coordinator] = []
    shared = MemoryCoordinator()

    async def new_process() -> Coordinator:
        coordinator = create_coordinator(url, prefix) if url else shared
        await coordinator.start()
        started.append(coordinator)
        return coordinator

    yield new_process
    for coordinator in started:
        await coordinator.close()
    if url:
        async with redis.asyncio.from_url(url) as client:
            keys = [key async for key in client.scan_iter(match=prefix + "*")]
            if keys:
                await client.delete(*keys)


@pytest.fixture
async def coordinator(spawn: Spawn) -> Coordinator:
    return await spawn()


async def granted_within(coordinator: Coordinator, bucket: Bucket, seconds: float) -> int:
    """Take one token at a time for ``seconds``, sleeping as told; count the grants."""
    granted = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wait = await coordinator.take([bucket])
        if wait == 0:
            granted += 1
        else:
            await asyncio.sleep(min(wait, deadline - time.monotonic(), 0.05))
    return granted


class TestCoordinator:
    async def test_ping(self, coordinator: Coordinator) -> None:
        assert await coordinator.ping()

    async def test_lock_is_exclusive_until_released(self, spawn: Spawn) -> None:
        a, b = await spawn(), await spawn()
        lease = await a.try_lock("contact:1")
        assert lease is not None and lease.key == "contact:1"
        assert await b.try_lock("contact:1") is None
        assert await b.try_lock("contact:2") is not None
        await lease.release()
        assert await b.try_lock("contact:1") is not None

    async def test_lock_lapses_when_its_holder_dies(self, spawn: Spawn) -> None:
        a, b = await spawn(), await spawn()
        assert await a.try_lock("contact:1", ttl=0.15) is not None  # never released
        assert await b.try_lock("contact:1") is None
        await asyncio.sleep(0.25)
        assert await b.try_lock("contact:1") is not None

    async def test_only_the_holder_releases_or_extends(self, spawn: Spawn) -> None:
        a, b = await spawn(), await spawn()
        stale = await a.try_lock("contact:1", ttl=0.1)
        assert stale is not None
        await asyncio.sleep(0.2)
        current = await b.try_lock("contact:1", ttl=5)
        assert current is not None
        await stale.release()
        assert not await stale.extend(5)
        assert await a.try_lock("contact:1") is None
        await current.release()
        await current.release()  # twice is harmless
        assert await a.try_lock("contact:1") is not None

    async def test_extend_keeps_the_lock(self, spawn: Spawn) -> None:
        a, b = await spawn(), await spawn()
        lease = await a.try_lock("contact:1", ttl=0.15)
        assert lease is not None
        await asyncio.sleep(0.1)
        assert await lease.extend(0.3)
        await asyncio.sleep(0.1)
        assert await b.try_lock("contact:1") is None  # past the first ttl, within the second
        await asyncio.sleep(0.3)
        assert await b.try_lock("contact:1") is not None
        assert not await lease.extend(1)

    async def test_bucket_starts_full_then_says_how_long_to_wait(
        self, coordinator: Coordinator
    ) -> None:
        bucket = Bucket("telegram:chat:1", rate=10, burst=2)
        assert await coordinator.take([bucket]) == 0.0
        assert await coordinator.take([bucket]) == 0.0
        wait = await coordinator.take([bucket])
        assert 0.05 < wait <= 0.1
        await asyncio.sleep(wait)
        assert await coordinator.take([bucket]) == 0.0

    async def test_bucket_grants_its_rate_over_time(self, coordinator: Coordinator) -> None:
        bucket = Bucket("telegram:global", rate=50, burst=5)
        began = time.monotonic()
        granted = await granted_within(coordinator, bucket, 1.0)
        elapsed = time.monotonic() - began
        assert granted <= bucket.burst + bucket.rate * elapsed
        assert granted >= 0.85 * bucket.rate * 1.0

    async def test_take_over_several_buckets_is_all_or_nothing(
        self, coordinator: Coordinator
    ) -> None:
        roomy = Bucket("telegram:global", rate=1, burst=5)
        tight = Bucket("telegram:chat:1", rate=1, burst=1)
        assert await coordinator.take([roomy, tight]) == 0.0
        wait = await coordinator.take([roomy, tight])
        assert 0.9 < wait <= 1.0
        assert await coordinator.take_batch(roomy, 10) == 4  # the denied take consumed nothing
        assert await coordinator.take([roomy, tight], n=0) == 0.0

    async def test_take_waits_for_the_slowest_bucket(self, coordinator: Coordinator) -> None:
        slow = Bucket("slow", rate=1, burst=2)
        fast = Bucket("fast", rate=100, burst=2)
        assert await coordinator.take([slow, fast], n=2) == 0.0
        assert 1.9 < await coordinator.take([slow, fast], n=2) <= 2.0

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

    async def test_take_batch_grants_what_there_is(self, coordinator: Coordinator) -> None:
        bucket = Bucket("whatsapp:account", rate=20, burst=5)
        assert await coordinator.take_batch(bucket, 3) == 3
        assert await coordinator.take_batch(bucket, 3) == 2
        began = time.monotonic()
        assert await coordinator.take_batch(bucket, 3) == 0  # under one token left
        await asyncio.sleep(0.11)
        granted = await coordinator.take_batch(bucket, 3)
        assert 2 <= granted < 1 + bucket.rate * (time.monotonic() - began)
        assert await coordinator.take_batch(bucket, 0) == 0

    async def test_take_each_takes_from_every_bucket_that_has_a_token(self, spawn: Spawn) -> None:
        a, b = await spawn(), await spawn()
        chats = [Bucket(f"telegram:chat:{n}", rate=10, burst=1) for n in range(3)]
        free = Bucket("free", rate=0, burst=0)
        assert await a.take_each([chats[0], free]) == [0.0, 0.0]
        waits = await b.take_each([*chats, free])  # another process sees the first take
        assert 0.05 < waits[0] <= 0.1
        assert waits[1:] == [0.0, 0.0, 0.0]  # one bucket's refusal stops no other
        assert await a.take_each([]) == []
        await asyncio.sleep(waits[0])
        assert await a.take_each(chats[:1]) == [0.0]
        with pytest.raises(ValueError):
            await a.take_each([Bucket("tiny", rate=1, burst=0.5)])

    async def test_pause_extends_never_shortens_then_ends(self, spawn: Spawn) -> None:
        a, b = await spawn(), await spawn()
        assert await b.paused_for("telegram") == 0.0
        await a.pause("telegram", 0.3)
        assert 0.15 < await b.paused_for("telegram") <= 0.3
        await b.pause("telegram", 0.05)
        assert 0.15 < await a.paused_for("telegram") <= 0.3
        await b.pause("telegram", 0.5)
        assert 0.3 < await a.paused_for("telegram") <= 0.5
        await asyncio.sleep(0.55)
        assert await a.paused_for("telegram") == 0.0

    async def test_seen_marks_the_first_time_until_ttl(self, spawn: Spawn) -> None:
        a, b = await spawn(), await spawn()
        assert not await a.seen("telegram:update:1", ttl=0.15)
        assert await b.seen("telegram:update:1", ttl=0.15)
        assert await a.seen("telegram:update:1", ttl=0.15)
        assert not await b.seen("telegram:update:2", ttl=0.15)
        await asyncio.sleep(0.2)
        assert not await b.seen("telegram:update:1", ttl=0.15)

    async def test_notify_wakes_a_waiter_in_another_process(self, spawn: Spawn) -> None:
        waiter, sender = await spawn(), await spawn()
        assert not await waiter.wait("outbox", timeout=0.05)
        waiting = asyncio.create_task(waiter.wait("outbox", timeout=2))
        await asyncio.sleep(0.1)
        began = time.monotonic()
        await sender.notify("outbox")
        assert await waiting
        assert time.monotonic() - began < 0.5
        assert not await waiter.wait("outbox", timeout=0.05)

    async def test_notify_between_waits_is_not_lost(self, spawn: Spawn) -> None:
        waiter, sender = await spawn(), await spawn()
        assert not await waiter.wait("outbox", timeout=0.05)
        await sender.notify("outbox")  # while the waiter is busy elsewhere
        await asyncio.sleep(0.05)
        assert await waiter.wait("outbox", timeout=0.01)
        assert not await waiter.wait("outbox", timeout=0.05)
        await sender.notify("outbox")
        await sender.notify("outbox")
        assert await asyncio.wait_for(waiter.wait("outbox", timeout=2), 0.5)

    async def test_notify_before_the_first_wait_is_not_lost(self, spawn: Spawn) -> None:
        waiter, sender = await spawn(), await spawn()
        await sender.notify("inbound")
        assert await waiter.wait("inbound", timeout=0.01)

    async def test_notify_wakes_every_waiter_of_its_topic_only(self, spawn: Spawn) -> None:
        a, b, sender = await spawn(), await spawn(), await spawn()
        await asyncio.gather(a.wait("outbox", 0.01), b.wait("outbox", 0.01))
        waiting = [asyncio.create_task(c.wait("outbox", timeout=2)) for c in (a, a, b)]
        other = asyncio.create_task(b.wait("inbound", timeout=0.3))
        await asyncio.sleep(0.1)
        await sender.notify("outbox")
        assert await asyncio.gather(*waiting) == [True, True, True]
        assert not await other

    async def test_forget_drops_every_trace_of_a_key(self, spawn: Spawn) -> None:
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

    async def test_two_processes_never_exceed_the_rate_together(self, spawn: Spawn) -> None:
        # A bucket promises a total, not fairness: one task may get nothing, so only sums count.
        a, b = await spawn(), await spawn()
        bucket = Bucket("telegram:global", rate=50, burst=10)
        began = time.monotonic()
        grants = await asyncio.gather(
            *(granted_within(c, bucket, 0.8) for c in (a, b, a, b)),
        )
        elapsed = time.monotonic() - began
        assert sum(grants) <= bucket.burst + bucket.rate * elapsed
        assert sum(grants) >= 0.85 * bucket.rate * 0.8


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


class TestReserve:
    """Slots of a shared schedule: never closer than the interval, whichever process books."""

    async def test_slots_are_spaced_by_the_interval(self, coordinator) -> None:
        # Each slot is somewhere between "asked" + wait and "answered" + wait on our clock:
        # a slow round trip on a busy machine moves neither the slot nor the spacing.
        waits, slots = [], []
        for _ in range(5):
            asked = time.monotonic()
            waits.append(wait := await coordinator.reserve("sched", 0.05))
            slots.append((asked + wait, time.monotonic() + wait))
        assert waits[0] == pytest.approx(0.0, abs=0.01)  # the first one is now
        for (early_low, early_high), (late_low, late_high) in zip(slots, slots[1:], strict=False):
            assert late_high - early_low >= 0.05 - 0.002
            assert late_low - early_high <= 0.05 + 0.002

    async def test_an_idle_schedule_starts_again_from_now(self, coordinator) -> None:
        await coordinator.reserve("idle", 0.05)
        await asyncio.sleep(0.2)
        assert await coordinator.reserve("idle", 0.05) == pytest.approx(0.0, abs=0.01)
