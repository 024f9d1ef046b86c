"""The fake Bot API in a process of its own, standing in for Telegram's servers in the benches.

The fake's clock is the platform's: it stamps each request when its event loop gets to it,
and it answers 429 when more than its limit arrived in the last second. Telegram's servers
do not share a CPU with the sender, but this fake does, so two things keep the sender's load
from moving the fake's clock: its garbage collector is off (a pause of a few milliseconds
would bunch requests that arrived evenly; its memory stays small), and, where the benchmark
may (as root, or with CAP_SYS_NICE), it runs at a higher scheduling priority than the
sender, the database and the machine's other work. The benches print whether it did.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection

from bench.common import pin_self

PRIORITY = -15  # nice value of the fake's process, where the benchmark may raise it


def _serve(conn: Connection, rate: float | None, cores: list[int] | None) -> None:
    import gc

    from tests.fakes.telegram_api import FakeTelegram

    pin_self(cores)
    gc.disable()
    try:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
        prioritised = True
    except (OSError, AttributeError):
        prioritised = False

    async def main() -> None:
        # Telegram's per-chat (about 1 a second) and per-group (20 a minute) limits stay on:
        # the benches must meet none of them.
        async with FakeTelegram(rate=rate) as fake:
            conn.send((fake.url, prioritised))
            loop = asyncio.get_running_loop()
            while (await loop.run_in_executor(None, conn.recv)) != "stop":
                times = [m.time for m in fake.messages]
                conn.send({"sent": len(times), "429": fake.rate_limited, "max_per_s": fake.max_per_second,
                           "429_chat_or_group": fake.limited_by["chat"] + fake.limited_by["group"],
                           "first": min(times, default=None), "last": max(times, default=None),
                           "span": (max(times) - min(times)) if len(times) > 1 else 0.0,
                           "cpu": time.process_time()})  # fmt: skip

    asyncio.run(main())


class FakeBotApi:
    """Starts the fake in its own process (on ``cores`` when given); ``url`` is its address."""

    def __init__(self, rate: float | None, cores: list[int] | None = None) -> None:
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("spawn").Process(
            target=_serve, args=(child, rate, cores), daemon=True
        )
        self.proc.start()
        self.url, self.prioritised = self.conn.recv()

    def stats(self) -> dict[str, float]:
        """Messages accepted, their first and last arrival (wall clock), the 429s answered (and
        how many of them a chat's or a group's limit gave), the most accepted in any one
        second, and the fake's CPU seconds so far."""
        self.conn.send("stats")
        return self.conn.recv()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(5)
