"""What each member gets, one message per person, and the preview that counts it beforehand."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts.audience import audience_query, excluded_members
from bot.broadcasts.model import Audience
from bot.broadcasts.quiet import QuietHours, member_zone
from bot.broadcasts.texts import (
    check,
    member_locale,
    pick_text,
    stale_locales,
    untranslated_buttons,
)
from bot.channels.registry import capabilities
from bot.members import linking
from bot.secretariat.staff import Staff
from bot.storage.models import Broadcast, Contact, utcnow


@dataclass
class Plan:
    """What one member of the audience gets: a locale and channel, or a reason to skip."""

    contact: Contact
    locale: str
    fallback: str  # own country base
    skip: str | None = None
    template: str | None = None  # WhatsApp content SID, for when it goes outside the window
    outside: bool = False  # outside WhatsApp's 24-hour window now
    due_at: float = 0.0
    waits_for_morning: bool = False


def plan(
    broadcast: Broadcast,
    contact: Contact,
    now: datetime,
    excluded: set[int] | frozenset[int],
    quiet: QuietHours | None = None,
) -> Plan | None:
    """What this member gets, or None when the locale filter leaves them out."""
    audience = Audience.from_json(broadcast.audience)
    if audience.locales and member_locale(contact) not in audience.locales:
        return None
    locale, fallback = pick_text(broadcast, contact)
    found = Plan(contact, locale, fallback, due_at=_due_at(broadcast, contact, now))
    zone = member_zone(contact) if quiet is not None else None
    if quiet is not None and zone is not None:
        due = datetime.fromtimestamp(max(found.due_at, now.timestamp()), UTC)
        released = quiet.release(due, zone)
        if released > due:
            found.due_at, found.waits_for_morning = released.timestamp(), True
    if contact.id in excluded:
        found.skip = "excluded"
    elif contact.status == "stopped":
        found.skip = "stopped"
    elif contact.unreachable_at is not None:
        found.skip = "unreachable"
    elif capabilities(contact.channel).reply_window is not None:
        # The window is judged again as each message goes (quiet hours and a local hour move
        # it by hours): the template comes along whenever there is one, and the sender uses
        # it only when the member is outside the window then.
        template = (broadcast.templates or {}).get(locale) or (broadcast.templates or {}).get(
            broadcast.base_locale
        )
        found.outside = not _in_window(contact, now)
        if template:
            found.template = template
        elif found.outside:
            found.skip = "no_template"
    return found


def choose(
    broadcast: Broadcast,
    contacts: list[Contact],
    preferred: str | None,
    now: datetime,
    excluded: set[int] | frozenset[int],
    quiet: QuietHours | None = None,
) -> Plan | None:
    """What a person with several linked addresses gets: one message, on the preferred
    channel, or on the next one when that one cannot deliver (blocked, outside WhatsApp's
    window with no template); when none can, the preferred one's reason to skip."""
    if excluded & {c.id for c in contacts}:
        excluded = excluded | {c.id for c in contacts}  # they got it on one of them
    plans = [
        found
        for contact in linking.ordered(contacts, preferred)
        if (found := plan(broadcast, contact, now, excluded, quiet)) is not None
    ]
    return next((p for p in plans if not p.skip), plans[0] if plans else None)


class People:
    """The linked addresses among an audience, by person, for choosing one per person."""

    def __init__(self) -> None:
        self.contacts: dict[int, list[Contact]] = {}
        self.preferred: dict[int, str | None] = {}
        self.done: set[int] = set()  # people already given their one message

    @classmethod
    async def load(
        cls, session: AsyncSession, stmt: Select[tuple[Contact]], person_ids: set[int] | None
    ) -> People:
        found = cls()
        stmt = stmt.where(Contact.person_id.is_not(None))
        if person_ids is not None:
            if not person_ids:
                return found
            stmt = stmt.where(Contact.person_id.in_(person_ids))
        for contact in await session.scalars(stmt):
            found.contacts.setdefault(contact.person_id or 0, []).append(contact)
        found.preferred = await linking.preferences(session, found.contacts)
        return found

    def choose(
        self,
        broadcast: Broadcast,
        contact: Contact,
        now: datetime,
        excluded: set[int] | frozenset[int],
        quiet: QuietHours | None,
    ) -> Plan | None:
        """This address's plan; for a linked one, its person's plan the first time the person
        comes up, and None after."""
        person = contact.person_id
        if person is None:
            return plan(broadcast, contact, now, excluded, quiet)
        if person in self.done:
            return None
        self.done.add(person)
        group = self.contacts.get(person) or [contact]
        return choose(broadcast, group, self.preferred.get(person), now, excluded, quiet)


