"""Internal notes on a conversation: what the secretariat writes for itself about a member's
thread. A note never reaches the member: it is kept beside the messages, not among them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat import inbox
from bot.secretariat.staff import Staff
from bot.storage.models import ConversationNote

NOTE_LIMIT = 4000  # characters of one note


async def add(
    session: AsyncSession, staff: Staff, conversation_id: int, text: str
) -> ConversationNote:
    """A note by ``staff`` on the conversation; refused when empty or too long."""
    text = text.strip()
    if not text or len(text) > NOTE_LIMIT:
        raise ValueError(f"a note has 1 to {NOTE_LIMIT} characters")
    note = ConversationNote(
        conversation_id=conversation_id, author_id=staff.id, author=staff.name or staff.email,
        text=text,
    )  # fmt: skip
    session.add(note)
    await session.flush()
    return note


async def of(
    session: AsyncSession, conversation_ids: list[int]
) -> dict[int, list[ConversationNote]]:
    """The notes of each conversation, oldest first."""
    return await inbox.grouped(session, ConversationNote, conversation_ids)
