"""The secretariat's dashboard at /admin: server-rendered pages on the same permissions as /api."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from webhook.admin import accounts, assets, audit, inbox, members, overview, signin, tokens
from webhook.admin.web import AdminRoute

router = APIRouter(include_in_schema=False)
for area in (assets, signin, overview, members, inbox, accounts, tokens, audit):
    router.include_router(area.router, prefix="/admin", include_in_schema=False)


async def _not_found() -> None:
    raise HTTPException(404)


# Last, so that it only catches what no page above answers: a readable page, not JSON.
fallback = APIRouter(route_class=AdminRoute)
fallback.add_api_route("/{rest:path}", _not_found, methods=["GET"])
router.include_router(fallback, prefix="/admin", include_in_schema=False)
