"""Inbound against a plain python-telegram-bot bot, side by side in one run.

    python -m bench.bench_vs_ptb [--rounds 3] [--systems ptb,sqlite,postgres,postgres-2x2]

The same load goes to each system in turn, against the same fake Bot API (a process of its
own, every limit lifted; `TELEGRAM_RATE=0 TELEGRAM_CHAT_RATE=0` lift ours): 200 chats first
onboard (not measured; the plain bot just answers), then send 10 everyday questions each,
2,000 updates with 20 requests in flight; a chat's next update leaves once the previous one
was acknowledged, as Telegram does. Nothing is pinned: the systems, the load, the fake,
PostgreSQL and Redis share the machine's cores.

Systems:
  ptb            bench/ptb_bot.py: python-telegram-bot 22 behind Starlette, PicklePersistence;
                 acknowledges before it stores anything
  sqlite         `childpact serve` on embedded SQLite (everything in one process)
  postgres       `childpact serve` on PostgreSQL + Redis, one process
  postgres-2x2   two `childpact serve --web-only` (the load alternates between them) and two
                 `childpact worker`, on PostgreSQL + Redis

Columns (medians over the rounds; the ratio is taken within each round, then its median):
  answered/s     updates with a reply at the fake, per second from the first update sent to
                 the last reply
  ack p50/p99    update sent to its HTTP answer, at the client (ms)
  reply p50/p99  update sent to its reply accepted by the fake Bot API (ms)
  CPU ms/update  the system's processes' CPU time (not PostgreSQL's or Redis's) from the first
                 measured update to the last reply, per update
  fake, load     the fake Bot API's and the load's CPU ms per update (the machine's other work)
  x ptb          answered/s over the plain bot's in the same round

Last, what 1.5x the plain bot's rate leaves a system: one core's CPU ms per update at that
rate (one process), the cores' less what the fake and the load spend on one, and the CPU ms
our handling spends understanding one of the load's questions, which the plain bot never does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    PYTHON,
    ROOT,
    SECRET,
    TOKEN,
    Child,
    clean_env,
    fmt,
    free_port,
    machine_line,
    percentile,
    proc_cpu_seconds,
    reachable,
    run_main,
    table,
)
from bench.inbound_load import HEADERS, ORGANISATIONS
from bench.inbound_service import (
    Store,
    Target,
    childpact,
    prepared,
    service_env,
    settle,
    start_profiler,
    stop_profiler,
    wait_ready,
)

SYSTEMS = ("ptb", "sqlite", "postgres", "postgres-2x2")
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
QUESTIONS = (
    "How can our organisation become a member of the coalition?",
    "When is the next regional meeting on deinstitutionalisation?",
    "Where can I find the annual report in my language?",
    "Is there funding for small NGOs working with children with disabilities?",
    "Who is the contact person for Moldova?",
    "how do we join the network",
    "Is there a grant for our foster care project?",
    "when is the next meeting",
    "who should I contact in Romania?",
    "annual report 2025",
)
REPLY_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


# ---------------------------------------------------------------- the fake Bot API


def _serve_fake(conn: Connection) -> None:
    import gc

    from tests.fakes.telegram_api import FakeTelegram

    gc.disable()

    async def main() -> None:
        async with FakeTelegram(rate=None, chat_rate=None, group_rate=None) as fake:
            conn.send(fake.url)
            loop = asyncio.get_running_loop()
            while (wanted := await loop.run_in_executor(None, conn.recv)) != "stop":
                conn.send([(m.chat_id, m.time) for m in fake.messages[wanted:]
                           if m.method in REPLY_METHODS])  # fmt: skip
                if wanted == -1:  # forget what was kept: the next system starts afresh
                    fake.messages.clear()
                    fake.callbacks.clear()

    asyncio.run(main())


class FakeApi:
    """The fake Bot API in a process of its own; ``replies()`` lists what it accepted."""

    def __init__(self) -> None:
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("spawn").Process(target=_serve_fake, args=(child,), daemon=True)
        self.proc.start()
        self.url: str = self.conn.recv()
        self.mark = 0

    def replies(self, since: int = 0) -> list[tuple[str, float]]:
        self.conn.send(since)
        return self.conn.recv()  # type: ignore[no-any-return]

    def count(self) -> int:
        return len(self.replies(0))

    def cpu_seconds(self) -> float:
        """The fake's CPU time so far (user + system, Linux)."""
        return proc_cpu_seconds(self.proc.pid)

    def reset(self) -> None:
        self.replies(-1)

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(5)


