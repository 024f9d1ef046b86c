"""Saved replies: what the secretariat answers often, written once per language."""

from __future__ import annotations

from sqlalchemy import case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LOCALES
from bot.secretariat.staff import Staff
from bot.storage.models import SavedReply

TITLE_LIMIT = 100
TEXT_LIMIT = 4000


async def listed(session: AsyncSession, locale: str | None = None) -> list[SavedReply]:
    """Every saved reply, those in ``locale`` (a member's language) first, then by title."""
    first = case((SavedReply.locale == locale, 0), else_=1) if locale else SavedReply.id * 0
    return list(
        await session.scalars(
            select(SavedReply).order_by(first, SavedReply.locale, SavedReply.title, SavedReply.id)
        )
    )


async def add(session: AsyncSession, staff: Staff, locale: str, title: str, text: str) -> SavedReply:
    if locale not in LOCALES or not title.strip() or not text.strip():
        raise ValueError("a saved reply needs a language, a title and a text")
    row = SavedReply(locale=locale, title=title.strip()[:TITLE_LIMIT],
                     text=text.strip()[:TEXT_LIMIT], created_by=staff.id)  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def remove(session: AsyncSession, reply_id: int) -> bool:
    result = await session.execute(delete(SavedReply).where(SavedReply.id == reply_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]
