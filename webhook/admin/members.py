"""The members: search and filters, paging, CSV export, one member's page with their history,
and deleting a member with a confirmation step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from bot.channels.base import MEMBER_CHANNELS
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LOCALES
from bot.i18n.markers import N_
from bot.privacy import erasure
from bot.secretariat import members
from bot.secretariat.audit import record
from bot.secretariat.members import MemberFilter
from bot.storage.models import Conversation
from webhook.admin.pages import AdminRoute, EditorVisit, VisitDep, render
from webhook.deps import ItemId, ServiceDep

if TYPE_CHECKING:
    pass

router = APIRouter(route_class=AdminRoute)
PAGE = 50


def member_filter(
    q: Annotated[str | None, Query(max_length=200)] = None,
    country: Annotated[str | None, Query(max_length=8)] = None,
    locale: Annotated[str | None, Query(max_length=16)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    organisation: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> MemberFilter:
    """The filters of the list, the same for its CSV; an empty field filters nothing."""
    return MemberFilter(
        q=(q or "").strip() or None,
        country=country or None,
        locale=locale or None,
        channel=channel or None,
        organisation=(organisation or "").strip() or None,
        status=status or None,
    )


FilterDep = Annotated[MemberFilter, Depends(member_filter)]


def _query(where: MemberFilter) -> str:
    return urlencode({k: v for k, v in vars(where).items() if v})


@router.get("/members")
async def member_list(
    request: Request,
    service: ServiceDep,
    visit: VisitDep,
    where: FilterDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    async with service.db.session() as session:
        found, total = await members.search(
            session, visit.staff, where, offset=(page - 1) * PAGE, limit=PAGE
        )
        channels = await members.channels_of(session, found)
    countries = (visit.staff.country,) if visit.staff.country else (*MEMBER_COUNTRIES, OTHER)
    return render(
        request, "members.html", visit, title=N_("Members"), found=found, total=total,
        page=page, pages=max(1, -(-total // PAGE)), where=where, status_of=members.status_of,
        countries=countries, locales=LOCALES, channels=MEMBER_CHANNELS, statuses=members.STATUSES,
        filtered=any(vars(where).values()), query=_query(where), member_channels=channels,
    )  # fmt: skip


@router.get("/members.csv")
async def export(service: ServiceDep, visit: VisitDep, where: FilterDep) -> Response:
    """The filtered list, all pages of it; who exported what is in the audit log."""
    async with service.db.session() as session, session.begin():
        filters = {k: v for k, v in vars(where).items() if v and k != "q"}
        await record(session, visit.staff, "member.export", None, **filters)
    return StreamingResponse(
        members.export_csv(service.db, visit.staff, where),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="childpact-members.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/members/{member_id}")
async def member_page(
    request: Request, member_id: ItemId, service: ServiceDep, visit: VisitDep
) -> Response:
    async with service.db.session() as session:
        contact = await members.get(session, visit.staff, member_id)
        if contact is None:
            raise HTTPException(404)
        history = await members.history(session, member_id)
        chats = await members.linked(session, contact)
        conversations = list(
            await session.scalars(
                select(Conversation)
                .where(Conversation.contact_id.in_([c.id for c in chats.contacts]))
                .order_by(Conversation.id.desc())
            )
        )
    linked = [c for c in chats.contacts if c.id != contact.id]
    return render(
        request, "member.html", visit, contact=contact, status=members.status_of(contact),
        history=history, conversations=conversations, linked=linked,
        preferred=chats.preferred, status_of=members.status_of,
    )  # fmt: skip


@router.get("/members/{member_id}/delete")
async def confirm_delete(
    request: Request, member_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    async with service.db.session() as session:
        contact = await members.get(session, visit.staff, member_id)
    if contact is None:
        raise HTTPException(404)
    return render(request, "member_delete.html", visit, contact=contact)


@router.post("/members/{member_id}/delete")
async def delete(member_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    if visit.form.get("confirm") != str(member_id):
        raise HTTPException(400)  # the confirmation page sends the id back; nothing else does
    async with service.db.session() as session, session.begin():
        # members.delete records the deletion in the audit log itself.
        erased = await members.delete(session, visit.staff, member_id)
        if erased is None:
            raise HTTPException(404)
    await erasure.forget(service.coordinator, erased)
    return RedirectResponse("/admin/members?done=deleted", status_code=303)
