"""Putting a broadcast into the outbox page by page, and reading how far its sending has got."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts.audience import audience_query, excluded_members
from bot.broadcasts.model import PAGE, Audience
from bot.broadcasts.plan import People
from bot.broadcasts.quiet import QuietHours
from bot.broadcasts.texts import message_for, test_message
from bot.storage import outbox
from bot.storage.models import Broadcast, Contact, Delivery, utcnow


async def expand(
    session: AsyncSession,
    broadcast: Broadcast,
    tell_me_more: dict[str, str],
    *,
    page: int = PAGE,
    quiet: QuietHours | None = None,
    now: datetime | None = None,
    hints: dict[str, str] | None = None,
) -> int:
    """Put the next page of the audience into the outbox; returns how many members it took
    (0 when the audience is all there). Safe to repeat after a crash: a member has at most
    one row per broadcast, and the page resumes after the last member written."""
    now = now or utcnow()
    audience = Audience.from_json(broadcast.audience)
    excluded = await excluded_members(session, audience)
    author = None  # the scope was applied when the audience was saved
    contacts = (
        await session.scalars(
            audience_query(audience, author).where(Contact.id > broadcast.expanded_to).limit(page)
        )
    ).all()
    if not contacts:
        return 0
    # A linked person gets one row, on the address chosen for them; it may lie on a later page.
    linked = {c.person_id for c in contacts if c.person_id is not None}
    people = await People.load(session, audience_query(audience, author), linked)
    if linked:
        people.done = set(
            await session.scalars(
                select(Contact.person_id)
                .join(Delivery, Delivery.contact_id == Contact.id)
                .where(Delivery.broadcast_id == broadcast.id, Contact.person_id.in_(linked))
            )
        )
    copies: list[outbox.BroadcastCopy] = []
    messages: dict[str, dict[str, Any]] = {}
    for contact in contacts:
        member = people.choose(broadcast, contact, now, excluded, quiet)
        if member is None:
            continue
        contact = member.contact
        if member.locale not in messages:
            messages[member.locale] = message_for(
                broadcast, member.locale, tell_me_more.get(member.locale),
                (hints or {}).get(member.locale),
            ).to_json()  # fmt: skip
        message = dict(messages[member.locale])
        if member.template:
            message["template"] = member.template
        copies.append(
            outbox.BroadcastCopy(contact, member.locale, message, member.due_at, member.skip)
        )
    await outbox.enqueue_broadcast(session, broadcast.id, copies, now)
    broadcast.expanded_to = contacts[-1].id
    return len(contacts)


async def progress(session: AsyncSession, broadcast_id: int) -> dict[str, Any]:
    """Where the broadcast's messages are: totals by status, and by channel and locale."""
    found = (
        await session.execute(
            select(Delivery.status, Delivery.channel, Delivery.locale, func.count())
            .where(Delivery.broadcast_id == broadcast_id)
            .group_by(Delivery.status, Delivery.channel, Delivery.locale)
        )
    ).all()
    totals: Counter[str] = Counter()
    by_channel: dict[str, Counter[str]] = {}
    by_locale: dict[str, Counter[str]] = {}
    for status, channel, locale, count in found:
        status = "queued" if status == "sending" else status
        totals[status] += count
        by_channel.setdefault(channel, Counter())[status] += count
        by_locale.setdefault(locale or "", Counter())[status] += count
    total = sum(totals.values())
    finished = total - totals["queued"]
    return {
        "total": total,
        "statuses": dict(totals),
        "by_channel": {k: dict(v) for k, v in by_channel.items()},
        "by_locale": {k: dict(v) for k, v in by_locale.items()},
        "done_share": finished / total if total else 0.0,
    }


async def finish_if_done(session: AsyncSession, broadcast: Broadcast) -> bool:
    """A sending broadcast whose audience is all in the outbox and nothing waits is sent."""
    if broadcast.status != "sending" or broadcast.expanded_at is None:
        return False
    waiting = await session.scalar(
        select(Delivery.id)
        .where(
            Delivery.broadcast_id == broadcast.id,
            Delivery.status.in_(("queued", "sending")),
        )
        .limit(1)
    )
    if waiting is not None:
        return False
    broadcast.status = "sent"
    broadcast.finished_at = utcnow()
    return True


def queue_test(
    session: AsyncSession,
    broadcast: Broadcast,
    member: Contact,
    locales: list[str],
    labels: dict[str, str],
) -> int:
    """Put the broadcast, marked as a test, in the outbox for one chat (the author's own),
    once per locale, ahead of the bulk; returns how many messages."""
    for locale in locales:
        message = test_message(broadcast, locale, labels.get(locale))
        outbox.enqueue(session, member, message, locale=locale)
    return len(locales)


async def done_shares(session: AsyncSession, ids: list[int]) -> dict[int, tuple[int, float]]:
    """For a list of broadcasts: how many messages each has, and the share no longer queued."""
    if not ids:
        return {}
    found = await session.execute(
        select(Delivery.broadcast_id, Delivery.status, func.count())
        .where(Delivery.broadcast_id.in_(ids))
        .group_by(Delivery.broadcast_id, Delivery.status)
    )
    counts: dict[int, list[int]] = {}
    for broadcast_id, status, count in found.all():
        counts.setdefault(broadcast_id, [0, 0])[status in ("queued", "sending")] += count
    return {i: (done + waiting, done / (done + waiting)) for i, (done, waiting) in counts.items()}
