"""A broadcast's way from draft to sent: launch, approval, cancelling, a follow-up and copies."""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.broadcasts import repeats
from bot.broadcasts.model import DELIVERED, Audience, BroadcastError
from bot.broadcasts.texts import check
from bot.secretariat.staff import Staff
from bot.storage.models import Broadcast, Contact, Delivery, utcnow
from bot.storage.outbox import Rank


async def launch(
    session: AsyncSession,
    broadcast: Broadcast,
    staff: Staff | None,
    *,
    audience_size: int,
    approval_above: int | None,
    at: datetime | None = None,
    local_hour: int | None = None,
) -> str:
    """Send now or at ``at`` (optionally at ``local_hour`` of each member's own day). A
    broadcast to more than ``approval_above`` members waits for an administrator first.
    Returns the new status."""
    if broadcast.status not in ("draft", "scheduled"):
        raise BroadcastError("not_draft", f"this broadcast is already {broadcast.status}")
    problems = check(broadcast)
    if problems:
        raise problems[0]
    if local_hour is not None and not 0 <= local_hour <= 23:
        raise BroadcastError("local_hour", "the local hour must be between 0 and 23")
    if staff is not None and staff.country is not None:
        # A coordinator's broadcast stays within their country, whatever the filter says.
        audience = Audience.from_json(broadcast.audience)
        audience.countries = [staff.country]
        broadcast.audience = audience.to_json()
    if broadcast.status == "scheduled" and (broadcast.scheduled_at, broadcast.local_hour) != (
        at,
        local_hour,
    ):
        broadcast.approved_by = None  # approved to go at another time
    broadcast.scheduled_at = at
    broadcast.local_hour = local_hour
    if broadcast.repeat_of is None:
        _start_series(broadcast, at or utcnow())
    if lacks_approval(broadcast, audience_size, approval_above):
        broadcast.status = "awaiting_approval"
    else:
        broadcast.status = "scheduled"
    return broadcast.status


def _start_series(broadcast: Broadcast, first: datetime) -> None:
    """A repeating broadcast becomes the first occurrence of its series; its next one is made
    once it is due. A one-off one is no series."""
    until = broadcast.repeat_until
    if broadcast.repeat and until is not None:
        if first.astimezone(repeats.zone_of(broadcast.repeat_zone)).date() > until:
            raise BroadcastError("repeat_until", "the series would end before it starts")
    broadcast.occurrence = 1 if broadcast.repeat else None
    broadcast.repeat_pending = bool(broadcast.repeat)
    broadcast.repeat_stopped_at = None


async def approve(session: AsyncSession, broadcast: Broadcast, staff: Staff) -> None:
    """A second person, an administrator, lets a large broadcast go."""
    if not staff.is_admin:
        raise BroadcastError("not_admin", "only an administrator can approve a broadcast")
    if broadcast.status != "awaiting_approval":
        raise BroadcastError("not_waiting", "this broadcast is not waiting for approval")
    if broadcast.created_by == staff.id:
        raise BroadcastError("own", "someone other than its author must approve it")
    broadcast.approved_by = staff.id
    broadcast.status = "scheduled"


