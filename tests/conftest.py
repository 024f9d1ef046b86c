"""Fixtures shared by the suite: the two backends every storage and coordination test runs on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.db import Database
from tests.backends import require_postgres, require_redis, unique_prefix


@dataclass(frozen=True)
class Backend:
    """Where a test keeps its data: SQLite alone (embedded), or PostgreSQL with Redis (scaled)."""

    name: str
    database_url: str
    schema: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "childpact:"


async def make_backend(name: str, folder: Path) -> AsyncIterator[Backend]:
    if name == "embedded":
        yield Backend(name, f"sqlite+aiosqlite:///{folder}/childpact.db")
        return
    pg_url = require_postgres()
    redis_url = require_redis()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(pg_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield Backend(name, pg_url, schema, redis_url, unique_prefix())
    finally:
        async with engine.begin() as conn:
            # A connection a stopped service left inside a transaction would hold its locks
            # and keep DROP SCHEMA waiting.
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"
                ),
                {"name": schema},
            )
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await engine.dispose()


@pytest.fixture(params=["embedded", "scaled"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """SQLite + in-process coordination, then PostgreSQL + Redis."""
    async for value in make_backend(request.param, tmp_path):
        yield value


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[Database]:
    """The backend's database, migrated, for tests that work on storage directly."""
    database = Database(backend.database_url, schema=backend.schema)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()
