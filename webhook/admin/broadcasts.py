"""The broadcasts: the list with each one's status, progress and series, a page per broadcast
whose progress refreshes itself until everything has gone, and approving, cancelling, stopping
a series and resending to those who did not receive it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, actions
from bot.broadcasts import replies as broadcast_replies
from bot.broadcasts import series as broadcast_series
from bot.i18n import LOCALES
from bot.i18n.markers import N_
from bot.secretariat import saved_replies
from bot.secretariat.audit import record
from bot.spreadsheet import csv_row
from bot.storage.models import Broadcast, StaffUser
from webhook.admin.broadcast_form import SKIPS, load, refusal
from webhook.admin.inbox import ANSWER_LIMIT
from webhook.admin.pages import (
    AdminRoute,
    AdminVisit,
    EditorVisit,
    Texts,
    Visit,
    VisitDep,
    render,
)
from webhook.deps import ItemId, ServiceDep

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter(route_class=AdminRoute)
PAGE = 50
# The first six always show; the others when a broadcast has any.
STATUSES = ("queued", "sent", "delivered", "read", "failed", "skipped", "undelivered", "cancelled")
# Still moving: the page asks for its progress again until the broadcast is done.
MOVING = ("awaiting_approval", "scheduled", "sending")


def scheduled_in_zone(at: datetime | None, zone: str, locale: str) -> str:
    """A scheduled time as the secretariat writes it: in its own zone, named."""
    if at is None:
        return ""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    shown = format_datetime(at, "medium", tzinfo=ZoneInfo(zone), locale=locale)
    return f"{shown} ({zone})"


@router.get("/broadcasts")
async def broadcast_list(
    request: Request,
    service: ServiceDep,
    visit: VisitDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    async with service.db.session() as session:
        found = [
            b
            for b in await session.scalars(select(Broadcast).order_by(Broadcast.id.desc()))
            if broadcasts.visible(b, visit.staff)
        ]
        shown = found[(page - 1) * PAGE : page * PAGE]
        shares = await broadcasts.done_shares(session, [b.id for b in shown])
        series = await broadcast_series.series_of(session, shown)
    return render(
        request, "broadcasts.html", visit, title=N_("Broadcasts"), found=shown, shares=shares,
        series=series,
        page=page, pages=max(1, -(-len(found) // PAGE)), total=len(found),
        zone=service.settings.secretariat_timezone, when_in_zone=scheduled_in_zone,
    )  # fmt: skip


async def _page(
    request: Request, service: Service, visit: Visit, broadcast_id: int, template: str,
    error: tuple[str, dict[str, Any]] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    async with service.db.session() as session:
        b = await load(session, broadcast_id, visit)
        progress = await broadcasts.progress(session, b.id)
        people = {u.id: u for u in await session.scalars(
            select(StaffUser).where(StaffUser.id.in_([b.created_by or 0, b.approved_by or 0]))
        )}  # fmt: skip
        series = (await broadcast_series.series_of(session, [b])).get(b.id)
        replies = await broadcast_replies.of(session, b.id, visit.staff)
        saved = await saved_replies.listed(session) if replies else []
    written = [loc for loc in LOCALES if broadcasts.text_of(b, loc)]
    return render(
        request, template, visit, title=N_("Broadcast"), b=b, progress=progress,
        statuses=[s for s in STATUSES if progress["statuses"].get(s) or s in STATUSES[:6]],
        written=written, text_of=broadcasts.text_of, stale=broadcasts.stale_locales(b),
        audience=Audience.from_json(b.audience), people=people, moving=b.status in MOVING,
        zone=service.settings.secretariat_timezone, when_in_zone=scheduled_in_zone,
        may_approve=visit.staff.is_admin and b.created_by != visit.staff.id,
        error=error, status_code=status_code, skips=SKIPS, series=series, replies=replies,
        answer_limit=ANSWER_LIMIT, saved=saved,
    )  # fmt: skip


@router.get("/broadcasts/{broadcast_id}")
async def broadcast_page(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: VisitDep
) -> Response:
    return await _page(request, service, visit, broadcast_id, "broadcast.html")


@router.get("/broadcasts/{broadcast_id}/progress")
async def progress_fragment(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: VisitDep
) -> Response:
    """The status, progress and actions alone, for the page's polling."""
    return await _page(request, service, visit, broadcast_id, "broadcast_progress.html")


