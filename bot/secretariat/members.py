"""The members as the secretariat sees them: search and filters, one member's history, CSV
export and deletion, always within the country scope of the person asking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.channels.base import MEMBER_CHANNELS
from bot.i18n import searchable
from bot.members import linking
from bot.privacy import erasure
from bot.privacy.erasure import ERASED
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff, member_scope
from bot.spreadsheet import csv_stream
from bot.storage.db import Database
from bot.storage.models import (
    Contact,
    Delivery,
    Inbound,
)

STATUSES = ("active", "stopped", "unreachable", "new", "declined")
EXPORT_COLUMNS = (
    "id",
    "channel",
    "status",
    "locale",
    "country",
    "organisation",
    "created_at",
    "last_inbound_at",
)
_EXPORT_BATCH = 500
_PHONE = re.compile(r"\+?[\d ().-]{6,}")


@dataclass(frozen=True)
class MemberFilter:
    """What the secretariat searches for; every field left None matches everyone."""

    q: str | None = None  # organisation (part of it), a member id, or an exact chat address
    country: str | None = None
    locale: str | None = None
    channel: str | None = None
    organisation: str | None = None  # part of the organisation's name, any case
    status: str | None = None  # one of STATUSES


@dataclass(frozen=True)
class HistoryItem:
    """One message of a member's history, either way."""

    at: datetime
    direction: str  # "in" from the member, "out" to them
    text: str
    status: str
    channel: str = ""  # which of the member's linked chats


@dataclass(frozen=True)
class Linked:
    """A member's chats: this one and those linked with it, and where news reaches them."""

    contacts: list[Contact]
    preferred: str | None


def status_of(contact: Contact) -> str:
    """The status the secretariat sees: a member the platform no longer reaches is
    unreachable, whatever they last chose."""
    return "unreachable" if contact.unreachable_at is not None else contact.status


def _status_is(status: str, c: Any = Contact) -> ColumnElement[bool]:
    if status == "unreachable":
        return c.unreachable_at.is_not(None)
    return and_(c.status == status, c.unreachable_at.is_(None))


def _addresses(q: str) -> list[str]:
    """The chat addresses a typed search may mean: as typed, and a phone number in the form
    WhatsApp addresses are stored in."""
    found = [q]
    if _PHONE.fullmatch(q):
        digits = re.sub(r"\D", "", q)
        found += [f"whatsapp:+{digits}", f"+{digits}", digits]
    elif q.startswith("whatsapp:"):
        found.append(q.replace(" ", ""))
    return found


def _organisation_like(typed: str, c: Any = Contact) -> ColumnElement[bool]:
    """An organisation with every word typed in it, or part of one, as people type: any case,
    with or without accents, Cyrillic or Georgian in Latin letters ("salvati" finds
    "Salvați Copiii", "partnerstvo" finds "Партнерство")."""
    words = (searchable(typed) or "").split()
    if not words:
        return func.lower(c.organisation).contains(typed.strip().lower(), autoescape=True)
    return and_(*(c.organisation_search.contains(w, autoescape=True) for w in words))


def _conditions(where: MemberFilter, c: Any = Contact) -> list[ColumnElement[bool]]:
    """The filters as conditions on ``c``: the contacts table, or another name for it."""
    found: list[ColumnElement[bool]] = []
    q = (where.q or "").strip()
    if q:
        either: list[ColumnElement[bool]] = [
            _organisation_like(q, c),
            c.address.in_(_addresses(q)),
        ]
        if q.isdigit() and len(q) < 19:  # an id; longer digit strings are phone numbers
            either.append(c.id == int(q))
        found.append(or_(*either))
    if where.country:
        found.append(c.country == where.country.upper())
    if where.locale:
        found.append(c.locale == where.locale)
    if where.channel:
        found.append(c.channel == where.channel)
    if where.organisation:
        found.append(_organisation_like(where.organisation, c))
    if where.status:
        found.append(_status_is(where.status, c))
    return found


def _matching(stmt: Select[Any], where: MemberFilter) -> Select[Any]:
    # A contact kept only for its safeguarding records is no member any more.
    return stmt.where(Contact.status != ERASED, *_conditions(where))


def _one_per_person(stmt: Select[Any], where: MemberFilter) -> Select[Any]:
    """A member with linked chats is one row: the first of their chats that matches."""
    earlier = aliased(Contact)
    return stmt.where(
        or_(
            Contact.person_id.is_(None),
            ~exists().where(
                earlier.person_id == Contact.person_id,
                earlier.id < Contact.id,
                *_conditions(where, earlier),
            ),
        )
    )


async def search(
    session: AsyncSession,
    staff: Staff,
    where: MemberFilter,
    *,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Contact], int]:
    """One page of the members matching ``where`` that ``staff`` may see, newest first, and how
    many match in all; linked chats of one member count once."""
    stmt = _one_per_person(_matching(member_scope(select(Contact), staff), where), where)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    found = await session.scalars(
        stmt.order_by(Contact.created_at.desc(), Contact.id.desc()).offset(offset).limit(limit)
    )
    return list(found), int(total or 0)


