"""Quiet hours and "at this hour of each member's day" across time zones: a member's country
decides by default, the zone they set decides when they have set one."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from bot import broadcasts
from bot.broadcasts.quiet import QuietHours
from bot.storage.models import Broadcast, Contact, Delivery
from tests.conftest import Backend
from tests.harness import running

NIGHT = QuietHours(time(21), time(8))
TBILISI, CHISINAU = ZoneInfo("Asia/Tbilisi"), ZoneInfo("Europe/Chisinau")
# address: (country, the zone the member set)
MEMBERS = {
    "91": ("MD", None),  # Chisinau, UTC+2 in winter
    "92": ("GE", None),  # Tbilisi, UTC+4
    "93": ("GE", "Europe/Chisinau"),  # a Georgian member living in Moldova
    "94": ("MD", "Asia/Tbilisi"),  # and the other way round
    "95": ("OTHER", "Etc/GMT-4"),  # anywhere, at UTC+4
    "96": ("OTHER", "Europe/Lisbon"),  # UTC+0 in winter
}


async def due_times(session, *, now: datetime, local_hour: int | None = None) -> dict[str, float]:
    b = Broadcast(title="", base_locale="en", texts={}, buttons=[], audience={}, templates={},
                  local_hour=local_hour, scheduled_at=now if local_hour is not None else None)  # fmt: skip
    session.add(b)
    broadcasts.set_text(b, "en", "News")
    await session.flush()
    await broadcasts.expand(session, b, {}, quiet=NIGHT, now=now)
    rows = await session.execute(
        select(Delivery.address, Delivery.due_at).where(Delivery.broadcast_id == b.id)
    )
    return dict(rows.all())


async def add_members(session) -> None:
    await session.execute(
        insert(Contact),
        [{"channel": "telegram", "address": a, "status": "active", "locale": "en",
          "country": c, "time_zone": z, "flow_data": {}, "choices": []}
         for a, (c, z) in MEMBERS.items()],
    )  # fmt: skip


async def test_night_is_judged_in_each_members_own_zone(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            await add_members(session)
            # 20:30 in Chisinau, 22:30 in Tbilisi.
            evening = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
            due = await due_times(session, now=evening)
            tbilisi_morning = datetime(2026, 11, 29, 8, tzinfo=TBILISI).timestamp()
            assert due["91"] == 0.0  # Chisinau: now
            assert due["92"] == tbilisi_morning  # Tbilisi: quiet, the next morning at 08:00
            assert due["93"] == 0.0  # lives by Chisinau's clock, whatever the country
            assert due["94"] == tbilisi_morning  # lives by Tbilisi's
            assert due["95"] == tbilisi_morning  # UTC+4, like Tbilisi
            assert due["96"] == 0.0  # 18:30 in Lisbon

            # 20:30 UTC: 00:30 in Tbilisi, 22:30 in Chisinau; both wait for their own 08:00.
            late = datetime(2026, 11, 28, 20, 30, tzinfo=UTC)
            due = await due_times(session, now=late)
            assert due["92"] == due["94"] == tbilisi_morning
            assert due["91"] == due["93"] == datetime(2026, 11, 29, 8, tzinfo=CHISINAU).timestamp()
            assert due["96"] == 0.0  # 20:30 in Lisbon: still evening


async def test_at_nine_of_each_members_day_follows_the_zone_they_set(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            await add_members(session)
            early = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # before 09:00 everywhere here
            due = await due_times(session, now=early, local_hour=9)
            nine = {z: datetime(2026, 11, 28, 9, tzinfo=ZoneInfo(z)).timestamp()
                    for z in ("Asia/Tbilisi", "Europe/Chisinau", "Europe/Lisbon")}  # fmt: skip
            assert due["91"] == due["93"] == nine["Europe/Chisinau"]
            assert due["92"] == due["94"] == due["95"] == nine["Asia/Tbilisi"]
            assert due["96"] == nine["Europe/Lisbon"]


async def test_a_zone_that_no_longer_exists_falls_back_to_the_country(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            session.add(Contact(channel="telegram", address="97", status="active", locale="en",
                                country="GE", time_zone="Mars/Olympus", flow_data={},
                                choices=[]))  # fmt: skip
            await session.flush()
            evening = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
            due = await due_times(session, now=evening)
            assert due["97"] == datetime(2026, 11, 29, 8, tzinfo=TBILISI).timestamp()
