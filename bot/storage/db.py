"""The database handle: engine, sessions, migrations and a health check."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """Owns the engine; made by the app factory, closed by its lifespan."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # Errors must not carry the statement's values (texts, phone numbers) into the logs.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            # The driver's debug log prints every statement's values: phone numbers, members'
            # texts, session tokens. Nobody needs that more than they need those kept out.
            logging.getLogger("aiosqlite").setLevel(logging.INFO)
            _ensure_parent_folder(url)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
            if schema:
                # The application name lets whoever owns the schema find its connections.
                kwargs["connect_args"] = {
                    "server_settings": {"search_path": schema, "application_name": schema}
                }
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                # Several processes may start at once: one migrates, the others wait and find
                # nothing left to do.
                await conn.execute(text("SELECT pg_advisory_xact_lock(7246001)"))
            await conn.run_sync(_upgrade)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


# PostgreSQL's commit waits for its WAL to reach the disk; under other writers' load that wait,
# not the work, sets the pace. The transactions that take this return before the flush: should
# PostgreSQL itself crash in the next fraction of a second, they are undone, never half kept
# (the same trade as SQLite's WAL with synchronous=NORMAL). Only the handling of a message
# already stored and the sender's bookkeeping take it: the message stays pending and is
# handled again, a reply sent meanwhile may go twice. A member's message itself (the inbox,
# acknowledged to the platform) and everything else keep the full wait.
_RELAXED = text("SET LOCAL synchronous_commit = off")


async def relax_commit(session: AsyncSession) -> None:
    """This transaction's commit returns before PostgreSQL flushes it (see above)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_RELAXED)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web chat read while the sender writes; NORMAL sync is safe with WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # SQLite's own lower() folds ASCII only; searches by organisation name must match
    # "ȘCOALA" to "școala" and Cyrillic names too, as PostgreSQL does.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _ensure_parent_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
