"""Repeating broadcasts: the calendar (summer time, short months, missed times, the ends of a
series) and the broadcaster making each occurrence once, even with two of them racing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot import broadcasts
from bot.broadcasts import repeats
from bot.broadcasts import series as broadcast_series
from bot.broadcasts.worker import Broadcaster
from bot.coordination import create_coordinator
from bot.storage.models import AuditEntry, Broadcast, Contact, utcnow
from tests.conftest import Backend
from tests.harness import running

BUCHAREST = ZoneInfo("Europe/Bucharest")


def local(at: datetime) -> datetime:
    return at.astimezone(BUCHAREST)


def test_every_day_at_nine_in_bucharest_stays_nine_across_both_changes_of_summer_time() -> None:
    # Summer time starts on 29 March 2026 and ends on 25 October 2026 in Romania.
    spring = datetime(2026, 3, 27, 9, 0, tzinfo=BUCHAREST)
    days = [repeats.occurrence_at(spring, "daily", i, BUCHAREST) for i in range(4)]
    assert [local(d).strftime("%d %H:%M") for d in days] == [
        "27 09:00", "28 09:00", "29 09:00", "30 09:00"
    ]  # fmt: skip
    assert [d.hour for d in days] == [7, 7, 6, 6]  # in UTC, the clock moved instead
    autumn = datetime(2026, 10, 24, 9, 0, tzinfo=BUCHAREST)
    days = [repeats.occurrence_at(autumn, "daily", i, BUCHAREST) for i in range(3)]
    assert [(local(d).hour, d.hour) for d in days] == [(9, 6), (9, 7), (9, 7)]
    weekly = repeats.occurrence_at(datetime(2026, 3, 23, 9, tzinfo=BUCHAREST), "weekly", 1,
                                   BUCHAREST)  # fmt: skip
    assert local(weekly) == datetime(2026, 3, 30, 9, tzinfo=BUCHAREST)


def test_monthly_on_the_31st_takes_the_last_day_of_a_shorter_month_and_comes_back() -> None:
    first = datetime(2026, 10, 31, 9, 0, tzinfo=BUCHAREST)
    months = [local(repeats.occurrence_at(first, "monthly", i, BUCHAREST)) for i in range(5)]
    assert [(m.year, m.month, m.day, m.hour) for m in months] == [
        (2026, 10, 31, 9), (2026, 11, 30, 9), (2026, 12, 31, 9), (2027, 1, 31, 9),
        (2027, 2, 28, 9),
    ]  # fmt: skip
    leap = repeats.occurrence_at(datetime(2028, 1, 30, 18, tzinfo=BUCHAREST), "monthly", 1,
                                 BUCHAREST)  # fmt: skip
    assert local(leap).date() == date(2028, 2, 29)


def test_the_next_time_skips_what_was_missed_and_a_series_ends_at_its_day_or_count() -> None:
    first = datetime(2026, 6, 1, 9, tzinfo=BUCHAREST)  # a Monday
    just_after = first + timedelta(minutes=3)
    assert repeats.following("weekly", first, BUCHAREST, 1, just_after) == (
        2, datetime(2026, 6, 8, 6, tzinfo=UTC)
    )  # fmt: skip
    # Nothing ran for three weeks: the next is the one still ahead, not three late ones.
    late = datetime(2026, 6, 24, 12, tzinfo=UTC)
    assert repeats.following("weekly", first, BUCHAREST, 2, late) == (
        5, datetime(2026, 6, 29, 6, tzinfo=UTC)
    )  # fmt: skip
    assert repeats.following("weekly", first, BUCHAREST, 1, just_after, times=2) is not None
    assert repeats.following("weekly", first, BUCHAREST, 2, late, times=4) is None
    assert repeats.following("daily", first, BUCHAREST, 1, just_after,
                             until=date(2026, 6, 1)) is None  # fmt: skip
    assert repeats.following("daily", first, BUCHAREST, 1, just_after,
                             until=date(2026, 6, 2)) is not None  # fmt: skip


def test_a_rule_is_refused_when_it_cannot_be_kept() -> None:
    assert repeats.rule_problem("weekly", None, None) is None
    assert repeats.rule_problem("hourly", None, None) == "repeat"
    assert repeats.rule_problem("weekly", date(2027, 1, 1), 3) == "repeat_end"
    assert repeats.rule_problem(None, date(2027, 1, 1), None) == "repeat_end"
    assert repeats.rule_problem("daily", None, 1) == "repeat_times"
    assert repeats.rule_problem("daily", None, 1001) == "repeat_times"


async def _series(stack, every: str, first: datetime, **rule) -> int:  # type: ignore[no-untyped-def]
    """A series whose first broadcast is scheduled for ``first``, launched as the dashboard
    and the API launch it."""
    async with stack.service.db.session() as session, session.begin():
        b = Broadcast(title="Monthly report", base_locale="en", texts={}, buttons=[],
                      audience={}, templates={}, expanded_to=0)  # fmt: skip
        session.add(b)
        broadcasts.set_text(b, "en", "Send us your monthly report.")
        broadcast_series.set_rule(b, every, zone="Europe/Bucharest", **rule)
        await session.flush()
        await broadcasts.launch(session, b, None, audience_size=1, approval_above=None)
        b.scheduled_at = first  # as if it had been scheduled then
        return b.id


async def test_monthly_on_the_31st_is_made_for_the_30th_then_the_31st_again(
    backend: Backend,
) -> None:
    async with running(backend, workers=False) as stack:
        first = datetime(2026, 10, 31, 9, 0, tzinfo=BUCHAREST)
        head = await _series(stack, "monthly", first)
        made = []
        latest, now = head, first + timedelta(minutes=1)
        for _ in range(2):
            async with stack.service.db.session() as session, session.begin():
                found = await broadcast_series.follow(session, latest, now)
                assert found is not None
                made.append((found.occurrence, local(found.scheduled_at)))  # type: ignore[arg-type]
                latest, now = found.id, found.scheduled_at + timedelta(minutes=1)  # type: ignore[operator]
        assert made == [
            (2, datetime(2026, 11, 30, 9, tzinfo=BUCHAREST)),
            (3, datetime(2026, 12, 31, 9, tzinfo=BUCHAREST)),
        ]
        async with stack.service.db.session() as session, session.begin():
            assert await broadcast_series.follow(session, head, now) is None  # already made


async def test_two_broadcasters_racing_make_each_next_occurrence_once(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            session.add(Contact(channel="telegram", address="7001", status="active",
                                locale="en", flow_data={}, choices=[]))  # fmt: skip
        heads = [await _series(stack, "weekly", utcnow() - timedelta(minutes=1)) for _ in range(6)]
        # A second worker process: the same database, a coordinator of its own (a Redis
        # restart loses every lock, so none is relied on here).
        other = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
        await other.start()
        try:
            one = Broadcaster(stack.service.db, stack.service.coordinator)
            two = Broadcaster(stack.service.db, other)
            made = await asyncio.gather(one.repeat(), two.repeat())
            assert sum(made) == len(heads)
            again = await asyncio.gather(one.repeat(), two.repeat(), one.step(), two.step())
            assert again[:2] == [0, 0]
        finally:
            await other.close()
        async with stack.service.db.session() as session:
            rows = (
                await session.execute(
                    select(Broadcast.repeat_of, Broadcast.occurrence, Broadcast.status).where(
                        Broadcast.repeat_of.is_not(None)
                    )
                )
            ).all()
            audit = (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.action == "broadcast.repeat")
                )
            ).all()
        assert sorted(rows) == sorted((h, 2, "scheduled") for h in heads)
        assert len(audit) == len(heads)
