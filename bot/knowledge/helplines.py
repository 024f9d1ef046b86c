"""The child helplines per country, as the secretariat keeps them: the number, its name and
hours, the emergency numbers, and who checked them with the operator and when."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge.safeguarding import Helpline as Line
from bot.knowledge.safeguarding import _number as member_number
from bot.storage.models import Helpline, KnowledgeState, utcnow

COUNTRY = re.compile(r"^(?:[A-Z]{2}|DEFAULT)$")
NUMBER = re.compile(r"^[0-9+() \-]{2,40}(?: \([^)]{1,40}\))?$")


class HelplineError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def listed(session: AsyncSession) -> list[Helpline]:
    """Every country's entry, DEFAULT last."""
    rows = list(await session.scalars(select(Helpline).order_by(Helpline.country)))
    return sorted(rows, key=lambda row: row.country == "DEFAULT")


async def get(session: AsyncSession, country: str) -> Helpline | None:
    return await session.get(Helpline, country)


async def current(session: AsyncSession) -> dict[str, Line]:
    """What a member who discloses is shown, per country."""
    return {
        row.country: Line(
            row.name, row.number, tuple(map(member_number, row.emergency or ())), row.hours
        )
        for row in await session.scalars(select(Helpline))
    }


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise HelplineError("too_long", f"at most {limit} characters")
    return value.strip() or None


async def put(
    session: AsyncSession, actor: str, country: str, fields: dict[str, Any], *, verified: bool
) -> Helpline:
    """Write a country's helpline whole; ``verified``: the actor checked it with the operator
    now (else it stays, or becomes, unverified)."""
    if not COUNTRY.match(country):
        raise HelplineError("country", "a country is two capital letters, or DEFAULT")
    number = _text(fields.get("number"), 64)
    if number and not NUMBER.match(number):
        raise HelplineError("number", "a number is digits, spaces, +, - and brackets")
    emergency = [" ".join(str(n).split()) for n in fields.get("emergency") or () if str(n).strip()]
    if any(not NUMBER.match(n) for n in emergency) or len(emergency) > 8:
        raise HelplineError("number", "emergency numbers: digits, then what they reach in brackets")
    row = await session.get(Helpline, country, with_for_update=True)
    if row is None:
        row = Helpline(country=country, emergency=[])
        session.add(row)
    row.name = _text(fields.get("name"), 200)
    row.number = number
    row.hours = _text(fields.get("hours"), 200)
    row.emergency = emergency
    if "note" in fields:
        row.note = _text(fields.get("note"), 2000)
    row.verified_by = actor if verified else None
    row.verified_at = utcnow() if verified else None
    row.updated_at = utcnow()
    await session.execute(
        update(KnowledgeState)
        .where(KnowledgeState.id == 1)
        .values(revision=KnowledgeState.revision + 1, changed_at=utcnow())
    )
    await session.flush()
    return row


async def unverified(session: AsyncSession) -> list[str]:
    """Countries whose helpline nobody has checked yet."""
    rows = await session.scalars(select(Helpline.country).where(Helpline.verified_at.is_(None)))
    return sorted(rows, key=lambda country: (country == "DEFAULT", country))  # DEFAULT last
