"""Repeating broadcasts in the database. A series is its first broadcast, which holds the rule;
each later occurrence is a broadcast of its own, a copy of the one before it made by the
broadcaster when that one is due, so that the list, the progress and cancel work on it as on
any other. Several workers may look at once: the database, not a lock, makes each once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import repeats
from bot.broadcasts.lifecycle import copied
from bot.broadcasts.model import EDITABLE, BroadcastError
from bot.secretariat.audit import record
from bot.storage.models import Broadcast, utcnow

STARTED = ("sending", "sent")
NOT_STARTED = ("draft", "awaiting_approval", "scheduled")


def set_rule(
    broadcast: Broadcast,
    every: str | None,
    *,
    until: date | None = None,
    times: int | None = None,
    zone: str,
) -> None:
    """Make ``broadcast`` repeat (or not) before it is sent; ``zone`` is the clock its time of
    day is kept on. An occurrence follows its series' rule and has none of its own."""
    if (broadcast.status or "draft") not in EDITABLE:
        raise BroadcastError("not_editable", "a broadcast that is sending or sent cannot change")
    problem = repeats.rule_problem(every, until, times)
    if problem is not None:
        raise BroadcastError(problem, PROBLEMS[problem])
    if broadcast.repeat_of is not None:
        if every is not None:
            raise BroadcastError("in_series", PROBLEMS["in_series"])
        return
    broadcast.repeat = every
    broadcast.repeat_until = until if every else None
    broadcast.repeat_times = times if every else None
    broadcast.repeat_zone = zone if every else None


PROBLEMS = {
    "repeat": "repeat is daily, weekly or monthly",
    "repeat_end": "a series ends at a day or after a number of times, and only when it repeats",
    "repeat_times": f"a series goes out between 2 and {repeats.MAX_TIMES} times",
    "in_series": "this broadcast is an occurrence of a series: the series' first one repeats",
}


def head_id(broadcast: Broadcast) -> int | None:
    """The series' first broadcast, or None when ``broadcast`` is not in a series."""
    if broadcast.repeat_of is not None:
        return broadcast.repeat_of
    return broadcast.id if broadcast.repeat and broadcast.occurrence else None


def pending(now: datetime) -> Any:
    """Latest occurrences whose time has come and whose next one is still to be made. One
    cancelled before its time still counts: cancel holds back one occurrence, not the series."""
    return and_(
        Broadcast.repeat_pending.is_(True),
        Broadcast.status.in_(("scheduled", "sending", "sent", "cancelled")),
        or_(
            Broadcast.scheduled_at <= now,
            and_(Broadcast.scheduled_at.is_(None), Broadcast.started_at.is_not(None)),
        ),
    )


async def follow(session: AsyncSession, latest_id: int, now: datetime) -> Broadcast | None:
    """Make the occurrence after ``latest_id``, scheduled for its time. Whoever clears the
    latest one's ``repeat_pending`` first makes it; another worker finds it cleared and makes
    nothing (the unique (series, occurrence) index stands behind that). Returns the new one,
    or None when it was made elsewhere or the series has ended."""
    claimed = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == latest_id, Broadcast.repeat_pending.is_(True))
        .values(repeat_pending=False)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    latest = await session.get(Broadcast, latest_id, populate_existing=True)
    if latest is None:
        return None
    head = latest if latest.repeat_of is None else await session.get(Broadcast, latest.repeat_of)
    found = _following(head, latest.occurrence or 1, now) if head is not None else None
    if head is None or found is None:
        return None
    number, at = found
    if await session.scalar(
        select(Broadcast.id).where(Broadcast.repeat_of == head.id, Broadcast.occurrence == number)
    ):
        return None  # made already, from a first broadcast launched again in the meantime
    made = copied(
        latest, status="scheduled", scheduled_at=at, local_hour=head.local_hour,
        repeat_of=head.id, occurrence=number, repeat_pending=True,
        created_by=head.created_by, approved_by=head.approved_by,
    )  # fmt: skip
    session.add(made)
    await session.flush()
    await record(session, None, "broadcast.repeat", f"broadcast:{made.id}", series=head.id,
                 occurrence=number, at=at.isoformat())  # fmt: skip
    return made


