"""A broadcast to 10,000 members against the fake Bot API at Telegram's limits.

    python -m bench.bench_broadcast [--members 10000] [--limit 30] [--backends sqlite,postgres]

Prints, per backend: the achieved rate as a share of the limit (target at least 95 %), the
429s the fake answered (target zero), and the time from "send" to the first message at the
fake (target under one second). The fake runs in its own process, stamping each message as
it arrives (see bench/fake_bot_api.py); the service side runs as a worker does: the
broadcaster and the sender.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid

from sqlalchemy import insert

from bench.common import TOKEN, drop_scratch, python_speed, scratch_database
from bench.fake_bot_api import FakeBotApi
from bot import broadcasts
from bot.broadcasts.fallback import deliver_elsewhere
from bot.broadcasts.worker import Broadcaster
from bot.channels.telegram import TelegramChannel
from bot.config import Settings
from bot.coordination import create_coordinator
from bot.coordination.keys import BROADCASTS, OUTBOX
from bot.delivery.sender import Sender
from bot.storage.db import Database
from bot.storage.models import Broadcast, Contact

LOCALES = ("ro", "ru", "uk", "ka", "hy", "en", "sq", "tr")


async def run(backend: str, members: int, limit: float, folder: str) -> dict[str, float]:
    fake = FakeBotApi(limit)
    url, redis_url, handle = await scratch_database(backend, folder)
    settings = Settings(
        _env_file=None,
        database_url=url,
        redis_url=redis_url,
        telegram_bot_token=TOKEN,
        telegram_webhook_secret="s" * 32,
        telegram_api_url=fake.url,
        telegram_rate=limit,
    )
    db = Database(url)
    await db.migrate()
    async with db.session() as session, session.begin():
        await session.execute(
            insert(Contact),
            [
                {
                    "channel": "telegram",
                    "address": str(700000000 + n),
                    "status": "active",
                    "locale": LOCALES[n % len(LOCALES)],
                    "country": "MD",
                    "flow_data": {},
                    "choices": [],
                }  # fmt: skip
                for n in range(members)
            ],
        )
        broadcast = Broadcast(
            title="bench", base_locale="en", texts={}, buttons=[], audience={}, templates={}
        )
        session.add(broadcast)
        for locale, words in (
            ("en", "The General Assembly meets in Chisinau on 12 May."),
            ("ro", "Adunarea Generală are loc la Chișinău pe 12 mai."),
            ("ru", "Генеральная ассамблея соберётся в Кишинёве 12 мая."),
        ):
            broadcasts.set_text(broadcast, locale, words)
        await session.flush()
        broadcast_id = broadcast.id

    coordinator = create_coordinator(redis_url, f"bench-{uuid.uuid4().hex[:6]}:")
    await coordinator.start()
    channel = TelegramChannel(settings)
    await channel.start()
    sender = Sender(db, coordinator, {"telegram": channel}, settings, on_lost=deliver_elsewhere)
    broadcaster = Broadcaster(db, coordinator)
    stopping = asyncio.Event()
    workers = [
        asyncio.create_task(sender.run(stopping)),
        asyncio.create_task(broadcaster.run(stopping)),
    ]
    await asyncio.sleep(0.5)  # both idle and waiting, as in a running worker

    began = time.time()
    async with db.session() as session, session.begin():
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        await broadcasts.launch(session, found, None, audience_size=members, approval_above=None)
    await coordinator.notify(BROADCASTS)
    stats = fake.stats()
    while stats["sent"] < members:
        await asyncio.sleep(1.0)
        stats = fake.stats()
    stopping.set()
    await coordinator.notify(OUTBOX)
    await asyncio.gather(*workers, return_exceptions=True)
    await channel.stop()
    await coordinator.close()
    await db.dispose()
    fake.close()
    await drop_scratch(handle)
    span = stats["last"] - stats["first"]
    rate = (members - 1) / span if span else 0.0
    return {
        "first_s": stats["first"] - began,
        "rate": rate,
        "share": rate / limit,
        "429": stats["429"],
        "429_chat_or_group": stats["429_chat_or_group"],
        "max_per_s": stats["max_per_s"],
        "total_s": stats["last"] - began,
        "prioritised": fake.prioritised,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--limit", type=float, default=30.0, help="the fake's messages a second")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"bench_broadcast: {args.members} members, fake limit {args.limit:g}/s, "
          f"python speed {python_speed():.0f} us")  # fmt: skip
    print(f"{'backend':<10} {'first msg':>10} {'rate/s':>8} {'of limit':>9} {'429s':>5} "
          f"{'busiest s':>9} {'total':>8}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            r = asyncio.run(run(backend, args.members, args.limit, folder))
            name = "sqlite" if backend == "sqlite" else "pg+redis"
            print(
                f"{name:<10} {r['first_s'] * 1000:>8.0f}ms {r['rate']:>8.2f} "
                f"{r['share'] * 100:>8.1f}% {r['429']:>5.0f} {r['max_per_s']:>9.0f} "
                f"{r['total_s']:>7.0f}s",
                flush=True,
            )
            print(f"  429s from a chat's or a group's limit: {r['429_chat_or_group']:.0f}")
            if not r["prioritised"]:
                print(
                    "  (the fake ran at normal priority: the sender's own load can move its clock)"
                )
    print("targets: first message under 1 s, at least 95 % of the limit, zero 429s")


if __name__ == "__main__":
    main()
