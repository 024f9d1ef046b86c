"""The coordination interface: locks, rate limits, pauses, dedupe and wake-ups shared by processes."""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``rate`` tokens per second, up to ``burst`` stored; full when first used."""

    key: str
    rate: float
    burst: float

    @property
    def unlimited(self) -> bool:
        """A rate of 0, below, or infinity means the bucket never limits anything."""
        return self.rate <= 0 or math.isinf(self.rate)


class Lease(Protocol):
    """A held lock; it lapses by itself ``ttl`` seconds after it was taken or last extended."""

    key: str

    async def release(self) -> None:
        """Let go; a no-op when the lease already lapsed (possibly to another holder)."""

    async def extend(self, ttl: float) -> bool:
        """Hold on for ``ttl`` seconds from now; False when the lease had already lapsed."""


class Coordinator(ABC):
    """What several processes must share; one implementation per backend."""

    @abstractmethod
    async def start(self) -> None:
        """Get ready, and fail here, clearly, when the backend cannot be reached."""

    @abstractmethod
    async def close(self) -> None:
        """Let go of connections and background tasks."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def ping(self) -> bool:
        """Whether the backend answers (for ``/readyz``)."""

    @abstractmethod
    async def try_lock(self, key: str, ttl: float = 30.0) -> Lease | None:
        """Take the lock ``key`` without waiting; None when another holder has it."""

    @abstractmethod
    async def take(self, buckets: Sequence[Bucket], n: float = 1) -> float:
        """Take ``n`` tokens from every bucket, or from none: 0.0, or the seconds until all have them."""

    @abstractmethod
    async def take_batch(self, bucket: Bucket, n: int) -> int:
        """Take as many whole tokens as there are, up to ``n``; return how many were taken."""

    @abstractmethod
    async def take_each(self, buckets: Sequence[Bucket]) -> list[float]:
        """Take one token from each bucket on its own (unlike ``take``, one bucket's refusal
        does not stop the others): per bucket, 0.0 when taken, else the seconds until it has
        one. One round trip for many chats' buckets at once."""

    @abstractmethod
    async def reserve(self, key: str, interval: float) -> float:
        """Book the next free slot of a schedule with ``interval`` seconds between slots, for
        every process; return the seconds to wait until it (0.0 when it is now).

        Unlike a bucket, a waiter that wakes late does not lose its turn, and slots never
        come closer than ``interval``: the pacing a platform's per-second limit wants."""

    @abstractmethod
    async def pause(self, scope: str, seconds: float) -> None:
        """Pause ``scope`` for ``seconds`` from now, unless it is already paused for longer."""

    @abstractmethod
    async def paused_for(self, scope: str) -> float:
        """Seconds left of the pause of ``scope``; 0.0 when not paused."""

    @abstractmethod
    async def seen(self, key: str, ttl: float) -> bool:
        """False the first time ``key`` is seen within ``ttl`` seconds (and mark it), True after."""

    @abstractmethod
    async def notify(self, topic: str) -> None:
        """Wake every waiter of ``topic``, in every process."""

    @abstractmethod
    async def wait(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109 (the contract)
        """Wait for a notify of ``topic``: True if one came since this coordinator's last wait
        on it returned (or during this wait), False after ``timeout`` seconds without one.

        True may rarely be spurious; callers re-check what they wait for, as with a condition.
        Another waiter of the same topic in this process can use the notify up: where several
        may wait at once (a long-poll per browser tab), ``listen`` first, then check, then wait.
        """

    @abstractmethod
    async def listen(self, topic: str) -> asyncio.Event:
        """An event the next notify of ``topic`` sets, in whatever process it comes from.

        Taken before checking what one waits for, it hears a notify that comes between the check
        and the wait, whoever else waits. It may be set at once (a notify missed while the
        process was not listening); callers re-check.
        """

    @abstractmethod
    async def forget(self, keys: Sequence[str]) -> None:
        """Drop every lock, bucket, pause, dedupe mark and notify counter named by ``keys``."""


def check_ttl(ttl: float) -> None:
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, got {ttl!r}")


def check_amount(n: float) -> None:
    if not n >= 0:
        raise ValueError(f"cannot take {n!r} tokens")


def check_whole(bucket: Bucket) -> None:
    """Refuse a bucket that can never hold one whole token."""
    if bucket.burst < 1:
        raise ValueError(f"bucket {bucket.key!r} of burst {bucket.burst} never holds a token")


def limiting(buckets: Sequence[Bucket], n: float) -> list[Bucket]:
    """The buckets that limit a take of ``n``; refuse what no amount of waiting could grant."""
    check_amount(n)
    if len({bucket.key for bucket in buckets}) != len(buckets):
        raise ValueError("the same bucket key appears twice in one take")
    limited = [bucket for bucket in buckets if not bucket.unlimited]
    for bucket in limited:
        if n > bucket.burst:
            raise ValueError(
                f"{n} tokens can never fit bucket {bucket.key!r} of burst {bucket.burst}"
            )
    return limited
