"""The secretariat's accounts (administrators only): invite someone, change a role or a
country, disable an account."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.countries import MEMBER_COUNTRIES
from bot.i18n import DASHBOARD_LOCALES
from bot.i18n.markers import N_
from bot.secretariat import accounts, signin
from bot.secretariat.audit import record
from bot.secretariat.staff import ROLES, AccountError
from webhook.admin.pages import AdminRoute, AdminVisit, Visit, render
from webhook.deps import ItemId, ServiceDep

router = APIRouter(route_class=AdminRoute)
INVITE_ERRORS = {
    "that is not an e-mail address": N_("That is not an e-mail address."),
    "there is already an account with that e-mail address": N_(
        "There is already an account with that e-mail address."
    ),
}
UPDATE_ERRORS = {
    "this is the last active administrator; make someone else one first": N_(
        "This is the last active administrator. Make someone else an administrator first."
    ),
    "this person has not accepted their invitation yet": N_(
        "This person has not accepted their invitation yet."
    ),
}


async def _page(
    request: Request,
    service: ServiceDep,
    visit: Visit,
    *,
    link: str | None = None,
    error: str | None = None,
) -> Response:
    async with service.db.session() as session:
        people = await accounts.list_accounts(session, visit.staff)
        locked = await signin.locked_accounts(session)
    return render(request, "accounts.html", visit, title=N_("Accounts"), people=people,
                  roles=ROLES, countries=MEMBER_COUNTRIES, locales=DASHBOARD_LOCALES,
                  link=link, error=error, locked=locked,
                  status_code=400 if error else 200)  # fmt: skip


@router.get("/accounts")
async def account_list(request: Request, service: ServiceDep, visit: AdminVisit) -> Response:
    return await _page(request, service, visit)


def _country(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    if value and value not in MEMBER_COUNTRIES:
        raise HTTPException(400)
    return value or None


@router.post("/accounts/invite")
async def invite(request: Request, service: ServiceDep, visit: AdminVisit) -> Response:
    form = visit.form
    role, locale = form.get("role", ""), form.get("locale", "en")
    if role not in ROLES or locale not in DASHBOARD_LOCALES:
        raise HTTPException(400)
    try:
        async with service.db.session() as session, session.begin():
            user, token = await accounts.invite(
                session, form.get("email", ""), role, country=_country(form.get("country")),
                locale=locale, by=visit.staff,
            )  # fmt: skip
            await record(session, visit.staff, "account.invite", f"account:{user.id}",
                         role=role, country=user.country)  # fmt: skip
    except AccountError as exc:
        return await _page(request, service, visit,
                           error=INVITE_ERRORS.get(str(exc), N_("That is not possible.")))  # fmt: skip
    base = service.settings.public_url or str(request.base_url).rstrip("/")
    # Shown once, here: only its hash is stored, so nobody can look it up again.
    return await _page(request, service, visit, link=f"{base}/admin/invite/{token}")


@router.post("/accounts/{user_id}/unlock")
async def unlock(
    request: Request, user_id: ItemId, service: ServiceDep, visit: AdminVisit
) -> Response:
    """Lift the lock that too many failed sign-ins put on an account (only an administrator
    whose scope includes the account can)."""
    async with service.db.session() as session, session.begin():
        people = {p.id: p for p in await accounts.list_accounts(session, visit.staff)}
        person = people.get(user_id)
        if person is None:
            raise HTTPException(404)
        await signin.unlock(session, person.email)
        await record(session, visit.staff, "login.unlock", f"account:{person.id}")
    return RedirectResponse("/admin/accounts?done=saved", status_code=303)


@router.post("/accounts/{user_id}")
async def change(
    request: Request, user_id: ItemId, service: ServiceDep, visit: AdminVisit
) -> Response:
    """A new role or country scope, or the account disabled or enabled again."""
    form = visit.form
    if user_id == visit.staff.id:
        raise HTTPException(403)  # nobody locks themselves out; another administrator can
    role = form.get("role")
    if role is not None and role not in ROLES:
        raise HTTPException(400)
    status = form.get("status")
    try:
        async with service.db.session() as session, session.begin():
            # update_account records the change in the audit log itself.
            user = await accounts.update_account(
                session, visit.staff, user_id, role=role,
                country=_country(form["country"]) if "country" in form else ...,
                status=status if status in ("active", "disabled") else None,
            )  # fmt: skip
            if user is None:
                raise HTTPException(404)
    except AccountError as exc:
        return await _page(request, service, visit,
                           error=UPDATE_ERRORS.get(str(exc), N_("That is not possible.")))  # fmt: skip
    return RedirectResponse("/admin/accounts?done=saved", status_code=303)
