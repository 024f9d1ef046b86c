"""A clock that tests move by hand: timing decisions checked the same on a quiet or a busy machine."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
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
                self.now = max(self.now, when)
                wake.set_result(None)
        finally:
            for task in tasks:
                task.cancel()
