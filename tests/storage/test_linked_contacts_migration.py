"""Migration 0007 adds people to a database that already has members, and keeps everything
that points at them: their outbox rows and their conversations."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from bot.storage.db import Database, alembic_config

ROWS = (
    "insert into contacts (id, channel, address, status, flow_data, choices, created_at,"
    " updated_at) values (1, 'telegram', '1', 'active', '{}', '[]', :at, :at)",
    "insert into outbox (contact_id, channel, address, priority, message, status, status_rank,"
    " attempts, due_at, created_at, updated_at) values (1, 'telegram', '1', 1, '{}', 'sent', 2,"
    " 1, 0, :at, :at)",
    "insert into conversations (contact_id, kind, status, created_at, updated_at)"
    " values (1, 'question', 'open', :at, :at)",
)


async def test_members_and_what_points_at_them_survive_the_upgrade(backend):
    db = Database(backend.database_url, schema=backend.schema)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0006"))
        async with db.engine.begin() as conn:
            for row in ROWS:
                await conn.execute(text(row), {"at": datetime(2026, 1, 1, tzinfo=UTC)})
        await db.migrate()
        async with db.engine.connect() as conn:
            counts = [
                (await conn.execute(text(f"select count(*) from {table}"))).scalar()
                for table in ("contacts", "outbox", "conversations")
            ]
            person = (await conn.execute(text("select person_id from contacts"))).scalar()
    finally:
        await db.dispose()
    assert counts == [1, 1, 1] and person is None
