"""The dashboard's first page in numbers: who the members are, how busy the last weeks were,
and what needs the secretariat's attention, within the country scope of the person asking."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy.erasure import ERASED
from bot.secretariat.staff import Staff, member_scope
from bot.storage import outbox
from bot.storage.models import AuditEntry, Contact, Conversation, Delivery, Inbound, utcnow

WEEKS = 8
UNKNOWN = "unknown"  # a member who has not said (yet) which country or language
FAILED = ("failed", "undelivered")
ERASED_BY_MEMBER = "member.erase"  # the audit log's action for a member's own "delete me"


@dataclass(frozen=True)
class Week:
    """One week of activity, Monday to Sunday (UTC)."""

    start: date
    messages_in: int
    messages_out: int
    new_members: int


@dataclass(frozen=True)
class Attention:
    open_conversations: int
    open_safeguarding: int
    failed_deliveries_7d: int


@dataclass(frozen=True)
class MovedChat:
    """A staff group that became a supergroup: messages follow it, the setting should too."""

    channel: str
    address: str
    moved_to: str
    moved_at: datetime


@dataclass(frozen=True)
class Overview:
    by_country: dict[str, int]
    by_locale: dict[str, int]
    by_channel: dict[str, int]
    by_status: dict[str, int]
    activity: list[Week]
    attention: Attention
    members: int = field(default=0)
    # Members who erased themselves: a count only, kept in the audit log without identity.
    erased_by_members: int = field(default=0)
    moved_chats: list[MovedChat] = field(default_factory=list)


_STATUS = case((Contact.unreachable_at.is_not(None), "unreachable"), else_=Contact.status)


async def _count_by(session: AsyncSession, staff: Staff, column: Any) -> dict[str, int]:
    # A contact kept, emptied, for its safeguarding records alone is no member any more: it is
    # counted once, among those who erased themselves.
    rows = await session.execute(
        member_scope(select(column, func.count()).select_from(Contact), staff)
        .where(Contact.status != ERASED)
        .group_by(column)
    )
    counts: dict[str, int] = {}
    for key, count in rows:
        name = key or UNKNOWN
        counts[name] = counts.get(name, 0) + int(count)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, the current one last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]


def _per_week(column: Any, starts: list[datetime]) -> list[Any]:
    """One count per week, in a single pass over the rows."""
    ends = starts[1:] + [starts[-1] + timedelta(weeks=1)]
    return [
        func.coalesce(func.sum(case((and_(column >= s, column < e), 1), else_=0)), 0)
        for s, e in zip(starts, ends, strict=True)
    ]


async def _weekly(
    session: AsyncSession, staff: Staff, column: Any, source: Any, join: Any | None,
    starts: list[datetime],
) -> list[int]:  # fmt: skip
    stmt = select(*_per_week(column, starts)).select_from(source)
    if join is not None:
        stmt = stmt.join(Contact, join)
    stmt = member_scope(stmt, staff).where(column >= starts[0])
    row = (await session.execute(stmt)).one()
    return [int(n or 0) for n in row]


async def _count(session: AsyncSession, staff: Staff, *where: ColumnElement[bool]) -> int:
    stmt = (
        select(func.count())
        .select_from(Conversation)
        .join(Contact, Contact.id == Conversation.contact_id)
    )
    return int(await session.scalar(member_scope(stmt, staff).where(*where)) or 0)


async def overview(session: AsyncSession, staff: Staff) -> Overview:
    """Everything on the overview page, counted for the members ``staff`` may see."""
    now = utcnow()
    mondays = week_starts(now.date())
    starts = [datetime.combine(d, time(), tzinfo=now.tzinfo) for d in mondays]
    inbound_join = and_(Contact.channel == Inbound.channel, Contact.address == Inbound.address)
    messages_in = await _weekly(session, staff, Inbound.received_at, Inbound, inbound_join, starts)
    messages_out = await _weekly(
        session, staff, Delivery.created_at, Delivery, Contact.id == Delivery.contact_id, starts
    )
    new_members = await _weekly(session, staff, Contact.created_at, Contact, None, starts)
    failed = (
        select(func.count()).select_from(Delivery).join(Contact, Contact.id == Delivery.contact_id)
    )
    failed = member_scope(failed, staff).where(
        Delivery.status.in_(FAILED), Delivery.updated_at >= now - timedelta(days=7)
    )
    by_status = await _count_by(session, staff, _STATUS)
    return Overview(
        by_country=await _count_by(session, staff, Contact.country),
        by_locale=await _count_by(session, staff, Contact.locale),
        by_channel=await _count_by(session, staff, Contact.channel),
        by_status=by_status,
        activity=[
            Week(d, i, o, n)
            for d, i, o, n in zip(mondays, messages_in, messages_out, new_members, strict=True)
        ],
        attention=Attention(
            open_conversations=await _count(session, staff, Conversation.status == "open"),
            open_safeguarding=await _count(
                session, staff, Conversation.status == "open", Conversation.kind == "safeguarding"
            ),
            failed_deliveries_7d=int(await session.scalar(failed) or 0),
        ),
        members=sum(by_status.values()),
        erased_by_members=int(
            await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == ERASED_BY_MEMBER)
            )
            or 0
        ),
        moved_chats=[
            MovedChat(m.channel, m.address, m.moved_to, m.moved_at)
            for m in await outbox.chat_moves(session)
        ],
    )