async def _change(
    request: Request, service: Service, visit: Visit, broadcast_id: int, action: str
) -> Response:
    """Approve, cancel or stop the series; a refusal is the page again, saying why."""
    try:
        async with service.db.session() as session, session.begin():
            b = await load(session, broadcast_id, visit, lock=True)
            if action == "approve":
                wake = await actions.approve(session, b, visit.staff)
            elif action == "stop_series":
                wake = (await actions.stop_series(session, b, visit.staff)).wake
            else:
                wake = (await actions.cancel(session, b, visit.staff)).wake
    except BroadcastError as exc:
        return await _page(request, service, visit, broadcast_id, "broadcast.html",
                           error=refusal(exc), status_code=409)  # fmt: skip
    await service.coordinator.notify(wake)
    done = {"approve": "broadcast-approved", "cancel": "broadcast-cancelled"}.get(
        action, "series-stopped"
    )
    return RedirectResponse(f"/admin/broadcasts/{broadcast_id}?done={done}", status_code=303)


@router.post("/broadcasts/{broadcast_id}/approve")
async def approve(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: AdminVisit
) -> Response:
    return await _change(request, service, visit, broadcast_id, "approve")


@router.post("/broadcasts/{broadcast_id}/cancel")
async def cancel(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    return await _change(request, service, visit, broadcast_id, "cancel")


@router.post("/broadcasts/{broadcast_id}/stop-series")
async def stop_series(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """No further occurrence: the one sending now, if any, goes on."""
    return await _change(request, service, visit, broadcast_id, "stop_series")


@router.post("/broadcasts/{broadcast_id}/follow-up")
async def follow_up(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """A new draft for those who did not receive it and can be reached now, to check and send."""
    try:
        async with service.db.session() as session, session.begin():
            b = await load(session, broadcast_id, visit)
            again_id = (await actions.follow_up(session, b, visit.staff)).id
    except BroadcastError as exc:
        if exc.code == "not_finished":
            raise HTTPException(409) from exc
        return await _page(request, service, visit, broadcast_id, "broadcast.html",
                           error=refusal(exc), status_code=409)  # fmt: skip
    return RedirectResponse(f"/admin/broadcasts/{again_id}/edit?done=follow-up",
                            status_code=303)  # fmt: skip


@router.post("/broadcasts/{broadcast_id}/duplicate")
async def duplicate(broadcast_id: ItemId, service: ServiceDep, visit: EditorVisit) -> Response:
    """A new draft like this broadcast, for the author to check and send."""
    async with service.db.session() as session, session.begin():
        b = await load(session, broadcast_id, visit)
        title = Texts(visit.locale).gettext(N_("Copy of {title}"), title=b.title) if b.title else ""
        copy_id = (await actions.duplicate(session, b, visit.staff, title)).id
    return RedirectResponse(f"/admin/broadcasts/{copy_id}/edit?done=duplicated", status_code=303)


REPLY_COLUMNS = ("member_id", "organisation", "country", "language", "channel", "at", "text",
                 "answered_at", "answer")  # fmt: skip


@router.get("/broadcasts/{broadcast_id}/replies.csv")
async def replies_csv(broadcast_id: ItemId, service: ServiceDep, visit: VisitDep) -> Response:
    """Members' replies to the broadcast as a spreadsheet, with the secretariat's answer to each
    (empty while unanswered); every cell stays text."""
    async with service.db.session() as session:
        b = await load(session, broadcast_id, visit)
        found = await broadcast_replies.of(session, b.id, visit.staff)
        await record(session, visit.staff, "broadcast.replies_export", f"broadcast:{b.id}")
        await session.commit()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPLY_COLUMNS)
    for r in found:
        writer.writerow(csv_row([
            r.member_id, r.organisation or "", r.country or "", r.locale or "", r.channel,
            r.at.isoformat(timespec="seconds"), r.text,
            r.answered_at.isoformat(timespec="seconds") if r.answered_at else "", r.answer or "",
        ]))  # fmt: skip
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="broadcast-{b.id}-replies.csv"'
        },
    )
