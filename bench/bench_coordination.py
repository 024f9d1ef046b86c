"""Print take() and take_batch() throughput of each coordination backend: `python -m bench.bench_coordination`."""

from __future__ import annotations

import argparse
import asyncio
import time

from bot.coordination import Bucket, Coordinator, create_coordinator

UNBOUNDED = Bucket("bench:global", rate=1e9, burst=1e9)  # limited, but never runs dry
PER_CHAT = Bucket("bench:chat", rate=1e9, burst=1e9)


async def ops_per_second(
    coordinator: Coordinator, tasks: int, seconds: float, batch: bool
) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def hammer() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            if batch:
                await coordinator.take_batch(UNBOUNDED, 30)
            else:
                await coordinator.take([UNBOUNDED, PER_CHAT])
            done += 1

    began = time.monotonic()
    await asyncio.gather(*(hammer() for _ in range(tasks)))
    return done / (time.monotonic() - began)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=2.0)
    options = parser.parse_args()
    for name, url in (("memory", None), ("redis", options.redis_url)):
        prefix = f"bench:{time.time_ns()}:"
        async with create_coordinator(url, prefix) as coordinator:
            for tasks in (1, 16):
                for batch in (False, True):
                    rate = await ops_per_second(coordinator, tasks, options.seconds, batch)
                    call = "take_batch(30)" if batch else "take(2 buckets)"
                    print(f"{name:7} {call:16} {tasks:3} tasks  {rate:>12,.0f} calls/s")
            await coordinator.forget(["bench:global", "bench:chat"])


if __name__ == "__main__":
    asyncio.run(main())
