"""The database handle: engine, sessions, migrations and a health check."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


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
            kwargs["async_creator"] = partial(_sqlite_connection, url)
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
            OneWriter().follow(self.engine)
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


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run in the event loop's own thread.

    aiosqlite hands every call (cursor, execute, fetch, close, commit) to a thread of its own
    and back: seven round trips per statement, and they, not SQLite, were most of the CPU an
    inbound message cost. SQLite answers these statements from memory in microseconds, so
    they run in place; the thread still opens and closes the file. A statement that waited
    for SQLite's write lock would stop the whole process, so none does: ``OneWriter`` gives
    the process's writers the lock in turn.
    """

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


async def _sqlite_connection(url: str) -> aiosqlite.Connection:
    args, options = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    options.update(timeout=30, check_same_thread=False)
    connection = InlineConnection(partial(sqlite3.connect, *args, **options), 64)
    connection._thread.daemon = True  # as SQLAlchemy does: the process exits without it
    return await connection


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


# An execution option of the statements a caller waits on to answer (the inbox's rows, each
# a webhook's request): on SQLite they take the writing turn before any other writer waiting.
URGENT = "childpact_urgent"


class OneWriter:
    """SQLite: one writing transaction at a time in this process, the others queued in turn.

    SQLite lets one connection write at a time; another that tries waits in the driver,
    sleeping up to 100 ms between tries, and a transaction that starts writing while it sleeps
    overtakes it: under load a webhook's insert waited there for seconds. Here a transaction
    takes the turn before its first write and gives it back when it commits or rolls back, so
    none of them sleeps; those marked ``URGENT`` go first, the others in the order they came.
    SQLite's own lock still guards the file: a turn not given back (its task gone) is taken
    back, and one not had within SQLite's own wait writes anyway.
    """

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
    HELD = "childpact_writer"

    def __init__(self, wait: float = 30.0) -> None:
        self.wait = wait
        self._turns: dict[asyncio.AbstractEventLoop, _Turn] = {}

    def follow(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before_execute)
        event.listen(sync, "commit", self._release)
        event.listen(sync, "rollback", self._release)
        # A connection given back with its transaction open is rolled back by the pool.
        event.listen(sync.pool, "reset", lambda _dbapi, record, _state: self._free(record.info))
        event.listen(sync.pool, "invalidate", lambda _dbapi, record, _exc: self._free(record.info))

    def _turn(self) -> _Turn:
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            self._turns = {k: v for k, v in self._turns.items() if not k.is_closed()}
            turn = self._turns[loop] = _Turn()
        return turn

    def _before_execute(
        self, conn: Connection, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any
    ) -> None:
        if self.HELD in conn.info or not in_greenlet():
            return
        if not statement.lstrip()[:7].upper().startswith(self.WRITES):
            return
        turn = self._turn()
        urgent = bool(context is not None and context.execution_options.get(URGENT))
        try:
            await_only(asyncio.wait_for(turn.take(urgent), self.wait))
        except TimeoutError:
            log.warning("sqlite: no writing turn within %.0f s; writing anyway", self.wait)
            return
        turn.holder = asyncio.current_task()
        conn.info[self.HELD] = turn

    def _release(self, conn: Connection) -> None:
        self._free(conn.info)

    def _free(self, info: dict[Any, Any]) -> None:
        turn = info.pop(self.HELD, None)
        if turn is not None:
            turn.give_back()


class _Turn:
    """Whose turn it is to write: the urgent first, then the others, each in order of asking."""

    def __init__(self) -> None:
        self.holder: asyncio.Task[Any] | None = None
        self.held = False
        self.queues: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())

    async def take(self, urgent: bool) -> None:
        if self.held and self.holder is not None and self.holder.done():
            self.give_back()  # its transaction ended with its task, unseen
        if self.held:
            waiting = asyncio.get_running_loop().create_future()
            queue = self.queues[0 if urgent else 1]
            queue.append(waiting)
            try:
                await waiting
            except asyncio.CancelledError:
                if waiting.done() and not waiting.cancelled():
                    self.give_back()  # handed the turn just as it gave up
                elif waiting in queue:
                    queue.remove(waiting)
                raise
        self.held = True

    def give_back(self) -> None:
        for queue in self.queues:
            while queue:
                waiting = queue.popleft()
                if not waiting.done():
                    waiting.set_result(None)  # the turn passes to it, still held
                    self.holder = None  # known once it runs
                    return
        self.held, self.holder = False, None


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _ensure_parent_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
