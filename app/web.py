"""The app factory: routes, and a lifespan that owns the service's connections and workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.service import Service
from bot import logs
from bot.config import Settings, get_settings
from webhook import admin, chat, exports, health
from webhook.api import accounts as api_accounts
from webhook.api import audiences as api_audiences
from webhook.api import audit as api_audit
from webhook.api import broadcasts as api_broadcasts
from webhook.api import inbox as api_inbox
from webhook.api import knowledge as api_knowledge
from webhook.api import members as api_members
from webhook.api import overview as api_overview
from webhook.api import safeguarding as api_safeguarding
from webhook.api import survey_respondents as api_survey_respondents
from webhook.api import surveys as api_surveys
from webhook.api import tokens as api_tokens
from webhook.api import topics as api_topics
from webhook.platforms import telegram, whatsapp

log = logging.getLogger(__name__)

API_DESCRIPTION = """Members of the ChildPact coalition on Telegram, WhatsApp and the web chat.

The `/api` routes serve the secretariat, on the same permissions as the dashboard at `/admin`.
Send a personal API token, created on the dashboard under *API tokens* or with
`POST /api/tokens`, as `Authorization: Bearer cpm_...`; it acts with its owner's role and
country scope. A signed-in dashboard session works too; a browser request that changes
something must then carry the session's CSRF token (`X-CSRF-Token`).

Roles: **admin** (everything, accounts and the audit log), **editor** (answers the inbox,
changes and deletes members, sends), **viewer** (reads). An account limited to one country sees
only that country's members and conversations: others answer 404, as if they did not exist.
Errors are `{"detail": "..."}`: 401 without valid credentials, 403 when the role does not allow
it, 404, 409 and 422 as described per operation. Responses never carry a member's phone number
or chat address."""


class RequestIdMiddleware:
    """Every request gets an id (the caller's ``X-Request-ID`` when sane), bound for its log
    lines and stored with the message it brings, and sent back in the answer's header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id")
        rid = logs.sane(given) or logs.new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        with logs.bound(rid):
            await self.app(scope, receive, send_with_id)


def create_app(
    settings: Settings | None = None,
    *,
    service: Service | None = None,
    workers: bool = True,
    migrate: bool = True,
    only_process: bool = True,
) -> FastAPI:
    """The web app. ``workers`` also runs the sender and the backlog sweep in this process
    (the embedded mode); the scaled mode runs them in ``childpact worker`` instead."""
    settings = settings or (service.settings if service else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or Service(settings)
        await svc.start(migrate=migrate, workers=workers, only_process=only_process)
        app.state.service = svc
        try:
            yield
        finally:
            await svc.stop()

    docs = settings.api_docs == "public"
    app = FastAPI(
        title="ChildPact Messenger",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    # Pages and API answers travel compressed: members and staff are often on slow networks.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(RequestIdMiddleware)
    if settings.trusted_proxy_list:
        # The client's address and scheme from X-Forwarded-For/-Proto, but only when the
        # request comes from a proxy the operator listed: anyone else could write them.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    api = (
        api_accounts,
        api_overview,
        api_members,
        api_inbox,
        api_knowledge,
        api_broadcasts,
        api_audiences,
        api_survey_respondents,
        api_surveys,
        api_topics,
        api_tokens,
        api_audit,
        api_safeguarding,
    )
    for area in (health, telegram, whatsapp, chat, exports, *api, admin):
        app.include_router(area.router)
    return app
