"""The safeguarding review list on the dashboard: what the focal point marked "Not a concern" in
the safeguarding chat, newest first. Everyone on the staff reads it, within their country; the
page changes nothing, the detector least of all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bot.i18n.markers import N_
from bot.secretariat.safeguarding_review import review_list
from webhook.admin.pages import AdminRoute, VisitDep, render
from webhook.deps import ServiceDep

router = APIRouter(route_class=AdminRoute)
PAGE = 50
# The detector's kinds of danger (bot.knowledge.safeguarding.KINDS), as the dashboard says them.
KINDS = {
    "abuse": N_("Violence or sexual abuse of a child"),
    "signs_excuse": N_("Signs of abuse with an excuse (injuries, fear, a child kept home)"),
    "left_alone": N_("A young child left alone"),
    "abroad": N_("A minor taken abroad, documents held (trafficking)"),
    "grooming": N_("Grooming: an adult asking a child for photos or secrecy"),
    "marriage": N_("A minor about to be married"),
    "suicide": N_("A young person at risk of suicide or self-harm"),
    "missing": N_("A missing child"),
    "labour_begging": N_("A child made to work or beg"),
    "unspecified": N_("Harm to a child"),
}


@router.get("/safeguarding")
async def reviews_page(
    request: Request,
    service: ServiceDep,
    visit: VisitDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    async with service.db.session() as session:
        found, total = await review_list(session, visit.staff, offset=(page - 1) * PAGE, limit=PAGE)
    return render(request, "safeguarding.html", visit, title=N_("Safeguarding reviews"),
                  reviews=found, kinds=KINDS, total=total, page=page,
                  pages=max(1, -(-total // PAGE)))  # fmt: skip
