"""A member's message as the engine hands it to the dispatcher, without a database."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.conversation.router import Context
from bot.i18n import Translator
from bot.messages import InboundMessage, Kind
from bot.storage.models import Contact


def context(
    text: str = "",
    *,
    kind: Kind = Kind.TEXT,
    command: str | None = None,
    payload: str | None = None,
    flow: str | None = None,
    **contact: Any,
) -> Context:
    msg = InboundMessage("web", "m-1", "session-1", kind=kind, text=text, payload=payload)
    member = Contact(channel="web", address="session-1", flow=flow, flow_data={}, choices=[])
    for name, value in {"status": "active", "consent_version": "1", **contact}.items():
        setattr(member, name, value)
    settings = Settings(_env_file=None, privacy_version="1")  # type: ignore[call-arg]
    ctx = Context(msg=msg, contact=member, t=Translator("en"), settings=settings)
    ctx.command, ctx.payload = command, payload
    return ctx
