"""The secretariat's inbox in the database: conversations, their messages, unanswered questions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, TypeVar

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import ChannelName
from bot.i18n import fold
from bot.secretariat import assignment
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff, member_scope
from bot.storage.models import (
    Contact,
    Conversation,
    ConversationMessage,
    ConversationNote,
    Delivery,
    StaffUser,
    UnansweredAsker,
    UnansweredQuestion,
    utcnow,
)

InThread = TypeVar("InThread", ConversationMessage, ConversationNote)
QUESTION_LIMIT = 500  # characters of an unanswered question that are kept
KINDS = ("safeguarding", "question", "secretariat", "reply")
# The log shows what members ask, not who they are: a number long enough to be a phone, and
# an e-mail address, go.
_PHONE = re.compile(r"\+?\d[\d ().-]{5,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def as_kept(question: str) -> tuple[str, str]:
    """A question as the log keeps it, and the key that finds it again."""
    question = " ".join(_PHONE.sub("…", _EMAIL.sub("…", question)).split())[:QUESTION_LIMIT]
    return question, fold(question)[:QUESTION_LIMIT] or question


def can_answer(user: StaffUser, country: str | None) -> bool:
    """Who a conversation can go to: an active editor or administrator who sees its member
    (a member of ``country``)."""
    in_scope = user.country is None or user.country == country
    return user.status == "active" and user.role in ("admin", "editor") and in_scope


async def count_unanswered(
    session: AsyncSession,
    locale: str,
    question: str,
    country: str | None = None,
    contact_id: int | None = None,
) -> None:
    """Log a question the bot could not answer, asked by a member of ``country``; the same
    question again counts one more. The member (``contact_id``, the chat they asked from) is
    kept with it, to be told the answer once the secretariat teaches the bot."""
    question, key = as_kept(question)
    if not question:
        return
    now = utcnow()
    question_upsert, asker_upsert = _upserts(session.get_bind().dialect.name)
    question_id = await session.scalar(
        question_upsert,
        {"locale": locale, "country": (country or "")[:8], "question": question,
         "normalised": key, "count": 1, "first_at": now, "last_at": now},
    )  # fmt: skip
    if contact_id is not None and question_id is not None:
        await session.execute(
            asker_upsert, {"question_id": question_id, "contact_id": contact_id, "asked_at": now}
        )


@cache
def _upserts(dialect: str) -> tuple[Any, Any]:
    """The question's upsert (one more when asked again; returns its id) and the asker's, built
    once per dialect (Core on the tables: the columns come with the values)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    questions, askers = UnansweredQuestion.__table__, UnansweredAsker.__table__
    question = insert(questions)
    question = question.on_conflict_do_update(
        index_elements=["locale", "country", "normalised"],
        set_={"count": questions.c.count + 1, "last_at": question.excluded.last_at},
    ).returning(questions.c.id)
    asker = insert(askers).on_conflict_do_nothing(index_elements=["question_id", "contact_id"])
    return question, asker


async def forget_unanswered(session: AsyncSession, locale: str, question: str) -> int:
    """A question the bot now knows leaves the list (every country's count of it)."""
    _, key = as_kept(question)
    done = await session.execute(
        delete(UnansweredQuestion).where(
            UnansweredQuestion.locale == locale, UnansweredQuestion.normalised == key
        )
    )
    return int(getattr(done, "rowcount", 0) or 0)


async def open_conversation(session: AsyncSession, contact_id: int, kind: str) -> Conversation:
    """The member's open conversation, or a new one of ``kind``: one thread at a time."""
    found = await session.scalar(
        select(Conversation)
        .where(Conversation.contact_id == contact_id, Conversation.status == "open")
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if found is None:
        found = Conversation(contact_id=contact_id, kind=kind, status="open")
        found.assignee_id = await _by_rule(session, contact_id)
        session.add(found)
        await session.flush()
        if found.assignee_id is not None:
            await record(session, None, "inbox.assign", f"conversation:{found.id}",
                         staff_id=found.assignee_id, rule=True)  # fmt: skip
    elif kind == "safeguarding" and found.kind != "safeguarding":
        found.kind = "safeguarding"  # a disclosure makes the whole thread urgent
    return found


async def _by_rule(session: AsyncSession, contact_id: int) -> int | None:
    """Who a new conversation of this member goes to by the rule for their country: nobody
    when there is none, or when the account named can no longer answer them."""
    contact = await session.get(Contact, contact_id)
    country = (contact.country or contact.country_hint) if contact else None
    user = await assignment.assignee_for(session, country)
    return user.id if user is not None and can_answer(user, country) else None


async def add_message(
    session: AsyncSession,
    conversation: Conversation,
    direction: str,
    text: str,
    delivery_id: int | None = None,
    broadcast_id: int | None = None,
) -> ConversationMessage:
    message = ConversationMessage(
        conversation_id=conversation.id,
        direction=direction,
        text=text,
        delivery_id=delivery_id,
        broadcast_id=broadcast_id,
    )
    session.add(message)
    conversation.updated_at = utcnow()
    if conversation.status != "open":
        # An answer to a closed thread opens it again: the member is talking with someone.
        conversation.status, conversation.closed_at = "open", None
    await session.flush()
    return message


async def message_count(session: AsyncSession, conversation_id: int) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
    )
    return int(found or 0)


