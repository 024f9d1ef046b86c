"""Coordination between processes: Redis when configured, in-process otherwise."""

from __future__ import annotations

from bot.coordination.base import Bucket, Coordinator, Lease
from bot.coordination.memory import MemoryCoordinator

__all__ = ["Bucket", "Coordinator", "Lease", "MemoryCoordinator", "create_coordinator"]


def create_coordinator(redis_url: str | None, prefix: str = "childpact:") -> Coordinator:
    """The Redis coordinator for ``redis_url``, or the in-process one without it; not started."""
    if not redis_url:
        return MemoryCoordinator()
    from bot.coordination.redis import RedisCoordinator

    return RedisCoordinator(redis_url, prefix)
