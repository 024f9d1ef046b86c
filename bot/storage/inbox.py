"""The inbox's group commit: the messages of many webhook requests stored in one transaction.

Each webhook request waits for the commit that holds its message, and only then answers 2xx:
durability is the same as one transaction per message, at a fraction of the cost. Nothing
waits to fill a batch: while one batch is being written, the messages that arrive meanwhile
queue, and go together in the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from bot.storage.db import URGENT, Database
from bot.storage.models import Inbound

log = logging.getLogger(__name__)

MAX_BATCH = 200  # rows in one statement, well under either database's parameter limits


class Inbox:
    """Stores inbound rows, many requests' rows per transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[int | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, values: dict[str, Any]) -> int | None:
        """Store one row (``Inbound``'s columns); its id, or None when the platform's id was
        already stored. Returns once the row is committed; raises when it could not be."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((values, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="inbox")
        # A request that goes away does not cancel the others' commit.
        return await asyncio.shield(future)

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                found = await self._write(batch)
            except BaseException as exc:  # cancelled with the process: nothing is known
                for _, future in batch + self._waiting:
                    _settle(future, exc=exc)
                self._waiting = []
                raise
            for (_, future), result in zip(batch, found, strict=True):
                if isinstance(result, BaseException):
                    _settle(future, exc=result)
                else:
                    _settle(future, result)

    async def _write(
        self, batch: list[tuple[dict[str, Any], asyncio.Future[int | None]]]
    ) -> list[int | None | BaseException]:
        try:
            return list(await self._insert([values for values, _ in batch]))
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
        # One bad row must not refuse the others: each alone, in its own transaction.
        log.warning("a batch of %d inbound rows failed; storing them one by one", len(batch))
        found: list[int | None | BaseException] = []
        for values, _ in batch:
            try:
                found.extend(await self._insert([values]))
            except Exception as exc:
                found.append(exc)
        return found

    async def _insert(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        """One transaction, one statement: the new rows' ids, None for a platform id stored
        before (or twice in ``rows``: the first one wins)."""
        insert = postgresql.insert if self.db.engine.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(Inbound)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
            .returning(Inbound.id, Inbound.channel, Inbound.platform_id)
            .execution_options(**{URGENT: True})  # a webhook waits for it
        )
        async with self.db.session() as session, session.begin():
            stored = {(channel, pid): id_ for id_, channel, pid in (await session.execute(stmt))}
        found: list[int | None] = []
        for row in rows:
            found.append(stored.pop((row["channel"], row["platform_id"]), None))
        return found


def _settle(
    future: asyncio.Future[int | None], result: int | None = None, exc: BaseException | None = None
) -> None:
    if future.done():
        return
    try:
        if isinstance(exc, asyncio.CancelledError):
            future.cancel()
        elif exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
    except RuntimeError:  # its request's event loop is gone: nobody waits for it any more
        pass
