"""Assignment rules: a new conversation of a member of a country goes to the person named for
that country by whoever answers the inbox; anyone may hand it on afterwards."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AssignmentRule, StaffUser, utcnow


async def rules(session: AsyncSession) -> dict[str, int]:
    """Each country with a rule, and the account its new conversations go to."""
    found = await session.execute(
        select(AssignmentRule.country, AssignmentRule.staff_id).order_by(AssignmentRule.country)
    )
    return {country: staff_id for country, staff_id in found.all()}


async def set_rule(session: AsyncSession, country: str, staff_id: int) -> None:
    """New conversations of members of ``country`` go to ``staff_id`` (replacing a rule)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = insert(AssignmentRule).values(country=country, staff_id=staff_id, updated_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["country"], set_={"staff_id": staff_id, "updated_at": now}
        )
    )


async def remove_rule(session: AsyncSession, country: str) -> bool:
    result = await session.execute(delete(AssignmentRule).where(AssignmentRule.country == country))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def assignee_for(session: AsyncSession, country: str | None) -> StaffUser | None:
    """The account a rule names for ``country``, if any."""
    if not country:
        return None
    return await session.scalar(
        select(StaffUser)
        .join(AssignmentRule, AssignmentRule.staff_id == StaffUser.id)
        .where(AssignmentRule.country == country)
    )