# ---------------------------------------------------------------- the load


@dataclass(slots=True)
class Update:
    chat: str
    body: bytes


@dataclass(slots=True)
class Sent:
    chat: str
    sent_at: float  # wall clock
    ack: float  # seconds
    status: int | str


def build_load(chats: int, per_chat: int, seed: int) -> tuple[list[Update], list[Update]]:
    """Onboarding (warm-up), then ``per_chat`` questions from each chat, chats interleaved."""
    from bot.countries import MEMBER_COUNTRIES
    from tests.fakes.telegram_updates import UpdateBuilder

    rng = random.Random(seed)
    base = rng.randrange(10**6, 10**7) * 1000
    warm: list[list[dict[str, Any]]] = []
    asks: list[list[dict[str, Any]]] = []
    for n in range(chats):
        b = UpdateBuilder(chat_id=6_000_000_000 + n, first_name=f"Member{n}",
                          username=f"member_{n}", language_code="en",
                          first_update_id=base + n * 100)  # fmt: skip
        warm.append([
            b.message("/start"), b.callback_query("consent:yes"), b.callback_query("lang:en"),
            b.callback_query(f"country:{rng.choice(MEMBER_COUNTRIES)}"),
            b.message(rng.choice(ORGANISATIONS)),
        ])  # fmt: skip
        asks.append([b.message(rng.choice(QUESTIONS)) for _ in range(per_chat)])

    def interleave(per: list[list[dict[str, Any]]]) -> list[Update]:
        out = []
        for turn in range(len(per[0])):
            order = list(range(chats))
            rng.shuffle(order)
            out.extend(
                Update(str(6_000_000_000 + n), json.dumps(per[n][turn]).encode()) for n in order
            )
        return out

    return interleave(warm), interleave(asks)


async def closed_loop(
    session: aiohttp.ClientSession, urls: Sequence[str], updates: Sequence[Update], flight: int
) -> list[Sent]:
    """``flight`` requests in flight, spread over ``urls`` in turn; a chat's next update waits
    for the previous one's answer."""
    loop = asyncio.get_running_loop()
    queue = iter(enumerate(updates))
    last: dict[str, asyncio.Future[None]] = {}
    results: list[Sent] = []

    async def connection() -> None:
        for i, update in queue:
            before = last.get(update.chat)
            done = last[update.chat] = loop.create_future()
            try:
                if before is not None and not before.done():
                    await before
                began, wall = time.perf_counter(), time.time()
                try:
                    async with session.post(
                        urls[i % len(urls)], data=update.body, headers=HEADERS
                    ) as response:
                        await response.read()
                        status: int | str = response.status
                except Exception as exc:
                    status = type(exc).__name__
                results.append(Sent(update.chat, wall, time.perf_counter() - began, status))
            finally:
                done.set_result(None)

    await asyncio.gather(*(connection() for _ in range(flight)))
    return results


async def replies_settled(fake: FakeApi, expected: int, within: float, quiet: float) -> int:
    """Wait until the fake holds ``expected`` replies, or none came for ``quiet`` seconds."""
    deadline = time.monotonic() + within
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(fake.replies(fake.mark))
        if count >= expected:
            return count
        if count != seen:
            seen, since = count, time.monotonic()
        elif time.monotonic() - since > quiet:
            return count
        await asyncio.sleep(0.1)
    return seen


# ---------------------------------------------------------------- figures


@dataclass
class Figures:
    system: str
    updates: int = 0
    answered_per_s: float = math.nan
    ack_p50: float = math.nan
    ack_p99: float = math.nan
    reply_p50: float = math.nan
    reply_p99: float = math.nan
    cpu_ms: float = math.nan
    fake_ms: float = math.nan  # the fake Bot API's CPU per update
    load_ms: float = math.nan  # the load's (this process's) CPU per update
    errors: int = 0
    notes: list[str] = field(default_factory=list)


