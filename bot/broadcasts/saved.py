"""Saved audiences: a broadcast's filters kept under a name, picked when composing or when
launching a survey, renamed and deleted; each change audited. Staff of one country see and keep
their country's only."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts.audience import scoped
from bot.broadcasts.model import Audience, BroadcastError
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff
from bot.storage.models import SavedAudience

NAME_LIMIT = 100


def _visible(row: SavedAudience, staff: Staff) -> bool:
    return staff.country is None or row.country == staff.country


async def listed(session: AsyncSession, staff: Staff) -> list[SavedAudience]:
    """The saved audiences ``staff`` may use, by name."""
    found = await session.scalars(select(SavedAudience).order_by(func.lower(SavedAudience.name)))
    return [row for row in found if _visible(row, staff)]


async def get(session: AsyncSession, staff: Staff, audience_id: int) -> SavedAudience | None:
    row = await session.get(SavedAudience, audience_id)
    return row if row is not None and _visible(row, staff) else None


def _filters(audience: Audience, staff: Staff) -> dict[str, object]:
    """What is kept: the filters, within the person's country; never a follow-up's own list
    of members, which belongs to that broadcast."""
    kept = scoped(Audience.from_json(audience.to_json()), staff)
    kept.contact_ids = []
    return kept.to_json()


async def _name(session: AsyncSession, name: str, own_id: int | None = None) -> str:
    """The name as kept; refused when empty or already another's (in any letter case)."""
    name = " ".join(name.split())[:NAME_LIMIT]
    if not name:
        raise BroadcastError("audience_name", "give the audience a name")
    taken = await session.scalar(
        select(SavedAudience.id).where(
            func.lower(SavedAudience.name) == name.lower(), SavedAudience.id != (own_id or 0)
        )
    )
    if taken is not None:
        raise BroadcastError("audience_taken", f"an audience is already called {name!r}")
    return name


async def save(session: AsyncSession, staff: Staff, name: str, audience: Audience) -> SavedAudience:
    row = SavedAudience(
        name=await _name(session, name), audience=_filters(audience, staff),
        country=staff.country, created_by=staff.id,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await record(session, staff, "audience.save", f"audience:{row.id}")
    return row


async def change(
    session: AsyncSession,
    staff: Staff,
    row: SavedAudience,
    *,
    name: str | None = None,
    audience: Audience | None = None,
) -> SavedAudience:
    """Rename it, or keep other filters under its name; broadcasts that used it keep theirs."""
    if name is not None:
        row.name = await _name(session, name, row.id)
    if audience is not None:
        row.audience = _filters(audience, staff)
    await session.flush()
    await record(session, staff, "audience.change", f"audience:{row.id}",
                 renamed=name is not None, filters=audience is not None)  # fmt: skip
    return row


async def remove(session: AsyncSession, staff: Staff, row: SavedAudience) -> None:
    await session.delete(row)
    await record(session, staff, "audience.delete", f"audience:{row.id}")
