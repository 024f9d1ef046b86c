"""What the fast broadcast tests share: staff, members and broadcasts built in a line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot import broadcasts
from bot.broadcasts import Audience
from bot.secretariat.staff import Staff
from bot.storage.models import Broadcast, Contact, utcnow

ADMIN = Staff(1, "admin@example.org", "Ana", "admin", None, "en")
OTHER_ADMIN = Staff(2, "second@example.org", "Ion", "admin", None, "en")
MD_EDITOR = Staff(3, "md@example.org", "Maria", "editor", "MD", "ro")
RECENT = utcnow() - timedelta(hours=1)


def member(address: str, **fields: Any) -> Contact:
    channel = "whatsapp" if address.startswith("whatsapp:") else "telegram"
    values = {"channel": channel, "address": address, "status": "active", "locale": "ro",
              "country": "MD", "consent_version": "1", "flow_data": {}, "choices": [],
              "last_inbound_at": RECENT} | fields  # fmt: skip
    return Contact(**values)


def broadcast(audience: Audience | None = None, **fields: Any) -> Broadcast:
    values = {"title": "Annual meeting", "base_locale": "en", "texts": {}, "buttons": [],
              "audience": (audience or Audience()).to_json(), "templates": {},
              "created_by": ADMIN.id} | fields  # fmt: skip
    status = values.pop("status", "draft")
    broadcast = Broadcast(**values, status="draft")
    broadcasts.set_text(broadcast, "en", "The annual meeting is on 3 June in Chisinau.")
    broadcasts.set_text(broadcast, "ro", "Adunarea anuală are loc pe 3 iunie la Chișinău.")
    broadcast.status = status
    return broadcast


async def add(session, *rows: Any) -> None:  # type: ignore[no-untyped-def]
    session.add_all(rows)
    await session.flush()


async def audience(session, audience: Audience, staff: Staff | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    return [c.id for c in await session.scalars(broadcasts.audience_query(audience, staff))]
