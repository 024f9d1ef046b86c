"""When a broadcast cannot reach a linked member on the chat chosen for them (blocked, an
invalid number, a permanent error), it goes to their next chat instead, once."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts.model import Audience
from bot.broadcasts.plan import plan
from bot.broadcasts.texts import message_for
from bot.i18n import Translator
from bot.members import linking
from bot.storage import outbox
from bot.storage.models import Broadcast, Contact, Delivery, Person, utcnow

log = logging.getLogger(__name__)


async def deliver_elsewhere(session: AsyncSession, lost: Iterable[tuple[int, int]]) -> int:
    """For each (broadcast, contact) that failed for good: queue the broadcast for another
    chat of the same person that can take it, unless one of their chats already has it.
    Returns how many were queued again."""
    queued = 0
    for broadcast_id, contact_id in sorted(set(lost)):
        broadcast = await session.get(Broadcast, broadcast_id)
        contact = await session.get(Contact, contact_id)
        if broadcast is None or broadcast.status == "cancelled" or contact is None:
            continue
        if contact.person_id is None:
            continue
        if await _next_chat(session, broadcast, contact):
            queued += 1
    if queued:
        log.info("%d broadcast messages go to the members' other chats", queued)
    return queued


async def _next_chat(session: AsyncSession, broadcast: Broadcast, contact: Contact) -> bool:
    rest = [c for c in await linking.person_contacts(session, contact) if c.id != contact.id]
    if not rest:
        return False
    has_it = await session.scalar(
        select(Delivery.id)
        .where(
            Delivery.broadcast_id == broadcast.id,
            Delivery.contact_id.in_([c.id for c in rest]),
        )
        .limit(1)
    )
    if has_it is not None:
        return False
    person = await session.get(Person, contact.person_id)
    audience = Audience.from_json(broadcast.audience)
    now = utcnow()
    for other in linking.ordered(rest, person.preferred_channel if person else None):
        if audience.channels and other.channel not in audience.channels:
            continue
        found = plan(broadcast, other, now, frozenset())
        if found is None or found.skip:
            continue
        t = Translator(found.locale)
        message = message_for(
            broadcast,
            found.locale,
            t("Tell me more"),
            outbox.choice_hint(t),
        ).to_json()
        if found.template:
            message["template"] = found.template
        copy = outbox.BroadcastCopy(other, found.locale, message, due_at=found.due_at)
        await outbox.enqueue_broadcast(session, broadcast.id, [copy], now)
        return True
    return False