async def get(session: AsyncSession, staff: Staff, member_id: int) -> Contact | None:
    """The member, or None when there is none or they are outside ``staff``'s country."""
    return await session.scalar(
        member_scope(select(Contact), staff).where(Contact.id == member_id, Contact.status != ERASED)
    )


def _inbound_text(message: dict[str, Any]) -> str:
    text = message.get("text") or ""
    if not text and message.get("kind") == "button":
        return f"[{message.get('payload') or ''}]"  # a tap: which button, not what it said
    return str(text)


async def linked(session: AsyncSession, contact: Contact) -> Linked:
    contacts = await linking.person_contacts(session, contact)
    return Linked(contacts, await linking.preferred_channel(session, contact))


async def channels_of(session: AsyncSession, contacts: list[Contact]) -> dict[int, list[str]]:
    """For a page of members: the channels of each one's linked chats, by the row's id."""
    people = {c.person_id for c in contacts if c.person_id is not None}
    found: dict[int, set[str]] = {}
    if people:
        rows = await session.execute(
            select(Contact.person_id, Contact.channel).where(Contact.person_id.in_(people))
        )
        for person_id, channel in rows.all():
            found.setdefault(person_id, set()).add(channel)
    order = {name: i for i, name in enumerate(MEMBER_CHANNELS)}
    return {
        c.id: sorted(found.get(c.person_id or 0) or {c.channel}, key=lambda ch: order.get(ch, 9))
        for c in contacts
    }


async def history(session: AsyncSession, member_id: int, limit: int = 200) -> list[HistoryItem]:
    """The member's messages and the bot's, oldest first: the last ``limit`` of them, from
    every chat linked with this one."""
    contact = await session.get(Contact, member_id)
    if contact is None:
        return []
    chats = await linking.person_contacts(session, contact)
    inbound = await session.execute(
        select(Inbound.received_at, Inbound.message, Inbound.status, Inbound.channel)
        .where(or_(*(and_(Inbound.channel == c.channel, Inbound.address == c.address)
                     for c in chats)))
        .order_by(Inbound.id.desc())
        .limit(limit)
    )  # fmt: skip
    outbound = await session.execute(
        select(Delivery.created_at, Delivery.message, Delivery.status, Delivery.channel)
        .where(Delivery.contact_id.in_([c.id for c in chats]))
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    items = [HistoryItem(at, "in", _inbound_text(m or {}), s, ch) for at, m, s, ch in inbound]
    items += [
        HistoryItem(at, "out", str((m or {}).get("text") or ""), s, ch) for at, m, s, ch in outbound
    ]
    # Inbound first at the same instant: a reply never comes before what it answers.
    items.sort(key=lambda i: (_naive(i.at), i.direction != "in"))
    return items[-limit:]


def _naive(at: datetime) -> datetime:
    # SQLite hands back naive datetimes, PostgreSQL aware ones; both are UTC.
    return at.replace(tzinfo=None)


async def delete_member(session: AsyncSession, contact: Contact) -> erasure.Erased:
    """Remove the member and everything personal about them, as a member's own "delete me"
    does; nothing is recorded here. The caller forgets the returned coordination keys."""
    erased = await erasure.erase(session, [contact.id])
    if contact in session:
        session.expunge(contact)
    return erased


async def delete(session: AsyncSession, staff: Staff, member_id: int) -> erasure.Erased | None:
    """Delete a member ``staff`` may see, with all their data; the audit log keeps the id only.
    None when there is no such member in scope; else what to forget once committed."""
    contact = await get(session, staff, member_id)
    if contact is None:
        return None
    erased = await delete_member(session, contact)
    await record(session, staff, "member.delete", f"member:{member_id}")
    return erased


def export_row(contact: Contact) -> dict[str, Any]:
    """A member as one CSV row: no chat address, no phone number."""
    return {
        "id": contact.id,
        "channel": contact.channel,
        "status": status_of(contact),
        "locale": contact.locale or "",
        "country": contact.country or "",
        "organisation": contact.organisation or "",
        "created_at": contact.created_at.isoformat() if contact.created_at else "",
        "last_inbound_at": contact.last_inbound_at.isoformat() if contact.last_inbound_at else "",
    }


async def export_csv(db: Database, staff: Staff, where: MemberFilter) -> AsyncIterator[str]:
    """The members export as a CSV file in pieces, for the API and the dashboard alike: every
    cell a member typed (an organisation) stays text in a spreadsheet."""
    async with db.session() as session:
        async for piece in csv_stream(EXPORT_COLUMNS, export_rows(session, staff, where)):
            yield piece


async def export_rows(
    session: AsyncSession, staff: Staff, where: MemberFilter
) -> AsyncIterator[dict[str, Any]]:
    """Every member matching ``where`` in scope, as CSV rows, read in batches so that a large
    export never sits in memory at once."""
    stmt = _matching(member_scope(select(Contact), staff), where)
    after: int | None = None
    while True:
        page = stmt.order_by(Contact.id.desc()).limit(_EXPORT_BATCH)
        if after is not None:
            page = page.where(Contact.id < after)
        batch = list(await session.scalars(page))
        for contact in batch:
            yield export_row(contact)
        if len(batch) < _EXPORT_BATCH:
            return
        after = batch[-1].id
