"""The secretariat's inbox over HTTP: conversations with members, answers that reach them on
their channel, internal notes, assignment (by hand and by the rules per country), closing and
reopening, and the questions the bot could not answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.coordination.keys import OUTBOX
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import resolve_locale
from bot.secretariat import assignment, inbox, notes
from bot.secretariat.audit import record
from bot.secretariat.relay import answer_member
from bot.secretariat.staff import Staff
from bot.storage.models import Conversation, ConversationNote, StaffUser
from webhook.api.common import READ, ItemId, Limit, Offset, errors
from webhook.auth import EditorDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["inbox"])
CHANGE = errors(401, 403, 404)
COUNTRIES = (*MEMBER_COUNTRIES, OTHER)
Country = Literal[COUNTRIES]  # type: ignore[valid-type]


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


class NoteOut(BaseModel):
    """An internal note: for the secretariat only, never sent to the member."""

    id: int
    author_id: int | None = Field(description="the account that wrote it")
    author: str = Field(description="its name (or e-mail) when the note was written")
    text: str
    created_at: datetime


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
    notes: list[NoteOut] = Field(
        description="the secretariat's internal notes, oldest first; the member never sees them"
    )


class Inbox(BaseModel):
    conversations: list[ConversationOut]


class StaffReply(BaseModel):
    text: str = Field(
        min_length=1, max_length=4000, description="the answer, as the member reads it"
    )


class NewNote(BaseModel):
    text: str = Field(
        min_length=1, max_length=notes.NOTE_LIMIT,
        description="the note, for the secretariat only: it is never sent to the member",
    )  # fmt: skip


class Rule(BaseModel):
    country: Country
    staff_id: int = Field(description="the account new conversations of this country go to")


class Rules(BaseModel):
    rules: list[Rule]


class RuleIn(BaseModel):
    staff_id: int = Field(
        ge=1, le=2**63 - 1,
        description="an active editor or administrator who sees members of the country",
    )  # fmt: skip


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


def _out(thread: inbox.Thread, written: list[ConversationNote]) -> ConversationOut:
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
        notes=[
            NoteOut(
                id=n.id,
                author_id=n.author_id,
                author=n.author,
                text=n.text,
                created_at=n.created_at,
            )  # fmt: skip
            for n in written
        ],
    )


async def _described(session: AsyncSession, found: list[inbox.Thread]) -> list[ConversationOut]:
    written = await notes.of(session, [t.conversation.id for t in found])
    return [_out(t, written[t.conversation.id]) for t in found]


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
        return (await _described(session, found))[0]


@router.get("/inbox", response_model=Inbox, summary="List conversations", responses=READ)
async def list_conversations(
    person: StaffDep,
    service: ServiceDep,
    status: Literal["open", "closed", "all"] = "open",
    assigned: Annotated[
        Literal["me", "nobody"] | None,
        Query(description="me: given to you; nobody: given to no one; unset: any"),
    ] = None,
    country: Annotated[
        Country | None, Query(description="only members of this country (ISO code, or OTHER)")
    ] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Inbox:
    """Conversations with members within your country scope: safeguarding first, then the
    most recently active; each with its internal notes."""
    assignee = person.id if assigned == "me" else assigned
    async with service.db.session() as session:
        found = await inbox.threads(
            session, None if status == "all" else status, limit, staff=person, offset=offset,
            assignee=assignee, country=country,
        )  # fmt: skip
        return Inbox(conversations=await _described(session, found))


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
        await inbox.take_on_answer(session, conversation, person)
        await record(session, person, "inbox.reply", f"conversation:{conversation_id}")
    await service.coordinator.notify(OUTBOX)
    return await _thread(service, person, conversation_id)


@router.post(
    "/inbox/{conversation_id}/notes",
    response_model=ConversationOut,
    status_code=201,
    summary="Add an internal note",
    responses={**CHANGE, **errors(422)},
)
async def add_note(
    conversation_id: ItemId, body: NewNote, person: EditorDep, service: ServiceDep
) -> ConversationOut:
    """Editors and administrators: a note on the conversation for the secretariat, with its
    author and time. It is never sent to the member and is not in their own copy of their
    data; the audit log records that a note was written (not its text)."""
    async with service.db.session() as session, session.begin():
        await _visible(session, person, conversation_id)
        try:
            row = await notes.add(session, person, conversation_id, body.text)
        except ValueError as exc:
            raise HTTPException(422, "empty note") from exc
        await record(session, person, "inbox.note", f"conversation:{conversation_id}",
                     note_id=row.id)  # fmt: skip
    return await _thread(service, person, conversation_id)


@router.get("/assignment-rules", response_model=Rules, summary="Assignment rules", responses=READ)
async def list_rules(person: StaffDep, service: ServiceDep) -> Rules:
    """Per country, the account a member's new conversation is assigned to when it opens; an
    account limited to a country sees its country's rule only."""
    async with service.db.session() as session:
        found = await assignment.rules(session)
    return Rules(
        rules=[Rule(country=c, staff_id=s) for c, s in found.items() if person.sees(c)]  # type: ignore[arg-type]
    )


@router.put(
    "/assignment-rules/{country}",
    response_model=Rules,
    summary="Set a country's assignment rule",
    responses={**CHANGE, **errors(422)},
)
async def set_rule(country: Country, body: RuleIn, person: EditorDep, service: ServiceDep) -> Rules:
    """Editors and administrators (those who answer the inbox): new conversations of members
    of ``country`` go to this account, which must be an active editor or administrator who sees
    them (422 otherwise). Conversations already open keep their assignee. 404 for a country
    outside your scope."""
    if not person.sees(country):
        raise HTTPException(404, "no such country in your scope")
    async with service.db.session() as session, session.begin():
        user = await session.get(StaffUser, body.staff_id)
        if user is None or not inbox.can_answer(user, country):
            raise HTTPException(422, "no account with that id can answer members of this country")
        await assignment.set_rule(session, country, user.id)
        await record(session, person, "inbox.rules", None, rules={country: user.id})
    return await list_rules(person, service)


@router.delete(
    "/assignment-rules/{country}",
    response_model=Rules,
    summary="Remove a country's assignment rule",
    responses=CHANGE,
)
async def remove_rule(country: Country, person: EditorDep, service: ServiceDep) -> Rules:
    """Editors and administrators: new conversations of this country are assigned to nobody.
    404 when the country has no rule (or is outside your scope)."""
    if not person.sees(country):
        raise HTTPException(404, "no such country in your scope")
    async with service.db.session() as session, session.begin():
        if not await assignment.remove_rule(session, country):
            raise HTTPException(404, "this country has no rule")
        await record(session, person, "inbox.rules", None, rules={country: None})
    return await list_rules(person, service)


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