def _in_window(contact: Contact, now: datetime) -> bool:
    """Whether we may write freely: WhatsApp lets a business do so only within its reply
    window after the member's last message; channels without a window always let us."""
    window = capabilities(contact.channel).reply_window
    if window is None:
        return True
    last = contact.last_inbound_at
    if last is None:
        return False
    if last.tzinfo is None:  # SQLite gives naive datetimes back
        last = last.replace(tzinfo=now.tzinfo)
    return now - last < window


def _due_at(broadcast: Broadcast, contact: Contact, now: datetime) -> float:
    """When this member's message may go: now, or at the chosen hour of their own day."""
    if broadcast.local_hour is None:
        return 0.0
    zone = member_zone(contact) or ZoneInfo("UTC")
    start = (broadcast.scheduled_at or now).astimezone(zone)
    due = start.replace(hour=broadcast.local_hour, minute=0, second=0, microsecond=0)
    if due < start:
        due += timedelta(days=1)
    return max(due.timestamp(), 0.0)


@dataclass
class Readers:
    """Members of one language who read one text: their own, or a fallback."""

    language: str  # the members' own language
    reads: str  # the text they get
    how: str  # own: their language; country: their country's usual one; base: the base text
    members: int
    by_channel: dict[str, int] = field(default_factory=dict)


@dataclass
class UntranslatedButton:
    """A button whose own text stays in the base language for languages whose body is
    translated: members reading those get the text in one language and the button in another."""

    button: int  # its number on the page, from 1
    label: str  # the text they get instead
    locales: list[str]
    members: int  # recipients reading those languages


@dataclass
class Preview:
    """The check before sending: who gets it, in which language, who does not and why."""

    recipients: int = 0  # people, each reached once on one of their chats
    people: int = 0  # in the audience, reached or not
    addresses: int = 0  # their chat addresses: more than people when chats are linked
    by_channel: dict[str, int] = field(default_factory=dict)
    by_locale: dict[str, int] = field(default_factory=dict)
    by_fallback: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    templated: int = 0  # WhatsApp members outside the window, reached with the template
    waits_for_morning: int = 0  # in their quiet hours now: it reaches them in the morning
    missing_locales: dict[str, int] = field(default_factory=dict)  # members' locales not written
    readers: list[Readers] = field(default_factory=list)  # who reads which text, and why
    untranslated_buttons: list[UntranslatedButton] = field(default_factory=list)
    stale_locales: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    estimated_seconds: float = 0.0


async def preview(
    session: AsyncSession,
    broadcast: Broadcast,
    staff: Staff | None,
    rates: dict[str, float],
    quiet: QuietHours | None = None,
) -> Preview:
    """Count the audience as the sending would treat it, without sending anything."""
    now = utcnow()
    audience = Audience.from_json(broadcast.audience)
    excluded = await excluded_members(session, audience)
    found = Preview(
        stale_locales=stale_locales(broadcast), problems=[str(p) for p in check(broadcast)]
    )
    by_channel: Counter[str] = Counter()
    by_locale: Counter[str] = Counter()
    by_fallback: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    readers: dict[tuple[str, str, str], Counter[str]] = {}
    stmt = audience_query(audience, staff)
    people = await People.load(session, stmt, None)
    result = await session.stream_scalars(stmt)
    async for contact in result:
        found.addresses += 1
        member = people.choose(broadcast, contact, now, excluded, quiet)
        if member is None:
            continue
        found.people += 1
        if member.skip:
            skipped[member.skip] += 1
            continue
        by_channel[member.contact.channel] += 1
        by_locale[member.locale] += 1
        by_fallback[member.fallback] += 1
        language = member_locale(member.contact)
        readers.setdefault((language, member.locale, member.fallback), Counter())[
            member.contact.channel
        ] += 1
        # The base language lacking its text is a problem of its own ("write it first"), not
        # a translation to add.
        if member.fallback != "own" and language != broadcast.base_locale:
            missing[language] += 1
        found.templated += member.template is not None and member.outside
        found.waits_for_morning += member.waits_for_morning
    found.recipients = sum(by_channel.values())
    found.by_channel, found.by_locale = dict(by_channel), dict(by_locale)
    found.by_fallback, found.skipped, found.missing_locales = (
        dict(by_fallback),
        dict(skipped),
        dict(missing),
    )
    found.readers = [
        Readers(language, reads, how, sum(channels.values()), dict(channels))
        for (language, reads, how), channels in sorted(readers.items())
    ]
    found.untranslated_buttons = [
        UntranslatedButton(number, label, locales, sum(by_locale.get(loc, 0) for loc in locales))
        for number, label, locales in untranslated_buttons(broadcast)
    ]
    # The channels send side by side; each at its own limit (a rate of 0: none, as the pacing
    # has it).
    found.estimated_seconds = max(
        (n / (rate * 0.95) for ch, n in by_channel.items() if (rate := rates.get(ch, 1.0)) > 0),
        default=0.0,
    )
    return found
