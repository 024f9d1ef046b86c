"""The inbound bench's service under test: a fresh store per run, the fake Bot API and
`childpact serve` as processes of their own, the bench's look at the service's tables, and
py-spy sampling the service when asked."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import shutil
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.common import (
    PYTHON,
    ROOT,
    SECRET,
    TOKEN,
    Child,
    clean_env,
    pinned,
)


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
        # PostgreSQL needs a key every process shares (links are signed by one and checked by
        # another); a fixed one is enough for a benchmark's throwaway database.
        "SECRET_KEY": "bench-" + "k" * 42,
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
