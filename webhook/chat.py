"""The web chat: the page at /chat, its embed script, and the small JSON API it talks to."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from bot.channels.base import ChannelName
from bot.channels.web import CAPABILITIES, fetch_replies, mark_read
from bot.conversation.commands import words_in
from bot.coordination import Bucket
from bot.coordination.keys import (
    contact_key,
    web_chat_topic,
    web_client_rate_key,
    web_visitor_rate_key,
)
from bot.i18n import LANGUAGE_NAMES, Translator, normalize_locale
from bot.messages import InboundMessage, Kind
from bot.storage.models import Contact, Delivery, Inbound
from webhook.deps import ServiceDep, client_address, read_body, store_then_handle

if TYPE_CHECKING:
    from app.service import Service

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
)


def _(text: str) -> str:  # marks the page's texts for extraction; translated per request
    return text


# Every text the page shows, translated by the server and handed to the script by key.
PAGE_TEXTS: dict[str, str] = {
    "title": _("ChildPact chat"),
    "placeholder": _("Type a message…"),
    "send": _("Send"),
    "connecting": _("Connecting…"),
    "offline": _("You are offline. We will send your message when the connection is back."),
    "retrying": _("Sending failed. Trying again…"),
    "open": _("Chat with ChildPact"),
    "close": _("Close"),
    "restart": _("Start a new conversation"),
    # Translators: {deleteme} is the words that delete a member's data, in this language.
    "restart_confirm": _(
        "Start a new conversation? You stay the same member: your settings and our earlier "
        "messages are kept. To delete them, write {deleteme}."
    ),
    "typing": _("The assistant is writing…"),
}
SESSION = r"^[A-Za-z0-9_-]{16,64}$"
LONG_POLL = 25.0
BODY_LIMIT = 16 * 1024  # a message is at most 4,096 characters; a request at most this
READS_PER_SEND = 4  # a page polls for replies more often than its visitor writes


async def small_request(request: Request) -> None:
    """Every route of the chat refuses a body larger than BODY_LIMIT (413) before reading it."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > BODY_LIMIT):
        raise HTTPException(413 if declared.isdigit() else 400, "request too large")


router = APIRouter(tags=["web chat"], dependencies=[Depends(small_request)])


class ChatMessage(BaseModel):
    """What the chat page sends: a typed text or a tapped button."""

    session: str = Field(pattern=SESSION, description="random id the page keeps in its storage")
    id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="unique per message; repeats are ignored"
    )
    text: str = Field(default="", max_length=CAPABILITIES.text_limit)
    payload: str | None = Field(default=None, max_length=64)
    lang: str | None = Field(default=None, max_length=35, description="the browser's language")


class Accepted(BaseModel):
    stored: bool


class Reply(BaseModel):
    id: int
    text: str
    buttons: list[list[dict[str, str | None]]] = []
    image_url: str | None = None
    once: bool = Field(
        default=False,
        description="a member's own data or a goodbye: the page's next poll names it in ``had``, "
        "and the server keeps it no longer",
    )


class Replies(BaseModel):
    messages: list[Reply]
    cursor: int
    erased: bool = Field(
        default=False,
        description="the server keeps nothing of this session any more (its member was erased, "
        "and ``messages`` may hold the goodbye): the page forgets what it kept and starts afresh",
    )
    locale: str | None = Field(
        default=None,
        description="the language the member chose in the conversation (null until they chose "
        "one): the page shows its own words in it, and opens in it on later visits",
    )


def page_locale(request: Request, lang: str | None) -> str:
    for tag in [lang] + re.split(r",", request.headers.get("accept-language", "")):
        locale = normalize_locale((tag or "").split(";")[0])
        if locale:
            return locale
    return "en"


