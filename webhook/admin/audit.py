"""The audit log (administrators only): who did what and when, newest first, never editable."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bot.i18n.markers import N_
from bot.secretariat import accounts
from bot.secretariat.audit import audit_entries
from webhook.admin.pages import AdminRoute, AdminVisit, render
from webhook.deps import ServiceDep

router = APIRouter(route_class=AdminRoute)
PAGE = 50
# The actions people filter by most; any other action can still be typed into the address.
ACTIONS = {
    "login": N_("Signed in"),
    "logout": N_("Signed out"),
    "member.": N_("Members (all)"),
    "member.delete": N_("Member deleted"),
    "member.erase": N_("A member deleted their own data"),
    "member.export": N_("Members exported"),
    "inbox.": N_("Inbox (all)"),
    "inbox.reply": N_("Answer sent"),
    "account.": N_("Accounts (all)"),
    "token.": N_("API tokens (all)"),
}


@router.get("/audit")
async def audit_page(
    request: Request,
    service: ServiceDep,
    visit: AdminVisit,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=254)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    async with service.db.session() as session:
        entries, total = await audit_entries(
            session, offset=(page - 1) * PAGE, limit=PAGE, action=action or None,
            actor=(actor or "").strip() or None, by=visit.staff,
        )  # fmt: skip
        people = await accounts.list_accounts(session, visit.staff)
    query = urlencode({k: v for k, v in (("action", action), ("actor", actor)) if v})
    return render(request, "audit.html", visit, title=N_("Audit log"), entries=entries,
                  total=total, page=page, pages=max(1, -(-total // PAGE)), action=action or "",
                  actor=actor or "", actions=ACTIONS, people=people, query=query)  # fmt: skip
