"""What a broadcast is made of: its audience, its statuses, the errors the secretariat sees."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_

from bot.i18n import normalize_locale
from bot.storage.models import Broadcast

PAGE = 500  # members turned into outbox rows per transaction
DELIVERED = ("sent", "delivered", "read")
EDITABLE = ("draft", "awaiting_approval", "scheduled")

# Why a member of the audience gets nothing. The preview counts these; the outbox keeps them
# as "skipped" rows, so the progress adds up to the audience.
SKIP_REASONS = ("stopped", "unreachable", "no_template", "excluded")


class BroadcastError(ValueError):
    """What the secretariat must change; ``code`` is stable for the dashboard to translate."""

    def __init__(self, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


def digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:16]


@dataclass
class Audience:
    """Who a broadcast is for: everyone, or those matching every filter that is set."""

    countries: list[str] = field(default_factory=list)
    locales: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    exclude_broadcasts: list[int] = field(default_factory=list)  # not those who got these
    topics: list[str] = field(default_factory=list)  # those who receive any of these topics
    contact_ids: list[int] = field(default_factory=list)  # a follow-up's own list

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience:
        data = data or {}
        return cls(
            countries=[str(c).upper() for c in data.get("countries") or []],
            locales=[normalize_locale(str(x)) or str(x) for x in data.get("locales") or []],
            channels=[str(c) for c in data.get("channels") or []],
            organisations=[str(o) for o in data.get("organisations") or []],
            exclude_broadcasts=[int(i) for i in data.get("exclude_broadcasts") or []],
            topics=[str(k) for k in data.get("topics") or []],
            contact_ids=[int(i) for i in data.get("contact_ids") or []],
        )


def due(now: datetime) -> Any:
    """Broadcasts a worker should move on: scheduled and due, or sending and not finished."""
    return and_(
        Broadcast.status.in_(("scheduled", "sending")),
        (Broadcast.scheduled_at.is_(None)) | (Broadcast.scheduled_at <= now),
    )
