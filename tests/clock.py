"""A clock that tests move by hand: timing decisions checked the same on a quiet or a busy machine."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections.abc import Awaitable
from typing import Any

# Rounds of the event loop a sleeper gets to run before time moves on: enough for every task
# woken at one instant to reach its next sleep when nothing it awaits does real I/O.
SETTLE = 50


class VirtualClock:
    """Monotonic seconds that pass only when every task of a ``run`` is asleep.

    Pass the clock where code takes a ``clock`` and ``clock.sleep`` where it takes a
    ``sleep``; ``run`` then wakes the sleepers in the order of their deadlines, moving time
    straight to the next one. ``lateness`` (seconds, at most) makes every sleep overrun by a
    random amount, as sleeps do on a busy machine; ``seed`` makes that repeatable.
    """

    def __init__(
        self, start: float = 1000.0, *, lateness: float = 0.0, seed: int | None = 0
    ) -> None:
        self.now = start
        self.lateness = lateness
        self._random = random.Random(seed)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time on, for code that only reads the clock (nobody is asleep)."""
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        late = self._random.uniform(0.0, self.lateness) if self.lateness else 0.0
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._sleepers, (self.now + max(seconds, 0.0) + late, next(self._order), wake)
        )
        await wake

    async def run(self, *work: Awaitable[Any]) -> list[Any]:
        """Run ``work`` to the end on this clock; fail if it waits for something else."""
        tasks = [asyncio.ensure_future(w) for w in work]
        try:
            while True:
                for _ in range(SETTLE):
                    await asyncio.sleep(0)
                if all(task.done() for task in tasks):
                    return [task.result() for task in tasks]
                if not self._sleepers:
                    raise AssertionError("the work waits for something other than this clock")
                when, _, wake = heapq.heappop(self._sleepers)
                if wake.done():  # its sleeper was cancelled
                    continue
                self.now = max(self.now, when)
                wake.set_result(None)
        finally:
            for task in tasks:
                task.cancel()

    # ---- alongside work that also waits on real I/O (a database) ------------------------------
    # ``run`` cannot tell a task waiting on a database from one that is stuck. A test whose
    # tasks do both says how many of them sleep on this clock when they are all idle, and moves
    # time only then.

    def asleep(self) -> int:
        """How many sleepers are waiting on this clock (a cancelled sleep is none)."""
        return sum(1 for _, _, wake in self._sleepers if not wake.done())

    async def settle(self) -> None:
        """Let the tasks run until they wait again, as far as SETTLE rounds take them."""
        for _ in range(SETTLE):
            await asyncio.sleep(0)

    async def until_asleep(self, count: int, timeout: float = 30.0) -> None:
        """Wait (on the real clock: the tasks may be waiting on a database) until ``count``
        sleepers wait on this clock."""
        deadline = time.monotonic() + timeout
        while self.asleep() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.asleep()} asleep on the clock, not {count}")
            await asyncio.sleep(0.005)
        await self.settle()

    def wake_next(self) -> bool:
        """Move time to the earliest sleeper and wake it; False when nobody sleeps."""
        while self._sleepers:
            when, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                self.now = max(self.now, when)
                wake.set_result(None)
                return True
        return False

    async def step(self, asleep: int = 1) -> float:
        """Once ``asleep`` sleepers wait, move time to the earliest and wake it, and let what
        it wakes run as far as SETTLE rounds take it. Returns the time it woke at."""
        await self.until_asleep(asleep)
        self.wake_next()
        await self.settle()
        return self.now
