"""Signing in and out, taking an invitation, and choosing the dashboard's language."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from bot.coordination.keys import OUTBOX
from bot.i18n import DASHBOARD_LOCALES
from bot.i18n.markers import N_
from bot.secretariat import accounts
from bot.secretariat.audit import record
from bot.secretariat.relay import staff_chat, to_chat
from bot.secretariat.signin import (
    LoginRefused,
    authenticate,
    close_session,
    count_password_check,
    forget_password_checks,
    open_session,
)
from bot.secretariat.staff import AccountError, Staff, digest
from bot.storage.models import StaffUser, utcnow
from webhook.admin.pages import (
    AdminRoute,
    Texts,
    Visit,
    VisitDep,
    browser_locale,
    presession_form,
    presession_token,
    render,
    safe_next,
    set_presession_cookie,
)
from webhook.auth import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from webhook.deps import ServiceDep, client_address

log = logging.getLogger(__name__)
router = APIRouter(route_class=AdminRoute)
FormDep = Annotated[dict[str, str], Depends(presession_form)]

WRONG = N_("The e-mail address or the password is not right.")
SLOWED = N_(
    "After several failed attempts, each new attempt waits a little longer. "
    "Check the address and the password carefully."
)
LOCKED = N_(
    "There were too many failed attempts with this address. Sign-in is paused until {time}; "
    "an administrator can lift the pause."
)
# The account's own messages (bot.secretariat) are in English; these are the ones people meet here.
ACCOUNT_ERRORS = {
    "the password needs at least 10 characters": N_("The password needs at least 10 characters."),
    "the password is too long": N_("The password is too long."),
    "the password is too easy to guess": N_(
        "This password is too easy to guess: it is common, or made of words, names, dates or "
        "patterns. Use a longer passphrase of several unrelated words."
    ),
}
LOCK_ALERT = N_(
    "Sign-in to the account {email} is locked after too many failed attempts from several "
    "places. An administrator can lift the lock on the dashboard's Accounts page."
)
INVITE_GONE = N_(
    "This invitation link is no longer valid: it was used already or it has expired. "
    "Ask an administrator for a new one."
)


def _login_page(
    request: Request,
    *,
    email: str = "",
    error: str | None = None,
    detail: str | None = None,
    status_code: int = 200,
) -> Response:
    token = presession_token(request)
    response = render(
        request,
        "login.html",
        None,
        title=N_("Sign in"),
        email=email,
        error=error,
        detail=detail,
        form_token=token,
        next=safe_next(request.query_params.get("next")),
        status_code=status_code,
    )
    set_presession_cookie(request, response, token)
    return response


@router.get("/login")
async def login_form(request: Request, service: ServiceDep) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, service: ServiceDep, form: FormDep) -> Response:
    email, password = form.get("email", "")[:254], form.get("password", "")
    outcome = await authenticate(service.db, email, password, client=client_address(request))
    if not isinstance(outcome, LoginRefused):
        async with service.db.session() as session, session.begin():
            lifetime = timedelta(hours=service.settings.session_hours)
            token, _csrf = await open_session(session, outcome, lifetime=lifetime)
            await record(session, outcome, "login", f"account:{outcome.id}", via="dashboard")
    if isinstance(outcome, LoginRefused):
        if outcome.account_locked is not None:
            await _tell_locked(service, outcome.account_locked, outcome.locked_until)
        # The attempt was counted before the password was checked, and the answer waits: a
        # script gains nothing by sending guesses in parallel or before an answer.
        await asyncio.sleep(outcome.delay)
        texts = Texts(browser_locale(request))
        detail = None
        if outcome.locked_until is not None:
            detail = texts.gettext(LOCKED, time=texts.when(outcome.locked_until))
        elif outcome.delay > 0:
            detail = texts.gettext(SLOWED)
        return _login_page(request, email=email, error=WRONG, detail=detail, status_code=401)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    set_session_cookie(request, response, token, service.settings)
    return response


async def _tell_locked(service: ServiceDep, staff: Staff, until: datetime | None) -> None:
    """An account's sign-in reached its ceiling: in the audit log (the dashboard's accounts
    page shows the lock, with the button that lifts it) and in the staff chat."""
    async with service.db.session() as session, session.begin():
        await record(session, None, "login.locked", f"account:{staff.id}",
                     until=until.isoformat() if until else None)  # fmt: skip
        chat = staff_chat(service.settings)
        if chat is not None:
            texts = Texts("en")  # a group chat has no one language
            to_chat(session, chat, texts.gettext(LOCK_ALERT, email=staff.email), None)
    log.warning("sign-in: account %s locked after too many failed attempts", staff.id)
    if staff_chat(service.settings) is not None:
        await service.coordinator.notify(OUTBOX)


WRONG_CURRENT = N_("Your current password is not right.")
PAUSED = N_(
    "There were too many wrong current passwords. Changing the password is paused until {time}."
)


def _password_page(
    request: Request,
    visit: Visit,
    *,
    error: str | None = None,
    detail: str | None = None,
    done: bool = False,
    status_code: int | None = None,
) -> Response:
    return render(request, "password.html", visit, title=N_("Change my password"), error=error,
                  detail=detail, done=done,
                  status_code=status_code or (400 if error else 200))  # fmt: skip


@router.get("/password")
async def password_form(request: Request, visit: VisitDep) -> Response:
    return _password_page(request, visit)


@router.post("/password")
async def change_password(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    """A new password for oneself, with the current one; the other browser sessions and every
    API token of the account end, this session stays."""
    current, new = visit.form.get("current", ""), visit.form.get("password", "")
    if new != visit.form.get("password2", ""):
        return _password_page(request, visit, error=N_("The two passwords differ."))
    # Counted before the check, as sign-in is: guesses sent in parallel are counted too.
    paused = await count_password_check(service.db, visit.staff.id)
    if paused is not None:
        texts = Texts(visit.locale)
        return _password_page(request, visit, error=PAUSED, status_code=429,
                              detail=texts.gettext(PAUSED, time=texts.when(paused)))  # fmt: skip
    try:
        async with service.db.session() as session, session.begin():
            revoked = await accounts.change_own_password(
                session, visit.staff.id, current, new,
                this_session=request.cookies.get(SESSION_COOKIE, ""),
            )  # fmt: skip
            await record(session, visit.staff, "account.password", f"account:{visit.staff.id}",
                         tokens_revoked=revoked)  # fmt: skip
    except AccountError as exc:
        if str(exc) == accounts.WRONG_CURRENT:
            return _password_page(request, visit, error=WRONG_CURRENT)
        await forget_password_checks(service.db, visit.staff.id)  # the current one was right
        return _password_page(request, visit, error=ACCOUNT_ERRORS.get(str(exc), WRONG_CURRENT))
    await forget_password_checks(service.db, visit.staff.id)
    return _password_page(request, visit, done=True)


@router.post("/logout")
async def logout(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    async with service.db.session() as session, session.begin():
        await close_session(session, request.cookies.get(SESSION_COOKIE, ""))
        await record(session, visit.staff, "logout", f"account:{visit.staff.id}")
    response = RedirectResponse("/admin/login?done=signed-out", status_code=303)
    clear_session_cookie(request, response)
    return response


async def _invited(service: ServiceDep, token: str) -> StaffUser | None:
    """The account waiting for this invitation, while the link is still good."""
    if len(token) > 128:
        return None
    async with service.db.session() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.invite_hash == digest(token)))
    if user is None or user.status != "invited" or user.invite_expires_at is None:
        return None
    expires = user.invite_expires_at
    return user if expires.replace(tzinfo=expires.tzinfo or UTC) > utcnow() else None


def _invite_page(
    request: Request, user: StaffUser | None, *, name: str = "", error: str | None = None
) -> Response:
    token = presession_token(request)
    locale = user.locale if user is not None else browser_locale(request)
    response = render(
        request,
        "invite.html",
        None,
        locale=locale if locale in DASHBOARD_LOCALES else "en",
        title=N_("Welcome to the ChildPact dashboard"),
        user=user,
        name=name,
        error=error if user is not None else INVITE_GONE,
        form_token=token,
        status_code=200 if user is not None and error is None else 400 if user else 404,
    )
    set_presession_cookie(request, response, token)
    return response


@router.get("/invite/{token}")
async def invite_form(request: Request, token: str, service: ServiceDep) -> Response:
    return _invite_page(request, await _invited(service, token))


@router.post("/invite/{token}")
async def accept_invite(
    request: Request, token: str, service: ServiceDep, form: FormDep
) -> Response:
    user = await _invited(service, token)
    name, password = form.get("name", "").strip(), form.get("password", "")
    if user is None:
        return _invite_page(request, None)
    if not name:
        return _invite_page(request, user, error=N_("Please write your name."))
    if password != form.get("password2", ""):
        return _invite_page(request, user, name=name, error=N_("The two passwords differ."))
    try:
        async with service.db.session() as session, session.begin():
            staff = await accounts.accept_invite(session, token, name, password)
            lifetime = timedelta(hours=service.settings.session_hours)
            cookie, _csrf = await open_session(session, staff, lifetime=lifetime)
            await record(session, staff, "account.accept_invite", f"account:{staff.id}")
            await record(session, staff, "login", f"account:{staff.id}", via="dashboard")
    except AccountError as exc:
        error = ACCOUNT_ERRORS.get(str(exc), INVITE_GONE)
        return _invite_page(request, user, name=name, error=error)
    response = RedirectResponse("/admin?done=welcome", status_code=303)
    set_session_cookie(request, response, cookie, service.settings)
    return response


@router.post("/locale")
async def choose_locale(service: ServiceDep, visit: VisitDep) -> Response:
    """The dashboard's language is kept with the account, so it follows the person."""
    locale = visit.form.get("locale", "")
    if locale in DASHBOARD_LOCALES and locale != visit.staff.locale:
        async with service.db.session() as session, session.begin():
            user = await session.get(StaffUser, visit.staff.id)
            if user is not None:
                user.locale = locale
                await record(
                    session,
                    visit.staff,
                    "account.locale",
                    f"account:{visit.staff.id}",
                    locale=locale,
                )
    return RedirectResponse(safe_next(visit.form.get("next")), status_code=303)