def page_texts(t: Translator) -> dict[str, str]:
    texts = {key: t.gettext(text) for key, text in PAGE_TEXTS.items()}
    words = words_in(t, "deleteme")
    texts["restart_confirm"] = texts["restart_confirm"].format(
        deleteme=words[0] if words else "delete me"
    )
    return texts


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(request: Request, lang: str | None = None, embed: bool = False) -> HTMLResponse:
    locale = page_locale(request, lang)
    t = Translator(locale)
    html = _templates.get_template("chat.html").render(
        texts=page_texts(t),
        locale=locale,
        lang_tag=locale.replace("_", "-"),
        embed=embed,
        languages=LANGUAGE_NAMES,
    )
    # The page may be embedded in the coalition's website, so it sets no frame ban.
    return HTMLResponse(
        html, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.get("/chat/static/{name}", include_in_schema=False)
async def chat_static(name: str) -> Response:
    path = STATIC / name
    if not re.fullmatch(r"[a-z0-9_-]+\.(js|css|svg)", name) or not path.is_file():
        raise HTTPException(404)
    media = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[
        name.rsplit(".", 1)[1]
    ]
    return Response(
        path.read_bytes(), media_type=media, headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/chat/embed.js", include_in_schema=False)
async def embed_script() -> Response:
    return await chat_static("embed.js")


async def _within(service: Service, buckets: list[Bucket]) -> None:
    """Take one token from every bucket, or answer 429 with when to try again."""
    wait = await service.coordinator.take(buckets)
    if wait > 0:
        raise HTTPException(
            429, "too many messages; try again shortly",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )  # fmt: skip


def _per_minute(key: str, per_minute: float) -> Bucket:
    return Bucket(key, per_minute / 60.0, max(1.0, per_minute))


KNOWN_FOR = 7 * 24 * 3600.0  # seconds a visitor stays known to the coordinator


async def _is_new(service: Service, session: str) -> str | None:
    """The mark to forget when a new visitor is refused; None for a visitor seen before
    (by the coordinator, shared by every process, or in the database)."""
    known = f"web-known:{contact_key(ChannelName.WEB, session)}"
    if await service.coordinator.seen(known, ttl=KNOWN_FOR):
        return None
    async with service.db.session() as db:
        found = await db.scalar(
            select(Contact.id).where(Contact.channel == ChannelName.WEB, Contact.address == session)
        )
    return known if found is None else None


@router.post(
    "/chat/api/messages", response_model=Accepted, status_code=202,
    responses={413: {"description": "body too large"}, 429: {"description": "too many"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ChatMessage.model_json_schema()}}}},
)  # fmt: skip
async def send_message(request: Request, service: ServiceDep) -> Accepted:
    """Store a member's message from the web chat; the replies come from the GET below. The
    body is at most a few kilobytes (413 above), and a visitor, a client address and the new
    visitors from one address each have a rate (429 above)."""
    body = await read_body(request, BODY_LIMIT)
    try:
        message = ChatMessage.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    if not message.text.strip() and not message.payload:
        raise HTTPException(422, "empty message")
    settings, client = service.settings, client_address(request)
    buckets = [
        _per_minute(web_client_rate_key(client, "send"), settings.web_chat_client_per_minute),
        _per_minute(web_visitor_rate_key(message.session), settings.web_chat_visitor_per_minute),
    ]
    new = await _is_new(service, message.session)
    if new is not None:
        per_hour = settings.web_chat_new_visitors_per_hour
        buckets.append(Bucket(web_client_rate_key(client, "new"), per_hour / 3600.0,
                              max(1.0, per_hour)))  # fmt: skip
    try:
        await _within(service, buckets)
    except HTTPException:
        if new is not None:
            await service.coordinator.forget([new])  # still new at its next attempt
        raise
    digest = hashlib.sha256(f"{message.session}:{message.id}".encode()).hexdigest()[:40]
    inbound = InboundMessage(
        channel=ChannelName.WEB,
        platform_id=digest,
        address=message.session,
        kind=Kind.BUTTON if message.payload else Kind.TEXT,
        text=message.text,
        payload=message.payload,
        lang_hint=message.lang,
    )
    return Accepted(stored=await store_then_handle(service, inbound))


@router.get("/chat/api/messages", response_model=Replies)
async def read_replies(
    request: Request,
    service: ServiceDep,
    session: Annotated[str, Query(pattern=SESSION)],
    after: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=LONG_POLL)] = LONG_POLL,
    seen: Annotated[
        int,
        Query(ge=0, description="the last reply the page showed while in sight: read up to it"),
    ] = 0,
    had: Annotated[
        list[int] | None,
        Query(max_length=20, description="the ``once`` messages the page drew: they go"),
    ] = None,
) -> Replies:
    """The bot's replies after ``after``; waits up to ``wait`` seconds for the first one. Those
    up to ``seen`` are read (the dashboard's delivery figures count them so)."""
    per_minute = service.settings.web_chat_client_per_minute * READS_PER_SEND
    await _within(service, [_per_minute(web_client_rate_key(client_address(request), "read"),
                                        per_minute)])  # fmt: skip
    # Listening starts before the first read: a reply stored in between still wakes this poll,
    # even while an older poll of the same session (another tab, an abandoned one) waits too.
    bell = await service.coordinator.listen(web_chat_topic(ChannelName.WEB, session)) if wait else None
    if seen:
        await mark_read(service.db, session, min(seen, after))
    messages = await fetch_replies(service.db, session, after, had=had or ())
    if not messages and bell is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bell.wait(), wait)
        messages = await fetch_replies(service.db, session, after)
    cursor = max([after] + [m["id"] for m in messages])
    # Read after the replies: the answer to a member's choice of language comes with it.
    member, locale = await _member_locale(service, session)
    # The goodbye of an erasure says so; a session the server no longer knows at all (the page
    # was closed before the goodbye came, or it was erased unseen) is just as gone.
    erased = any(m.get("farewell") for m in messages) or (
        not messages and not member and not await _session_known(service, session)
    )
    return Replies(
        messages=[Reply(**m) for m in messages],
        cursor=cursor,
        erased=erased,
        locale=locale,
    )


async def _member_locale(service: Service, session: str) -> tuple[bool, str | None]:
    """Whether a web chat session has its member, and the language they chose in the
    conversation (None until they chose one)."""
    async with service.db.session() as db:
        row = (
            await db.execute(
                select(Contact.locale).where(
                    Contact.channel == ChannelName.WEB, Contact.address == session
                )
            )
        ).first()
    return row is not None, normalize_locale(row.locale) if row else None


async def _session_known(service: Service, session: str) -> bool:
    """Whether the server keeps anything of a web chat session: its member, a message from it
    (stored, not handled yet) or one to it (a goodbye not fetched yet)."""
    async with service.db.session() as db:
        for table in (Contact, Inbound, Delivery):
            found = await db.scalar(
                select(table.id)
                .where(table.channel == ChannelName.WEB, table.address == session)
                .limit(1)
            )
            if found is not None:
                return True
    return False
