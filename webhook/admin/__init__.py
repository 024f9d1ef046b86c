"""The secretariat's dashboard at /admin: server-rendered pages on the same permissions as /api."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from webhook.admin import (
    accounts,
    assets,
    audiences,
    audit,
    broadcasts,
    compose,
    inbox,
    knowledge,
    members,
    overview,
    safeguarding,
    saved_replies,
    signin,
    survey_builder,
    survey_launch,
    survey_results,
    surveys,
    tokens,
    topics,
)
from webhook.admin.pages import AdminRoute, Visit
from webhook.auth import request_staff
from webhook.deps import ServiceDep

router = APIRouter(include_in_schema=False)
# compose before broadcasts: /broadcasts/new is not a broadcast's number; the same for surveys.
for area in (
    assets,
    signin,
    overview,
    members,
    inbox,
    saved_replies,
    compose,
    broadcasts,
    audiences,
    survey_builder,
    survey_launch,
    survey_results,
    surveys,
    topics,
    knowledge,
    safeguarding,
    accounts,
    tokens,
    audit,
):
    router.include_router(area.router, prefix="/admin", include_in_schema=False)


async def _not_found(request: Request, service: ServiceDep) -> None:
    """A page that does not exist, said in the person's language when they are signed in."""
    found = await request_staff(request, service)
    if found is not None and found[1] is not None:
        request.state.visit = Visit(found[0], found[1])
    raise HTTPException(404)


# Last, so that it only catches what no page above answers: a readable page, not JSON.
fallback = APIRouter(route_class=AdminRoute)
fallback.add_api_route("/{rest:path}", _not_found, methods=["GET"])
router.include_router(fallback, prefix="/admin", include_in_schema=False)