def figures(system: str, sent: list[Sent], replies: list[tuple[str, float]], cpu: float) -> Figures:
    ok = [s for s in sent if isinstance(s.status, int) and 200 <= s.status < 300]
    by_chat: dict[str, list[float]] = {}
    for chat, at in replies:
        by_chat.setdefault(chat, []).append(at)
    sends: dict[str, list[Sent]] = {}
    for s in ok:
        sends.setdefault(s.chat, []).append(s)
    latencies: list[float] = []
    last = 0.0
    for chat, mine in sends.items():
        mine.sort(key=lambda s: s.sent_at)
        times = sorted(by_chat.get(chat, []))
        if len(times) == len(mine):  # one reply each, in order: pair them
            pairs = list(zip(mine, times, strict=True))
        else:  # otherwise the first reply not taken that came after the update left
            pairs, used = [], 0
            for s in mine:
                while used < len(times) and times[used] < s.sent_at:
                    used += 1
                if used < len(times):
                    pairs.append((s, times[used]))
                    used += 1
        for s, at in pairs:
            latencies.append((at - s.sent_at) * 1000)
            last = max(last, at)
    began = min((s.sent_at for s in sent), default=0.0)
    f = Figures(system, len(sent))
    f.errors = len(sent) - len(ok)
    if f.errors:
        kinds = Counter(str(s.status) for s in sent if s not in ok)
        f.notes.append("errors: " + ", ".join(f"{n} x {kind}" for kind, n in kinds.most_common()))
    if len(latencies) < len(ok):
        f.notes.append(f"{len(ok) - len(latencies)} acknowledged updates got no reply")
    if len(replies) != len(ok):
        f.notes.append(f"{len(replies)} replies for {len(ok)} updates")
    if latencies and last > began:
        f.answered_per_s = len(latencies) / (last - began)
    acks = [s.ack * 1000 for s in ok]
    f.ack_p50, f.ack_p99 = percentile(acks, 50), percentile(acks, 99)
    f.reply_p50, f.reply_p99 = percentile(latencies, 50), percentile(latencies, 99)
    f.cpu_ms = cpu / len(ok) * 1000 if ok else math.nan
    return f


# ---------------------------------------------------------------- one system, one round


async def run_system(
    system: str,
    options: argparse.Namespace,
    fake: FakeApi,
    load: tuple[list[Update], list[Update]],
) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix=f"childpact-vs-ptb-{system}-"))
    fake.reset()
    try:
        if system == "ptb":
            return await _run_ptb(options, fake, load, workdir)
        backend = "sqlite" if system == "sqlite" else "postgres"
        async with prepared(backend, options, workdir) as target:
            return await _run_ours(system, target, options, fake, load)
    finally:
        if options.keep:
            print(f"  {system}: logs and files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def _run_ptb(
    options: argparse.Namespace, fake: FakeApi, load: tuple[list[Update], list[Update]],
    workdir: Path,
) -> Figures:  # fmt: skip
    port = free_port()
    command = [PYTHON, "-m", "bench.ptb_bot", "--port", str(port), "--api", fake.url,
               "--token", TOKEN, "--secret", SECRET, "--data", str(workdir / "ptb.pickle")]  # fmt: skip
    if options.ptb_concurrent:
        command.append("--concurrent")
    bot = Child("ptb", command, env=clean_env(PYTHONPATH=str(ROOT)), cwd=ROOT,
                log=workdir / "ptb.log")  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url, bot)
        return await _drive("ptb", [f"{url}/webhook/telegram"], [bot], fake, load, options)
    finally:
        bot.stop()


def _ours_env(target: Target, fake: FakeApi, port: int) -> dict[str, str]:
    env = service_env(target, fake.url, port)
    env.update(TELEGRAM_RATE="0", TELEGRAM_CHAT_RATE="0")
    return env


