"""The internal message types every channel converts to and from."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)

# The id of the quick reply ("Read it") on the notice templates that stand for a message
# outside WhatsApp's 24-hour window: a tap on it asks for what was kept, nothing more.
READ_PAYLOAD = "read"


class Kind(StrEnum):
    """What an inbound message carries, as far as the engine cares."""

    TEXT = "text"
    BUTTON = "button"  # a tap on one of our buttons; ``payload`` holds its id
    MEDIA = "media"  # photo, voice, sticker, document... we answer politely
    EDITED = "edited"  # an edit of an earlier message: ignored
    UNSUPPORTED = "unsupported"  # group chats, unknown update types: ignored
    STAFF = "staff"  # secretariat staff replying in their chat; ``payload``: the replied message


@dataclass(slots=True)
class InboundMessage:
    """One message from a member, whatever the platform."""

    channel: str
    platform_id: str  # unique per channel: Telegram update_id, Twilio MessageSid, web uuid
    address: str  # where replies go: chat id, whatsapp:+E164, web session id
    kind: Kind = Kind.TEXT
    text: str = ""
    payload: str | None = None
    lang_hint: str | None = None  # Telegram language_code
    country_hint: str | None = None  # ISO 3166 code derived from a phone number
    callback_id: str | None = None  # Telegram callback query to answer
    sender: str | None = None  # who pressed a button in a staff chat (a Telegram user id)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundMessage:
        data = dict(data)
        data.pop("request_id", None)  # stored beside the fields (bot/logs.py), not one of them
        data["kind"] = Kind(data.get("kind", "text"))
        return cls(**data)


@dataclass(slots=True)
class Button:
    """A choice offered to the member: a label and the payload it sends back."""

    label: str
    payload: str  # short ascii id; Telegram allows 64 bytes of callback_data
    url: str | None = None


def link_problem(url: str) -> str | None:
    """Why a button cannot open ``url``, or None. Telegram refuses a whole message whose
    button link is not an http(s) address of a public host (BUTTON_URL_INVALID), so the
    message would fail for every Telegram member."""
    if len(url) > 1000 or any(c.isspace() for c in url):
        return "a link has no spaces and at most 1,000 characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "a link starts with https:// or http://"
    host = parts.hostname or ""
    try:
        public = ipaddress.ip_address(host).is_global
    except ValueError:
        labels = host.split(".")
        public = (
            len(labels) >= 2
            and all(_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit()
        )
    return None if public else "a link names a public web site (not localhost or a local address)"


@dataclass(slots=True)
class OutboundMessage:
    """One message to a member; the channel renders it for its platform."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)  # rows of buttons
    image_url: str | None = None
    callback_id: str | None = None  # answers a Telegram callback query instead of sending
    notice: str | None = None  # short text shown with a callback answer
    choice_hint: str | None = None  # "reply with a number", for channels without buttons
    # The member's language, and the label of the button that opens a list of the choices
    # (WhatsApp): set with ``choice_hint``.
    locale: str | None = None
    picker: str | None = None
    more_choices: str | None = None  # above the rest of a long list, in a message of its own
    # An approved WhatsApp template (Twilio content SID), used instead when the member is
    # outside the 24-hour window as the message is about to go; its variable {{1}} carries a
    # short notice (``teaser``, else the first line of ``text``), and the full message
    # follows once the member answers.
    template: str | None = None
    teaser: str | None = None
    # Sent unasked (a broadcast): its options become the member's numbered choices only once
    # it is sent, so that "1" answers what they saw last.
    remember_choices: bool = False
    edit_message_id: int | None = None  # Telegram: replace the text of this earlier message
    # A file: ``filename``, a signed ``url`` to fetch it, and, where the platform needs an
    # upload (Telegram), its ``content``.
    document: dict[str, str] | None = None
    # Erased from the outbox once sent: a member's own data, or the goodbye to an erased member.
    ephemeral: bool = False
    # The goodbye to a member just erased: the web chat's page then forgets what it kept (the
    # member's typed messages in the browser's storage). Set by the erasure alone, never by a text.
    farewell: bool = False
    # The text itself says how to answer by typing (a survey's rating or multiple choice, where
    # a typed number is a value or several options): where the choices cannot be tapped they
    # are left out rather than numbered again.
    typed_in_text: bool = False

    def choices(self) -> list[Button]:
        return [b for row in self.buttons for b in row if b.url is None]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboundMessage:
        if not isinstance(data, dict):
            raise ValueError(f"a stored message is an object, not {type(data).__name__}")
        # What the outbox notes beside the message (e.g. "outside_window") is not part of it.
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        data["buttons"] = [[Button(**b) for b in row] for row in data.get("buttons") or []]
        return cls(**data)
