"""Saved replies: the page that lists, adds and removes them; the inbox inserts them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.i18n import LOCALES
from bot.i18n.markers import N_
from bot.secretariat import saved_replies
from bot.secretariat.audit import record
from webhook.admin.pages import AdminRoute, EditorVisit, VisitDep, render
from webhook.deps import ItemId, ServiceDep

router = APIRouter(route_class=AdminRoute)


@router.get("/saved-replies")
async def saved_replies_page(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    async with service.db.session() as session:
        found = await saved_replies.listed(session, visit.locale)
    return render(request, "saved_replies.html", visit, title=N_("Saved replies"), found=found,
                  locales=LOCALES, title_limit=saved_replies.TITLE_LIMIT,
                  text_limit=saved_replies.TEXT_LIMIT)  # fmt: skip


@router.post("/saved-replies")
async def add(service: ServiceDep, visit: EditorVisit) -> Response:
    form = visit.form
    try:
        async with service.db.session() as session, session.begin():
            row = await saved_replies.add(session, visit.staff, form.get("locale", ""),
                                          form.get("title", ""), form.get("text", ""))  # fmt: skip
            await record(session, visit.staff, "saved_reply.add", f"saved_reply:{row.id}")
    except ValueError as exc:
        raise HTTPException(400) from exc
    return RedirectResponse("/admin/saved-replies?done=saved-reply-added", status_code=303)


@router.post("/saved-replies/{reply_id}/delete")
async def remove(reply_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    async with service.db.session() as session, session.begin():
        if not await saved_replies.remove(session, reply_id):
            raise HTTPException(404)
        await record(session, visit.staff, "saved_reply.delete", f"saved_reply:{reply_id}")
    return RedirectResponse("/admin/saved-replies?done=saved-reply-deleted", status_code=303)