async def _run_ours(
    system: str, target: Target, options: argparse.Namespace, fake: FakeApi,
    load: tuple[list[Update], list[Update]],
) -> Figures:  # fmt: skip
    children: list[Child] = []
    store = Store(target.database_url)
    try:
        if target.name == "postgres":
            migrate = Child("migrations", childpact("db", "upgrade"), cwd=target.workdir,
                            env=_ours_env(target, fake, 0), log=target.workdir / "migrate.log")  # fmt: skip
            if migrate.process.wait(120) != 0:
                raise RuntimeError(f"childpact db upgrade failed:\n{migrate.tail()}")
            migrate.stop()
        webs = 2 if system == "postgres-2x2" else 1
        urls = []
        for n in range(webs):
            port = free_port()
            args = ["serve", "--port", str(port)] + (["--web-only"] if webs > 1 else [])
            children.append(Child(f"web{n}", childpact(*args), cwd=target.workdir,
                                  env=_ours_env(target, fake, port),
                                  log=target.workdir / f"web{n}.log"))  # fmt: skip
            urls.append(f"http://127.0.0.1:{port}")
        if webs > 1:
            for n in range(2):
                children.append(Child(f"worker{n}", childpact("worker"), cwd=target.workdir,
                                      env=_ours_env(target, fake, 0),
                                      log=target.workdir / f"worker{n}.log"))  # fmt: skip
        for url, child in zip(urls, children, strict=False):
            await wait_ready(url, child)
        hooks = [f"{url}/webhook/telegram" for url in urls]
        profiler = None
        if options.profile and target.name == "sqlite":
            profiler = start_profiler(children[0], target)
        try:
            result = await _drive(system, hooks, children, fake, load, options, store)
        finally:
            if profiler is not None:
                stop_profiler(profiler, target)
        for child in children:
            if not child.alive():
                result.notes.append(f"{child.name} died:\n{child.tail()}")
        return result
    finally:
        await store.close()
        for child in children:
            child.stop()
            errors = [line for line in child.tail(400).splitlines()
                      if " ERROR " in line or "Traceback" in line]  # fmt: skip
            if errors:
                print(
                    f"  {system} {child.name}: {len(errors)} errors logged, e.g. {errors[0][:200]}"
                )


async def _drive(
    system: str, hooks: list[str], children: list[Child], fake: FakeApi,
    load: tuple[list[Update], list[Update]], options: argparse.Namespace,
    store: Store | None = None,
) -> Figures:  # fmt: skip
    warm, measured = load
    connector = aiohttp.TCPConnector(limit=options.flight)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        fake.mark = 0
        await closed_loop(session, hooks, warm, options.flight)
        if store is not None:
            await settle(store, children[0], 60, sent=True)
        await replies_settled(fake, 10**9, 60, quiet=1.5)
        fake.mark = fake.count()
        cpu_before = sum(c.cpu_seconds() for c in children)
        fake_before, load_before = fake.cpu_seconds(), time.process_time()
        sent = await closed_loop(session, hooks, measured, options.flight)
        await replies_settled(fake, len(measured), options.settle_timeout, quiet=5.0)
        cpu = sum(c.cpu_seconds() for c in children) - cpu_before
        fake_cpu, load_cpu = fake.cpu_seconds() - fake_before, time.process_time() - load_before
    replies = fake.replies(fake.mark)
    result = figures(system, sent, replies, cpu)
    result.fake_ms, result.load_ms = fake_cpu / len(sent) * 1000, load_cpu / len(sent) * 1000
    return result


# ---------------------------------------------------------------- the command


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_vs_ptb", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add = parser.add_argument
    add("--systems", default=",".join(SYSTEMS), help=f"any of {','.join(SYSTEMS)} (all)")
    add("--rounds", type=int, default=1, help="rounds of every system in turn (1)")
    add("--chats", type=int, default=200)
    add("--per-chat", type=int, default=10, help="questions from each chat (10)")
    add("--flight", type=int, default=20, help="requests in flight (20)")
    add("--ptb-concurrent", action="store_true", help="the plain bot handles concurrently")
    add("--postgres-url", default=DEFAULT_POSTGRES)
    add("--redis-url", default=DEFAULT_REDIS, help="flushed before and after")
    add("--settle-timeout", type=float, default=60.0)
    add("--seed", type=int, default=7)
    add("--keep", action="store_true", help="keep logs and files")
    add("--profile", action="store_true", help="py-spy on the sqlite system (implies --keep)")
    return parser.parse_args(argv)


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


