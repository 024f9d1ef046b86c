"""Members over HTTP: search and filter, one member with their history, CSV export, deletion."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from bot.privacy import erasure
from bot.secretariat import members
from bot.secretariat.audit import record
from bot.secretariat.members import MemberFilter
from bot.storage.models import Contact, Conversation
from webhook.api.common import READ, ItemId, Limit, Offset, errors
from webhook.auth import EditorDep, StaffDep
from webhook.deps import ServiceDep

if TYPE_CHECKING:
    pass

router = APIRouter(prefix="/api", tags=["members"])

Status = Literal["active", "stopped", "unreachable", "new", "declined"]


class MemberOut(BaseModel):
    """A member as the secretariat sees them: never their chat address or phone number."""

    id: int
    channel: str
    status: Status
    locale: str | None
    country: str | None
    organisation: str | None
    created_at: datetime
    last_inbound_at: datetime | None
    channels: list[str] = []  # of every chat linked with this one, this one's included


class MemberPage(BaseModel):
    total: int
    offset: int
    limit: int
    members: list[MemberOut]


class HistoryItemOut(BaseModel):
    at: datetime
    direction: Literal["in", "out"]
    text: str
    status: str
    channel: str  # which of the member's chats


class LinkedChat(BaseModel):
    """One of a member's linked chats: its member id and channel, never its address."""

    id: int
    channel: str
    status: Status
    last_inbound_at: datetime | None


class MemberDetail(MemberOut):
    consent_at: datetime | None
    conversations: list[int]  # ids in the inbox, newest first
    history: list[HistoryItemOut]  # from every linked chat
    linked: list[LinkedChat]  # the member's other chats, linked with this one
    preferred_channel: str | None  # where news and surveys go first; None: the latest used


def member_out(contact: Contact, channels: list[str] | None = None) -> MemberOut:
    return MemberOut(
        id=contact.id,
        channel=contact.channel,
        status=members.status_of(contact),  # type: ignore[arg-type]
        locale=contact.locale,
        country=contact.country,
        organisation=contact.organisation,
        created_at=contact.created_at,
        last_inbound_at=contact.last_inbound_at,
        channels=channels or [contact.channel],
    )


def member_filter(
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="part of the organisation's name (any case), a member id, or an exact "
            "chat address or phone number",
        ),
    ] = None,
    country: Annotated[str | None, Query(max_length=8, description="ISO code, e.g. MD")] = None,
    locale: Annotated[str | None, Query(max_length=16, description="e.g. ro, sr_Latn")] = None,
    channel: Literal["telegram", "whatsapp", "web"] | None = None,
    organisation: Annotated[
        str | None, Query(max_length=200, description="part of the name, any case")
    ] = None,
    status: Annotated[
        Status | None,
        Query(description="unreachable: the platform no longer delivers to them"),
    ] = None,
) -> MemberFilter:
    """The search filters, the same for the list and the CSV export."""
    return MemberFilter(q, country, locale, channel, organisation, status)


FilterDep = Annotated[MemberFilter, Depends(member_filter)]


@router.get("/members", response_model=MemberPage, summary="Search members", responses=READ)
async def search(
    person: StaffDep,
    service: ServiceDep,
    where: FilterDep,
    offset: Offset = 0,
    limit: Limit = 50,
) -> MemberPage:
    """The members matching every filter given, newest first, within your country scope.
    `status` unreachable means the platform no longer delivers to them, whatever they chose."""
    async with service.db.session() as session:
        found, total = await members.search(session, person, where, offset=offset, limit=limit)
        channels = await members.channels_of(session, found)
    return MemberPage(
        total=total,
        offset=offset,
        limit=limit,
        members=[member_out(c, channels[c.id]) for c in found],
    )


@router.get(
    "/members.csv",
    summary="Export members as CSV",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "one row per member: " + ", ".join(members.EXPORT_COLUMNS),
        },
        **READ,
    },
)
async def export(
    person: StaffDep,
    service: ServiceDep,
    where: FilterDep,
) -> StreamingResponse:
    """The members matching the same filters as the search, all of them, streamed. Chat
    addresses and phone numbers are never exported. Every role may export within its scope;
    the export is recorded in the audit log."""
    async with service.db.session() as session, session.begin():
        filters = {k: v for k, v in vars(where).items() if v and k != "q"}
        await record(session, person, "member.export", None, **filters)
    return StreamingResponse(
        members.export_csv(service.db, person, where),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="members.csv"'},
    )


@router.get(
    "/members/{member_id}",
    response_model=MemberDetail,
    summary="One member and their history",
    responses=errors(401, 404),
)
async def detail(
    member_id: ItemId,
    person: StaffDep,
    service: ServiceDep,
    history: Annotated[int, Query(ge=0, le=1000, description="messages of history")] = 200,
) -> MemberDetail:
    """The member, their conversations in the inbox and their last messages both ways, oldest
    first. 404 for a member outside your country scope."""
    async with service.db.session() as session:
        contact = await members.get(session, person, member_id)
        if contact is None:
            raise HTTPException(404, "no such member")
        items = await members.history(session, member_id, history) if history else []
        chats = await members.linked(session, contact)
        conversations = await session.scalars(
            select(Conversation.id)
            .where(Conversation.contact_id.in_([c.id for c in chats.contacts]))
            .order_by(Conversation.id.desc())
        )
    others = [c for c in chats.contacts if c.id != contact.id]
    return MemberDetail(
        **member_out(contact, sorted({c.channel for c in chats.contacts})).model_dump(),
        consent_at=contact.consent_at,
        conversations=list(conversations),
        history=[HistoryItemOut(**vars(i)) for i in items],  # type: ignore[arg-type]
        linked=[
            LinkedChat(
                id=c.id,
                channel=c.channel,
                status=members.status_of(c),  # type: ignore[arg-type]
                last_inbound_at=c.last_inbound_at,
            )
            for c in others
        ],
        preferred_channel=chats.preferred,
    )


@router.delete(
    "/members/{member_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a member and their data",
    responses=errors(401, 403, 404),
)
async def delete(member_id: ItemId, person: EditorDep, service: ServiceDep) -> Response:
    """Editors and administrators: the member, their messages both ways and their inbox
    conversations are deleted for good. The audit log keeps the member's id only."""
    async with service.db.session() as session, session.begin():
        erased = await members.delete(session, person, member_id)
        if erased is None:
            raise HTTPException(404, "no such member")
    await erasure.forget(service.coordinator, erased)
    return Response(status_code=204)
