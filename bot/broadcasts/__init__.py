"""Broadcasts: a text written once with its translations, an audience, a preview of who gets
what, and the sending itself, as rows in the outbox that the sender delivers within limits."""

from __future__ import annotations

import hashlib
from collections import Counter
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.broadcasts import repeats
from bot.broadcasts.quiet import QuietHours, member_zone
from bot.countries import COUNTRY_LOCALE
from bot.i18n import LOCALES, normalize_locale, resolve_locale
from bot.members import linking
from bot.members.topics import receiving_any
from bot.messages import Button, OutboundMessage
from bot.secretariat.accounts import Staff, member_scope
from bot.storage.models import Broadcast, Contact, Delivery, utcnow

BULK = 5  # outbox priority: replies to members (0-1) always go first
LIMITS = {"telegram": 4096, "whatsapp": 1600, "web": 4096}
WHATSAPP_WINDOW = timedelta(hours=24)
PAGE = 500  # members turned into outbox rows per transaction
DELIVERED = ("sent", "delivered", "read")
EDITABLE = ("draft", "awaiting_approval", "scheduled")

# Why a member of the audience gets nothing. The preview counts these; the outbox keeps them
# as "skipped" rows, so the progress adds up to the audience.
SKIP_REASONS = ("stopped", "unreachable", "no_template", "excluded")


class BroadcastError(ValueError):
    """What the secretariat must change; ``code`` is stable for the dashboard to translate."""

    def __init__(self, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


def digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:16]


@dataclass
class Audience:
    """Who a broadcast is for: everyone, or those matching every filter that is set."""

    countries: list[str] = field(default_factory=list)
    locales: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    exclude_broadcasts: list[int] = field(default_factory=list)  # not those who got these
    topics: list[str] = field(default_factory=list)  # those who receive any of these topics
    contact_ids: list[int] = field(default_factory=list)  # a follow-up's own list

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience:
        data = data or {}
        return cls(
            countries=[str(c).upper() for c in data.get("countries") or []],
            locales=[normalize_locale(str(x)) or str(x) for x in data.get("locales") or []],
            channels=[str(c) for c in data.get("channels") or []],
            organisations=[str(o) for o in data.get("organisations") or []],
            exclude_broadcasts=[int(i) for i in data.get("exclude_broadcasts") or []],
            topics=[str(k) for k in data.get("topics") or []],
            contact_ids=[int(i) for i in data.get("contact_ids") or []],
        )


def audience_query(audience: Audience, staff: Staff | None) -> Select[tuple[Contact]]:
    """Members who agreed to hear from us (active or stopped since), within the filters, the
    topics and the author's country scope. Locale filtering happens per member, after the
    chain."""
    stmt = select(Contact).where(Contact.status.in_(("active", "stopped")))
    if staff is not None:
        stmt = member_scope(stmt, staff)
    if audience.countries:
        stmt = stmt.where(Contact.country.in_(audience.countries))
    if audience.channels:
        stmt = stmt.where(Contact.channel.in_(audience.channels))
    if audience.organisations:
        folded = [o.strip().lower() for o in audience.organisations]
        stmt = stmt.where(func.lower(func.trim(Contact.organisation)).in_(folded))
    if audience.topics:
        stmt = stmt.where(receiving_any(audience.topics))
    if audience.contact_ids:
        stmt = stmt.where(Contact.id.in_(audience.contact_ids))
    return stmt.order_by(Contact.id)


def member_locale(contact: Contact) -> str:
    return resolve_locale(
        contact.locale, contact.lang_hint, contact.country or contact.country_hint
    )


def pick_text(broadcast: Broadcast, contact: Contact) -> tuple[str, str]:
    """The locale a member reads this broadcast in, and how it was chosen: their own
    language, their country's usual one, or the base text."""
    texts = broadcast.texts or {}
    own = member_locale(contact)
    if _text(texts, own):
        return own, "own"
    usual = COUNTRY_LOCALE.get(contact.country or contact.country_hint or "")
    if usual and _text(texts, usual):
        return usual, "country"
    return broadcast.base_locale, "base"


def _text(texts: dict[str, Any], locale: str) -> str:
    entry = texts.get(locale)
    return (entry or {}).get("text", "").strip() if isinstance(entry, dict) else ""


