"""The secretariat's inbox over HTTP: conversations with members, answers that reach them on
their channel, assignment, closing and reopening, and the questions the bot could not answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.coordination.keys import OUTBOX
from bot.i18n import resolve_locale
from bot.secretariat import inbox
from bot.secretariat.audit import record
from bot.secretariat.relay import answer_member
from bot.secretariat.staff import Staff
from bot.storage.models import Conversation, StaffUser
from webhook.api.common import READ, ItemId, Limit, Offset, errors
from webhook.auth import EditorDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["inbox"])
CHANGE = errors(401, 403, 404)


class MessageOut(BaseModel):
    id: int
    direction: Literal["member", "secretariat"]
    text: str
    created_at: datetime


class MemberOut(BaseModel):
    """Who wrote, as far as staff need it: never a phone number or chat address."""

    id: int
    channel: str
    locale: str
    country: str | None
    organisation: str | None


class ConversationOut(BaseModel):
    id: int
    kind: Literal["secretariat", "question", "safeguarding", "reply"]
    status: Literal["open", "closed"]
    assignee_id: int | None = Field(description="the account the conversation is given to")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    member: MemberOut
    messages: list[MessageOut]
    held_answers: int = Field(
        description="answers kept until the member writes again: outside WhatsApp's 24-hour "
        "window only a short notice reached them"
    )


class Inbox(BaseModel):
    conversations: list[ConversationOut]


class StaffReply(BaseModel):
    text: str = Field(
        min_length=1, max_length=4000, description="the answer, as the member reads it"
    )


class Assignment(BaseModel):
    staff_id: int | None = Field(
        ge=1, le=2**63 - 1, description="an active account's id; null: nobody"
    )


class UnansweredOut(BaseModel):
    locale: str
    question: str
    count: int
    first_at: datetime
    last_at: datetime
    waiting: int = Field(
        description="members who asked it and will be told the answer when it is taught "
        "(POST /api/knowledge/teach); who they are is not shown"
    )


class Unanswered(BaseModel):
    questions: list[UnansweredOut]


def _out(thread: inbox.Thread) -> ConversationOut:
    c, contact = thread.conversation, thread.contact
    return ConversationOut(
        id=c.id,
        kind=c.kind,  # type: ignore[arg-type]
        status=c.status,  # type: ignore[arg-type]
        assignee_id=c.assignee_id,
        created_at=c.created_at,
        updated_at=c.updated_at,
        closed_at=c.closed_at,
        member=MemberOut(
            id=contact.id,
            channel=contact.channel,
            locale=resolve_locale(
                contact.locale, contact.lang_hint, contact.country or contact.country_hint
            ),
            country=contact.country or contact.country_hint,
            organisation=contact.organisation,
        ),
        messages=[
            MessageOut(id=m.id, direction=m.direction, text=m.text, created_at=m.created_at)  # type: ignore[arg-type]
            for m in thread.messages
        ],
        held_answers=thread.held_answers,
    )


async def _visible(session: AsyncSession, person: Staff, conversation_id: int) -> Conversation:
    """The conversation, when its member is within ``person``'s scope; 404 otherwise."""
    found = await inbox.threads(session, status=None, ids=[conversation_id], staff=person)
    if not found:
        raise HTTPException(404, "no such conversation")
    return found[0].conversation


async def _thread(service: ServiceDep, person: Staff, conversation_id: int) -> ConversationOut:
    async with service.db.session() as session:
        found = await inbox.threads(session, status=None, ids=[conversation_id], staff=person)
    if not found:
        raise HTTPException(404, "no such conversation")
    return _out(found[0])


@router.get("/inbox", response_model=Inbox, summary="List conversations", responses=READ)
async def list_conversations(
    person: StaffDep,
    service: ServiceDep,
    status: Literal["open", "closed", "all"] = "open",
    offset: Offset = 0,
    limit: Limit = 100,
) -> Inbox:
    """Conversations with members within your country scope: safeguarding first, then the
    most recently active."""
    async with service.db.session() as session:
        found = await inbox.threads(
            session, None if status == "all" else status, limit, staff=person, offset=offset
        )
    return Inbox(conversations=[_out(t) for t in found])


@router.get(
    "/inbox/{conversation_id}",
    response_model=ConversationOut,
    summary="One conversation",
    responses=errors(401, 404),
)
async def get_conversation(
    conversation_id: ItemId, person: StaffDep, service: ServiceDep
) -> ConversationOut:
    """The conversation with all its messages; 404 outside your country scope."""
    return await _thread(service, person, conversation_id)


