"""The first page: who the members are, how busy the last weeks were, and what needs
attention, all within the person's country scope."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.i18n.markers import N_
from bot.secretariat import inbox
from bot.secretariat.overview import UNKNOWN, overview
from webhook.admin.pages import AdminRoute, VisitDep, render
from webhook.deps import ServiceDep

router = APIRouter(route_class=AdminRoute)
URGENT_SHOWN = 5


@router.get("")
@router.get("/")
async def overview_page(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    async with service.db.session() as session:
        numbers = await overview(session, visit.staff)
        urgent = await inbox.threads(session, "open", URGENT_SHOWN, staff=visit.staff)
    busiest = max(
        [1] + [max(w.messages_in, w.messages_out, w.new_members) for w in numbers.activity]
    )
    return render(request, "overview.html", visit, title=N_("Overview"), o=numbers,
                  urgent=urgent, busiest=busiest, unknown=UNKNOWN)  # fmt: skip
