"""Quiet hours: a broadcast waits for the morning of each member's own day; replies to what a
member asks are never held back."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from bot import broadcasts
from bot.broadcasts.quiet import QuietHours
from bot.storage.models import Broadcast, Contact, Delivery
from tests.conftest import Backend
from tests.dialog import Member
from tests.harness import eventually, running

NIGHT = QuietHours(time(21), time(8))


def test_quiet_hours_are_read_from_the_setting() -> None:
    assert QuietHours.parse("21:00-08:00") == NIGHT
    assert QuietHours.parse("off") is None and QuietHours.parse("") is None
    for wrong in ("21-8", "night", "21:00-21:00", "25:00-08:00"):
        with pytest.raises(ValueError, match="21:00-08:00"):
            QuietHours.parse(wrong)


def test_a_message_due_at_night_waits_until_eight_in_the_members_zone() -> None:
    chisinau, tbilisi = ZoneInfo("Europe/Chisinau"), ZoneInfo("Asia/Tbilisi")
    evening = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)  # 20:30 in Chisinau, 22:30 in Tbilisi
    assert NIGHT.release(evening, chisinau) == evening
    assert NIGHT.release(evening, tbilisi) == datetime(2026, 11, 29, 8, 0, tzinfo=tbilisi)
    early = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # 05:00 in Chisinau: the same morning
    assert NIGHT.release(early, chisinau) == datetime(2026, 11, 29, 8, 0, tzinfo=chisinau)
    daytime = QuietHours(time(12), time(14))  # a window that does not cross midnight
    assert daytime.release(datetime(2026, 11, 28, 11, 0, tzinfo=UTC), chisinau) == datetime(
        2026, 11, 28, 14, 0, tzinfo=chisinau
    )


async def test_the_outbox_holds_each_members_message_until_their_morning(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            await session.execute(
                insert(Contact),
                [
                    {"channel": "telegram", "address": address, "status": "active",
                     "locale": "en", "country": country, "flow_data": {}, "choices": []}
                    for address, country in (("71", "MD"), ("72", "GE"), ("73", "OTHER"))
                ],
            )  # fmt: skip
            b = Broadcast(title="", base_locale="en", texts={}, buttons=[], audience={},
                          templates={})  # fmt: skip
            session.add(b)
            broadcasts.set_text(b, "en", "News")
            await session.flush()
            evening = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
            await broadcasts.expand(session, b, {}, quiet=NIGHT, now=evening)
            due = dict(
                (
                    await session.execute(
                        select(Delivery.address, Delivery.due_at).where(
                            Delivery.broadcast_id == b.id
                        )
                    )
                ).all()
            )
        assert due["71"] == 0.0  # 20:30 in Chisinau: goes now
        tbilisi_morning = datetime(2026, 11, 29, 8, 0, tzinfo=ZoneInfo("Asia/Tbilisi"))
        assert due["72"] == tbilisi_morning.timestamp()
        assert due["73"] == 0.0  # no known time zone: not held


async def test_replies_are_never_held_back_while_a_broadcast_waits(backend: Backend) -> None:
    here = datetime.now(ZoneInfo("Europe/Bucharest"))
    window = f"{(here - timedelta(hours=1)):%H:%M}-{(here + timedelta(hours=2)):%H:%M}"
    async with running(backend, quiet_hours=window) as stack:
        member = Member(stack, "telegram", lang="ro")
        await member.say("/start")
        async with stack.service.db.session() as session, session.begin():
            contact = await session.scalar(select(Contact).where(Contact.address == member.address))
            assert contact is not None
            contact.status, contact.country, contact.locale = "active", "RO", "ro"
            b = Broadcast(title="", base_locale="en", texts={}, buttons=[], audience={},
                          templates={})  # fmt: skip
            session.add(b)
            broadcasts.set_text(b, "en", "Night news")
            await session.flush()
            await broadcasts.launch(session, b, None, audience_size=1, approval_above=None)
            broadcast_id = b.id
        await stack.service.coordinator.notify("broadcasts")

        async def expanded() -> bool:
            async with stack.service.db.session() as session:
                found = await session.get(Broadcast, broadcast_id)
                return found is not None and found.expanded_at is not None

        await eventually(expanded)
        before = len(stack.telegram.messages_to(member.address))
        assert member.builder is not None
        await stack.post_telegram(member.builder.message("/menu"))
        # Answered at once, while the broadcast waits for the morning behind it.
        await eventually(lambda: len(stack.telegram.messages_to(member.address)) > before)
        texts = [m.text for m in stack.telegram.messages_to(member.address)]
        assert "Night news" not in texts
