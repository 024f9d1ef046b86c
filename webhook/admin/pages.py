"""What every dashboard page shares: who is signed in (or a redirect to sign in), the CSRF
check of forms, the page's language, rendering, and error pages people can read."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from fastapi import Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.i18n import (
    DASHBOARD_DOMAIN,
    DASHBOARD_LANGUAGE_NAMES,
    DASHBOARD_LOCALES,
    LANGUAGE_NAMES,
    load_translations,
)
from bot.i18n.markers import N_
from bot.secretariat.signin import csrf_matches
from bot.secretariat.staff import Staff
from webhook.auth import CSRF_FIELD, request_staff, secure_cookies
from webhook.deps import ServiceDep

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "admin"
STATIC = Path(__file__).resolve().parent.parent / "static"
ASSET_VERSION = "8"  # bump when admin.css or admin.js change, so browsers fetch them again
# Before there is a session (sign-in, invitation) forms carry a token that must match this
# cookie: another site cannot read it, so it cannot forge the form.
PRESESSION_COOKIE = "childpact_form"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class Redirect(Exception):
    """Leave the page for another one (raised from dependencies, answered by AdminRoute)."""

    def __init__(self, url: str) -> None:
        self.url = url


class AdminRoute(APIRoute):
    """Dashboard routes answer with pages, not JSON: a refusal is an error page in the
    person's language, and a redirect to sign in works for htmx requests too."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Redirect as go:
                if request.headers.get("HX-Request"):
                    return Response(status_code=204, headers={"HX-Redirect": go.url})
                return RedirectResponse(go.url, status_code=303)
            except HTTPException as exc:
                return error_page(request, exc.status_code)
            except RequestValidationError:
                return error_page(request, 400)

        return page_handler


ERRORS = {
    400: (N_("Something in the address is not right"), N_("Go back and try again.")),
    403: (
        N_("This is not possible for you"),
        N_(
            "Your role does not allow this, or the form was out of date. "
            "Reload the page and try again."
        ),
    ),
    404: (
        N_("Not found"),
        N_("It does not exist, or it is not within the countries you work with."),
    ),
}