async def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    options.keep = options.keep or options.profile
    systems = [s.strip() for s in options.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        print(f"unknown systems: {', '.join(unknown)} (known: {', '.join(SYSTEMS)})")
        return 2
    if any(s.startswith("postgres") for s in systems) and not (
        reachable(options.postgres_url.replace("+asyncpg", ""), 5432)
        and reachable(options.redis_url, 6379)
    ):
        print("postgres systems skipped: PostgreSQL or Redis not reachable")
        systems = [s for s in systems if not s.startswith("postgres")]
    print(machine_line())
    print(f"vs ptb: {options.chats} chats onboard, then {options.per_chat} questions each "
          f"({options.chats * options.per_chat:,} updates), {options.flight} in flight; "
          f"{options.rounds} round(s); times in ms")  # fmt: skip
    load = build_load(options.chats, options.per_chat, options.seed)
    fake = FakeApi()
    rounds: list[dict[str, Figures]] = []
    try:
        for n in range(options.rounds):
            got: dict[str, Figures] = {}
            for system in systems:
                started = time.monotonic()
                try:
                    got[system] = await run_system(system, options, fake, load)
                except Exception as exc:
                    print(f"  round {n + 1} {system}: failed: {type(exc).__name__}: {exc}")
                    continue
                f = got[system]
                print(f"  round {n + 1} {system}: {fmt(f.answered_per_s, 1)}/s, ack p99 "
                      f"{fmt(f.ack_p99, 0)} ms, in {time.monotonic() - started:.0f} s"
                      + "".join(f"; {note}" for note in f.notes))  # fmt: skip
            rounds.append(got)
    finally:
        fake.close()
    rows = []
    for system in systems:
        runs = [r[system] for r in rounds if system in r]
        if not runs:
            continue
        ratios = [r[system].answered_per_s / r["ptb"].answered_per_s
                  for r in rounds if system in r and "ptb" in r]  # fmt: skip

        def med(name: str, runs: list[Figures] = runs) -> float:
            return _median([getattr(f, name) for f in runs])

        rows.append([
            system, fmt(runs[0].updates), fmt(med("answered_per_s"), 1), fmt(med("ack_p50"), 0),
            fmt(med("ack_p99"), 0), fmt(med("reply_p50"), 0), fmt(med("reply_p99"), 0),
            fmt(med("cpu_ms"), 2), fmt(med("fake_ms"), 2), fmt(med("load_ms"), 2),
            f"{_median(ratios):.2f}x" if ratios else "-", fmt(sum(f.errors for f in runs)),
        ])  # fmt: skip
    print()
    print(table(["system", "updates", "answered/s", "ack p50", "p99", "reply p50", "p99",
                 "CPU ms/update", "fake", "load", "x ptb", "errors"], rows))  # fmt: skip
    budget(rounds, options.seed)
    one = [r["postgres"].answered_per_s for r in rounds if "postgres" in r]
    two = [r["postgres-2x2"].answered_per_s for r in rounds if "postgres-2x2" in r]
    if one and two:
        scale = _median([b / a for a, b in zip(one, two, strict=False)])
        print(f"postgres-2x2 over postgres (one process): {scale:.2f}x")
    return 0


def understanding_ms(questions: Sequence[str], rounds: int = 3) -> float:
    """CPU ms our handling spends understanding one of the load's questions (language,
    safeguarding, the knowledge's matcher), best of ``rounds``: what the plain bot never does."""
    from app.service import Features
    from bot.i18n import translator_for
    from bot.knowledge.answers import understand

    services = Features.load()  # what the service's handlers understand with
    t = translator_for("en")
    for text in questions[:100]:  # caches, first calls
        understand(services, text, t, None, alerted=False)
    best = math.inf
    for _ in range(rounds):
        began = time.process_time()
        for text in questions:
            understand(services, text, t, None, alerted=False)
        best = min(best, (time.process_time() - began) / len(questions) * 1000)
    return best


def budget(rounds: list[dict[str, Figures]], seed: int) -> None:
    """What 1.5x the plain bot's rate leaves a system of the machine's cores, per update, and
    what understanding a question alone costs."""
    plain = [r["ptb"] for r in rounds if "ptb" in r]
    if not plain:
        return
    rate = 1.5 * _median([f.answered_per_s for f in plain])
    cores = os.cpu_count() or 1
    others = _median([f.fake_ms + f.load_ms for f in plain])
    rng = random.Random(seed)
    understanding = understanding_ms([rng.choice(QUESTIONS) for _ in range(2000)])
    print(
        f"at 1.5x the plain bot ({rate:.0f}/s): one process has {1000 / rate:.2f} CPU ms an "
        f"update at most (a core); the {cores} cores {1000 * cores / rate:.2f} for everything, "
        f"of which the fake and the load take {others:.2f}. Understanding one of the load's "
        f"questions (language, safeguarding, matching) takes {understanding:.2f} of them"
    )


def run(argv: list[str] | None = None) -> int:
    return run_main(main, argv)


if __name__ == "__main__":
    sys.exit(run())
