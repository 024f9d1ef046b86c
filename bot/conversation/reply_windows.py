"""Whether any broadcast may be collecting replies now, known in memory, so that a member's free
text looks for the broadcast it answers (``outbox.reply_window``) only while one may be.

Every process keeps its own answer and reads the broadcasts again when a broadcast is launched,
approved or cancelled anywhere (the coordinator's ``BROADCASTS`` notify, heard by every process
under Redis), when a scheduled one falls due, when the last window it knew of closes, and at
the latest after ``RECHECK``: a change that nothing notifies (a series' next occurrence made by
a worker, a row written by hand) is seen within that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.coordination import Coordinator
from bot.coordination.keys import BROADCASTS
from bot.storage.models import Broadcast, Delivery, utcnow
from bot.storage.outbox import REPLY_WINDOW_MAX_HOURS

RECHECK = timedelta(seconds=30)
# Copies of a broadcast that may still reach a member: their window opens when they are sent.
ON_THEIR_WAY = ("queued", "sending", "held")


class ReplyWindows:
    """The answer to "may a broadcast be collecting replies now?", read again when it may have
    changed."""

    def __init__(
        self,
        coordinator: Coordinator,
        *,
        now: Callable[[], datetime] = utcnow,
        recheck: timedelta = RECHECK,
    ) -> None:
        self.coordinator = coordinator
        self.now = now
        self.recheck = recheck
        self._open = True
        self._until: datetime | None = None  # the answer holds until then (None: read it)
        self._changed: asyncio.Event | None = None  # set by the next BROADCASTS notify

    @property
    def told(self) -> bool:
        """A change was notified since the answer was read (or it was never read)."""
        return self._changed is None or self._changed.is_set()

    async def open(self, session: AsyncSession) -> bool:
        """False when no broadcast can be collecting replies now; True when one may be."""
        now = self.now()
        if self.told or self._until is None or now >= self._until:
            # Listening first: a notify that comes while the broadcasts are read is heard.
            self._changed = await self.coordinator.listen(BROADCASTS)
            self._open, self._until = await self._read(session, now)
        return self._open

    async def _read(self, session: AsyncSession, now: datetime) -> tuple[bool, datetime]:
        """(may a window be open now, until when that answer holds)."""
        until = now + self.recheck
        oldest = now - timedelta(hours=REPLY_WINDOW_MAX_HOURS)
        rows = (
            await session.execute(
                select(
                    Broadcast.collect_replies_hours,
                    Broadcast.status,
                    Broadcast.scheduled_at,
                    func.max(Delivery.sent_at),
                    func.count(Delivery.id).filter(Delivery.status.in_(ON_THEIR_WAY)),
                )
                .outerjoin(Delivery, Delivery.broadcast_id == Broadcast.id)
                .where(
                    Broadcast.collect_replies_hours > 0,
                    Broadcast.status.not_in(("draft", "awaiting_approval")),
                    or_(
                        Broadcast.finished_at >= oldest,
                        Broadcast.cancelled_at >= oldest,
                        and_(Broadcast.finished_at.is_(None), Broadcast.cancelled_at.is_(None)),
                    ),
                )
                .group_by(Broadcast.id)
            )
        ).all()
        closes = now  # when the last window open now closes
        for hours, status, scheduled_at, last_sent, on_their_way in rows:
            if status == "scheduled" and scheduled_at is not None and scheduled_at > now:
                until = min(until, scheduled_at)  # it starts then, not before
            elif status in ("scheduled", "sending"):
                return True, until  # its next copy may go at any moment
            if on_their_way:
                return True, until
            if last_sent is not None:
                closes = max(closes, last_sent + timedelta(hours=hours))
        if closes > now:
            return True, min(until, closes)
        return False, until
