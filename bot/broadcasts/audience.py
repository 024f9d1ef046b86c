"""Who a broadcast reaches: the members its filters select, and what a coordinator may see."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts.model import DELIVERED, Audience
from bot.members.topics import receiving_any
from bot.secretariat.staff import Staff, member_scope
from bot.storage.models import Broadcast, Contact, Delivery


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


# What the API and the dashboard share, so that both treat a broadcast the same way.


def visible(broadcast: Broadcast, staff: Staff) -> bool:
    """A country coordinator sees the broadcasts to their own country only."""
    return staff.country is None or (broadcast.audience or {}).get("countries") == [staff.country]


def scoped(audience: Audience, staff: Staff) -> Audience:
    """The audience as ``staff`` may send it: a coordinator writes to their country only."""
    if staff.country is not None:
        audience.countries = [staff.country]
    return audience