async def cancel(session: AsyncSession, broadcast: Broadcast) -> int:
    """Stop what has not gone yet; returns the number of messages held back."""
    if broadcast.status in ("sent", "cancelled"):
        raise BroadcastError("finished", "this broadcast has already finished")
    if broadcast.repeat_of is None and broadcast.occurrence and broadcast.started_at is None:
        # A series goes on from its first broadcast: when that never went, nothing follows.
        broadcast.repeat_pending = False
        broadcast.repeat_stopped_at = utcnow()
    broadcast.status = "cancelled"
    broadcast.cancelled_at = utcnow()
    result = await session.execute(
        update(Delivery)
        .where(Delivery.broadcast_id == broadcast.id, Delivery.status == "queued")
        .values(status="cancelled", status_rank=Rank.FINAL)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


# What an approval is given for: a change to any of these after it needs a new one.
APPROVED_CONTENT = (
    "title", "base_locale", "texts", "image_url", "buttons", "audience", "templates",
    "scheduled_at", "local_hour", "repeat", "repeat_until", "repeat_times", "repeat_zone",
)  # fmt: skip


def content(broadcast: Broadcast) -> tuple[Any, ...]:
    """What would go out, to whom and when: compare it before and after an edit."""
    return tuple(deepcopy(getattr(broadcast, name)) for name in APPROVED_CONTENT)


def changed(broadcast: Broadcast, before: tuple[Any, ...] | None = None) -> bool:
    """After an edit: what was approved is not what will be sent. A scheduled broadcast that
    an administrator approved goes back to wait for one; one waiting goes back to draft.
    ``before`` is its ``content`` before the edit: an edit that changed nothing keeps the
    approval. Returns whether it has to be approved (again)."""
    if before is not None and content(broadcast) == before:
        return False
    was_approved = broadcast.approved_by is not None
    broadcast.approved_by = None
    if broadcast.status == "awaiting_approval":
        broadcast.status = "draft"
    elif broadcast.status == "scheduled" and was_approved:
        broadcast.status = "awaiting_approval"
        return True
    return False


def lacks_approval(broadcast: Broadcast, audience_size: int, approval_above: int | None) -> bool:
    """Whether ``broadcast`` may not go as it stands: above the threshold and nobody approved
    it. Every front end asks before launching; the broadcaster asks again before sending."""
    return (
        approval_above is not None
        and audience_size > approval_above
        and broadcast.approved_by is None
    )


async def follow_up(session: AsyncSession, broadcast: Broadcast, author: int | None) -> Broadcast:
    """A new draft for those who did not receive ``broadcast`` and can be reached now (not
    those who got it on another of their linked chats)."""
    got_it = aliased(Delivery)
    sibling = aliased(Contact)
    reached_elsewhere = (
        select(got_it.id)
        .join(sibling, sibling.id == got_it.contact_id)
        .where(
            got_it.broadcast_id == broadcast.id,
            got_it.status.in_(DELIVERED),
            sibling.person_id == Contact.person_id,
        )
        .exists()
    )
    failed = (
        await session.scalars(
            select(Delivery.contact_id)
            .join(Contact, Contact.id == Delivery.contact_id)
            .where(
                Delivery.broadcast_id == broadcast.id,
                Delivery.status.in_(("failed", "undelivered", "skipped", "cancelled")),
                Contact.status == "active",
                Contact.unreachable_at.is_(None),
                Contact.person_id.is_(None) | ~reached_elsewhere,
            )
        )
    ).all()
    if not failed:
        raise BroadcastError("nobody", "everyone who can be reached has received it")
    audience = Audience.from_json(broadcast.audience)
    audience.contact_ids = sorted({i for i in failed if i is not None})
    again = copied(broadcast, audience=audience.to_json(), parent_id=broadcast.id,
                   created_by=author)  # fmt: skip
    session.add(again)
    await session.flush()
    return again


def copied(broadcast: Broadcast, **changes: Any) -> Broadcast:
    """A new draft with ``broadcast``'s title, texts, image, buttons, audience and templates as
    they are now; ``changes`` set the rest (another audience, its place in a series...)."""
    values: dict[str, Any] = {
        "title": broadcast.title,
        "status": "draft",
        "base_locale": broadcast.base_locale,
        "texts": deepcopy(broadcast.texts or {}),
        "image_url": broadcast.image_url,
        "buttons": deepcopy(broadcast.buttons or []),
        "audience": deepcopy(broadcast.audience or {}),
        "templates": dict(broadcast.templates or {}),
        "collect_replies_hours": broadcast.collect_replies_hours or 0,
        "expanded_to": 0,
    }
    return Broadcast(**(values | changes))
