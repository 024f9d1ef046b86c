"""Who is calling: a personal API token (``Authorization: Bearer``) or a dashboard session
cookie, with the same roles and country scope behind both. Cookie-authenticated requests that
change something must carry the session's CSRF token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.config import Settings
from bot.secretariat.signin import csrf_matches, session_staff
from bot.secretariat.staff import Staff
from bot.secretariat.tokens import token_staff
from webhook.deps import ServiceDep

SESSION_COOKIE = "childpact_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    description="a personal API token, created on the dashboard under API tokens",
)


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure everywhere except plain http on this machine (``make run``)."""
    local = request.url.hostname in ("127.0.0.1", "localhost", "::1")
    return request.url.scheme == "https" or not local


def set_session_cookie(
    request: Request, response: Response, token: str, settings: Settings
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure_cookies(request), httponly=True, samesite="strict"
    )


async def request_staff(
    request: Request, service: ServiceDep, token: str | None = None
) -> tuple[Staff, str | None] | None:
    """The person behind a request and, for a browser session, its CSRF token."""
    settings = service.settings
    async with service.db.session() as session, session.begin():
        if token:
            found = await token_staff(session, token)
            return (found, None) if found else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        return await session_staff(
            session, cookie, idle=timedelta(minutes=settings.session_idle_minutes)
        )


async def _csrf_given(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given:
        return given
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette keeps the parsed form for the route
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def current_staff(
    request: Request,
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Staff:
    """401 without valid credentials; 403 for a browser request that changes something
    without the session's CSRF token."""
    found = await request_staff(request, service, credentials.credentials if credentials else None)
    if found is None:
        raise HTTPException(
            401, "sign in, or send a valid API token", headers={"WWW-Authenticate": "Bearer"}
        )
    person, csrf = found
    request.state.by_token = csrf is None
    if csrf is not None and request.method not in SAFE_METHODS:
        if not csrf_matches(csrf, await _csrf_given(request)):
            raise HTTPException(403, "the form is out of date: reload the page and try again")
    request.state.staff = person
    return person


async def editor(person: Annotated[Staff, Depends(current_staff)]) -> Staff:
    if not person.can_send:
        raise HTTPException(403, "viewers can read but not change or send")
    return person


async def admin(person: Annotated[Staff, Depends(current_staff)]) -> Staff:
    if not person.is_admin:
        raise HTTPException(403, "only administrators can do this")
    return person


async def signed_in(request: Request, person: Annotated[Staff, Depends(current_staff)]) -> Staff:
    """A person signed in on the dashboard (a browser session, with its CSRF token), not
    an API token: what only a person may do, such as making a token."""
    if getattr(request.state, "by_token", False):
        raise HTTPException(403, "sign in on the dashboard to do this; an API token cannot")
    return person


StaffDep = Annotated[Staff, Depends(current_staff)]
SignedInDep = Annotated[Staff, Depends(signed_in)]
EditorDep = Annotated[Staff, Depends(editor)]
AdminDep = Annotated[Staff, Depends(admin)]
