"""What each member of a broadcast's audience gets, decided before anything is sent: the
language, the hour, the chat of a linked person, the WhatsApp template, or the reason they
get nothing; and the preview that counts it all for the secretariat. Plans are worked out on
a clock the test sets; the preview runs on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from bot import broadcasts
from bot.broadcasts import Audience
from bot.broadcasts.plan import People, choose, plan
from bot.broadcasts.quiet import QuietHours
from bot.members import linking
from bot.storage.db import Database
from bot.storage.models import Broadcast, Contact, utcnow
from tests.broadcasts.rules import ADMIN
from tests.broadcasts.rules import add as _add
from tests.broadcasts.rules import broadcast as _broadcast
from tests.broadcasts.rules import member as _member

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # 14:00 in Chisinau (UTC+2 in December)
WROTE = NOW - timedelta(hours=2)  # within WhatsApp's 24 hours
LONG_AGO = NOW - timedelta(hours=25)
NIGHT = QuietHours(time(21, 0), time(8, 0))
NONE: frozenset[int] = frozenset()


def _utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def _wa(number: str, **fields: Any) -> Contact:
    return _member(f"whatsapp:+373600{number}", **fields)


# ---------------------------------------------------------------- one member


def test_only_members_reading_a_chosen_language_get_a_plan() -> None:
    in_romanian = _broadcast(Audience(locales=["ro"]))
    assert plan(in_romanian, _member("801", id=1), NOW, NONE) is not None
    assert plan(in_romanian, _member("802", id=2, locale="ru"), NOW, NONE) is None
    assert plan(_broadcast(), _member("802", id=2, locale="ru"), NOW, NONE) is not None


@pytest.mark.parametrize(
    ("contact", "templates", "expected"),
    [
        # (skip, template, outside WhatsApp's window)
        (_member("811", last_inbound_at=NOW - timedelta(days=30)), {}, (None, None, False)),
        (_member("812", status="stopped"), {}, ("stopped", None, False)),
        (_member("813", unreachable_at=WROTE), {}, ("unreachable", None, False)),
        (_member("814", status="stopped", unreachable_at=WROTE), {}, ("stopped", None, False)),
        (_wa("00815", last_inbound_at=WROTE), {}, (None, None, False)),
        (_wa("00816", last_inbound_at=WROTE.replace(tzinfo=None)), {}, (None, None, False)),
        (_wa("00817", last_inbound_at=LONG_AGO), {}, ("no_template", None, True)),
        (_wa("00818", last_inbound_at=None), {}, ("no_template", None, True)),
        (_wa("00819", last_inbound_at=LONG_AGO), None, ("no_template", None, True)),
        (_wa("00820", last_inbound_at=LONG_AGO), {"ro": "HXro", "en": "HXen"}, (None, "HXro", True)),
        (_wa("00821", last_inbound_at=LONG_AGO), {"en": "HXen"}, (None, "HXen", True)),
        (_wa("00822", last_inbound_at=WROTE), {"ro": "HXro"}, (None, "HXro", False)),
        (_wa("00823", last_inbound_at=LONG_AGO, status="stopped"), {}, ("stopped", None, False)),
        (_wa("00824", unreachable_at=WROTE), {"ro": "HXro"}, ("unreachable", None, False)),
    ],
    ids=[
        "telegram-has-no-window", "stopped", "blocked", "stopped-and-blocked",
        "whatsapp-in-window", "whatsapp-time-as-sqlite-gives-it", "whatsapp-outside",
        "whatsapp-never-wrote", "whatsapp-outside-no-templates-at-all",
        "whatsapp-outside-own-template", "whatsapp-outside-base-template",
        "whatsapp-in-window-template-comes-along", "whatsapp-stopped", "whatsapp-blocked",
    ],
)  # fmt: skip
def test_why_a_member_gets_nothing_and_when_the_template_goes(
    contact: Contact, templates: dict[str, str] | None, expected: tuple[Any, ...]
) -> None:
    contact.id = 1
    found = plan(_broadcast(templates=templates), contact, NOW, NONE)
    assert found is not None
    assert (found.skip, found.template, found.outside) == expected
    assert plan(_broadcast(templates=templates), contact, NOW, frozenset({1})).skip == "excluded"


def test_a_member_in_their_quiet_hours_gets_it_in_their_morning() -> None:
    moldovan = _member("831", id=1)
    at_night = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)  # 01:30 in Chisinau
    found = plan(_broadcast(), moldovan, at_night, NONE, NIGHT)
    assert found is not None and found.waits_for_morning
    assert found.due_at == _utc(2026, 12, 6, 6, 0)  # 08:00 in Chisinau
    by_day = plan(_broadcast(), moldovan, NOW, NONE, NIGHT)
    assert by_day is not None and (by_day.due_at, by_day.waits_for_morning) == (0.0, False)
    without = plan(_broadcast(), moldovan, at_night, NONE)
    assert without is not None and (without.due_at, without.waits_for_morning) == (0.0, False)
    # Nobody knows when it is night for a member of no known country or zone: not held.
    unknown = _member("832", id=2, country=None, locale="en")
    found = plan(_broadcast(), unknown, at_night, NONE, NIGHT)
    assert found is not None and (found.due_at, found.waits_for_morning) == (0.0, False)
    # A local hour that falls in the quiet hours waits for the morning after it.
    at_ten = plan(_broadcast(local_hour=22), moldovan, NOW, NONE, NIGHT)
    assert at_ten is not None and at_ten.waits_for_morning
    assert at_ten.due_at == _utc(2026, 12, 6, 6, 0)


def _due(broadcast: Broadcast, contact: Contact, now: datetime = NOW) -> float:
    found = plan(broadcast, contact, now, NONE)
    assert found is not None
    return found.due_at


def test_a_broadcast_at_a_local_hour_reaches_each_member_at_that_hour_of_their_day() -> None:
    at_nine = _broadcast(local_hour=9)
    moldovan = _member("841", id=1)  # UTC+2 in December
    georgian = _member("842", id=2, country="GE", locale="ka")  # UTC+4
    unknown = _member("843", id=3, country=None, locale="en")  # taken as UTC
    # At 14:00 in Chisinau nine o'clock has passed everywhere: tomorrow's.
    assert _due(at_nine, moldovan) == _utc(2026, 12, 6, 7, 0)
    assert _due(at_nine, georgian) == _utc(2026, 12, 6, 5, 0)
    assert _due(at_nine, unknown) == _utc(2026, 12, 6, 9, 0)
    # Early in the morning: today's.
    assert _due(at_nine, moldovan, datetime(2026, 12, 5, 5, 0, tzinfo=UTC)) == _utc(
        2026, 12, 5, 7, 0
    )
    # Scheduled for a later day: that day's nine o'clock, however late it is now.
    later = _broadcast(local_hour=9, scheduled_at=datetime(2026, 12, 10, 4, 0, tzinfo=UTC))
    assert _due(later, moldovan) == _utc(2026, 12, 10, 7, 0)
    # Scheduled at nine o'clock sharp in Chisinau: that very hour, not the next day's.
    sharp = _broadcast(local_hour=9, scheduled_at=datetime(2026, 12, 10, 7, 0, tzinfo=UTC))
    assert _due(sharp, moldovan) == _utc(2026, 12, 10, 7, 0)


# ---------------------------------------------------------------- one message per person


def test_a_linked_person_gets_one_message_on_the_chat_that_can_take_it() -> None:
    tg = _member("851", id=1, person_id=7)
    wa = _wa("00851", id=2, person_id=7)
    out_of_window = _wa("00852", id=3, person_id=8, last_inbound_at=LONG_AGO)
    stopped = _member("852", id=4, person_id=8, status="stopped")
    blocked = _wa("00853", id=5, person_id=9, unreachable_at=WROTE)
    plain = _broadcast()

    def chat(contacts: list[Contact], preferred: str | None) -> tuple[int, str | None]:
        found = choose(plain, contacts, preferred, NOW, NONE)
        assert found is not None
        return found.contact.id, found.skip

    assert chat([tg, wa], "whatsapp") == (wa.id, None)
    assert chat([tg, wa], "telegram") == (tg.id, None)
    # The preferred chat cannot deliver: the next one does.
    assert chat([tg, blocked], "whatsapp") == (tg.id, None)
    # None can: the preferred one's reason.
    assert chat([stopped, out_of_window], "whatsapp") == (out_of_window.id, "no_template")
    assert chat([stopped, out_of_window], "telegram") == (stopped.id, "stopped")
    # Got it on one chat: not again on the other.
    excluded = choose(plain, [tg, wa], "whatsapp", NOW, frozenset({tg.id}))
    assert excluded is not None and excluded.skip == "excluded"
    # No chat in a chosen language: nothing at all.
    assert choose(_broadcast(Audience(locales=["en"])), [tg, wa], None, NOW, NONE) is None


async def test_each_person_asked_for_is_planned_once_on_their_preferred_chat(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa, other = _member("861"), _wa("00861"), _member("862")
        await _add(session, tg, wa, other)
        await linking.join(session, [tg, wa])
        await linking.set_preferred(session, tg, "whatsapp")
        stmt = broadcasts.audience_query(Audience(), None)
        asked = await People.load(session, stmt, {tg.person_id or 0})
        first = asked.choose(_broadcast(), tg, NOW, NONE, None)
        assert first is not None and first.contact.id == wa.id
        assert asked.choose(_broadcast(), wa, NOW, NONE, None) is None
        nobody = await People.load(session, stmt, set())
        alone = nobody.choose(_broadcast(), tg, NOW, NONE, None)
        assert alone is not None and alone.contact.id == tg.id


# ---------------------------------------------------------------- the preview


async def test_the_preview_counts_who_gets_what_in_which_language_and_how_long_it_takes(
    clean_db: Database,
) -> None:
    recent = utcnow() - timedelta(hours=1)
    async with clean_db.session() as session, session.begin():
        romanian = _member("871")
        in_window = _wa("00872", last_inbound_at=recent)
        outside = _wa("00873", last_inbound_at=utcnow() - timedelta(days=3))
        ukrainian = _member("874", locale="uk", country="UA")  # no Ukrainian text: the base
        english = _member("875", locale="en", country="GB")
        stopped = _member("876", status="stopped")
        linked_tg, linked_wa = _member("877"), _wa("00877", last_inbound_at=recent)
        meeting = _broadcast(
            templates={"ro": "HXro"},
            buttons=[{"label": {"en": "Register"}, "url": "https://childpact.org/meeting"}],
        )
        broadcasts.set_text(meeting, "ru", "Ежегодное собрание 3 июня в Кишинёве.")
        # The linked person's chats come first: the rest of the audience is counted after them.
        others = [romanian, in_window, outside, ukrainian, english, stopped]
        await _add(session, linked_tg, linked_wa, *others, meeting)
        await linking.join(session, [linked_tg, linked_wa])
        await linking.set_preferred(session, linked_tg, "whatsapp")

        seen = await broadcasts.preview(
            session, meeting, ADMIN, {"telegram": 20.0, "whatsapp": 2.0}
        )
        assert (seen.addresses, seen.people, seen.recipients) == (8, 7, 6)
        assert seen.by_channel == {"telegram": 3, "whatsapp": 3}
        assert seen.by_locale == {"ro": 4, "en": 2}
        assert seen.by_fallback == {"own": 5, "base": 1}
        assert seen.skipped == {"stopped": 1}
        assert (seen.templated, seen.waits_for_morning) == (1, 0)
        assert seen.missing_locales == {"uk": 1}
        assert [(r.language, r.reads, r.how, r.members, r.by_channel) for r in seen.readers] == [
            ("en", "en", "own", 1, {"telegram": 1}),
            ("ro", "ro", "own", 4, {"telegram": 1, "whatsapp": 3}),
            ("uk", "en", "base", 1, {"telegram": 1}),
        ]
        # The button has no Romanian or Russian label: four read Romanian, nobody Russian.
        assert [(b.button, b.label, b.locales, b.members) for b in seen.untranslated_buttons] == [
            (1, "Register", ["ro", "ru"], 4)
        ]
        # Three on WhatsApp at 95 % of two a second; Telegram's three go alongside.
        assert seen.estimated_seconds == pytest.approx(3 / 1.9)
        # A channel without a rate is taken at one message a second.
        unrated = await broadcasts.preview(session, meeting, ADMIN, {})
        assert unrated.estimated_seconds == pytest.approx(3 / 0.95)
        # A rate of 0 is no limit for the pacing, nor for the estimate: WhatsApp's three at one
        # a second take the time, Telegram's add none.
        unlimited = await broadcasts.preview(session, meeting, ADMIN, {"telegram": 0.0})
        assert unlimited.recipients == 6
        assert unlimited.estimated_seconds == pytest.approx(3 / 0.95)
        nothing = await broadcasts.preview(session, meeting, ADMIN, {"telegram": 0, "whatsapp": 0})
        assert nothing.estimated_seconds == 0.0


async def test_the_preview_of_a_broadcast_nobody_is_in_takes_no_time(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        await _add(session, _member("881", country="RO"))
        nobody = _broadcast(Audience(countries=["AL"]))
        await _add(session, nobody)
        seen = await broadcasts.preview(session, nobody, ADMIN, {"telegram": 20.0})
        assert (seen.addresses, seen.people, seen.recipients) == (0, 0, 0)
        assert seen.estimated_seconds == 0.0


async def test_the_preview_counts_those_in_their_quiet_hours_now(clean_db: Database) -> None:
    now = utcnow()
    # Quiet hours around this moment in UTC; twelve hours ahead it is the middle of the day.
    around_now = QuietHours((now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time())
    async with clean_db.session() as session, session.begin():
        asleep = _member("891", time_zone="Etc/UTC")
        awake = _member("892", time_zone="Etc/GMT-12")
        meeting = _broadcast()
        await _add(session, asleep, awake, meeting)
        seen = await broadcasts.preview(session, meeting, ADMIN, {}, around_now)
        assert (seen.recipients, seen.waits_for_morning) == (2, 1)
