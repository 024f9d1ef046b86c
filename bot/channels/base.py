"""The small interface every channel implements, and the results it reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.messages import OutboundMessage


class Outcome(StrEnum):
    """How a send attempt ended, which decides what the sender does next."""

    SENT = "sent"  # accepted by the platform
    RETRY = "retry"  # transient: try again later with backoff
    RATE_LIMITED = "rate_limited"  # 429: pause the whole channel for ``retry_after``
    FAILED = "failed"  # permanent for this message, contact still reachable
    UNREACHABLE = "unreachable"  # blocked, deactivated, invalid number: never retry


@dataclass(slots=True)
class SendResult:
    outcome: Outcome
    platform_id: str | None = None
    error_code: str | None = None
    retry_after: float = 0.0
    status: str = "sent"  # the delivery status to record on success


class Channel(Protocol):
    """A messaging platform seen from the sender: render and send one message."""

    name: str
    enabled: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, address: str, message: OutboundMessage) -> SendResult: ...


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
