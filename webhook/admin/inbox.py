"""The inbox: members' conversations with the secretariat, safeguarding alerts on top until
handled; answering (the answer reaches the member on their channel), internal notes (for the
secretariat only), assigning (by hand, or by the administrators' rules per country), closing
and reopening. The list and each conversation refresh themselves every few seconds."""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import replies
from bot.coordination.keys import OUTBOX
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n.markers import N_
from bot.secretariat import accounts, assignment, inbox, notes, saved_replies
from bot.secretariat.audit import record
from bot.secretariat.relay import answer_member
from bot.secretariat.staff import Staff
from bot.storage.models import StaffUser
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, VisitDep, render
from webhook.deps import ItemId, ServiceDep

router = APIRouter(route_class=AdminRoute)
Show = Literal["open", "mine", "unassigned", "closed", "all"]
COUNTRIES = (*MEMBER_COUNTRIES, OTHER)
LIMIT = 200
ANSWER_LIMIT = 4000
_BACK = re.compile(r"/admin/broadcasts/[1-9][0-9]{0,17}")  # where an answer may return to


async def _people(session: AsyncSession) -> dict[int, StaffUser]:
    return {user.id: user for user in await accounts.list_accounts(session)}


_can_answer = inbox.can_answer


async def _list(
    request: Request, service: ServiceDep, visit: Visit, show: Show, name: str
) -> Response:
    status = {"open": "open", "mine": "open", "unassigned": "open", "closed": "closed"}.get(show)
    assignee = {"mine": visit.staff.id, "unassigned": "nobody"}.get(show)
    country = request.query_params.get("country", "")
    country = country if country in COUNTRIES and visit.staff.sees(country) else ""
    async with service.db.session() as session:
        found = await inbox.threads(
            session, status, LIMIT, staff=visit.staff, assignee=assignee, country=country
        )  # type: ignore[arg-type]
        people = await _people(session)
        about = {m.broadcast_id for t in found for m in t.messages if m.broadcast_id}
        broadcasts = await replies.titles(session, about)
    return render(request, name, visit, title=N_("Inbox"), threads=found, show=show,
                  people=people, country=country, countries=COUNTRIES,
                  broadcasts=broadcasts)  # fmt: skip



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
        written = (await notes.of(session, [conversation_id]))[conversation_id]
    # The messages and the notes as they happened; a note is marked as one.
    timeline = sorted(
        [*(("message", m) for m in thread.messages), *(("note", n) for n in written)],
        key=lambda item: item[1].created_at,
    )
    country = thread.contact.country or thread.contact.country_hint
    helpers = sorted(
        (p for p in people.values() if _can_answer(p, country)), key=lambda p: p.name or p.email
    )
    return render(request, name, visit, thread=thread, c=thread.conversation,
                  member=thread.contact, people=people, helpers=helpers,
                  answer_limit=ANSWER_LIMIT, saved=saved, timeline=timeline,
                  note_limit=notes.NOTE_LIMIT, **more)  # fmt: skip


@router.get("/inbox/rules")
async def rules_page(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    """Who each country's new conversations go to; whoever answers the inbox changes it."""
    async with service.db.session() as session:
        rules = await assignment.rules(session)
        people = await _people(session)
    countries = [c for c in COUNTRIES if visit.staff.sees(c)]
    helpers = {
        c: sorted((p for p in people.values() if _can_answer(p, c)),
                  key=lambda p: p.name or p.email)
        for c in countries
    }  # fmt: skip
    return render(request, "assignment_rules.html", visit, title=N_("Assignment rules"),
                  rules=rules, countries=countries, helpers=helpers, people=people)  # fmt: skip


@router.post("/inbox/rules")
async def save_rules(service: ServiceDep, visit: EditorVisit) -> Response:
    """One account per country, or nobody; a conversation already open keeps its assignee."""
    async with service.db.session() as session, session.begin():
        before = await assignment.rules(session)
        changed: dict[str, int | None] = {}
        for country in COUNTRIES:
            wanted = visit.form.get(f"country_{country}")
            if wanted is None or not visit.staff.sees(country):
                continue  # not on the form: left as it was
            if wanted == "":
                if await assignment.remove_rule(session, country):
                    changed[country] = None
                continue
            user = await session.get(StaffUser, int(wanted)) if wanted.isdigit() else None
            if user is None or not _can_answer(user, country):
                raise HTTPException(400)
            if before.get(country) != user.id:
                await assignment.set_rule(session, country, user.id)
                changed[country] = user.id
        if changed:
            await record(session, visit.staff, "inbox.rules", None, rules=changed)
    return RedirectResponse("/admin/inbox/rules?done=rules-saved", status_code=303)


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
        await inbox.take_on_answer(session, conversation, visit.staff)
        await record(session, visit.staff, "inbox.reply", f"conversation:{conversation_id}")
    await service.coordinator.notify(OUTBOX)
    back = visit.form.get("back", "")
    if _BACK.fullmatch(back):  # answered from a broadcast's replies: back to them
        return RedirectResponse(f"{back}?done=answered#replies", status_code=303)
    return RedirectResponse(f"/admin/inbox/{conversation_id}?done=answered#answer", status_code=303)


@router.post("/inbox/{conversation_id}/note")
async def note(conversation_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    """An internal note: kept on the conversation for the secretariat; the member never sees it."""
    async with service.db.session() as session, session.begin():
        await _thread(session, visit.staff, conversation_id)
        try:
            row = await notes.add(session, visit.staff, conversation_id, visit.form.get("text", ""))
        except ValueError as exc:
            raise HTTPException(400) from exc
        await record(session, visit.staff, "inbox.note", f"conversation:{conversation_id}",
                     note_id=row.id)  # fmt: skip
    return RedirectResponse(f"/admin/inbox/{conversation_id}?done=noted#notes", status_code=303)


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
