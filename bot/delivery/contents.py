"""The WhatsApp content items made so far, kept in the database: every process and every
restart sends the item already made for the same choices, and two processes that need a new
one at once make it once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.coordination import Coordinator
from bot.storage.db import Database
from bot.storage.models import WhatsAppContent, utcnow

log = logging.getLogger(__name__)

LOCK_TTL = 30.0  # longer than one create call may take (its timeout is 15 s)
WAIT_FOR_OTHER = 20.0  # how long a process waits for another making the same item
POLL = 0.1


def content_lock(digest: str) -> str:
    return f"whatsapp-content:{digest}"


class DatabaseContentStore:
    """``ContentStore`` over the ``whatsapp_contents`` table and the coordinator's locks."""

    def __init__(self, db: Database, coordinator: Coordinator) -> None:
        self.db = db
        self.coordinator = coordinator

    async def _find(self, digest: str) -> tuple[bool, str | None]:
        async with self.db.session() as session:
            row = await session.get(WhatsAppContent, digest)
        return (row is not None, row.content_sid if row is not None else None)

    async def sid_for(self, digest: str, make: Callable[[], Awaitable[str | None]]) -> str | None:
        known, sid = await self._find(digest)
        if known:
            return sid
        waited = 0.0
        while (lease := await self.coordinator.try_lock(content_lock(digest), LOCK_TTL)) is None:
            # Another process is making it: it will be in the table in a moment.
            if waited >= WAIT_FOR_OTHER:
                raise TimeoutError("another process is still making this content item")
            await asyncio.sleep(POLL)
            waited += POLL
            known, sid = await self._find(digest)
            if known:
                return sid
        try:
            known, sid = await self._find(digest)  # made while we waited for the lock
            if known:
                return sid
            sid = await make()
            return await self._keep(digest, sid)
        finally:
            await lease.release()

    async def _keep(self, digest: str, sid: str | None) -> str | None:
        """Store what was made; when a row is there already (a process whose lock lapsed),
        the stored one wins, so that every process sends the same item."""
        async with self.db.session() as session, session.begin():
            postgres = session.get_bind().dialect.name == "postgresql"
            insert = postgresql.insert if postgres else sqlite.insert
            await session.execute(
                insert(WhatsAppContent)
                .values(digest=digest, content_sid=sid, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["digest"])
            )
            stored = await session.scalar(
                select(WhatsAppContent.content_sid).where(WhatsAppContent.digest == digest)
            )
        if stored != sid:
            log.info("whatsapp content: another process kept its own item for the same choices")
        return stored

    async def forget(self, digest: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(delete(WhatsAppContent).where(WhatsAppContent.digest == digest))