def set_text(broadcast: Broadcast, locale: str, text: str) -> None:
    """Write one locale's text. A translation remembers which base text it was made from,
    so the composer can warn when the base changes after it."""
    if (broadcast.status or "draft") not in EDITABLE:
        raise BroadcastError("not_editable", "a broadcast that is sending or sent cannot change")
    locale = normalize_locale(locale) or ""
    if locale not in LOCALES:
        raise BroadcastError("locale", f"unknown locale {locale!r}", locale=locale)
    texts = dict(broadcast.texts or {})
    text = text.strip()
    if not text:
        texts.pop(locale, None)
    elif locale == broadcast.base_locale:
        texts[locale] = {"text": text}
    else:
        texts[locale] = {"text": text, "base": digest(_text(texts, broadcast.base_locale))}
    broadcast.texts = texts


def stale_locales(broadcast: Broadcast) -> list[str]:
    """Translations written for a base text that has changed since."""
    texts = broadcast.texts or {}
    base = digest(_text(texts, broadcast.base_locale))
    return sorted(
        loc
        for loc, entry in texts.items()
        if loc != broadcast.base_locale and isinstance(entry, dict) and entry.get("base") != base
    )


def check(broadcast: Broadcast) -> list[BroadcastError]:
    """Everything that stops this broadcast from going out as written; empty when it can."""
    problems: list[BroadcastError] = []
    texts = broadcast.texts or {}
    if not _text(texts, broadcast.base_locale):
        problems.append(
            BroadcastError("no_base_text", f"write the {broadcast.base_locale} text first")
        )
    for locale in sorted(texts):
        body = _text(texts, locale)
        for channel, limit in LIMITS.items():
            if channel == "web":
                continue
            if len(body) > limit:
                problems.append(
                    BroadcastError(
                        "too_long",
                        f"the {locale} text has {len(body)} characters; {channel} allows {limit}",
                        locale=locale,
                        channel=channel,
                        limit=limit,
                        length=len(body),
                    )  # fmt: skip
                )
    for button in broadcast.buttons or []:
        url = button.get("url")
        if url is not None and not str(url).startswith(("https://", "http://")):
            problems.append(BroadcastError("button_url", f"{url!r} is not a web address"))
    return problems


def message_for(
    broadcast: Broadcast, locale: str, tell_me_more: str | None, hint: str | None = None
) -> OutboundMessage:
    """The message a member reading ``locale`` gets."""
    rows: list[list[Button]] = []
    for button in broadcast.buttons or []:
        labels = button.get("label") or {}
        label = labels.get(locale) or labels.get(broadcast.base_locale) or tell_me_more or ""
        if button.get("url"):
            rows.append([Button(label=label, payload="", url=button["url"])])
        elif button.get("payload"):
            rows.append([Button(label=label, payload=str(button["payload"]))])
    message = OutboundMessage(
        text=_text(broadcast.texts or {}, locale), buttons=rows, image_url=broadcast.image_url
    )
    if message.choices():
        message.remember_choices = True
        message.choice_hint = hint
    return message


@dataclass
class Plan:
    """What one member of the audience gets: a locale and channel, or a reason to skip."""

    contact: Contact
    locale: str
    fallback: str  # own country base
    skip: str | None = None
    template: str | None = None  # WhatsApp content SID, outside the 24-hour window
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
    elif contact.channel == "whatsapp" and not _in_window(contact, now):
        template = (broadcast.templates or {}).get(locale) or (broadcast.templates or {}).get(
            broadcast.base_locale
        )
        if template:
            found.template = template
        else:
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
    """WhatsApp lets a business write freely only within 24 hours of the member's message."""
    last = contact.last_inbound_at
    if last is None:
        return False
    if last.tzinfo is None:  # SQLite gives naive datetimes back
        last = last.replace(tzinfo=now.tzinfo)
    return now - last < WHATSAPP_WINDOW


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


async def excluded_members(session: AsyncSession, audience: Audience) -> frozenset[int]:
    if not audience.exclude_broadcasts:
        return frozenset()
    found = await session.scalars(
        select(Delivery.contact_id).where(
            Delivery.broadcast_id.in_(audience.exclude_broadcasts),
            Delivery.status.in_(DELIVERED),
        )
    )
    return frozenset(i for i in found if i is not None)


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
        if member.fallback != "own":
            missing[member_locale(member.contact)] += 1
        found.templated += member.template is not None
        found.waits_for_morning += member.waits_for_morning
    found.recipients = sum(by_channel.values())
    found.by_channel, found.by_locale = dict(by_channel), dict(by_locale)
    found.by_fallback, found.skipped, found.missing_locales = (
        dict(by_fallback),
        dict(skipped),
        dict(missing),
    )
    # The channels send side by side; each at its own limit.
    found.estimated_seconds = max(
        (n / max(rates.get(ch, 1.0) * 0.95, 0.1) for ch, n in by_channel.items()), default=0.0
    )
    return found


