"""Outbound: the send rate against the fake Bot API's limit, and the sender's raw capacity.

    python -m bench.bench_outbound [--messages 2000] [--limit 30] [--raw 5000] [--backends sqlite,postgres]

The fake runs in its own process, so that its work does not count against the sender's.
Targets: at least 95 % of the limit with zero 429s; at least 1,000 messages a second raw.
On PostgreSQL and Redis, "2 senders" shares one limit between two senders, each with its
own Redis connections as two worker processes have: the same targets, the limit shared.
"msg/cpu-s" is messages per second of the sender process's own CPU time: what one core
running only the sender sustains, whatever else the machine (the fake included) is doing.
"sender cpu-s" and "fake cpu-s" are the CPU seconds each process spent during the run. Where
there are two cores or more, the fake runs on the last one and the sender on the others.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid

from sqlalchemy import insert, text

from bench.common import TOKEN, drop_scratch, pin_self, scratch_database, usable_cores
from bench.fake_bot_api import FakeBotApi
from bot.broadcasts.fallback import deliver_elsewhere
from bot.config import Settings
from bot.coordination import create_coordinator
from bot.delivery.sender import Sender
from bot.messages import OutboundMessage
from bot.storage.db import Database
from bot.storage.models import Contact, Delivery


async def fill(db: Database, count: int) -> None:
    async with db.session() as session, session.begin():
        contacts = [
            {
                "channel": "telegram",
                "address": str(600000000 + n),
                "status": "active",
                "flow_data": {},
                "choices": [],
            }
            for n in range(count)
        ]
        await session.execute(insert(Contact), contacts)
        ids = (await session.execute(text("SELECT id, address FROM contacts"))).all()
        body = OutboundMessage(
            text="ChildPact news: the General Assembly meets in Chișinău on 12 May."
        ).to_json()
        await session.execute(
            insert(Delivery),
            [
                {
                    "contact_id": cid,
                    "channel": "telegram",
                    "address": address,
                    "priority": 5,
                    "message": body,
                }
                for cid, address in ids
            ],
        )


async def run_case(
    backend: str,
    count: int,
    our_rate: float,
    fake_rate: float | None,
    folder: str,
    senders: int = 1,
) -> dict[str, float]:
    # The fake on one core, the sender on the others: a capacity figure of the sender, not
    # of the two fighting over one core. The database and Redis servers are not pinned.
    fake_cores, sender_cores = _cores()
    fake = FakeBotApi(fake_rate, fake_cores)
    everywhere = usable_cores()
    url, redis_url, handle = await scratch_database(backend, folder)
    settings = Settings(
        _env_file=None,
        database_url=url,
        redis_url=redis_url,
        telegram_bot_token=TOKEN,
        telegram_webhook_secret="s" * 32,
        telegram_api_url=fake.url,
        telegram_rate=our_rate,
        telegram_chat_rate=1.0,
        sender_concurrency=int(os.environ.get("BENCH_CONCURRENCY", "64")),
    )
    from bot.channels.telegram import TelegramChannel

    db = Database(settings.database_url)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    coordinators = [create_coordinator(redis_url, prefix=prefix) for _ in range(senders)]
    channels = [TelegramChannel(settings) for _ in range(senders)]
    try:
        await db.migrate()
        for coordinator in coordinators:
            await coordinator.start()
        await fill(db, count)
        stopping = asyncio.Event()
        pin_self(sender_cores)
        fake_cpu_started = fake.stats()["cpu"]
        started, cpu_started = time.perf_counter(), time.process_time()
        tasks = [
            asyncio.create_task(
                Sender(
                    db, coordinator, {"telegram": channel}, settings, on_lost=deliver_elsewhere
                ).run(stopping)
            )
            for coordinator, channel in zip(coordinators, channels, strict=True)
        ]
        loop = asyncio.get_running_loop()
        while (await loop.run_in_executor(None, fake.stats))["sent"] < count:
            await asyncio.sleep(0.1)
            if time.perf_counter() - started > 600:
                break
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        stats = fake.stats()
        stopping.set()
        await asyncio.gather(*tasks)
        # The rate the platform saw: from its first message to its last.
        rate = (stats["sent"] - 1) / stats["span"] if stats["span"] else stats["sent"] / elapsed
        return {"sent": stats["sent"], "seconds": elapsed, "rate": rate, "per_core": stats["sent"] / cpu,
                "429": stats["429"], "max_per_s": stats["max_per_s"], "cpu": cpu,
                "429_chat_or_group": stats["429_chat_or_group"],
                "fake_cpu": stats["cpu"] - fake_cpu_started, "prioritised": fake.prioritised}  # fmt: skip
    finally:
        pin_self(everywhere)
        for channel in channels:
            await channel.stop()
        for coordinator in coordinators:
            await coordinator.close()
        await db.dispose()
        await drop_scratch(handle)
        fake.close()


def _cores() -> tuple[list[int] | None, list[int] | None]:
    """The fake's core and the sender's cores; None, None where nothing can be pinned."""
    cores = usable_cores()
    if len(cores) < 2 or not hasattr(os, "sched_setaffinity") or os.environ.get("BENCH_PIN") == "0":
        return None, None
    return cores[-1:], cores[:-1]


def reachable(backend: str) -> bool:
    if backend == "sqlite":
        return True
    import socket

    for port in (5432, 6379):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
    return True


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000, help="messages for the limited run")
    parser.add_argument(
        "--limit", type=float, default=30.0, help="the fake's messages per second (Telegram's)"
    )
    parser.add_argument("--raw", type=int, default=5000, help="messages for the run with no limit")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args(argv)
    print(
        f"outbound bench: {os.cpu_count()} cores, Python {platform.python_version()}, {sys.platform}"
    )
    print(f"{'backend':<22}{'case':<14}{'sent':>7}{'seconds':>9}{'msg/s':>9}{'of limit':>10}{'429s':>6}"
          f"{'max/s':>7}{'msg/cpu-s':>11}{'sender cpu-s':>14}{'fake cpu-s':>12}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            label = "sqlite + in-process" if backend == "sqlite" else "postgres + redis"
            if not reachable(backend):
                print(f"{label:<22}skipped: PostgreSQL or Redis not reachable")
                continue
            limited = await run_case(backend, args.messages, args.limit, args.limit, folder)
            share = f"{limited['rate'] / args.limit:.1%}"
            print(f"{label:<22}{f'limit {args.limit:g}/s':<14}{limited['sent']:>7.0f}{limited['seconds']:>9.1f}"
                  f"{limited['rate']:>9.1f}{share:>10}{limited['429']:>6.0f}{limited['max_per_s']:>7.0f}"
                  f"{limited['per_core']:>11.0f}{limited['cpu']:>14.2f}{limited['fake_cpu']:>12.2f}")  # fmt: skip
            print(f"  429s from a chat's or a group's limit: {limited['429_chat_or_group']:.0f}")
            if not limited["prioritised"]:
                print(
                    "  (the fake ran at normal priority: the sender's own load can move its clock)"
                )
            if backend != "sqlite":  # in-process coordination is one process's alone
                shared = await run_case(
                    backend, args.messages, args.limit, args.limit, folder, senders=2
                )
                share = f"{shared['rate'] / args.limit:.1%}"
                print(f"{label:<22}{'2 senders':<14}{shared['sent']:>7.0f}{shared['seconds']:>9.1f}"
                      f"{shared['rate']:>9.1f}{share:>10}{shared['429']:>6.0f}{shared['max_per_s']:>7.0f}"
                      f"{shared['per_core']:>11.0f}{shared['cpu']:>14.2f}{shared['fake_cpu']:>12.2f}")  # fmt: skip
            raw = await run_case(backend, args.raw, 0, None, folder)
            print(f"{label:<22}{'no limit':<14}{raw['sent']:>7.0f}{raw['seconds']:>9.1f}{raw['rate']:>9.1f}"
                  f"{'':>10}{raw['429']:>6.0f}{raw['max_per_s']:>7.0f}{raw['per_core']:>11.0f}"
                  f"{raw['cpu']:>14.2f}{raw['fake_cpu']:>12.2f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
