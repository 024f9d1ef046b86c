"""Inbound: Telegram webhook requests per second on one core, and the time from a request to
its reply stored in the outbox, on SQLite (embedded) and on PostgreSQL + Redis.

    python -m bench.bench_inbound [--seconds 20] [--requests 5000] [--backends sqlite,postgres]

The real service runs as its own process (`childpact serve`, one uvicorn worker, every part
of the embedded mode in it) pinned to one core with taskset; the fake Telegram Bot API (its
limits lifted) and this load generator share the other cores. Members go through onboarding
and the menu; a member's next message leaves only after the previous one was answered, as
Telegram does. A warm-up runs first and is handled completely before the clock starts.

Columns:
  accepted/s      2xx answers per second (first request sent to last answer)
  HTTP p50/p99    request sent to its answer, at the client
  stored p50/p99  request sent to its first reply row in `outbox` (outbox.created_at)
  sent p50/p99    request sent to that reply accepted by the fake Telegram (outbox.sent_at)
  handled/s       measured requests turned into replies per second (first send to last
                  reply stored); below accepted/s means a backlog grew during the run
  CPU ms/req      the service's CPU time from the first measured request until every reply
                  was sent, per request: the cost of one message, whatever else ran
  server CPU      the service's CPU use while requests were sent, in % of one core
  core idle       how idle the service's core was meanwhile (other processes may share it)
  errors          non-2xx answers, failed requests, and accepted updates without a reply
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    PYTHON,
    ROOT,
    SECRET,
    TOKEN,
    Child,
    CoreClock,
    clean_env,
    fmt,
    free_port,
    machine_line,
    percentile,
    pin_plan,
    pin_self,
    pinned,
    reachable,
    table,
)

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
TELEGRAM_CONNECTIONS = 40  # Telegram's default max_connections for a webhook
HEADERS = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}

ORGANISATIONS = (
    "Save the Children Moldova", "Hope and Homes for Children Romania",
    "Partnerships for Every Child", "Terre des hommes Albania", "World Vision Armenia",
    "SOS Children's Villages Bosnia and Herzegovina", "For Our Children Foundation",
)  # fmt: skip
QUESTIONS = (
    "How can our organisation become a member of the coalition?",
    "When is the next regional meeting on deinstitutionalisation?",
    "Where can I find the annual report in my language?",
    "Is there funding for small NGOs working with children with disabilities?",
    "Who is the contact person for Moldova?",
)


# ---------------------------------------------------------------- the load


@dataclass(slots=True)
class Item:
    """One webhook request: a member's update, serialized before the clock starts."""

    update_id: int
    member: int
    body: bytes


@dataclass(slots=True)
class Sent:
    update_id: int
    sent_at: float  # wall clock, comparable with the service's timestamps
    latency: float  # seconds to the HTTP answer
    status: int | str

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


def conversation(builder: Any, rng: random.Random) -> list[dict[str, Any]]:
    """What one member sends: onboarding by buttons and text, then the menu and questions."""
    from bot.countries import MEMBER_COUNTRIES
    from bot.i18n import LOCALES

    return [
        builder.message("/start"),
        builder.callback_query("consent:yes"),
        builder.callback_query(f"lang:{rng.choice(LOCALES)}"),
        builder.callback_query(f"country:{rng.choice(MEMBER_COUNTRIES)}"),
        builder.message(rng.choice(ORGANISATIONS)),
        builder.callback_query("menu:about"),
        builder.message(rng.choice(QUESTIONS)),
        builder.message("/help"),
        builder.callback_query("menu:settings"),
        builder.message(rng.choice(QUESTIONS)),
    ]


