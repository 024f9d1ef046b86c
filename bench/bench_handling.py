"""The engine alone: CPU per inbound message stored, then handled, with no HTTP around it.

    python -m bench.bench_handling [--members 200] [--per-member 5] [--profile]

Members onboard on the terminal channel (not measured), then each asks ``--per-member`` of the
everyday questions of bench_vs_ptb; every message is stored first (all members at once, as
webhooks do), then each member's messages are handled by one drain after another, on embedded
SQLite (``DATABASE_URL`` for another database, ``REDIS_URL`` to coordinate through Redis). Per
message: CPU and wall ms to store, to handle, and the database statements the handling ran, the
commonest listed. The process is alone on its event loop, so its CPU figure moves far less with
the machine's load than a whole service's; ``--profile`` adds cProfile's view of the handling.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import event

from app.service import Service
from bench.bench_vs_ptb import QUESTIONS
from bench.common import machine_line, run_main
from bench.inbound_load import ORGANISATIONS
from bot.channels.base import ChannelName
from bot.channels.web import WebChannel
from bot.config import Settings
from bot.coordination import MemoryCoordinator
from bot.messages import InboundMessage, Kind

CHANNEL = ChannelName.TERMINAL
ONBOARDING = ({"text": "/start"}, {"payload": "consent:yes"}, {"payload": "lang:en"},
              {"payload": "country:MD"})  # fmt: skip


def message(address: str, text: str | None = None, payload: str | None = None) -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL, platform_id=uuid.uuid4().hex, address=address,
        kind=Kind.BUTTON if payload else Kind.TEXT, text=text, payload=payload, lang_hint="en",
    )  # fmt: skip


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_handling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--per-member", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="childpact-handling-")
    os.environ.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{folder}/childpact.db")
    settings = Settings()
    service = Service(
        settings,
        coordinator=None if settings.redis_url else MemoryCoordinator(),
        channels={CHANNEL: WebChannel(CHANNEL)},
    )
    await service.start(migrate=True, workers=False, only_process=False)
    engine = service.engine
    rng = random.Random(7)
    members = [f"member-{n}" for n in range(options.members)]
    try:
        for step in ONBOARDING:
            for address in members:
                await engine.accept(message(address, **step))
                await engine.drain(CHANNEL, address)
        for address in members:
            await engine.accept(message(address, text=rng.choice(ORGANISATIONS)))
            await engine.drain(CHANNEL, address)
        statements: Counter[str] = Counter()

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements[" ".join(statement.split())[:90]] += 1

        count_of = len(members) * options.per_member
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(options.per_member):
            for address in members:  # stored one after another: the group commit is not measured
                await engine.accept(message(address, text=rng.choice(QUESTIONS)))
        stored_cpu, stored_wall = time.process_time() - cpu, time.perf_counter() - wall
        profile = cProfile.Profile() if options.profile else None
        event.listen(service.db.engine.sync_engine, "before_cursor_execute", count)
        cpu, wall = time.process_time(), time.perf_counter()
        if profile:
            profile.enable()
        for address in members:
            await engine.drain(CHANNEL, address)
        if profile:
            profile.disable()
        handled_cpu, handled_wall = time.process_time() - cpu, time.perf_counter() - wall
        event.remove(service.db.engine.sync_engine, "before_cursor_execute", count)
    finally:
        await service.stop()
    print(machine_line())
    print(f"{count_of:,} messages, {options.members} members, {service.db.engine.dialect.name}")
    print(f"  store:  {stored_cpu / count_of * 1000:.2f} CPU ms, "
          f"{stored_wall / count_of * 1000:.2f} wall ms per message")  # fmt: skip
    print(f"  handle: {handled_cpu / count_of * 1000:.2f} CPU ms, "
          f"{handled_wall / count_of * 1000:.2f} wall ms per message, "
          f"{sum(statements.values()) / count_of:.1f} statements")  # fmt: skip
    for statement, n in statements.most_common(8):
        print(f"    {n / count_of:5.2f}  {statement}")
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    return 0


def run(argv: list[str] | None = None) -> int:
    return run_main(main, argv)


if __name__ == "__main__":
    sys.exit(run())
