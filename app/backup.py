"""``childpact backup FILE`` and ``childpact restore FILE``.

Embedded mode (SQLite): SQLite's online backup API copies the whole database in one step
inside one read transaction, so the copy is consistent while the service keeps writing (WAL
lets writers go on meanwhile). Scaled mode (PostgreSQL): ``pg_dump --format=custom`` and
``pg_restore``, which must be on the PATH (the postgresql-client package).

Every backup is recorded in the audit log (``service.backup``), where the overview page finds
the last one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.secretariat import audit
from bot.secretariat.service_health import BACKUP_ACTION, LastBackup
from bot.storage.db import Database
from bot.storage.models import utcnow


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why and what to do."""


async def backup(settings: Settings, dest: Path) -> LastBackup:
    """Copy the database to ``dest`` (written whole, then renamed into place) and record it."""
    name, size = await asyncio.to_thread(_write, settings, dest)
    done = LastBackup(utcnow(), name, size)
    db = Database(settings.database_url)
    try:
        async with db.session() as session, session.begin():
            await audit.record(session, None, BACKUP_ACTION, None, file=done.file, bytes=done.size)
    finally:
        await db.dispose()
    return done


def _write(settings: Settings, dest: Path) -> tuple[str, int]:
    dest = dest.expanduser().resolve()
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: name the backup file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        if settings.is_sqlite:
            _sqlite_backup(_sqlite_path(settings), partial)
        else:
            _pg_dump(settings.database_url, partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest.name, dest.stat().st_size


async def restore(settings: Settings, source: Path, *, replace: bool = False) -> str:
    """Put a backup in the place DATABASE_URL names, then bring its schema up to date.

    Refuses to overwrite a database that has data unless ``replace``: stop the service first.
    """
    if settings.is_sqlite:
        where = await asyncio.to_thread(_sqlite_restore, source, _sqlite_path(settings), replace)
    else:
        await _pg_restore(settings.database_url, source, replace)
        where = make_url(settings.database_url).render_as_string(hide_password=True)
    db = Database(settings.database_url)
    try:
        await db.migrate()  # a backup from an older version meets the code's schema
    finally:
        await db.dispose()
    return where


# ---------------------------------------------------------------------- SQLite


def _sqlite_path(settings: Settings) -> Path:
    path = make_url(settings.database_url).database or ""
    if not path or path == ":memory:" or path.startswith("file:"):
        raise BackupError("DATABASE_URL names no SQLite file to back up or restore")
    return Path(path).expanduser().resolve()


def _sqlite_backup(source: Path, partial: Path) -> None:
    if not source.exists():
        raise BackupError(f"no database at {source}: check DATABASE_URL")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            # One step (pages=-1): one read transaction, so one consistent moment; in WAL mode
            # the service's writers are not held up by it.
            src.backup(dst)
            _check_sqlite(dst, partial)
        finally:
            dst.close()
    finally:
        src.close()


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    try:
        (result,) = conn.execute("PRAGMA integrity_check").fetchone()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} is not a SQLite database ({exc})") from exc
    if result != "ok":
        raise BackupError(f"{path.name} fails SQLite's integrity check: {result}")
    if "alembic_version" not in tables:
        raise BackupError(f"{path.name} is not a ChildPact database (no alembic_version table)")


def _sqlite_restore(source: Path, target: Path, replace: bool) -> str:
    source = _backup_file(source)
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        _check_sqlite(check, source)
    finally:
        check.close()
    if target.exists() and target.stat().st_size > 0 and not replace:
        raise BackupError(
            f"{target} already holds a database: stop the service, then restore with --replace "
            "(or point DATABASE_URL at a new file)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        for suffix in ("-wal", "-shm"):  # the old database's journal must not meet the new one
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return str(target)


def _backup_file(source: Path) -> Path:
    source = source.expanduser().resolve()
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    return source


# ---------------------------------------------------------------------- PostgreSQL


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A URL pg_dump understands, with the password in the environment rather than in ``ps``."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client (Debian: postgresql-client) "
            "of the server's major version or newer"
        )
    return found


def _pg_dump(url: str, partial: Path) -> None:
    target, env = _libpq(url)
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), target]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")


def _has_schema(connection: Any) -> bool:
    return "alembic_version" in inspect(connection).get_table_names()


async def _pg_restore(url: str, source: Path, replace: bool) -> None:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            has_tables = await conn.run_sync(_has_schema)
    finally:
        await db.dispose()
    if has_tables and not replace:
        raise BackupError(
            "the database DATABASE_URL names already holds ChildPact's tables: stop the service, "
            "then restore with --replace (or create an empty database and point DATABASE_URL at it)"
        )
    source = await asyncio.to_thread(_backup_file, source)
    target, env = _libpq(url)
    command = [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction"]
    if replace:
        command += ["--clean", "--if-exists"]
    command += ["--dbname", target, str(source)]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