def build_load(members: int, total: int, seed: int) -> list[Item]:
    """``total`` updates from ``members`` members: everybody's first message (in a random
    order), then everybody's second, and so on, so that chats interleave as in real life."""
    from tests.fakes.telegram_api import UpdateBuilder

    rng = random.Random(seed)
    base = rng.randrange(10**6, 10**7) * 1000
    chats: list[list[dict[str, Any]]] = []
    for n in range(members):
        builder = UpdateBuilder(
            chat_id=5_000_000_000 + n,
            first_name=f"Member{n}",
            username=f"member_{n}",
            language_code=rng.choice(("ro", "ru", "en", "sq", "hy", "ka", "uk", None)),
            first_update_id=base + n * 100,
        )
        chats.append(conversation(builder, rng))
    per_member = len(chats[0])
    if total > members * per_member:
        raise SystemExit(
            f"{total} requests need more than {members} members x {per_member} messages: "
            "raise --members"
        )
    items: list[Item] = []
    for turn in range(per_member):
        order = list(range(members))
        rng.shuffle(order)
        for n in order:
            update = chats[n][turn]
            items.append(Item(update["update_id"], n, json.dumps(update).encode()))
            if len(items) == total:
                return items
    return items


async def post(session: aiohttp.ClientSession, url: str, item: Item, due: float) -> Sent:
    """Send one update; latency counts from ``due`` (perf_counter), when it should have left."""
    wall = time.time() - (time.perf_counter() - due)
    try:
        async with session.post(url, data=item.body, headers=HEADERS) as response:
            await response.read()
            status: int | str = response.status
    except Exception as exc:  # counted as an error; the run goes on
        status = type(exc).__name__
    return Sent(item.update_id, wall, time.perf_counter() - due, status)


async def closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    items: Sequence[Item],
    connections: int,
    seconds: float | None = None,
) -> list[Sent]:
    """As fast as the server answers with ``connections`` requests in flight, until the items
    or the ``seconds`` run out."""
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds if seconds else math.inf
    queue = iter(items)
    last: dict[int, asyncio.Future[None]] = {}
    results: list[Sent] = []

    async def connection() -> None:
        for item in queue:
            before = last.get(item.member)
            done = last[item.member] = loop.create_future()
            try:
                if before is not None and not before.done():
                    await before
                if time.perf_counter() >= deadline:
                    return
                results.append(await post(session, url, item, time.perf_counter()))
            finally:
                done.set_result(None)

    await asyncio.gather(*(connection() for _ in range(connections)))
    return results