# Names of stored values, as people read them.
LABELS: dict[str, str] = {
    "knowledge:create": N_("created"),
    "knowledge:update": N_("changed"),
    "knowledge:archive": N_("archived"),
    "knowledge:restore": N_("restored"),
    "knowledge:revert": N_("reverted"),
    "role:admin": N_("Administrator"),
    "role:editor": N_("Editor"),
    "role:viewer": N_("Viewer"),
    "status:active": N_("Active"),
    "status:stopped": N_("Stopped"),
    "status:unreachable": N_("Unreachable"),
    "status:new": N_("Not yet set up"),
    "status:declined": N_("Declined consent"),
    "status:erased": N_("Deleted their data (safeguarding record kept)"),
    "status:invited": N_("Invited"),
    "status:disabled": N_("Disabled"),
    "status:open": N_("Open"),
    "status:closed": N_("Closed"),
    "channel:telegram": "Telegram",
    "channel:whatsapp": "WhatsApp",
    "channel:web": N_("Web chat"),
    "kind:safeguarding": N_("Safeguarding alert"),
    "kind:question": N_("Unanswered question"),
    "kind:secretariat": N_("Asked for the secretariat"),
    "kind:reply": N_("Reply to a broadcast"),
    "level:alert": N_("Alert"),
    "level:concern": N_("Possible concern"),
    "broadcast:draft": N_("Draft"),
    "broadcast:awaiting_approval": N_("Awaiting approval"),
    "broadcast:scheduled": N_("Scheduled"),
    "broadcast:sending": N_("Sending"),
    "broadcast:sent": N_("Sent"),
    "broadcast:cancelled": N_("Cancelled"),
    "repeat:daily": N_("Every day"),
    "repeat:weekly": N_("Every week"),
    "repeat:monthly": N_("Every month"),
    "delivery:queued": N_("queued"),
    "delivery:sent": N_("sent"),
    "delivery:delivered": N_("delivered"),
    "delivery:read": N_("read"),
    "delivery:failed": N_("failed"),
    "delivery:undelivered": N_("undelivered"),
    "delivery:skipped": N_("skipped"),
    "delivery:cancelled": N_("cancelled"),
    "fallback:own": N_("in their own language"),
    "fallback:country": N_("in their country's language"),
    "fallback:base": N_("in the base language"),
    "survey:draft": N_("Draft"),
    "survey:open": N_("Open"),
    "survey:closed": N_("Closed"),
}
# What a page says after a form did its work (?done=...), so a reload does not send it again.
NOTICES: dict[str, str] = {
    "answered": N_("Your answer is on its way to the member."),
    "saved-reply-added": N_("The saved reply is added."),
    "duplicated": N_("This is a copy, a new draft: check it, then send or schedule it."),
    "audience-saved": N_(
        "The audience is saved: pick it by its name in any broadcast or survey launch."
    ),
    "audience-used": N_("The saved audience is chosen; the draft is saved."),
    "audience-picked": N_(
        "The saved audience is chosen: its filters are ticked. Nothing is sent until you launch."
    ),
    "audience-renamed": N_("The audience is renamed."),
    "audience-deleted": N_("The saved audience is deleted; broadcasts that used it keep theirs."),
    "saved-reply-deleted": N_("The saved reply is deleted."),
    "assigned": N_("The conversation is assigned."),
    "noted": N_("The note is saved. Only the secretariat sees it."),
    "rules-saved": N_("The assignment rules are saved."),
    "closed": N_("The conversation is closed."),
    "reopened": N_("The conversation is open again."),
    "deleted": N_("The member and all their data are deleted."),
    "invited": N_("The invitation is ready."),
    "saved": N_("Saved."),
    "told": N_("Saved. The members who asked it are being told the answer."),
    "revoked": N_("The token is revoked; nothing can use it any more."),
    "welcome": N_("Welcome! Your account is ready."),
    "signed-out": N_("You are signed out."),
    "draft-saved": N_("The draft is saved."),
    "test-sent": N_("The test is on its way to the chat you chose."),
    "broadcast-going": N_("The broadcast is going out now."),
    "broadcast-scheduled": N_("The broadcast is scheduled."),
    "broadcast-awaiting": N_("The broadcast waits for an administrator's approval."),
    "broadcast-approved": N_("Approved: the broadcast goes out as planned."),
    "broadcast-cancelled": N_("The broadcast is cancelled; what had not gone yet stays unsent."),
    "follow-up": N_("A new draft for those who did not receive it: check it, then send it."),
    "series-stopped": N_("The series is stopped: no further occurrence goes out."),
    "survey-saved": N_("The survey is saved."),
    "survey-imported": N_("The survey is imported as a draft: check it, then launch it."),
    "survey-launched": N_("The survey is open and its invitation is going out."),
    "survey-awaiting": N_(
        "The survey is open; its invitation waits for an administrator's approval."
    ),
    "survey-scheduled": N_("The survey is open; its invitation goes out at the time you chose."),
    "survey-closed": N_("The survey is closed: no more answers."),
    "reminder-set": N_("The reminder is set."),
    "invitation-cancelled": N_(
        "The invitation is cancelled; what had not gone yet stays unsent. The survey is still "
        "open: you can launch it again."
    ),
    "closing-set": N_("The closing date is changed."),
    "closing-removed": N_("The survey has no closing date now: it stays open until you close it."),
}


def error_page(request: Request, status: int) -> HTMLResponse:
    visit: Visit | None = getattr(request.state, "visit", None)
    locale = visit.locale if visit else browser_locale(request)
    title, hint = ERRORS.get(status, ERRORS[400])
    return render(request, "error.html", visit, locale=locale, status=status, title=title,
                  hint=hint, status_code=status)  # fmt: skip


def browser_locale(request: Request) -> str:
    """For pages before sign-in: ?lang=, else the browser's languages, else English."""
    wanted = request.query_params.get("lang")
    if wanted in DASHBOARD_LOCALES:
        return wanted
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in DASHBOARD_LOCALES:
            return tag
    return "en"


@dataclass
class Visit:
    """The signed-in person on this request, with what their pages need."""

    staff: Staff
    csrf: str
    form: dict[str, str] = field(default_factory=dict)

    @property
    def locale(self) -> str:
        return self.staff.locale if self.staff.locale in DASHBOARD_LOCALES else "en"


