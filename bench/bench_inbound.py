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
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    Child,
    CoreClock,
    fmt,
    free_port,
    machine_line,
    percentile,
    pin_plan,
    pin_self,
    pinned,
    reachable,
    run_main,
    table,
)
from bench.inbound_load import Item, Sent, build_load, closed_loop, paced
from bench.inbound_service import (
    Store,
    Target,
    childpact,
    fake_telegram,
    prepared,
    service_env,
    settle,
    start_profiler,
    stop_profiler,
    wait_ready,
)

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
TELEGRAM_CONNECTIONS = 40  # Telegram's default max_connections for a webhook


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
    return run_main(main, argv, "interrupted; the service, the fake and the scratch database are gone")


if __name__ == "__main__":
    sys.exit(run())