async def thread_of(session: AsyncSession, chat: str, platform_id: str) -> Conversation | None:
    """The conversation of the message we posted in a staff chat as ``platform_id``."""
    return await session.scalar(
        select(Conversation)
        .join(ConversationMessage, ConversationMessage.conversation_id == Conversation.id)
        .join(Delivery, Delivery.id == ConversationMessage.delivery_id)
        .where(
            Delivery.channel == ChannelName.TELEGRAM,
            Delivery.address == chat,
            Delivery.platform_id == platform_id,
        )
        .limit(1)
    )


async def close(
    session: AsyncSession, *, contact_id: int | None = None, conversation_id: int | None = None
) -> list[int]:
    """Close a member's open conversations, or one conversation; the ids that were open."""
    where = [Conversation.status == "open"]
    if contact_id is not None:
        where.append(Conversation.contact_id == contact_id)
    if conversation_id is not None:
        where.append(Conversation.id == conversation_id)
    now = utcnow()
    result = await session.execute(
        update(Conversation)
        .where(*where)
        .values(status="closed", closed_at=now, updated_at=now)
        .returning(Conversation.id)
    )
    return [row[0] for row in result.all()]


async def assign(session: AsyncSession, conversation_id: int, staff_id: int | None) -> bool:
    """Give the conversation to one person of the secretariat, or to nobody; False when there
    is no such conversation."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(assignee_id=staff_id, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def take_on_answer(session: AsyncSession, conversation: Conversation, staff: Staff) -> None:
    """Whoever answers a conversation nobody has takes it, so that the others see it is in
    hand; one given to someone stays theirs."""
    if conversation.assignee_id is None:
        conversation.assignee_id = staff.id
        await record(session, staff, "inbox.assign", f"conversation:{conversation.id}",
                     staff_id=staff.id, answered=True)  # fmt: skip


async def reopen(session: AsyncSession, conversation_id: int) -> bool:
    """Open a closed conversation again; False when it was not closed (or does not exist)."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.status == "closed")
        .values(status="open", closed_at=None, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass
class Thread:
    """A conversation with its member and its messages, for the inbox."""

    conversation: Conversation
    contact: Contact
    messages: list[ConversationMessage]
    # The secretariat's answers kept for the member's next message: outside WhatsApp's 24-hour
    # window only a short notice reached them (``outbox.hold``).
    held_answers: int = 0


async def threads(
    session: AsyncSession,
    status: str | None = "open",
    limit: int = 100,
    ids: list[int] | None = None,
    staff: Staff | None = None,
    offset: int = 0,
    assignee: int | Literal["nobody"] | None = None,
    country: str | None = None,
) -> list[Thread]:
    """Conversations, safeguarding first, then the most recently active; with ``staff``, only
    those of the members in their country scope; with ``assignee``, only those given to that
    account (or, "nobody", to no one); with ``country``, only its members'."""
    urgent = case((Conversation.kind == "safeguarding", 0), else_=1)
    query = select(Conversation, Contact).join(Contact, Contact.id == Conversation.contact_id)
    if staff is not None:
        query = member_scope(query, staff)
    if assignee == "nobody":
        query = query.where(Conversation.assignee_id.is_(None))
    elif assignee is not None:
        query = query.where(Conversation.assignee_id == assignee)
    if country:
        query = query.where(func.coalesce(Contact.country, Contact.country_hint) == country)
    if status:
        query = query.where(Conversation.status == status)
    if ids is not None:
        query = query.where(Conversation.id.in_(ids))
    rows = (
        await session.execute(
            query.order_by(urgent, Conversation.updated_at.desc(), Conversation.id.desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()
    messages = await grouped(session, ConversationMessage, [c.id for c, _ in rows])
    held = await held_answers(session, [contact.id for _, contact in rows])
    return [Thread(c, contact, messages[c.id], held.get(contact.id, 0)) for c, contact in rows]


async def grouped(
    session: AsyncSession, model: type[InThread], conversation_ids: list[int]
) -> dict[int, list[InThread]]:
    """The rows of ``model`` (messages, notes) of each conversation, oldest first."""
    found: dict[int, list[InThread]] = {i: [] for i in conversation_ids}
    if conversation_ids:
        rows = await session.scalars(
            select(model).where(model.conversation_id.in_(conversation_ids)).order_by(model.id)
        )
        for row in rows:
            found[row.conversation_id].append(row)
    return found


ANSWER_PAYLOAD = "handoff:reply"  # the "Reply" button every answer of the secretariat carries


async def held_answers(session: AsyncSession, contact_ids: list[int]) -> dict[int, int]:
    """How many of the secretariat's answers wait for each member's next message."""
    if not contact_ids:
        return {}
    found = await session.execute(
        select(Delivery.contact_id, Delivery.message).where(
            Delivery.contact_id.in_(contact_ids), Delivery.status == "held"
        )
    )
    counts: dict[int, int] = {}
    for contact_id, message in found.all():
        buttons = [b for line in (message or {}).get("buttons") or [] for b in line]
        if any(b.get("payload") == ANSWER_PAYLOAD for b in buttons):
            counts[contact_id] = counts.get(contact_id, 0) + 1
    return counts


@dataclass(frozen=True)
class Unanswered:
    locale: str
    question: str
    count: int
    first_at: datetime
    last_at: datetime
    waiting: int = 0  # members who asked it and can be told the answer


TOLD = ("active", "stopped")  # who may be told an answer: agreed to the privacy notice, not erased


async def top_unanswered(
    session: AsyncSession, limit: int = 50, locale: str | None = None, staff: Staff | None = None
) -> list[Unanswered]:
    """The questions asked most, in every country together; for ``staff`` limited to a
    country, as asked by members of that country only."""
    scoped = [] if staff is None or staff.country is None else [
        UnansweredQuestion.country == staff.country
    ]  # fmt: skip
    asked = (
        select(
            UnansweredQuestion.locale, UnansweredQuestion.normalised,
            func.count(func.distinct(UnansweredAsker.contact_id)).label("waiting"),
        )
        .join(UnansweredAsker, UnansweredAsker.question_id == UnansweredQuestion.id)
        .join(Contact, Contact.id == UnansweredAsker.contact_id)
        .where(Contact.status.in_(TOLD), *scoped)
        .group_by(UnansweredQuestion.locale, UnansweredQuestion.normalised)
        .subquery()
    )  # fmt: skip
    total = func.sum(UnansweredQuestion.count)
    query = (
        select(
            UnansweredQuestion.locale, func.min(UnansweredQuestion.question), total,
            func.min(UnansweredQuestion.first_at), func.max(UnansweredQuestion.last_at),
            func.coalesce(func.max(asked.c.waiting), 0),
        )
        .outerjoin(asked, (asked.c.locale == UnansweredQuestion.locale)
                   & (asked.c.normalised == UnansweredQuestion.normalised))
        .where(*scoped)
        .group_by(UnansweredQuestion.locale, UnansweredQuestion.normalised)
    )  # fmt: skip
    if locale:
        query = query.where(UnansweredQuestion.locale == locale)
    found = await session.execute(
        query.order_by(total.desc(), func.max(UnansweredQuestion.last_at).desc()).limit(limit)
    )
    return [Unanswered(*row) for row in found.all()]


async def askers(session: AsyncSession, locale: str, question: str) -> list[tuple[Contact, str]]:
    """Who asked ``question`` (in every country) and can be told the answer, each with the
    question as they asked it."""
    _, key = as_kept(question)
    found = await session.execute(
        select(Contact, func.min(UnansweredQuestion.question))
        .join(UnansweredAsker, UnansweredAsker.contact_id == Contact.id)
        .join(UnansweredQuestion, UnansweredQuestion.id == UnansweredAsker.question_id)
        .where(
            UnansweredQuestion.locale == locale,
            UnansweredQuestion.normalised == key,
            Contact.status.in_(TOLD),
        )
        .group_by(Contact.id)
        .order_by(Contact.id)
    )
    return [(contact, asked) for contact, asked in found.all()]
