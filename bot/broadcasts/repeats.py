"""When the occurrences of a repeating broadcast go: the rule's checks and the calendar
arithmetic, kept free of the database so that they can be read, and tested, on their own."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPEATS = ("daily", "weekly", "monthly")
MAX_TIMES = 1000  # a series of more is a mistake, not a plan


def rule_problem(every: str | None, until: date | None, times: int | None) -> str | None:
    """What is wrong with a repeat rule, as a stable code; None when it can be used. A series
    ends at a day, after a number of times, or when it is stopped: one end at most."""
    if every is None:
        return "repeat_end" if until is not None or times is not None else None
    if every not in REPEATS:
        return "repeat"
    if until is not None and times is not None:
        return "repeat_end"
    if times is not None and not 2 <= times <= MAX_TIMES:
        return "repeat_times"
    return None


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def occurrence_at(first: datetime, every: str, index: int, zone: ZoneInfo) -> datetime:
    """When occurrence ``index`` (0 for the first) goes: at the first's time of day on the
    clock of ``zone``, ``index`` days, weeks or months later, so that 09:00 stays 09:00 across
    a change to or from summer time. A month without the first's day gets its last day; each
    time is counted from the first, so 31 January gives 28 February, then 31 March."""
    local = first.astimezone(zone)
    day = local.date()
    if every == "daily":
        day += timedelta(days=index)
    elif every == "weekly":
        day += timedelta(weeks=index)
    else:
        months = day.month - 1 + index
        year, month = day.year + months // 12, months % 12 + 1
        day = date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    return datetime.combine(day, local.time(), zone).astimezone(UTC)


def following(
    every: str,
    first: datetime,
    zone: ZoneInfo,
    latest: int,
    now: datetime,
    *,
    until: date | None = None,
    times: int | None = None,
) -> tuple[int, datetime] | None:
    """The number and time of the occurrence after occurrence ``latest`` (1 for the first):
    the next of the rule's times still ahead of ``now``; a time missed while nothing ran is
    skipped rather than sent late. None when the series has ended by then."""
    number = latest + 1
    while times is None or number <= times:
        at = occurrence_at(first, every, number - 1, zone)
        if until is not None and at.astimezone(zone).date() > until:
            return None
        if at > now:
            return number, at
        number += 1
    return None


def first_time(scheduled_at: datetime | None, started_at: datetime | None) -> datetime | None:
    """The moment the others are counted from: the first's schedule, or when it went out, to
    the minute."""
    at = scheduled_at or started_at
    return at.replace(second=0, microsecond=0) if at is not None else None
