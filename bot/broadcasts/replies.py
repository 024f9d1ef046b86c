"""Members' replies to a broadcast that asked for them: what they wrote back within its
window, kept in their conversations with the secretariat, and the secretariat's answer to each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat.staff import Staff, member_scope
from bot.storage.models import Broadcast, Contact, Conversation, ConversationMessage


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
    # The secretariat's first answer in the conversation after the reply, if any.
    answer: str | None = None
    answered_at: datetime | None = None


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
    rows = (
        await session.execute(
            query.order_by(ConversationMessage.created_at, ConversationMessage.id).limit(limit)
        )
    ).all()
    answers = await _answers(session, {conversation_id for _, conversation_id, _ in rows})
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
            **_answer_after(answers.get(conversation_id, []), message),
        )  # fmt: skip
        for message, conversation_id, contact in rows
    ]


async def _answers(
    session: AsyncSession, conversation_ids: set[int]
) -> dict[int, list[ConversationMessage]]:
    """The secretariat's messages in these conversations, the oldest first."""
    found: dict[int, list[ConversationMessage]] = {}
    if not conversation_ids:
        return found
    messages = await session.scalars(
        select(ConversationMessage)
        .where(
            ConversationMessage.conversation_id.in_(conversation_ids),
            ConversationMessage.direction == "secretariat",
        )
        .order_by(ConversationMessage.created_at, ConversationMessage.id)
    )
    for m in messages:
        found.setdefault(m.conversation_id, []).append(m)
    return found


def _answer_after(answers: list[ConversationMessage], reply: ConversationMessage) -> dict[str, Any]:
    """The first of ``answers`` written after ``reply``."""
    for answer in answers:
        if (answer.created_at, answer.id) > (reply.created_at, reply.id):
            return {"answer": answer.text, "answered_at": answer.created_at}
    return {}


async def titles(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """The titles the secretariat gave these broadcasts (those it gave one), for the inbox to
    name what a conversation replies to."""
    if not ids:
        return {}
    rows = await session.execute(select(Broadcast.id, Broadcast.title).where(Broadcast.id.in_(ids)))
    return {broadcast_id: title for broadcast_id, title in rows if title}
