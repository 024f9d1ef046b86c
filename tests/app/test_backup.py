"""``childpact backup`` while the service writes, and ``childpact restore`` into a new place:
every member, message and answer written before the backup is there, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select

from bot.secretariat.service_health import last_backup
from bot.storage.db import Database
from bot.storage.models import Contact, Delivery, Inbound
from tests.app.test_cli import childpact
from tests.backends import require_postgres

SEEDED = 60


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[str], str]]:
    """A new, empty database for each name: a file in a folder of its own, or a database of
    its own on the test server (dropped afterwards)."""
    made: list[str] = []
    server = require_postgres() if request.param == "postgresql" else ""
    admin = await asyncpg.connect(server.replace("+asyncpg", "")) if server else None

    async def make(name: str) -> str:
        if admin is None:
            return f"sqlite+aiosqlite:///{tmp_path / name / 'childpact.db'}"
        db = f"backup_{name}_{uuid.uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{db}"')
        made.append(db)
        return server.rsplit("/", 1)[0] + "/" + db

    urls: dict[str, str] = {}

    def url(name: str) -> str:
        return urls[name]

    for name in ("live", "restored"):
        urls[name] = await make(name)
    yield url
    if admin is not None:
        for db in made:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


async def write_member(db: Database, n: int) -> int:
    """What one member's question and the bot's answer leave behind, in one transaction."""
    async with db.session() as session, session.begin():
        contact = Contact(channel="telegram", address=str(1000 + n), status="active", locale="en")
        session.add(contact)
        await session.flush()
        session.add(Inbound(channel="telegram", platform_id=f"u{n}", address=contact.address,
                            message={"text": f"question {n}"}, status="done"))  # fmt: skip
        session.add(Delivery(contact_id=contact.id, channel="telegram", address=contact.address,
                             message={"text": f"answer {n}"}, status="sent"))  # fmt: skip
        return n


async def contents(url: str) -> tuple[set[str], dict[str, str], dict[str, str]]:
    """Members' addresses, and each message and answer by its member's address."""
    db = Database(url)
    try:
        async with db.session() as session:
            members = set(await session.scalars(select(Contact.address)))
            questions = {
                i.address: i.message["text"] for i in await session.scalars(select(Inbound))
            }
            answers = {
                d.address: d.message["text"] for d in await session.scalars(select(Delivery))
            }
            return members, questions, answers
    finally:
        await db.dispose()


async def test_a_backup_under_load_restores_every_member_message_and_answer(
    fresh: Callable[[str], str], tmp_path: Path
):
    live = Database(fresh("live"))
    await live.migrate()
    for n in range(SEEDED):
        await write_member(live, n)

    written: list[int] = []
    errors: list[BaseException] = []
    backing_up = asyncio.Event()
    during: list[int] = []
    stop = asyncio.Event()

    async def service_writes() -> None:
        n = SEEDED
        while not stop.is_set():
            try:
                written.append(await write_member(live, n))
                if backing_up.is_set():
                    during.append(n)
            except Exception as exc:  # a write the backup held up would show here
                errors.append(exc)
                return
            n += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(service_writes())
    file = tmp_path / "backups" / "childpact.backup"
    before = len(written)  # committed before the backup started: must all be in it
    backing_up.set()
    done = await childpact("backup", str(file), DATABASE_URL=fresh("live"))
    backing_up.clear()
    stop.set()
    await writer
    assert done.returncode == 0, done.stderr
    assert errors == []
    assert during, "the service wrote nothing while the backup ran"
    assert "backup written" in done.stdout and file.exists()

    async with live.session() as session:
        recorded = await last_backup(session)
    await live.dispose()
    assert recorded is not None and recorded.file == "childpact.backup"
    assert recorded.size == file.stat().st_size

    done = await childpact("restore", str(file), DATABASE_URL=fresh("restored"))
    assert done.returncode == 0, done.stderr
    members, questions, answers = await contents(fresh("restored"))
    for n in [*range(SEEDED), *written[:before]]:
        address = str(1000 + n)
        assert address in members
        assert questions[address] == f"question {n}" and answers[address] == f"answer {n}"
    # One moment's copy: every member in it has their message and answer, and no more members
    # than the service had written by the end.
    assert set(questions) == members == set(answers)
    assert len(members) <= SEEDED + len(written)

    again = await childpact("restore", str(file), DATABASE_URL=fresh("restored"))
    assert again.returncode == 1 and "--replace" in again.stderr
    replaced = await childpact("restore", "--replace", str(file), DATABASE_URL=fresh("restored"))
    assert replaced.returncode == 0, replaced.stderr
    assert (await contents(fresh("restored")))[0] == members


async def test_restore_refuses_what_is_not_a_backup(tmp_path: Path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    target = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'childpact.db'}"
    done = await childpact("restore", str(junk), DATABASE_URL=target)
    assert done.returncode == 1 and "not a SQLite database" in done.stderr
    assert not (tmp_path / "new" / "childpact.db").exists()
    missing = await childpact("backup", str(tmp_path / "b"), DATABASE_URL=target)
    assert missing.returncode == 1 and "no database at" in missing.stderr
