"""Retention: the texts of messages older than MESSAGE_RETENTION_DAYS are erased on a
schedule. What remains of an old message is that it existed: when, which channel, its status.
Web chats that never agreed to the privacy notice go entirely after a day."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy.consent import GIVEN
from bot.privacy.erasure import ERASED, Erased, erase
from bot.storage import outbox
from bot.storage.models import (
    Consent,
    Contact,
    ConversationMessage,
    ConversationNote,
    Delivery,
    Inbound,
    SafeguardingFlag,
    UnansweredQuestion,
    utcnow,
)

log = logging.getLogger(__name__)
FINAL = ("sent", "delivered", "read", "failed", "undelivered", "skipped", "cancelled")
UNFETCHED_HOURS = 24  # a member's own data, sent to a web chat page that never said it drew it
UNAGREED_WEB_HOURS = 24  # a web chat that never agreed to the privacy notice, since it last wrote


def _without_text(session: AsyncSession, column: str) -> tuple[str, str]:
    """SQL that drops the ``text`` key of a JSON column, and that tells it is still there."""
    if session.get_bind().dialect.name == "postgresql":
        return f"{column} - 'text'", f"{column} ? 'text'"
    return f"json_remove({column}, '$.text')", f"json_extract({column}, '$.text') IS NOT NULL"


async def erase_old_texts(session: AsyncSession, days: int) -> dict[str, int]:
    """Erase what members and the secretariat wrote more than ``days`` ago; returns how many
    rows of each kind lost their text."""
    cutoff = utcnow() - timedelta(days=days)
    counts: dict[str, int] = {}
    drop, present = _without_text(session, "message")
    result = await session.execute(
        update(Inbound)
        .where(Inbound.received_at < cutoff, Inbound.status != "pending", text(present))
        .values(message=text(drop))
    )
    counts["inbound"] = result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        update(Delivery)
        .where(Delivery.created_at < cutoff, Delivery.status.in_(FINAL), text(present))
        .values(message=text(drop))
    )
    counts["outbox"] = result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        update(ConversationMessage)
        .where(ConversationMessage.created_at < cutoff, func.length(ConversationMessage.text) > 0)
        .values(text="")
    )
    counts["conversations"] = result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        update(ConversationNote)
        .where(ConversationNote.created_at < cutoff, func.length(ConversationNote.text) > 0)
        .values(text="")
    )
    counts["notes"] = result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        update(SafeguardingFlag)
        .where(SafeguardingFlag.created_at < cutoff, func.length(SafeguardingFlag.text) > 0)
        .values(text="")
    )
    counts["safeguarding"] = result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        delete(UnansweredQuestion).where(UnansweredQuestion.last_at < cutoff)
    )
    counts["unanswered"] = result.rowcount or 0  # type: ignore[attr-defined]
    if any(counts.values()):
        log.info("retention: erased the texts of %s", counts)
    return counts


async def drop_unfetched(session: AsyncSession, hours: float = UNFETCHED_HOURS) -> int:
    """Erase the outbox rows meant to go once delivered (a member's own data, a goodbye) that a
    web chat page never said it drew; returns how many."""
    result = await session.execute(
        delete(Delivery).where(
            Delivery.created_at < utcnow() - timedelta(hours=hours), outbox.ephemeral()
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def drop_unagreed_web(
    session: AsyncSession, *, now: datetime | None = None, hours: float = UNAGREED_WEB_HOURS
) -> Erased:
    """Erase the web chats that never agreed to the privacy notice and have been quiet for
    ``hours`` (anyone can open one, so none is kept without a reason), with everything about
    them, in the caller's transaction; the caller forgets the returned keys once committed."""
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    agreed = exists().where(Consent.contact_id == Contact.id, Consent.event == GIVEN)
    ids = list(
        await session.scalars(
            select(Contact.id).where(
                Contact.channel == "web",
                Contact.status != ERASED,  # kept for its safeguarding records alone
                Contact.consent_at.is_(None),
                ~agreed,
                Contact.created_at < cutoff,
                or_(Contact.last_inbound_at.is_(None), Contact.last_inbound_at < cutoff),
            )
        )
    )
    erased = await erase(session, ids) if ids else Erased()
    if erased.contacts:
        log.info("retention: erased %d web chats that never agreed", erased.contacts)
    return erased
