"""The focal point's review of what the safeguarding detector raises: each alert or possible
concern is kept with its reason; "Not a concern", pressed in the safeguarding chat, puts it in
the review list that the secretariat reads. The list never changes the detector by itself:
people decide what the training corpus needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Button, InboundMessage
from bot.secretariat.relay import to_chat
from bot.secretariat.staff import Staff, member_scope
from bot.secretariat.staff_chat import telegram_staff
from bot.storage.models import Contact, SafeguardingFlag, utcnow

log = logging.getLogger(__name__)
NOT_A_CONCERN = "sgnc"  # payload of the button: "sgnc:<flag id>"
TEXT_LIMIT = 3000


@dataclass(frozen=True)
class Reviewed:
    flag: SafeguardingFlag
    country: str | None


async def record(
    session: AsyncSession,
    contact_id: int,
    *,
    level: str,
    kind: str,
    words: tuple[str, ...],
    danger: float,
    text: str,
) -> SafeguardingFlag:
    """Keep what the detector raised; its id goes on the "Not a concern" button."""
    flag = SafeguardingFlag(
        contact_id=contact_id, level=level, kind=kind, words=", ".join(words)[:300],
        danger=round(float(danger), 4), text=text[:TEXT_LIMIT],
    )  # fmt: skip
    session.add(flag)
    await session.flush()
    return flag


def not_a_concern_button(flag: SafeguardingFlag) -> list[list[Button]]:
    # The staff chat works in the coalition's working language, as the alert itself.
    return [[Button("Not a concern", f"{NOT_A_CONCERN}:{flag.id}")]]


def is_review_button(msg: InboundMessage) -> bool:
    return bool(msg.callback_id) and (msg.payload or "").startswith(f"{NOT_A_CONCERN}:")


async def not_a_concern(
    session: AsyncSession, settings: Settings, inbound_id: int, msg: InboundMessage
) -> None:
    """ "Not a concern" pressed in the safeguarding chat: the flag joins the review list, and the
    chat is told by whom. Pressed again, or elsewhere, it changes nothing."""
    chat = (settings.safeguarding_telegram_chat_id or "").strip()
    raw = (msg.payload or "").partition(":")[2]
    flag = await session.get(SafeguardingFlag, int(raw)) if raw.isdigit() else None
    if msg.address != chat or flag is None:
        return  # a stale or foreign button: the spinner is stopped, nothing else
    label = f"{flag.level} #{flag.id}"
    if flag.dismissed_at is not None:
        note = f"{label} is already in the review list (marked by {flag.dismissed_by})."
        to_chat(session, chat, note, inbound_id)
        return
    staff = await telegram_staff(session, msg.sender) if msg.sender else None
    who = f"{staff.name} <{staff.email}>" if staff else f"Telegram user {msg.sender or '?'}"
    flag.dismissed_at, flag.dismissed_by = utcnow(), who[:200]
    log.info("safeguarding: flag %s marked not a concern", flag.id)
    to_chat(
        session, chat,
        f"{label} marked not a concern by {who}. It is in the review list for the secretariat; "
        "the detector is not changed by it.",
        inbound_id,
    )  # fmt: skip


async def review_list(
    session: AsyncSession, staff: Staff, *, offset: int = 0, limit: int = 100
) -> tuple[list[Reviewed], int]:
    """The flags marked not a concern, newest first, of the members this person may see."""
    query = member_scope(
        select(SafeguardingFlag, Contact.country)
        .join(Contact, Contact.id == SafeguardingFlag.contact_id)
        .where(SafeguardingFlag.dismissed_at.is_not(None)),
        staff,
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(SafeguardingFlag.dismissed_at.desc(), SafeguardingFlag.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [Reviewed(flag, country) for flag, country in rows.all()], int(total or 0)
