"""``childpact broadcast`` as an operator runs it: preview, confirmation, refusals, cancel and
the progress bar."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.storage.db import Database
from bot.storage.models import AuditEntry, Broadcast, Contact, Delivery

ROOT = Path(__file__).resolve().parents[2]


async def childpact(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_", "REDIS_"))
    }
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "app.cli", "broadcast", *args], cwd=ROOT,
        env={**env, "DATABASE_URL": url}, input=stdin, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


async def members(url: str) -> Database:
    db = Database(url)
    await db.migrate()
    async with db.session() as session, session.begin():
        await session.execute(
            insert(Contact),
            [
                {"channel": "telegram", "address": str(900 + n), "status": "active",
                 "locale": locale, "country": country, "flow_data": {}, "choices": []}
                for n, (locale, country) in enumerate([("ro", "RO"), ("ru", "MD"), ("en", "GE")])
            ],
        )  # fmt: skip
    return db


async def test_send_previews_asks_and_queues_and_cancel_holds_it_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    db = await members(url)
    texts = ("--text", "en=The Assembly meets on 12 May.", "--text", "ro=Adunarea e pe 12 mai.")

    declined = await childpact(url, "send", *texts, "--country", "MD", stdin="n\n")
    assert declined.returncode == 1, declined.stderr
    assert "recipients: 1" in declined.stdout and "ro 1" in declined.stdout
    assert "not sent" in declined.stdout
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0

    sent = await childpact(url, "send", *texts, "--yes", "--no-wait")
    assert sent.returncode == 0, sent.stderr
    assert "recipients: 3" in sent.stdout and "scheduled" in sent.stdout
    listed = await childpact(url, "list")
    assert "scheduled" in listed.stdout

    cancelled = await childpact(url, "cancel", "1")
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    follow = await childpact(url, "progress", "1")
    assert follow.returncode == 0 and "cancelled" in follow.stdout
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0
        # The audit log says who cancelled it: the command line, as the system.
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "broadcast.cancel")
        )
    assert entry is not None and (entry.actor, entry.target) == ("system", "broadcast:1")
    assert entry.detail["held_back"] == int(cancelled.stdout.split()[1])
    await db.dispose()


async def test_refusals_name_what_to_change(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    db = await members(url)
    await db.dispose()
    malformed = await childpact(url, "send", "--text", "hello", "--yes")
    assert malformed.returncode == 1 and "LOCALE=TEXT" in malformed.stderr
    too_long = await childpact(url, "send", "--text", "en=" + "x" * 1601, "--yes")
    assert too_long.returncode == 1 and "whatsapp allows 1600" in too_long.stderr
    naive = await childpact(url, "send", "--text", "en=hi", "--at", "2026-12-01T09:00", "--yes")
    assert naive.returncode == 1 and "offset" in naive.stderr


async def test_send_to_a_topic_counts_who_receives_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    db = await members(url)
    await db.dispose()
    texts = ("--text", "en=A call for proposals is open.")
    preview = await childpact(url, "send", *texts, "--topic", "calls", stdin="n\n")
    assert "recipients: 3" in preview.stdout  # on by default: nobody has chosen yet
    unknown = await childpact(url, "send", *texts, "--topic", "nope", "--yes")
    assert unknown.returncode == 1 and "no such topic: nope" in unknown.stderr


async def test_a_repeating_broadcast_is_sent_and_its_series_stopped(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    db = await members(url)
    text = ("--text", "en=Send us your monthly report.")
    wrong = await childpact(url, "send", *text, "--repeat", "weekly", "--times", "1", "--yes")
    assert wrong.returncode == 1 and "between 2 and 1000" in wrong.stderr
    sent = await childpact(url, "send", *text, "--repeat", "monthly", "--times", "6", "--yes",
                           "--no-wait")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert "repeats monthly in Europe/Bucharest" in sent.stdout
    async with db.session() as session:
        b = await session.scalar(select(Broadcast))
        assert b is not None and (b.repeat, b.repeat_times, b.occurrence) == ("monthly", 6, 1)
    stopped = await childpact(url, "stop-series", str(b.id))
    assert stopped.returncode == 0 and "series stopped" in stopped.stdout
    again = await childpact(url, "stop-series", str(b.id))
    assert again.returncode == 1 and "already stopped" in again.stderr
    await db.dispose()
