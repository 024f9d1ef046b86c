"""In-process coordination: correct for one process, the embedded default without Redis."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from bot.coordination.base import (
    Bucket,
    Coordinator,
    Lease,
    check_amount,
    check_ttl,
    check_whole,
    limiting,
)

V = TypeVar("V")
Clock = Callable[[], float]  # monotonic seconds


class Expiring(Generic[V]):
    """A dict whose entries vanish at their deadline on the given clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[V, float]] = {}
        self._sweep_at = 1024

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    def left(self, key: str) -> float:
        """Seconds until ``key`` vanishes, 0.0 when it is not there."""
        entry = self._entries.get(key)
        return max(0.0, entry[1] - self._clock()) if entry else 0.0

    def put(self, key: str, value: V, seconds: float) -> None:
        self._entries[key] = (value, self._clock() + seconds)
        if len(self._entries) > self._sweep_at:
            self._sweep()

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)

    def _sweep(self) -> None:
        # Amortised: a sweep at most each time the map doubles, so memory stays bounded.
        now = self._clock()
        self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
        self._sweep_at = max(1024, 2 * len(self._entries))


class Doorbell:
    """Per-topic wake-ups; a ring while nobody waits is kept for the next wait."""

    def __init__(self) -> None:
        self._rung: set[str] = set()
        self._events: dict[str, asyncio.Event] = {}

    def ring(self, topic: str) -> None:
        self._rung.add(topic)
        event = self._events.pop(topic, None)
        if event is not None:
            event.set()

    def listen(self, topic: str) -> asyncio.Event:
        """The event the next ring of ``topic`` sets, for its holder alone to wait on."""
        return self._events.setdefault(topic, asyncio.Event())

    def silence(self, topic: str) -> None:
        self._rung.discard(topic)

    async def wait(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        if topic not in self._rung:
            event = self.listen(topic)
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                return False
        self._rung.discard(topic)
        return True


class MemoryLease:
    """A lock held in this process, told apart from a later holder by its own token."""

    def __init__(self, key: str, locks: Expiring[str], token: str) -> None:
        self.key = key
        self._locks = locks
        self._token = token

    async def release(self) -> None:
        if self._locks.get(self.key) == self._token:
            self._locks.pop(self.key)

    async def extend(self, ttl: float) -> bool:
        check_ttl(ttl)
        if self._locks.get(self.key) != self._token:
            return False
        self._locks.put(self.key, self._token, ttl)
        return True


class MemoryCoordinator(Coordinator):
    """Dictionaries on the monotonic clock; every operation is atomic as it never awaits.

    ``clock`` is for tests, which move time on by hand instead of waiting for it.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._locks: Expiring[str] = Expiring(clock)
        self._buckets: Expiring[tuple[float, float]] = Expiring(clock)  # key -> (tokens, when)
        self._schedules: Expiring[float] = Expiring(clock)  # key -> the next free slot
        self._pauses: Expiring[bool] = Expiring(clock)
        self._seen: Expiring[bool] = Expiring(clock)
        self._doorbell = Doorbell()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> bool:
        return True

    async def try_lock(self, key: str, ttl: float = 30.0) -> Lease | None:
        check_ttl(ttl)
        if self._locks.get(key) is not None:
            return None
        token = uuid.uuid4().hex
        self._locks.put(key, token, ttl)
        return MemoryLease(key, self._locks, token)

    async def take(self, buckets: Sequence[Bucket], n: float = 1) -> float:
        limited = limiting(buckets, n)
        now = self._clock()
        levels = [self._level(bucket, now) for bucket in limited]
        wait = max(
            (
                (n - level) / bucket.rate
                for bucket, level in zip(limited, levels, strict=True)
                if level < n
            ),
            default=0.0,
        )
        if wait > 0:
            return wait
        for bucket, level in zip(limited, levels, strict=True):
            self._store(bucket, level - n, now)
        return 0.0

    async def take_batch(self, bucket: Bucket, n: int) -> int:
        check_amount(n)
        if bucket.unlimited:
            return n
        now = self._clock()
        level = self._level(bucket, now)
        granted = min(n, math.floor(level))
        if granted > 0:
            self._store(bucket, level - granted, now)
        return granted

    async def take_each(self, buckets: Sequence[Bucket]) -> list[float]:
        now = self._clock()
        waits: list[float] = []
        for bucket in buckets:
            if bucket.unlimited:
                waits.append(0.0)
                continue
            check_whole(bucket)
            level = self._level(bucket, now)
            if level < 1:
                waits.append((1 - level) / bucket.rate)
            else:
                self._store(bucket, level - 1, now)
                waits.append(0.0)
        return waits

    async def reserve(self, key: str, interval: float) -> float:
        now = self._clock()
        slot = max(now, self._schedules.get(key) or now)
        self._schedules.put(key, slot + interval, slot + interval - now + 60)
        return slot - now

    async def pause(self, scope: str, seconds: float) -> None:
        if seconds > self._pauses.left(scope):
            self._pauses.put(scope, True, seconds)

    async def paused_for(self, scope: str) -> float:
        return self._pauses.left(scope)

    async def seen(self, key: str, ttl: float) -> bool:
        check_ttl(ttl)
        if self._seen.get(key):
            return True
        self._seen.put(key, True, ttl)
        return False

    async def notify(self, topic: str) -> None:
        self._doorbell.ring(topic)

    async def wait(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        return await self._doorbell.wait(topic, timeout)

    async def listen(self, topic: str) -> asyncio.Event:
        return self._doorbell.listen(topic)

    async def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            for store in (self._locks, self._buckets, self._schedules, self._pauses, self._seen):
                store.pop(key)
            self._doorbell.silence(key)

    def _level(self, bucket: Bucket, now: float) -> float:
        state = self._buckets.get(bucket.key)
        if state is None:
            return bucket.burst
        tokens, when = state
        return min(bucket.burst, tokens + (now - when) * bucket.rate)

    def _store(self, bucket: Bucket, tokens: float, now: float) -> None:
        # Once full again the state says nothing a missing key does not, so let it go.
        self._buckets.put(bucket.key, (tokens, now), (bucket.burst - tokens) / bucket.rate + 1.0)
