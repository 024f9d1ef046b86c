"""Fixtures shared by the suite: the two backends every storage and coordination test runs on."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.db import Database
from bot.storage.models import Base
from tests.backends import POSTGRES_URL, require_postgres, require_redis, unique_prefix


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


# ------------------------------------------------- one migration per test process


class _Migrated:
    """The databases migrated once for the whole test process, one per backend: the SQLite
    file every test copies, and the PostgreSQL schema every test empties after itself, with
    the rows the migrations seed (the starting topics) put back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template: Path | None = None
        self.schema: str | None = None
        self.seeded: list[tuple[Any, list[dict[str, Any]]]] = []
        self.tables: list[str] = []

    async def sqlite(self) -> Path:
        if self.template is None:
            path = self.folder / "template.db"
            database = Database(f"sqlite+aiosqlite:///{path}")
            try:
                await database.migrate()
            finally:
                await database.dispose()
            self.template = path
        return self.template

    async def postgres(self) -> str:
        if self.schema is None:
            pg_url = require_postgres()
            schema = f"t_{uuid.uuid4().hex[:12]}"
            engine = create_async_engine(pg_url)
            async with engine.begin() as conn:
                await conn.execute(text(f"CREATE SCHEMA {schema}"))
            await engine.dispose()
            database = Database(pg_url, schema=schema)
            try:
                await database.migrate()
                async with database.session() as session:
                    for table in Base.metadata.sorted_tables:
                        rows = (await session.execute(select(table))).mappings().all()
                        if rows:
                            self.seeded.append((table, [dict(r) for r in rows]))
                    found = await session.scalars(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                        {"s": schema},
                    )
                    self.tables = [t for t in found if t != "alembic_version"]
            finally:
                await database.dispose()
            self.schema = schema
        return self.schema

    async def empty(self, database: Database) -> None:
        """Every row the test added gone, the seeded ones back."""
        known = [t.name for t in reversed(Base.metadata.sorted_tables)]
        order = [t for t in self.tables if t not in known] + [t for t in known if t in self.tables]
        async with database.engine.begin() as conn:
            # One round trip: DELETE is quicker than TRUNCATE on tables that are mostly empty.
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.execute("; ".join(f"DELETE FROM {t}" for t in order))  # type: ignore[union-attr]
            for table, rows in self.seeded:
                await conn.execute(insert(table), rows)

    def drop(self) -> None:
        if self.schema is None:
            return

        async def drop() -> None:
            engine = create_async_engine(POSTGRES_URL)
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": self.schema},
                )
                await conn.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
            await engine.dispose()

        asyncio.run(drop())


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Migrated]:
    migrated = _Migrated(tmp_path_factory.mktemp("migrated"))
    yield migrated
    migrated.drop()


@pytest.fixture(params=["embedded", "scaled"])
async def clean_db(
    request: pytest.FixtureRequest, _migrated: _Migrated, tmp_path: Path
) -> AsyncIterator[Database]:
    """Like ``db``, an empty migrated database on SQLite, then on PostgreSQL; migrated once
    per test process, so that tests of a module's rules on storage take milliseconds each."""
    if request.param == "embedded":
        path = tmp_path / "childpact.db"
        shutil.copyfile(await _migrated.sqlite(), path)
        database = Database(f"sqlite+aiosqlite:///{path}")
        try:
            yield database
        finally:
            await database.dispose()
        return
    database = Database(POSTGRES_URL, schema=await _migrated.postgres())
    try:
        yield database
    finally:
        try:
            await _migrated.empty(database)
        finally:
            await database.dispose()
