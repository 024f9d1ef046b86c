"""Personal API tokens: everyone creates and revokes their own; a token is shown only once.
And linking one's own Telegram chat, for composing broadcasts in the bot on the move."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from bot.i18n.markers import N_
from bot.secretariat.audit import record
from bot.secretariat.staff import AccountError
from bot.secretariat.staff_chat import telegram_link_code
from bot.secretariat.tokens import create_api_token, list_api_tokens, revoke_api_token
from bot.storage.models import ApiToken, StaffUser
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, VisitDep, render
from webhook.deps import ItemId, ServiceDep

router = APIRouter(route_class=AdminRoute)


async def _page(
    request: Request,
    service: ServiceDep,
    visit: Visit,
    *,
    created: str | None = None,
    error: str | None = None,
    link: tuple[str, datetime] | None = None,
) -> Response:
    async with service.db.session() as session:
        tokens = await list_api_tokens(session, visit.staff)
        user = await session.get(StaffUser, visit.staff.id)
    return render(request, "tokens.html", visit, title=N_("API tokens"), tokens=tokens,
                  created=created, error=error, link=link,
                  linked=bool(user and user.telegram_chat_id),
                  status_code=400 if error else 200)  # fmt: skip


@router.get("/tokens")
async def token_list(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    return await _page(request, service, visit)


@router.post("/tokens")
async def create_token(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    # Answered with the page itself, not a redirect: the token must not travel in a URL.
    try:
        async with service.db.session() as session, session.begin():
            row, token = await create_api_token(session, visit.staff, visit.form.get("name", ""))
            await record(session, visit.staff, "token.create", f"token:{row.id}")
    except AccountError:
        return await _page(request, service, visit, error=N_("Give the token a name."))
    return await _page(request, service, visit, created=token)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: ItemId, service: ServiceDep, visit: VisitDep) -> Response:
    async with service.db.session() as session, session.begin():
        own = await session.scalar(
            select(ApiToken.id).where(ApiToken.id == token_id, ApiToken.user_id == visit.staff.id)
        )
        # Only one's own tokens here, administrators included: others' are on their pages.
        if own is None or not await revoke_api_token(session, visit.staff, token_id):
            raise HTTPException(404)
        await record(session, visit.staff, "token.revoke", f"token:{token_id}")
    return RedirectResponse("/admin/tokens?done=revoked", status_code=303)


@router.post("/tokens/telegram")
async def link_telegram(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    """A one-time code to send to the bot from one's own Telegram chat, shown in the page
    (never in a URL); a new code replaces the previous one. For those who can compose: the
    bot's staff commands send broadcasts."""
    async with service.db.session() as session, session.begin():
        code, until = await telegram_link_code(session, visit.staff)
        await record(session, visit.staff, "staff.telegram_link_code",
                     f"staff:{visit.staff.id}")  # fmt: skip
    return await _page(request, service, visit, link=(code, until))