def _following(head: Broadcast, latest: int, now: datetime) -> tuple[int, datetime] | None:
    first = repeats.first_time(head.scheduled_at, head.started_at)
    if not head.repeat or head.repeat_stopped_at is not None or first is None:
        return None
    return repeats.following(
        head.repeat, first, repeats.zone_of(head.repeat_zone), latest, now,
        until=head.repeat_until, times=head.repeat_times,
    )  # fmt: skip


async def stop(session: AsyncSession, broadcast: Broadcast) -> int:
    """No further occurrence of ``broadcast``'s series: none is made any more, and those made
    that have not started are cancelled. One already sending goes on (cancel stops that).
    Returns how many were cancelled."""
    series = head_id(broadcast)
    if series is None:
        raise BroadcastError("not_series", "this broadcast does not repeat")
    head = broadcast if series == broadcast.id else await session.get(Broadcast, series)
    if head is None:
        raise BroadcastError("not_series", "this broadcast does not repeat")
    if head.repeat_stopped_at is not None:
        raise BroadcastError("series_stopped", "this series has already stopped")
    now = utcnow()
    head.repeat_stopped_at = now
    await session.execute(
        update(Broadcast)
        .where(Broadcast.repeat_of == series, Broadcast.repeat_pending.is_(True))
        .values(repeat_pending=False)
        .execution_options(synchronize_session=False)
    )
    head.repeat_pending = False
    cancelled = await session.execute(
        update(Broadcast)
        .where(
            Broadcast.repeat_of == series,
            Broadcast.status.in_(NOT_STARTED),
            Broadcast.started_at.is_(None),
        )
        .values(status="cancelled", cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    return cancelled.rowcount or 0  # type: ignore[attr-defined]


@dataclass
class Series:
    """What a page says about a broadcast's series: its rule, where it stands, and what comes
    next (an occurrence already made and waiting, or the time of the one to be made)."""

    head: Broadcast
    latest: Broadcast
    next_at: datetime | None = None
    next_id: int | None = None

    @property
    def stopped(self) -> bool:
        return self.head.repeat_stopped_at is not None


async def series_of(
    session: AsyncSession, found: list[Broadcast], now: datetime | None = None
) -> dict[int, Series]:
    """The series of each broadcast in ``found`` that is in one, by broadcast id."""
    now = now or utcnow()
    ids = {i for b in found if (i := head_id(b)) is not None}
    if not ids:
        return {}
    heads = {b.id: b for b in await session.scalars(select(Broadcast).where(Broadcast.id.in_(ids)))}
    newest = (
        select(Broadcast.repeat_of, func.max(Broadcast.occurrence).label("n"))
        .where(Broadcast.repeat_of.in_(ids))
        .group_by(Broadcast.repeat_of)
        .subquery()
    )
    latest = {
        b.repeat_of: b
        for b in await session.scalars(
            select(Broadcast).join(
                newest,
                and_(
                    Broadcast.repeat_of == newest.c.repeat_of,
                    Broadcast.occurrence == newest.c.n,
                ),
            )
        )
    }
    by_head = {i: _where(heads[i], latest.get(i) or heads[i], now) for i in ids if i in heads}
    return {b.id: by_head[i] for b in found if (i := head_id(b)) in by_head}


def _where(head: Broadcast, latest: Broadcast, now: datetime) -> Series:
    found = Series(head, latest)
    if latest.status in NOT_STARTED and latest.status != "draft":
        found.next_at, found.next_id = latest.scheduled_at or now, latest.id
    elif latest.repeat_pending:
        following = _following(head, latest.occurrence or 1, now)
        found.next_at = following[1] if following else None
    return found
