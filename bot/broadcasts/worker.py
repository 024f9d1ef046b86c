"""The broadcast worker: moves scheduled broadcasts into the outbox, page by page, and marks
them sent when nothing is left; makes the next occurrence of a repeating one when it is due.
Several workers may run; one lock per broadcast keeps them from doing the same page twice,
every page is safe to repeat after a crash, and the database makes each occurrence once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import lifecycle, sending
from bot.broadcasts import series as broadcast_series
from bot.broadcasts.model import due
from bot.broadcasts.plan import preview
from bot.broadcasts.quiet import QuietHours
from bot.coordination import Coordinator
from bot.coordination.keys import BROADCASTS, OUTBOX, broadcast_lock
from bot.i18n import LOCALES, Translator
from bot.secretariat.audit import record
from bot.storage.db import Database
from bot.storage.models import Broadcast, utcnow
from bot.storage.outbox import choice_hint

log = logging.getLogger(__name__)

IDLE_WAIT = 2.0  # seconds between looks when nobody notifies (scheduled ones come due)
LOCK_TTL = 30.0


def tell_me_more_labels() -> dict[str, str]:
    """The label of a "tell me more" button in every locale, from the catalogs."""
    return {loc: Translator(loc).gettext("Tell me more") for loc in LOCALES}


def choice_hints() -> dict[str, str]:
    """What WhatsApp shows under numbered options, in every locale."""
    return {loc: choice_hint(Translator(loc)) for loc in LOCALES}


# Told where a broadcast stands, in its transaction (the staff's Telegram progress message).
Reporter = Callable[[AsyncSession, Broadcast, dict[str, Any]], Awaitable[None]]
REPORT_EVERY = 3.0  # seconds between two progress reports of one broadcast


class Broadcaster:
    def __init__(
        self,
        db: Database,
        coordinator: Coordinator,
        quiet: QuietHours | None = None,
        report: Reporter | None = None,
        approval_above: Callable[[], int | None] | None = None,
    ) -> None:
        self.db = db
        # The threshold as configured now; above it nothing goes that nobody approved.
        self.approval_above = approval_above or (lambda: None)
        self.coordinator = coordinator
        self.quiet = quiet
        self.report = report
        self._reported: dict[int, float] = {}
        self.labels = tell_me_more_labels()
        self.hints = choice_hints()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.step()
            except Exception:
                log.exception("broadcasts: step failed; retrying")
            await self.coordinator.wait(BROADCASTS, IDLE_WAIT)

    async def step(self) -> int:
        """Move every due broadcast on; returns how many were touched."""
        async with self.db.session() as session:
            ids = (
                await session.scalars(
                    select(Broadcast.id).where(due(utcnow())).order_by(Broadcast.id)
                )
            ).all()
        for broadcast_id in ids:
            lease = await self.coordinator.try_lock(broadcast_lock(broadcast_id), LOCK_TTL)
            if lease is None:
                continue  # another worker has it
            try:
                await self.advance(broadcast_id, lease)
            finally:
                await lease.release()
        return len(ids) + await self.repeat()

    async def repeat(self) -> int:
        """Make the next occurrence of every series whose latest one is due; returns how many
        this worker made. No coordinator lock here: a lock lost with a Redis restart must not
        make an occurrence twice, and the database's conditional update cannot."""
        now = utcnow()
        async with self.db.session() as session:
            due = (
                await session.scalars(
                    select(Broadcast.id).where(broadcast_series.pending(now)).order_by(Broadcast.id)
                )
            ).all()
        made = 0
        for latest_id in due:
            async with self.db.session() as session, session.begin():
                found = await broadcast_series.follow(session, latest_id, now)
                if found is not None:
                    log.info("broadcast %s: next occurrence is %s", latest_id, found.id)
                    made += 1
        if made:  # every process then knows it may soon collect replies (ReplyWindows)
            await self.coordinator.notify(BROADCASTS)
        return made

    async def _report(self, session: AsyncSession, broadcast: Broadcast, *, force: bool) -> None:
        if self.report is None or broadcast.progress_delivery_id is None:
            return
        now = time.monotonic()
        if not force and now - self._reported.get(broadcast.id, 0.0) < REPORT_EVERY:
            return
        self._reported[broadcast.id] = now
        await self.report(session, broadcast, await sending.progress(session, broadcast.id))
        await self.coordinator.notify(OUTBOX)

    async def _unapproved(self, session: AsyncSession, broadcast: Broadcast) -> bool:
        """The second safeguard of the two-person rule: a broadcast above the threshold that
        nobody approved, however it came to be scheduled, goes back to wait for approval."""
        threshold = self.approval_above()
        if threshold is None or broadcast.approved_by is not None:
            return False
        recipients = (await preview(session, broadcast, None, {})).recipients
        if not lifecycle.lacks_approval(broadcast, recipients, threshold):
            return False
        broadcast.status = "awaiting_approval"
        log.warning("broadcast %s: above the approval threshold and not approved; held",
                    broadcast.id)  # fmt: skip
        await record(session, None, "broadcast.held", f"broadcast:{broadcast.id}",
                     recipients=recipients, approval_above=threshold)  # fmt: skip
        return True

    async def advance(self, broadcast_id: int, lease: object) -> None:
        """Expand the audience into the outbox one committed page at a time; the sender is
        woken after the first page, so the first message goes out within moments."""
        while True:
            async with self.db.session() as session, session.begin():
                # Locked, so that a cancel or a stopped series that commits first is seen here,
                # and one that comes second finds the broadcast already sending.
                broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
                if broadcast is None or broadcast.status not in ("scheduled", "sending"):
                    return
                if broadcast.status == "scheduled":
                    if await self._unapproved(session, broadcast):
                        return
                    broadcast.status = "sending"
                    broadcast.started_at = broadcast.started_at or utcnow()
                    log.info("broadcast %s: sending", broadcast_id)
                if broadcast.expanded_at is not None:
                    finished = await sending.finish_if_done(session, broadcast)
                    if finished:
                        log.info("broadcast %s: sent", broadcast_id)
                    await self._report(session, broadcast, force=finished)
                    return
                taken = await sending.expand(
                    session, broadcast, self.labels, quiet=self.quiet, hints=self.hints
                )
                if not taken:
                    broadcast.expanded_at = utcnow()
            await self.coordinator.notify(OUTBOX)
            await lease.extend(LOCK_TTL)  # type: ignore[attr-defined]