def login_url(request: Request) -> str:
    """Sign in, then back here; for htmx's polling, back to the page that polled."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    polled_from = request.headers.get("HX-Current-URL")
    if request.headers.get("HX-Request") and polled_from:
        parts = urlsplit(polled_from)
        here = parts.path + (f"?{parts.query}" if parts.query else "")
    return "/admin/login?next=" + quote(safe_next(here), safe="")


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def signed_in(request: Request, service: ServiceDep) -> Visit:
    """The person behind the session cookie, or off to the sign-in page. A POST must carry
    the session's CSRF token; a wrong one is refused and changes nothing."""
    found = await request_staff(request, service)
    if found is None or found[1] is None:
        raise Redirect(login_url(request) if request.method == "GET" else "/admin/login")
    visit = Visit(found[0], found[1])
    request.state.visit = visit
    if request.method == "POST":
        visit.form = await _form(request)
        if not csrf_matches(visit.csrf, visit.form.get(CSRF_FIELD)):
            raise HTTPException(403)
    return visit


async def editor(visit: Annotated[Visit, Depends(signed_in)]) -> Visit:
    if not visit.staff.can_send:
        raise HTTPException(403)
    return visit


async def admin(visit: Annotated[Visit, Depends(signed_in)]) -> Visit:
    if not visit.staff.is_admin:
        raise HTTPException(403)
    return visit


VisitDep = Annotated[Visit, Depends(signed_in)]
EditorVisit = Annotated[Visit, Depends(editor)]
AdminVisit = Annotated[Visit, Depends(admin)]


def presession_token(request: Request) -> str:
    return request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(24)


def set_presession_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(PRESESSION_COOKIE, token, max_age=3600, path="/admin", httponly=True,
                        secure=secure_cookies(request), samesite="strict")  # fmt: skip


async def presession_form(request: Request) -> dict[str, str]:
    """A form sent before sign-in, refused (403) unless it carries the cookie's token."""
    form = await _form(request)
    expected = request.cookies.get(PRESESSION_COOKIE) or ""
    if not expected or not csrf_matches(expected, form.get(CSRF_FIELD)):
        raise HTTPException(403)
    return form


class Texts:
    """Gettext and formatting for the templates, in one dashboard language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._t = load_translations(locale, domain=DASHBOARD_DOMAIN)
        self._babel = Locale.parse(locale)

    def gettext(self, text: str, **values: object) -> str:
        found = self._t.ugettext(text)
        return found.format(**values) if values else found

    def pgettext(self, context: str, text: str) -> str:
        return self._t.upgettext(context, text)

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        return self._t.ungettext(singular, plural, n).format(n=self.number(n), **values)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self._babel)

    def country(self, code: str | None) -> str:
        if not code:
            return self.gettext(N_("Unknown"))
        if code == "OTHER":
            return self.gettext(N_("Other country"))
        if code == "DEFAULT":  # the helpline of the countries without their own
            return self.gettext(N_("Every other country"))
        return str(self._babel.territories.get(code, code))

    def date(self, day: date) -> str:
        return format_date(day, "medium", locale=self._babel)

    def when(self, at: datetime | None) -> str:
        """In UTC on the server; the page's script shows it in the reader's own time zone."""
        if at is None:
            return ""
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        return format_datetime(at, "medium", tzinfo=UTC, locale=self._babel) + " UTC"


def iso(at: datetime | None) -> str:
    if at is None:
        return ""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def render(
    request: Request,
    template: str,
    visit: Visit | None,
    *,
    locale: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    notice: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page (or an htmx fragment) in the person's language. Pages are never cached: they
    hold members' data. ``notice`` (a key of NOTICES) is for a page shown again rather than
    redirected to with ``?done=``, as when what was typed on it must stay."""
    texts = Texts(locale or (visit.locale if visit else browser_locale(request)))
    done = NOTICES.get(notice or request.query_params.get("done", ""))
    html = _env.get_template(template).render(
        _=texts.gettext,
        ngettext=texts.ngettext,
        pgettext=texts.pgettext,
        texts=texts,
        visit=visit,
        staff=visit.staff if visit else None,
        csrf=visit.csrf if visit else "",
        csrf_field=CSRF_FIELD,
        locale=texts.locale,
        locale_names=DASHBOARD_LANGUAGE_NAMES,
        language_names=LANGUAGE_NAMES,
        path=request.url.path,
        request=request,
        iso=iso,
        v=ASSET_VERSION,
        label=lambda kind, value: texts.gettext(LABELS.get(f"{kind}:{value}", value or "")),
        role_name=lambda role: texts.gettext(LABELS.get(f"role:{role}", role)),
        notice=texts.gettext(done) if done else None,
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
            ),
            **(headers or {}),
        },
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a page of the dashboard, never another site."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin"
