"""Members' replies to a broadcast that asked for them: what they wrote back within its
window, kept in their conversations with the secretariat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat.staff import Staff, member_scope
from bot.storage.models import Contact, Conversation, ConversationMessage


@dataclass(frozen=True)
class Reply:
    member_id: int
    channel: str
    text: str
    at: datetime
    conversation_id: int
    organisation: str | None
    country: str | None
    locale: str | None


async def of(
    session: AsyncSession, broadcast_id: int, staff: Staff | None = None, limit: int = 5000
) -> list[Reply]:
    """The replies to ``broadcast_id``, the oldest first; with ``staff``, only those of the
    members they may see."""
    query = (
        select(ConversationMessage, Conversation.id, Contact)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(
            ConversationMessage.broadcast_id == broadcast_id,
            ConversationMessage.direction == "member",
        )
    )
    if staff is not None:
        query = member_scope(query, staff)
    rows = await session.execute(
        query.order_by(ConversationMessage.created_at, ConversationMessage.id).limit(limit)
    )
    return [
        Reply(
            member_id=contact.id,
            channel=contact.channel,
            text=message.text,
            at=message.created_at,
            conversation_id=conversation_id,
            organisation=contact.organisation,
            country=contact.country,
            locale=contact.locale,
        )  # fmt: skip
        for message, conversation_id, contact in rows.all()
    ]
