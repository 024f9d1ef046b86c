"""Real ``childpact`` processes for the fault tests: started, killed and restarted like in production."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.backends import require_postgres, require_redis, unique_prefix
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import AUTH, NUMBER, PUBLIC, SECRET, SID, TOKEN, free_port

ROOT = Path(__file__).resolve().parent.parent


class Process:
    """One ``childpact serve`` on a loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )
        # Three minutes: on a machine busy with other test workers, importing the app alone
        # has taken over 15 s and the whole start over a minute; a healthy start on a quiet
        # one takes about two.
        deadline = time.monotonic() + 180.0
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"childpact serve exited: {self.log.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("childpact serve did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as when a machine dies."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def channel_env(telegram_url: str, twilio_url: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_URL": telegram_url,
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": AUTH,
        "TWILIO_WHATSAPP_NUMBER": NUMBER,
        "TWILIO_API_URL": twilio_url,
        "PUBLIC_URL": PUBLIC,
        "LOG_LEVEL": "INFO",
        "SECRET_KEY": "test-signing-key-" + "s" * 40,  # shared by every process of a test
    }


@asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for processes that cannot be given a schema."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


@asynccontextmanager
async def two_serving(folder: Path) -> AsyncIterator[tuple[Process, Process, str]]:
    """Two ``childpact serve`` in scaled mode, on one fresh PostgreSQL database and one Redis,
    with fakes of Telegram and Twilio: both processes, started, and the database's address.
    Their logs go to ``folder``."""
    pg, redis_url = require_postgres(), require_redis()
    async with (
        postgres_database(pg) as database_url,
        FakeTelegram() as fake,
        FakeTwilio() as twilio,
    ):
        env = {
            **channel_env(fake.url, twilio.url),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": unique_prefix(),
        }
        one, other = (Process(env, folder / f"serve{n}.log") for n in range(2))
        try:
            await asyncio.gather(one.start(), other.start())  # one migrates, the other waits
            yield one, other, database_url
        finally:
            one.stop()
            other.stop()