async def paced(
    session: aiohttp.ClientSession,
    url: str,
    items: Sequence[Item],
    rate: float,
    seconds: float | None = None,
) -> list[Sent]:
    """Open loop: one request every 1/rate s whatever the answers. Latency counts from when a
    request was due, so a slow server cannot hide its queue (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    last: dict[int, asyncio.Future[None]] = {}
    tasks: list[asyncio.Task[Sent]] = []

    async def one(item: Item, due: float, before: Any, done: asyncio.Future[None]) -> Sent:
        try:
            if before is not None and not before.done():
                await before
            return await post(session, url, item, due)
        finally:
            done.set_result(None)

    start = time.perf_counter()
    for i, item in enumerate(items):
        due = start + i / rate
        if seconds and due - start >= seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        before = last.get(item.member)
        done = last[item.member] = loop.create_future()
        tasks.append(asyncio.create_task(one(item, due, before, done)))
    return list(await asyncio.gather(*tasks))


# ---------------------------------------------------------------- the service under test


@dataclass
class Target:
    name: str
    database_url: str
    redis_url: str | None = None
    workdir: Path = field(default_factory=Path)


def childpact(*args: str) -> list[str]:
    script = Path(PYTHON).parent / "childpact"
    return [str(script), *args] if script.exists() else [PYTHON, "-m", "app.cli", *args]


@contextlib.contextmanager
def fake_telegram(cores: list[int] | None, workdir: Path) -> Iterator[str]:
    """The fake Bot API in a process of its own, every limit lifted; yields its URL."""
    command = [PYTHON, "-m", "tests.fakes.telegram_api", "--port", "0", "--rate", "inf",
               "--chat-rate", "inf"]  # fmt: skip
    child = Child(
        "fake Telegram", pinned(command, cores), env=clean_env(PYTHONPATH=str(ROOT)), cwd=ROOT,
        log=workdir / "fake-telegram.log", stdout_pipe=True,
    )  # fmt: skip
    try:
        yield child.first_line().rsplit(" ", 1)[-1]
    finally:
        child.stop()


def service_env(target: Target, telegram_url: str, port: int) -> dict[str, str]:
    values = {
        "DATABASE_URL": target.database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_URL": telegram_url,
        # The fake lifts Telegram's limits and so does the service: its sender then sends as
        # fast as it can, and that cost is part of the figures (at 30/s it would barely run).
        "TELEGRAM_RATE": "inf",
        "TELEGRAM_CHAT_RATE": "0",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    if target.redis_url:
        values["REDIS_URL"] = target.redis_url
        values["REDIS_PREFIX"] = f"bench:{target.workdir.name}:"  # besides a database of its own
    return clean_env(**values)


async def wait_ready(url: str, server: Child, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"the service exited at start:\n{server.tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the service was not ready within {within:.0f} s:\n{server.tail()}")


@contextlib.asynccontextmanager
async def prepared(name: str, options: argparse.Namespace, workdir: Path) -> AsyncIterator[Target]:
    """A fresh, empty store for one run, removed afterwards."""
    if name == "sqlite":
        yield Target("sqlite", f"sqlite+aiosqlite:///{workdir}/childpact.db", workdir=workdir)
        return
    import asyncpg
    import redis

    admin = options.postgres_url.replace("+asyncpg", "")
    database = f"bench_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    store = redis.Redis.from_url(options.redis_url)
    try:
        store.flushdb()
        yield Target(
            "postgres", options.postgres_url.rsplit("/", 1)[0] + f"/{database}",
            options.redis_url, workdir,
        )  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            store.flushdb()
        store.close()
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()


class Store:
    """The benchmark's own look at the service's tables."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_async_engine(url, poolclass=NullPool)

    async def backlog(self) -> tuple[int, int]:
        """(inbound messages still pending, outbox rows still queued or sending)."""
        from sqlalchemy import func, select

        from bot.storage.models import Delivery, Inbound

        async with self.engine.connect() as conn:
            pending = await conn.scalar(
                select(func.count()).select_from(Inbound).where(Inbound.status == "pending")
            )
            unsent = await conn.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(("queued", "sending")))
            )
        return int(pending or 0), int(unsent or 0)

    async def replies(self) -> dict[int, tuple[float | None, float | None]]:
        """update_id: (first reply stored, first reply sent), epoch seconds."""
        from sqlalchemy import func, select

        from bot.storage.models import Delivery, Inbound

        query = (
            select(Inbound.platform_id, func.min(Delivery.created_at), func.min(Delivery.sent_at))
            .outerjoin(Delivery, Delivery.inbound_id == Inbound.id)
            .where(Inbound.channel == "telegram")
            .group_by(Inbound.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {int(pid): (_epoch(stored), _epoch(sent)) for pid, stored, sent in rows}

    async def outbox(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from bot.storage.models import Delivery

        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            )
            return {status: count for status, count in rows.all()}

    async def close(self) -> None:
        await self.engine.dispose()


def _epoch(value: datetime | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):  # aggregates over SQLite come back as text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # SQLite keeps no zone: the service writes UTC
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


async def settle(store: Store, server: Child, within: float, *, sent: bool) -> bool:
    """Wait until every stored message is handled (and, with ``sent``, every reply sent)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and server.alive():
        pending, unsent = await store.backlog()
        if pending == 0 and (unsent == 0 or not sent):
            return True
        await asyncio.sleep(0.1)
    return False


# ---------------------------------------------------------------- profiling (investigation)


def start_profiler(server: Child, target: Target) -> Child | None:
    """py-spy sampling the service's GIL holder while requests are sent, when installed."""
    spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    if not Path(spy).exists():
        print("  --profile: py-spy is not installed (pip install py-spy); not profiling")
        return None
    out = target.workdir / f"profile-{target.name}.txt"
    command = [spy, "record", "--pid", str(server.pid), "--rate", "250", "--format", "raw",
               "--gil", "--nonblocking", "-o", str(out)]  # fmt: skip
    child = Child("py-spy", command, log=target.workdir / "py-spy.log")
    time.sleep(1.0)  # attached before the load starts
    return child


def stop_profiler(profiler: Child, target: Target) -> None:
    profiler.process.send_signal(signal.SIGINT)
    with contextlib.suppress(Exception):
        profiler.process.wait(30)
    profiler.stop()
    out = target.workdir / f"profile-{target.name}.txt"
    if out.exists():
        print(f"  profile of {target.name}: {out}")
        print(summarize_profile(out))


# Where the service's time goes, by the first of these frames found in a sample's stack.
PARTS = (
    ("webhook: parse + store (Engine.accept)", "Engine.accept"),
    ("webhook: rest of the request", "telegram_update ("),
    ("engine: handlers (Engine._dispatch)", "Engine._dispatch"),
    ("engine: contact (Engine._contact)", "Engine._contact"),
    ("engine: _handle_next (pick pending, commit)", "Engine._handle_next"),
    ("engine: _has_pending", "Engine._has_pending"),
    ("engine: sweep", "Engine.sweep"),
    ("engine: drain (locks, notify)", "Engine.drain"),
    ("sender: send (PTB + httpx)", "Sender._deliver"),
    ("sender: claim", "Sender.claim"),
    ("sender: record results", "Sender._record"),
    ("sender: other", "Sender."),
    ("HTTP server (uvicorn, starlette)", "uvicorn/protocols/"),
    ("SQLAlchemy outside our frames (greenlets)", "sqlalchemy/"),
    ("aiosqlite worker threads", "_connection_worker_thread"),
)


def summarize_profile(path: Path) -> str:
    parts: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        part = next((name for name, key in PARTS if key in stack), "other (event loop, GC, ...)")
        parts[part] = parts.get(part, 0) + n
    if not total:
        return "    (no samples)"
    return "\n".join(
        f"    {n / total:6.1%}  {name}" for name, n in sorted(parts.items(), key=lambda kv: -kv[1])
    )


# ---------------------------------------------------------------- one run


@dataclass
class Result:
    backend: str
    sent: list[Sent]
    ended: float
    cpu_busy: float  # share of one core while sending
    cpu_total: float  # CPU seconds from the first measured request until all was sent
    core_idle: float
    replies: dict[int, tuple[float | None, float | None]]
    outbox: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        ok = [s for s in self.sent if s.ok]
        began = min((s.sent_at for s in self.sent), default=self.ended)
        span = self.ended - began
        http = [s.latency * 1000 for s in ok]
        stored, delivered, last_stored = [], [], began
        for s in ok:
            first_stored, first_sent = self.replies.get(s.update_id, (None, None))
            if first_stored is not None:
                stored.append((first_stored - s.sent_at) * 1000)
                last_stored = max(last_stored, first_stored)
            if first_sent is not None:
                delivered.append((first_sent - s.sent_at) * 1000)
        missing = len(ok) - len(stored)
        if missing:
            self.notes.append(f"{missing} accepted updates have no reply in the outbox")
        if len(delivered) < len(stored):
            self.notes.append(f"{len(stored) - len(delivered)} replies not sent by the end")
        return [
            self.backend,
            fmt(len(self.sent)),
            fmt(len(ok) / span if span > 0 else math.nan, 1),
            fmt(percentile(http, 50), 0),
            fmt(percentile(http, 99), 0),
            fmt(percentile(stored, 50), 0),
            fmt(percentile(stored, 99), 0),
            fmt(percentile(delivered, 50), 0),
            fmt(percentile(delivered, 99), 0),
            fmt(
                len(stored) / (last_stored - began) if stored and last_stored > began else math.nan,
                1,
            ),
            fmt(self.cpu_total / len(ok) * 1000 if ok else math.nan, 1),
            _percent(self.cpu_busy),
            _percent(self.core_idle),
            fmt(len(self.sent) - len(ok) + missing),
        ]


HEADINGS = [
    "backend", "requests", "accepted/s", "HTTP p50", "p99", "stored p50", "p99", "sent p50",
    "p99", "handled/s", "CPU ms/req", "server CPU", "core idle", "errors",
]  # fmt: skip


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


async def run_backend(
    name: str, options: argparse.Namespace, load: list[Item], cores: tuple[Any, Any]
) -> Result:
    server_cores, client_cores = cores
    workdir = Path(tempfile.mkdtemp(prefix=f"childpact-bench-{name}-"))
    try:
        async with prepared(name, options, workdir) as target:
            with fake_telegram(client_cores, workdir) as telegram_url:
                if target.name == "postgres":  # `childpact serve` migrates SQLite only
                    migrate = Child(
                        "migrations", childpact("db", "upgrade"), cwd=workdir,
                        env=service_env(target, telegram_url, 0), log=workdir / "migrate.log",
                    )  # fmt: skip
                    if migrate.process.wait(120) != 0:
                        raise RuntimeError(f"childpact db upgrade failed:\n{migrate.tail()}")
                    migrate.stop()
                return await measure(target, telegram_url, options, load, server_cores)
    finally:
        if options.keep:
            print(f"  {name}: logs and files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def measure(
    target: Target,
    telegram_url: str,
    options: argparse.Namespace,
    load: list[Item],
    server_cores: list[int] | None,
) -> Result:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The scratch folder as cwd: no .env of the repository sneaks into the settings.
    server = Child(
        "service", pinned(childpact("serve", "--port", str(port)), server_cores),
        env=service_env(target, telegram_url, port), cwd=target.workdir,
        log=target.workdir / "service.log",
    )  # fmt: skip
    store = Store(target.database_url)
    try:
        await wait_ready(url, server)
        warmup, measured = load[: options.warmup], load[options.warmup :]
        connector = aiohttp.TCPConnector(limit=options.connections)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            hook = f"{url}/webhook/telegram"
            if warmup:
                await closed_loop(session, hook, warmup, options.connections)
                await settle(store, server, options.settle_timeout, sent=True)
            profiler = start_profiler(server, target) if options.profile else None
            core = CoreClock(server_cores[0] if server_cores else None)
            cpu_before = server.cpu_seconds()
            if options.rate:
                sent = await paced(session, hook, measured, options.rate, options.seconds)
            else:
                sent = await closed_loop(
                    session, hook, measured, options.connections, options.seconds
                )
            ended = time.time()
            began = min((s.sent_at for s in sent), default=ended)
            cpu_sending = server.cpu_seconds() - cpu_before
            core_idle = core.idle_share()
            if profiler is not None:
                stop_profiler(profiler, target)
        settled = await settle(store, server, options.settle_timeout, sent=True)
        cpu_total = server.cpu_seconds() - cpu_before
        result = Result(
            target.name, sent, ended, cpu_sending / max(ended - began, 1e-9), cpu_total,
            core_idle, await store.replies(), await store.outbox(),
        )  # fmt: skip
        if not settled:
            pending, unsent = await store.backlog()
            result.notes.append(
                f"after {options.settle_timeout:.0f} s, {pending} messages were still pending "
                f"and {unsent} replies unsent (CPU ms/req counts only what was done)"
            )
        if not server.alive():
            result.notes.append(f"the service died:\n{server.tail()}")
        return result
    finally:
        await store.close()
        server.stop()
        errors = [
            line for line in server.tail(400).splitlines() if " ERROR " in line or "Traceback" in line
        ]  # fmt: skip
        if errors:
            print(
                f"  {target.name}: the service logged {len(errors)} errors, e.g. {errors[0][:200]}"
            )


# ---------------------------------------------------------------- the command


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_inbound",
        description="Telegram webhook throughput and request-to-reply latency on one core.",
    )
    add = parser.add_argument
    add("--seconds", type=float, default=20.0, help="measure for this long per backend (20)")
    add("--requests", type=int, default=5000, help="at most this many measured requests (5000)")
    add("--warmup", type=int, default=200, help="requests before measuring (200)")
    add("--members", type=int, default=2000, help="distinct chats (2000)")
    add(
        "--connections",
        type=int,
        default=TELEGRAM_CONNECTIONS,
        help=f"requests in flight, as Telegram's webhook max_connections ({TELEGRAM_CONNECTIONS})",
    )
    add(
        "--rate",
        type=float,
        default=None,
        help="open loop: send this many requests a second whatever the answers (default: as "
        "fast as the service answers)",
    )
    add("--backends", default="sqlite,postgres", help="sqlite,postgres (both)")
    add(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="a database to connect to; the bench creates and drops a database of its own",
    )
    add(
        "--redis-url",
        default=DEFAULT_REDIS,
        help="a Redis database for the bench alone: it is flushed before and after",
    )
    add("--server-core", type=int, default=None, help="the core for the service (the first)")
    add(
        "--settle-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the backlog to be handled and sent after sending (30)",
    )
    add("--seed", type=int, default=7)
    add("--keep", action="store_true", help="keep the service's log and files")
    add(
        "--profile",
        action="store_true",
        help="sample the service with py-spy while sending (when installed); implies --keep",
    )
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    options.keep = options.keep or options.profile
    print(machine_line())
    server_cores, client_cores = pin_plan(options.server_core)
    pin_self(client_cores)
    if server_cores:
        others = ",".join(map(str, client_cores or []))
        print(f"pinned: the service on core {server_cores[0]}; load and fake Telegram on {others}; "
              "PostgreSQL, Redis and anything else running here are not pinned")  # fmt: skip
    else:
        print("not pinned (no taskset, or a single core): load and service share the CPU")
    mode = f"paced at {options.rate:g}/s" if options.rate else f"{options.connections} in flight"
    print(
        f"inbound: Telegram updates from {options.members:,} members for {options.seconds:g} s "
        f"(at most {options.requests:,}) after {options.warmup:,} warm-up, {mode}; times in ms"
    )
    load = build_load(options.members, options.warmup + options.requests, options.seed)
    results: list[Result] = []
    failed = False
    for name in [b.strip() for b in options.backends.split(",") if b.strip()]:
        if name not in ("sqlite", "postgres"):
            print(f"{name}: unknown backend (sqlite, postgres)")
            failed = True
            continue
        if name == "postgres":
            missing = [
                what
                for what, url, port in (
                    ("PostgreSQL", options.postgres_url.replace("+asyncpg", ""), 5432),
                    ("Redis", options.redis_url, 6379),
                )
                if not reachable(url, port)
            ]
            if missing:
                print(f"postgres: skipped, {' and '.join(missing)} not reachable")
                continue
        started = time.monotonic()
        try:
            result = await run_backend(name, options, load, (server_cores, client_cores))
        except Exception as exc:
            print(f"{name}: failed: {type(exc).__name__}: {exc}")
            failed = True
            continue
        results.append(result)
        print(f"  {name}: done in {time.monotonic() - started:.0f} s")
    if not results:
        return 1 if failed else 0
    rows = [r.row() for r in results]
    print()
    print(table(HEADINGS, rows))
    for r in results:
        outbox = ", ".join(f"{count:,} {status}" for status, count in sorted(r.outbox.items()))
        print(f"{r.backend}: outbox at the end: {outbox}")
        for note in r.notes:
            print(f"{r.backend}: {note}")
    return 1 if failed else 0


def run(argv: list[str] | None = None) -> int:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        return asyncio.run(main(argv))
    except KeyboardInterrupt:
        print("interrupted; the service, the fake and the scratch database are gone")
        return 130


if __name__ == "__main__":
    sys.exit(run())
