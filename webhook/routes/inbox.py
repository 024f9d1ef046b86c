"""The secretariat's inbox over HTTP: conversations with members, answers, unanswered questions."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from bot import inbox
from bot.i18n import resolve_locale
from bot.storage.models import Conversation
from handlers.handoff import answer_member
from webhook.deps import ServiceDep

_bearer = HTTPBearer(auto_error=False, description="ADMIN_API_TOKEN")


async def require_staff(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Bearer ADMIN_API_TOKEN: 401 without it, 403 when wrong, 404 while no token is set."""
    token = service.settings.admin_api_token
    expected = token.get_secret_value().strip() if token is not None else ""
    if not expected:
        raise HTTPException(404, "inbox API is off")
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "bearer token required", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(403, "wrong token")


router = APIRouter(prefix="/api", tags=["inbox"], dependencies=[Depends(require_staff)])


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
    kind: Literal["secretariat", "question", "safeguarding"]
    status: Literal["open", "closed"]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    member: MemberOut
    messages: list[MessageOut]


class Inbox(BaseModel):
    conversations: list[ConversationOut]


class StaffReply(BaseModel):
    text: str = Field(
        min_length=1, max_length=4000, description="the answer, as the member reads it"
    )


class UnansweredOut(BaseModel):
    locale: str
    question: str
    count: int
    first_at: datetime
    last_at: datetime


class Unanswered(BaseModel):
    questions: list[UnansweredOut]


def _out(thread: inbox.Thread) -> ConversationOut:
    c, contact = thread.conversation, thread.contact
    return ConversationOut(
        id=c.id,
        kind=c.kind,  # type: ignore[arg-type]
        status=c.status,  # type: ignore[arg-type]
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
    )


async def _thread(service: ServiceDep, conversation_id: int) -> ConversationOut:
    async with service.db.session() as session:
        found = await inbox.threads(session, status=None, ids=[conversation_id])
    if not found:
        raise HTTPException(404, "no such conversation")
    return _out(found[0])


@router.get("/inbox", response_model=Inbox)
async def list_conversations(
    service: ServiceDep,
    status: Literal["open", "closed", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Inbox:
    """Conversations with members, safeguarding first, then the most recently active."""
    async with service.db.session() as session:
        found = await inbox.threads(session, None if status == "all" else status, limit)
    return Inbox(conversations=[_out(t) for t in found])


@router.post("/inbox/{conversation_id}/reply", response_model=ConversationOut)
async def reply(conversation_id: int, body: StaffReply, service: ServiceDep) -> ConversationOut:
    """Answer the member on their channel, in their language, as a reply in the staff chat does."""
    if not body.text.strip():
        raise HTTPException(422, "empty answer")
    async with service.db.session() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise HTTPException(404, "no such conversation")
        await answer_member(session, service.settings, conversation, body.text, echo=True)
    await service.coordinator.notify("outbox")
    return await _thread(service, conversation_id)


@router.post("/inbox/{conversation_id}/close", response_model=ConversationOut)
async def close(conversation_id: int, service: ServiceDep) -> ConversationOut:
    """Close the conversation; the member's next message to the secretariat opens a new one."""
    async with service.db.session() as session, session.begin():
        if await session.get(Conversation, conversation_id) is None:
            raise HTTPException(404, "no such conversation")
        await inbox.close(session, conversation_id=conversation_id)
    return await _thread(service, conversation_id)


@router.get("/unanswered", response_model=Unanswered)
async def unanswered(
    service: ServiceDep,
    locale: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Unanswered:
    """The questions the bot could not answer, the most asked first."""
    async with service.db.session() as session:
        found = await inbox.top_unanswered(session, limit, locale)
    return Unanswered(
        questions=[
            UnansweredOut(
                locale=q.locale,
                question=q.question,
                count=q.count,
                first_at=q.first_at,
                last_at=q.last_at,
            )
            for q in found
        ]
    )
