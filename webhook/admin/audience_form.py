"""The audience part of the broadcast compose page and the survey launch page: the topics it may
aim at, a saved audience picked in place of the ticked filters, and the ticked filters kept
under a name (both within the person's country, audited by ``bot.broadcasts.saved``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import Audience
from bot.broadcasts import saved as saved_audiences
from bot.members import topics as news_topics
from webhook.admin.pages import Visit

if TYPE_CHECKING:
    from app.service import Service

ACTIONS = ("use_audience", "save_audience")


async def news_topics_of(session: AsyncSession, visit: Visit, chosen: list[str]) -> list[Any]:
    """The topics an audience may aim at: those offered, and archived ones already chosen."""
    found = await news_topics.listed(session, archived=True)
    return [
        {
            "key": t.key,
            "name": news_topics.name_of(t, visit.locale),
            "archived": bool(t.archived_at),
        }
        for t in found
        if t.archived_at is None or t.key in chosen
    ]


async def aimed(session: AsyncSession) -> list[str]:
    """Every topic's key, archived ones too: what the form's topic boxes may name."""
    return [t.key for t in await news_topics.listed(session, archived=True)]


async def use_saved(service: Service, visit: Visit) -> Audience:
    """The chosen saved audience's filters, to stand instead of those ticked."""
    chosen = visit.form.get("saved_audience", "")
    async with service.db.session() as session:
        found = (
            await saved_audiences.get(session, visit.staff, int(chosen))
            if chosen.isdigit() and len(chosen) <= 18
            else None
        )
    if found is None:
        raise HTTPException(400)  # not one the form offered
    return Audience.from_json(found.audience)


async def keep(service: Service, visit: Visit, audience: Audience) -> None:
    """The ticked filters, kept under the name written beside them; a BroadcastError when the
    name is missing or taken."""
    async with service.db.session() as session, session.begin():
        await saved_audiences.save(session, visit.staff, visit.form.get("audience_name", ""),
                                   audience)  # fmt: skip
