"""The inbox: members' conversations with the secretariat, safeguarding alerts on top until
handled; answering (the answer reaches the member on their channel), assigning, closing and
reopening. The list and each conversation refresh themselves every few seconds."""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bot.coordination.keys import OUTBOX
from bot.i18n.markers import N_
from bot.secretariat import accounts, inbox, saved_replies
from bot.secretariat.audit import record
from bot.secretariat.relay import answer_member
from bot.secretariat.staff import Staff
from bot.storage.models import StaffUser
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, VisitDep, render
from webhook.deps import ItemId, ServiceDep

router = APIRouter(route_class=AdminRoute)
Show = Literal["open", "closed", "all", "mine"]
LIMIT = 200
ANSWER_LIMIT = 4000
_BACK = re.compile(r"/admin/broadcasts/[1-9][0-9]{0,17}")  # where an answer may return to


async def _people(session: AsyncSession) -> dict[int, StaffUser]:
    return {user.id: user for user in await accounts.list_accounts(session)}


_can_answer = inbox.can_answer


async def _list(
    request: Request, service: ServiceDep, visit: Visit, show: Show, name: str
) -> Response:
    status = {"open": "open", "closed": "closed", "all": None, "mine": "open"}[show]
    async with service.db.session() as session:
        found = await inbox.threads(session, status, LIMIT, staff=visit.staff)
        people = await _people(session)
    if show == "mine":
        found = [t for t in found if t.conversation.assignee_id == visit.staff.id]
    return render(request, name, visit, title=N_("Inbox"), threads=found, show=show,
                  people=people)  # fmt: skip


@router.get("/inbox")
async def inbox_page(
    request: Request, service: ServiceDep, visit: VisitDep, show: Show = "open"
) -> Response:
    return await _list(request, service, visit, show, "inbox.html")


@router.get("/inbox/list")
async def inbox_fragment(
    request: Request, service: ServiceDep, visit: VisitDep, show: Show = "open"
) -> Response:
    """The list alone, for the page's polling."""
    return await _list(request, service, visit, show, "inbox_list.html")


async def _thread(session: AsyncSession, staff: Staff, conversation_id: int) -> inbox.Thread:
    """The conversation, when its member is within ``staff``'s scope; 404 otherwise."""
    found = await inbox.threads(session, status=None, ids=[conversation_id], staff=staff)
    if not found:
        raise HTTPException(404)
    return found[0]


async def _conversation(
    request: Request, service: ServiceDep, visit: Visit, conversation_id: int, name: str,
    **more: object,
) -> Response:  # fmt: skip
    async with service.db.session() as session:
        thread = await _thread(session, visit.staff, conversation_id)
        people = await _people(session)
        saved = await saved_replies.listed(session, thread.contact.locale)
    country = thread.contact.country or thread.contact.country_hint
    helpers = sorted(
        (p for p in people.values() if _can_answer(p, country)), key=lambda p: p.name or p.email
    )
    return render(request, name, visit, thread=thread, c=thread.conversation,
                  member=thread.contact, people=people, helpers=helpers,
                  answer_limit=ANSWER_LIMIT, saved=saved, **more)  # fmt: skip


@router.get("/inbox/{conversation_id}")
async def conversation_page(
    request: Request, conversation_id: ItemId, service: ServiceDep, visit: VisitDep
) -> Response:
    return await _conversation(request, service, visit, conversation_id, "conversation.html")


@router.get("/inbox/{conversation_id}/messages")
async def messages_fragment(
    request: Request,
    conversation_id: ItemId,
    service: ServiceDep,
    visit: VisitDep,
) -> Response:
    """The messages alone, for the page's polling."""
    return await _conversation(request, service, visit, conversation_id, "messages.html")


@router.post("/inbox/{conversation_id}/reply")
async def reply(conversation_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    """The answer goes to the member on their channel, the same way as from the API."""
    text = visit.form.get("text", "").strip()
    if not text or len(text) > ANSWER_LIMIT:
        raise HTTPException(400)
    async with service.db.session() as session, session.begin():
        conversation = (await _thread(session, visit.staff, conversation_id)).conversation
        await answer_member(session, service.settings, conversation, text, echo=True)
        await record(session, visit.staff, "inbox.reply", f"conversation:{conversation_id}")
    await service.coordinator.notify(OUTBOX)
    back = visit.form.get("back", "")
    if _BACK.fullmatch(back):  # answered from a broadcast's replies: back to them
        return RedirectResponse(f"{back}?done=answered#replies", status_code=303)
    return RedirectResponse(f"/admin/inbox/{conversation_id}?done=answered#answer", status_code=303)


@router.post("/inbox/{conversation_id}/assign")
async def assign(conversation_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    wanted = visit.form.get("staff_id", "")
    async with service.db.session() as session, session.begin():
        thread = await _thread(session, visit.staff, conversation_id)
        staff_id: int | None = None
        if wanted:
            if not wanted.isdigit():
                raise HTTPException(400)
            assignee = await session.get(StaffUser, int(wanted))
            country = thread.contact.country or thread.contact.country_hint
            if assignee is None or not _can_answer(assignee, country):
                raise HTTPException(400)
            staff_id = assignee.id
        await inbox.assign(session, conversation_id, staff_id)
        await record(session, visit.staff, "inbox.assign",
                     f"conversation:{conversation_id}", staff_id=staff_id)  # fmt: skip
    return RedirectResponse(f"/admin/inbox/{conversation_id}?done=assigned", status_code=303)


@router.post("/inbox/{conversation_id}/close")
async def close(conversation_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    async with service.db.session() as session, session.begin():
        await _thread(session, visit.staff, conversation_id)
        if await inbox.close(session, conversation_id=conversation_id):
            await record(session, visit.staff, "inbox.close",
                         f"conversation:{conversation_id}")  # fmt: skip
    return RedirectResponse(f"/admin/inbox/{conversation_id}?done=closed", status_code=303)


@router.post("/inbox/{conversation_id}/reopen")
async def reopen(conversation_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    async with service.db.session() as session, session.begin():
        await _thread(session, visit.staff, conversation_id)
        if await inbox.reopen(session, conversation_id):
            await record(session, visit.staff, "inbox.reopen",
                         f"conversation:{conversation_id}")  # fmt: skip
    return RedirectResponse(f"/admin/inbox/{conversation_id}?done=reopened", status_code=303)