async def expand(
    session: AsyncSession,
    broadcast: Broadcast,
    tell_me_more: dict[str, str],
    *,
    page: int = PAGE,
    quiet: QuietHours | None = None,
    now: datetime | None = None,
    hints: dict[str, str] | None = None,
) -> int:
    """Put the next page of the audience into the outbox; returns how many members it took
    (0 when the audience is all there). Safe to repeat after a crash: a member has at most
    one row per broadcast, and the page resumes after the last member written."""
    now = now or utcnow()
    audience = Audience.from_json(broadcast.audience)
    excluded = await excluded_members(session, audience)
    author = None  # the scope was applied when the audience was saved
    contacts = (
        await session.scalars(
            audience_query(audience, author).where(Contact.id > broadcast.expanded_to).limit(page)
        )
    ).all()
    if not contacts:
        return 0
    # A linked person gets one row, on the address chosen for them; it may lie on a later page.
    linked = {c.person_id for c in contacts if c.person_id is not None}
    people = await People.load(session, audience_query(audience, author), linked)
    if linked:
        people.done = set(
            await session.scalars(
                select(Contact.person_id)
                .join(Delivery, Delivery.contact_id == Contact.id)
                .where(Delivery.broadcast_id == broadcast.id, Contact.person_id.in_(linked))
            )
        )
    rows: list[dict[str, Any]] = []
    messages: dict[str, dict[str, Any]] = {}
    for contact in contacts:
        member = people.choose(broadcast, contact, now, excluded, quiet)
        if member is None:
            continue
        contact = member.contact
        if member.locale not in messages:
            messages[member.locale] = message_for(
                broadcast, member.locale, tell_me_more.get(member.locale),
                (hints or {}).get(member.locale),
            ).to_json()  # fmt: skip
        message = dict(messages[member.locale])
        if member.template:
            message["template"] = member.template
        rows.append(
            {
                "contact_id": contact.id,
                "broadcast_id": broadcast.id,
                "locale": member.locale,
                "channel": contact.channel,
                "address": contact.address,
                "priority": BULK,
                "message": message,
                "status": "skipped" if member.skip else "queued",
                "status_rank": 5 if member.skip else 0,
                "error_code": member.skip,
                "attempts": 0,
                "due_at": member.due_at,
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        stmt = insert(Delivery).on_conflict_do_nothing(
            index_elements=["broadcast_id", "contact_id"]
        )
        await session.execute(stmt, rows)
    broadcast.expanded_to = contacts[-1].id
    return len(contacts)


async def progress(session: AsyncSession, broadcast_id: int) -> dict[str, Any]:
    """Where the broadcast's messages are: totals by status, and by channel and locale."""
    found = (
        await session.execute(
            select(Delivery.status, Delivery.channel, Delivery.locale, func.count())
            .where(Delivery.broadcast_id == broadcast_id)
            .group_by(Delivery.status, Delivery.channel, Delivery.locale)
        )
    ).all()
    totals: Counter[str] = Counter()
    by_channel: dict[str, Counter[str]] = {}
    by_locale: dict[str, Counter[str]] = {}
    for status, channel, locale, count in found:
        status = "queued" if status == "sending" else status
        totals[status] += count
        by_channel.setdefault(channel, Counter())[status] += count
        by_locale.setdefault(locale or "", Counter())[status] += count
    total = sum(totals.values())
    finished = total - totals["queued"]
    return {
        "total": total,
        "statuses": dict(totals),
        "by_channel": {k: dict(v) for k, v in by_channel.items()},
        "by_locale": {k: dict(v) for k, v in by_locale.items()},
        "done_share": finished / total if total else 0.0,
    }


async def cancel(session: AsyncSession, broadcast: Broadcast) -> int:
    """Stop what has not gone yet; returns the number of messages held back."""
    if broadcast.status in ("sent", "cancelled"):
        raise BroadcastError("finished", "this broadcast has already finished")
    if broadcast.repeat_of is None and broadcast.occurrence and broadcast.started_at is None:
        # A series goes on from its first broadcast: when that never went, nothing follows.
        broadcast.repeat_pending = False
        broadcast.repeat_stopped_at = utcnow()
    broadcast.status = "cancelled"
    broadcast.cancelled_at = utcnow()
    result = await session.execute(
        update(Delivery)
        .where(Delivery.broadcast_id == broadcast.id, Delivery.status == "queued")
        .values(status="cancelled", status_rank=5)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def follow_up(session: AsyncSession, broadcast: Broadcast, author: int | None) -> Broadcast:
    """A new draft for those who did not receive ``broadcast`` and can be reached now (not
    those who got it on another of their linked chats)."""
    got_it = aliased(Delivery)
    sibling = aliased(Contact)
    reached_elsewhere = (
        select(got_it.id)
        .join(sibling, sibling.id == got_it.contact_id)
        .where(
            got_it.broadcast_id == broadcast.id,
            got_it.status.in_(DELIVERED),
            sibling.person_id == Contact.person_id,
        )
        .exists()
    )
    failed = (
        await session.scalars(
            select(Delivery.contact_id)
            .join(Contact, Contact.id == Delivery.contact_id)
            .where(
                Delivery.broadcast_id == broadcast.id,
                Delivery.status.in_(("failed", "undelivered", "skipped", "cancelled")),
                Contact.status == "active",
                Contact.unreachable_at.is_(None),
                Contact.person_id.is_(None) | ~reached_elsewhere,
            )
        )
    ).all()
    if not failed:
        raise BroadcastError("nobody", "everyone who can be reached has received it")
    audience = Audience.from_json(broadcast.audience)
    audience.contact_ids = sorted({i for i in failed if i is not None})
    again = copied(broadcast, audience=audience.to_json(), parent_id=broadcast.id,
                   created_by=author)  # fmt: skip
    session.add(again)
    await session.flush()
    return again


def copied(broadcast: Broadcast, **changes: Any) -> Broadcast:
    """A new draft with ``broadcast``'s title, texts, image, buttons, audience and templates as
    they are now; ``changes`` set the rest (another audience, its place in a series...)."""
    values: dict[str, Any] = {
        "title": broadcast.title,
        "status": "draft",
        "base_locale": broadcast.base_locale,
        "texts": deepcopy(broadcast.texts or {}),
        "image_url": broadcast.image_url,
        "buttons": deepcopy(broadcast.buttons or []),
        "audience": deepcopy(broadcast.audience or {}),
        "templates": dict(broadcast.templates or {}),
        "expanded_to": 0,
    }
    return Broadcast(**(values | changes))


async def finish_if_done(session: AsyncSession, broadcast: Broadcast) -> bool:
    """A sending broadcast whose audience is all in the outbox and nothing waits is sent."""
    if broadcast.status != "sending" or broadcast.expanded_at is None:
        return False
    waiting = await session.scalar(
        select(Delivery.id)
        .where(
            Delivery.broadcast_id == broadcast.id,
            Delivery.status.in_(("queued", "sending")),
        )
        .limit(1)
    )
    if waiting is not None:
        return False
    broadcast.status = "sent"
    broadcast.finished_at = utcnow()
    return True


def due(now: datetime) -> Any:
    """Broadcasts a worker should move on: scheduled and due, or sending and not finished."""
    return and_(
        Broadcast.status.in_(("scheduled", "sending")),
        (Broadcast.scheduled_at.is_(None)) | (Broadcast.scheduled_at <= now),
    )


def locales_written(broadcast: Broadcast) -> list[str]:
    return sorted(loc for loc in (broadcast.texts or {}) if _text(broadcast.texts, loc))


async def launch(
    session: AsyncSession,
    broadcast: Broadcast,
    staff: Staff | None,
    *,
    audience_size: int,
    approval_above: int | None,
    at: datetime | None = None,
    local_hour: int | None = None,
) -> str:
    """Send now or at ``at`` (optionally at ``local_hour`` of each member's own day). A
    broadcast to more than ``approval_above`` members waits for an administrator first.
    Returns the new status."""
    if broadcast.status not in ("draft", "scheduled"):
        raise BroadcastError("not_draft", f"this broadcast is already {broadcast.status}")
    problems = check(broadcast)
    if problems:
        raise problems[0]
    if local_hour is not None and not 0 <= local_hour <= 23:
        raise BroadcastError("local_hour", "the local hour must be between 0 and 23")
    if staff is not None and staff.country is not None:
        # A coordinator's broadcast stays within their country, whatever the filter says.
        audience = Audience.from_json(broadcast.audience)
        audience.countries = [staff.country]
        broadcast.audience = audience.to_json()
    broadcast.scheduled_at = at
    broadcast.local_hour = local_hour
    if broadcast.repeat_of is None:
        _start_series(broadcast, at or utcnow())
    needs_approval = approval_above is not None and audience_size > approval_above
    if needs_approval and broadcast.approved_by is None:
        broadcast.status = "awaiting_approval"
    else:
        broadcast.status = "scheduled"
    return broadcast.status


def _start_series(broadcast: Broadcast, first: datetime) -> None:
    """A repeating broadcast becomes the first occurrence of its series; its next one is made
    once it is due. A one-off one is no series."""
    until = broadcast.repeat_until
    if broadcast.repeat and until is not None:
        if first.astimezone(repeats.zone_of(broadcast.repeat_zone)).date() > until:
            raise BroadcastError("repeat_until", "the series would end before it starts")
    broadcast.occurrence = 1 if broadcast.repeat else None
    broadcast.repeat_pending = bool(broadcast.repeat)
    broadcast.repeat_stopped_at = None


async def approve(session: AsyncSession, broadcast: Broadcast, staff: Staff) -> None:
    """A second person, an administrator, lets a large broadcast go."""
    if not staff.is_admin:
        raise BroadcastError("not_admin", "only an administrator can approve a broadcast")
    if broadcast.status != "awaiting_approval":
        raise BroadcastError("not_waiting", "this broadcast is not waiting for approval")
    if broadcast.created_by == staff.id:
        raise BroadcastError("own", "someone other than its author must approve it")
    broadcast.approved_by = staff.id
    broadcast.status = "scheduled"


def test_message(broadcast: Broadcast, locale: str, tell_me_more: str | None) -> OutboundMessage:
    """What the author's own chat gets before the real send, marked as a test."""
    if not _text(broadcast.texts or {}, locale):
        locale = broadcast.base_locale
    message = message_for(broadcast, locale, tell_me_more)
    message.text = f"[TEST {locale}]\n{message.text}"
    return message


# What the API and the dashboard share, so that both treat a broadcast the same way.


def visible(broadcast: Broadcast, staff: Staff) -> bool:
    """A country coordinator sees the broadcasts to their own country only."""
    return staff.country is None or (broadcast.audience or {}).get("countries") == [staff.country]


def scoped(audience: Audience, staff: Staff) -> Audience:
    """The audience as ``staff`` may send it: a coordinator writes to their country only."""
    if staff.country is not None:
        audience.countries = [staff.country]
    return audience


def changed(broadcast: Broadcast) -> None:
    """After an edit: what was approved is not what will be sent."""
    broadcast.approved_by = None
    if broadcast.status == "awaiting_approval":
        broadcast.status = "draft"


def rates(settings: Any) -> dict[str, float]:
    """Messages per second per channel, for the preview's estimate."""
    return {"telegram": settings.telegram_rate, "whatsapp": settings.twilio_rate, "web": 1000.0}


def queue_test(
    session: AsyncSession,
    broadcast: Broadcast,
    member: Contact,
    locales: list[str],
    labels: dict[str, str],
) -> int:
    """Put the broadcast, marked as a test, in the outbox for one chat (the author's own),
    once per locale, ahead of the bulk; returns how many messages."""
    for locale in locales:
        message = test_message(broadcast, locale, labels.get(locale))
        session.add(
            Delivery(
                contact_id=member.id,
                channel=member.channel,
                address=member.address,
                priority=1,
                message=message.to_json(),
                locale=locale,
            )
        )
    return len(locales)


def text_of(broadcast: Broadcast, locale: str) -> str:
    """The text written for ``locale``, or an empty string."""
    return _text(broadcast.texts or {}, locale)


async def done_shares(session: AsyncSession, ids: list[int]) -> dict[int, tuple[int, float]]:
    """For a list of broadcasts: how many messages each has, and the share no longer queued."""
    if not ids:
        return {}
    found = await session.execute(
        select(Delivery.broadcast_id, Delivery.status, func.count())
        .where(Delivery.broadcast_id.in_(ids))
        .group_by(Delivery.broadcast_id, Delivery.status)
    )
    counts: dict[int, list[int]] = {}
    for broadcast_id, status, count in found.all():
        counts.setdefault(broadcast_id, [0, 0])[status in ("queued", "sending")] += count
    return {i: (done + waiting, done / (done + waiting)) for i, (done, waiting) in counts.items()}
