"""The small interface every channel implements: its name, what it can show, how it sends and
how it reads a platform's webhooks, and the results it reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from bot.messages import InboundMessage, OutboundMessage


class ChannelName(StrEnum):
    """The channels a contact can be on, as stored in ``contacts.channel`` and the outbox."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WEB = "web"  # the /chat page
    TERMINAL = "terminal"  # ``childpact chat``


# Where members are; the terminal is the operator trying the bot out.
MEMBER_CHANNELS = (ChannelName.TELEGRAM, ChannelName.WHATSAPP, ChannelName.WEB)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform can show and take, so that features ask this instead of its name."""

    buttons: bool  # inline buttons; without them choices go as numbered lines to reply to
    text_limit: int  # characters in one message
    caption_limit: int  # characters of the text sent with an image
    reply_window: timedelta | None  # how long after a member wrote we may write freely
    # File types the platform fetches from a link; None: any, the chat shows the link itself.
    document_by_link: frozenset[str] | None
    typed_commands: bool  # commands are typed as ``/stop``; elsewhere as a word
    reads_outbox: bool  # the chat fetches its messages from the outbox, so links may be relative
    # Choices can be tapped though the chat has no inline buttons (WhatsApp's quick replies and
    # lists): offered as taps, and typed as the text explains where they cannot be.
    choice_taps: bool = False

    def takes_by_link(self, file_type: str) -> bool:
        return self.document_by_link is None or file_type in self.document_by_link


class Outcome(StrEnum):
    """How a send attempt ended, which decides what the sender does next."""

    SENT = "sent"  # accepted by the platform
    RETRY = "retry"  # transient: try again later with backoff
    RATE_LIMITED = "rate_limited"  # 429: pause the channel (or the chat) for ``retry_after``
    FAILED = "failed"  # permanent for this message, contact still reachable
    UNREACHABLE = "unreachable"  # blocked, deactivated, invalid number: never retry
    HELD = "held"  # outside the platform's window with no template: kept until they write


@dataclass(slots=True)
class SendResult:
    outcome: Outcome
    platform_id: str | None = None
    error_code: str | None = None
    retry_after: float = 0.0
    status: str = "sent"  # the delivery status to record on success
    # A 429 that concerns this chat alone (a group over its own limit): the chat waits,
    # the channel goes on.
    chat_only: bool = False
    # The chat now lives at this address (a Telegram group that became a supergroup): the
    # message went there, and later ones should too.
    moved_to: str | None = None
    # Outside the platform's window the notice template went instead: the full message is
    # kept for when the member answers, and the choices it offers are not theirs yet.
    templated: bool = False
    # The platform's own id of the photo it stored from the message's image URL (Telegram's
    # file_id): later messages with the same photo name it rather than the URL.
    file_id: str | None = None


# Set by the sender around one send. A channel that makes more than one platform message of
# one outbox message (a photo, then the text too long for its caption) awaits
# ``next_message_turn()`` before each after the first: each takes its own turn under the
# platform's limits.
_next_turn: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar(
    "next_message_turn", default=None
)


def pace_further_messages(turn: Callable[[], Awaitable[None]] | None) -> object:
    """Set what ``next_message_turn`` awaits in this task; returns the token to reset it."""
    return _next_turn.set(turn)


async def next_message_turn() -> None:
    turn = _next_turn.get()
    if turn is not None:
        await turn()


class Channel(Protocol):
    """A messaging platform seen from the sender: render and send one message."""

    name: str
    enabled: bool
    capabilities: Capabilities

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, address: str, message: OutboundMessage) -> SendResult: ...


@runtime_checkable
class InboundChannel(Channel, Protocol):
    """A channel whose platform calls our webhooks: check the call is the platform's, then read
    a message or a delivery status out of it."""

    def verify(self, url: str, headers: Mapping[str, str], form: Mapping[str, str]) -> bool:
        """Whether the call came from the platform; ``url`` is the public URL it called and
        ``form`` the form fields it posted (empty for a JSON body)."""
        ...

    def parse(self, data: Any) -> InboundMessage | None: ...

    def parse_status(self, form: Mapping[str, str]) -> tuple[str, str, str | None]:
        """``(platform message id, status, error code or None)``; ``ValueError`` when the call
        is not a status report."""
        ...


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph, else a line, else a word."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut, skip = limit, 0
        for separator, shortest in (("\n\n", limit // 2), ("\n", limit // 2), (" ", 1)):
            at = rest.rfind(separator, 1, limit + len(separator))
            if at >= shortest:
                cut, skip = at, len(separator)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut + skip :].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def as_text(message: OutboundMessage) -> str:
    """A message for a chat without buttons: links as "Label: url" lines, choices as numbered
    lines, then the hint."""
    parts = [message.text.strip()] if message.text.strip() else []
    links = [b for row in message.buttons for b in row if b.url]
    if links:
        parts.append("\n".join(f"{b.label}: {b.url}" for b in links))
    choices = [] if message.typed_in_text else message.choices()
    if choices:
        parts.append("\n".join(f"{n}. {b.label}" for n, b in enumerate(choices, start=1)))
        hint = getattr(message, "choice_hint", None)  # set by the engine for button-less channels
        if hint:
            parts.append(hint)
    return "\n\n".join(parts)


def pieces(message: OutboundMessage, capabilities: Capabilities) -> list[str]:
    """The texts a member reads of ``message`` on a channel that can do what ``capabilities``
    says, one per message sent."""
    text = message.text if capabilities.buttons else as_text(message)
    return split_text(text, capabilities.text_limit)
