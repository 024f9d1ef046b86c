"""Saved audiences: the page that lists them with their filters, renames and deletes them; the
compose page and the survey launch page save and pick them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.broadcasts import Audience, BroadcastError
from bot.broadcasts import saved as saved_audiences
from bot.i18n.markers import N_
from bot.members import topics as news_topics
from webhook.admin.broadcast_form import refusal
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, VisitDep, render
from webhook.deps import ItemId, ServiceDep

router = APIRouter(route_class=AdminRoute)


async def _page(
    request: Request, service: ServiceDep, visit: Visit,
    problem: tuple[str, dict[str, object]] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    async with service.db.session() as session:
        found = await saved_audiences.listed(session, visit.staff)
        names = {t.key: news_topics.name_of(t, visit.locale)
                 for t in await news_topics.listed(session, archived=True)}  # fmt: skip
    return render(
        request, "audiences.html", visit, title=N_("Saved audiences"), status_code=status_code,
        found=[(row, Audience.from_json(row.audience)) for row in found], topic_names=names,
        name_limit=saved_audiences.NAME_LIMIT, problem=problem,
    )  # fmt: skip


@router.get("/audiences")
async def audiences_page(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    return await _page(request, service, visit)


@router.post("/audiences/{audience_id}/rename")
async def rename(
    request: Request, audience_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    try:
        async with service.db.session() as session, session.begin():
            row = await saved_audiences.get(session, visit.staff, audience_id)
            if row is None:
                raise HTTPException(404)
            await saved_audiences.change(session, visit.staff, row,
                                         name=visit.form.get("name", ""))  # fmt: skip
    except BroadcastError as exc:
        return await _page(request, service, visit, refusal(exc), 409)
    return RedirectResponse("/admin/audiences?done=audience-renamed", status_code=303)


@router.post("/audiences/{audience_id}/delete")
async def delete(audience_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    async with service.db.session() as session, session.begin():
        row = await saved_audiences.get(session, visit.staff, audience_id)
        if row is None:
            raise HTTPException(404)
        await saved_audiences.remove(session, visit.staff, row)
    return RedirectResponse("/admin/audiences?done=audience-deleted", status_code=303)