@router.post(
    "/inbox/{conversation_id}/reply",
    response_model=ConversationOut,
    summary="Answer the member",
    responses=CHANGE,
)
async def reply(
    conversation_id: ItemId, body: StaffReply, person: EditorDep, service: ServiceDep
) -> ConversationOut:
    """Editors and administrators: the answer reaches the member on their channel, in their
    language's frame, as a reply in the staff chat does, and is echoed to the staff chat. A
    closed conversation opens again."""
    if not body.text.strip():
        raise HTTPException(422, "empty answer")
    async with service.db.session() as session, session.begin():
        conversation = await _visible(session, person, conversation_id)
        await answer_member(session, service.settings, conversation, body.text, echo=True)
        await record(session, person, "inbox.reply", f"conversation:{conversation_id}")
    await service.coordinator.notify(OUTBOX)
    return await _thread(service, person, conversation_id)


@router.post(
    "/inbox/{conversation_id}/assign",
    response_model=ConversationOut,
    summary="Assign the conversation",
    responses={**CHANGE, **errors(422)},
)
async def assign(
    conversation_id: ItemId, body: Assignment, person: EditorDep, service: ServiceDep
) -> ConversationOut:
    """Editors and administrators: give the conversation to an active editor or administrator
    who sees its member, or to nobody. 422 alike for an account that does not exist and for
    one that cannot answer this member."""
    async with service.db.session() as session, session.begin():
        found = await inbox.threads(session, status=None, ids=[conversation_id], staff=person)
        if not found:
            raise HTTPException(404, "no such conversation")
        member = found[0].contact
        if body.staff_id is not None:
            assignee = await session.get(StaffUser, body.staff_id)
            country = member.country or member.country_hint
            if assignee is None or not inbox.can_answer(assignee, country):
                raise HTTPException(422, "no account with that id can answer this member")
        await inbox.assign(session, conversation_id, body.staff_id)
        await record(
            session,
            person,
            "inbox.assign",
            f"conversation:{conversation_id}",
            staff_id=body.staff_id,
        )
    return await _thread(service, person, conversation_id)


@router.post(
    "/inbox/{conversation_id}/close",
    response_model=ConversationOut,
    summary="Close the conversation",
    responses=CHANGE,
)
async def close(conversation_id: ItemId, person: EditorDep, service: ServiceDep) -> ConversationOut:
    """Editors and administrators: the member's next message to the secretariat opens a new
    conversation. Closing a closed conversation changes nothing."""
    async with service.db.session() as session, session.begin():
        await _visible(session, person, conversation_id)
        if await inbox.close(session, conversation_id=conversation_id):
            await record(session, person, "inbox.close", f"conversation:{conversation_id}")
    return await _thread(service, person, conversation_id)


@router.post(
    "/inbox/{conversation_id}/reopen",
    response_model=ConversationOut,
    summary="Reopen the conversation",
    responses=CHANGE,
)
async def reopen(
    conversation_id: ItemId, person: EditorDep, service: ServiceDep
) -> ConversationOut:
    """Editors and administrators: a closed conversation is open again. Reopening an open
    conversation changes nothing."""
    async with service.db.session() as session, session.begin():
        await _visible(session, person, conversation_id)
        if await inbox.reopen(session, conversation_id):
            await record(session, person, "inbox.reopen", f"conversation:{conversation_id}")
    return await _thread(service, person, conversation_id)


@router.get(
    "/unanswered",
    response_model=Unanswered,
    summary="Questions the bot could not answer",
    responses=READ,
)
async def unanswered(
    person: StaffDep,
    service: ServiceDep,
    locale: Annotated[str | None, Query(max_length=16)] = None,
    limit: Limit = 50,
) -> Unanswered:
    """The most asked first, counted per language and the asker's country (never per
    member); an account limited to a country sees its country's only. Phone numbers and
    e-mail addresses were removed before they were stored."""
    async with service.db.session() as session:
        found = await inbox.top_unanswered(session, limit, locale, staff=person)
    return Unanswered(
        questions=[
            UnansweredOut(
                locale=q.locale,
                question=q.question,
                count=q.count,
                first_at=q.first_at,
                last_at=q.last_at,
                waiting=q.waiting,
            )
            for q in found
        ]
    )
