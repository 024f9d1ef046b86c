"""The web chat: the page at /chat, its embed script, and the small JSON API it talks to."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from bot.channels.base import ChannelName
from bot.channels.web import CAPABILITIES, fetch_replies
from bot.coordination.keys import web_chat_topic
from bot.i18n import LANGUAGE_NAMES, Translator, normalize_locale
from bot.messages import InboundMessage, Kind
from webhook.deps import ServiceDep, store_then_handle

router = APIRouter(tags=["web chat"])
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
    "typing": _("The assistant is writing…"),
}
SESSION = r"^[A-Za-z0-9_-]{16,64}$"
LONG_POLL = 25.0


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


class Replies(BaseModel):
    messages: list[Reply]
    cursor: int


def page_locale(request: Request, lang: str | None) -> str:
    for tag in [lang] + re.split(r",", request.headers.get("accept-language", "")):
        locale = normalize_locale((tag or "").split(";")[0])
        if locale:
            return locale
    return "en"


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(request: Request, lang: str | None = None, embed: bool = False) -> HTMLResponse:
    locale = page_locale(request, lang)
    t = Translator(locale)
    html = _templates.get_template("chat.html").render(
        texts={key: t.gettext(text) for key, text in PAGE_TEXTS.items()},
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


@router.post("/chat/api/messages", response_model=Accepted, status_code=202)
async def send_message(message: ChatMessage, service: ServiceDep) -> Accepted:
    """Store a member's message from the web chat; the replies come from the GET below."""
    if not message.text.strip() and not message.payload:
        raise HTTPException(422, "empty message")
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
    service: ServiceDep,
    session: Annotated[str, Query(pattern=SESSION)],
    after: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=LONG_POLL)] = LONG_POLL,
) -> Replies:
    """The bot's replies after ``after``; waits up to ``wait`` seconds for the first one."""
    topic = web_chat_topic(ChannelName.WEB, session)
    messages = await fetch_replies(service.db, session, after)
    if not messages and wait > 0:
        await service.coordinator.wait(topic, timeout=wait)
        messages = await fetch_replies(service.db, session, after)
    cursor = max([after] + [m["id"] for m in messages])
    return Replies(messages=[Reply(**m) for m in messages], cursor=cursor)
