"""What the secretariat does to a broadcast, from whichever front end: each action keeps its
rules, records its audit entry, and names the worker to wake once the change has committed."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import lifecycle, series
from bot.broadcasts.audience import scoped
from bot.broadcasts.model import Audience, BroadcastError
from bot.broadcasts.plan import Preview, preview
from bot.broadcasts.sending import queue_test
from bot.broadcasts.texts import locales_written
from bot.coordination.keys import BROADCASTS, OUTBOX
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff
from bot.secretariat.staff_chat import test_chats
from bot.storage.models import Broadcast, Contact, utcnow

FINISHED = ("sent", "cancelled")

# The worker reads the database: woken before the transaction commits, it would find nothing
# new and sleep again. So an action returns the topic, and its caller notifies after commit.


@dataclass(frozen=True)
class Sent:
    """A broadcast launched: scheduled, or awaiting an administrator above the threshold."""

    status: str
    recipients: int
    wake: str = BROADCASTS


@dataclass(frozen=True)
class Tested:
    queued: int  # one message per locale
    wake: str = OUTBOX  # a test goes straight to the sender, ahead of the bulk


@dataclass(frozen=True)
class Cancelled:
    held_back: int  # messages that were queued and will not go
    wake: str = BROADCASTS


@dataclass(frozen=True)
class Stopped:
    cancelled: int  # occurrences made ahead that will not go
    wake: str = BROADCASTS


async def send(
    session: AsyncSession,
    broadcast: Broadcast,
    staff: Staff | None,
    *,
    approval_above: int | None,
    at: datetime | None = None,
    local_hour: int | None = None,
    counted: Preview | None = None,
    via: str | None = None,
) -> Sent:
    """Send now or at ``at`` (or at ``local_hour`` of each member's own day). ``counted`` is a
    preview the caller already made in this transaction; ``via`` names the front end when it
    is neither the dashboard nor the API."""
    recipients = (counted or await preview(session, broadcast, staff, {})).recipients
    status = await lifecycle.launch(
        session, broadcast, staff, audience_size=recipients, approval_above=approval_above,
        at=at.astimezone(UTC) if at else None, local_hour=local_hour,
    )  # fmt: skip
    await record(session, staff, "broadcast.send", f"broadcast:{broadcast.id}", status=status,
                 recipients=recipients, at=at.isoformat() if at else None,
                 local_hour=local_hour, repeat=broadcast.repeat, **_via(via))  # fmt: skip
    return Sent(status, recipients)


async def edited(
    session: AsyncSession,
    broadcast: Broadcast,
    staff: Staff | None,
    before: tuple[Any, ...] | None,
    *,
    approval_above: int | None,
) -> str:
    """After an edit of ``broadcast`` (``before`` is its ``lifecycle.content`` before): an
    approved one goes back to wait for an administrator, and a scheduled one whose audience
    has grown above the threshold waits for one too. Returns the status."""
    lifecycle.changed(broadcast, before)
    if broadcast.status == "scheduled" and approval_above is not None:
        recipients = (await preview(session, broadcast, staff, {})).recipients
        if lifecycle.lacks_approval(broadcast, recipients, approval_above):
            broadcast.status = "awaiting_approval"
    return broadcast.status


async def send_test(
    session: AsyncSession,
    broadcast: Broadcast,
    staff: Staff,
    member: Contact,
    labels: dict[str, str],
    locale: str | None = None,
) -> Tested:
    """The broadcast, marked as a test, to one chat (the author's own): in ``locale``, or
    once in each language written. ``labels`` are the "tell me more" buttons' per locale.
    A test needs no approval, so it goes only to a staff member's own linked chats, never
    to a member's."""
    if member.id not in await test_chats(session, staff):
        raise BroadcastError(
            "not_own", "a test goes to your own chat: link your Telegram (API tokens page)"
        )
    locales = [locale] if locale else locales_written(broadcast)
    queued = queue_test(session, broadcast, member, locales, labels)
    await record(session, staff, "broadcast.test", f"broadcast:{broadcast.id}", member=member.id)
    return Tested(queued)


async def approve(session: AsyncSession, broadcast: Broadcast, staff: Staff) -> str:
    """An administrator other than its author lets a large broadcast go; returns the topic to
    notify."""
    await lifecycle.approve(session, broadcast, staff)
    await record(session, staff, "broadcast.approve", f"broadcast:{broadcast.id}")
    return BROADCASTS


async def cancel(
    session: AsyncSession, broadcast: Broadcast, staff: Staff | None, **detail: Any
) -> Cancelled:
    """Hold back what has not gone yet. ``detail`` adds to the audit entry (the survey whose
    invitation this is); without ``staff`` (from the command line) the entry names the
    system."""
    held = await lifecycle.cancel(session, broadcast)
    await record(session, staff, "broadcast.cancel", f"broadcast:{broadcast.id}", **detail,
                 held_back=held)  # fmt: skip
    return Cancelled(held)


async def stop_series(
    session: AsyncSession, broadcast: Broadcast, staff: Staff | None, *, via: str | None = None
) -> Stopped:
    """No further occurrence of the broadcast's series; one already sending goes on."""
    held = await series.stop(session, broadcast)
    await record(session, staff, "broadcast.stop_series", f"broadcast:{broadcast.id}",
                 series=series.head_id(broadcast), cancelled=held, **_via(via))  # fmt: skip
    return Stopped(held)


async def follow_up(session: AsyncSession, broadcast: Broadcast, staff: Staff) -> Broadcast:
    """A new draft, for the author to check and send, to those a finished broadcast did not
    reach and who can be reached now."""
    if broadcast.status not in FINISHED:
        raise BroadcastError(
            "not_finished", "wait until the broadcast has finished or is cancelled"
        )
    again = await lifecycle.follow_up(session, broadcast, staff.id)
    await record(session, staff, "broadcast.follow_up", f"broadcast:{again.id}",
                 parent=broadcast.id)  # fmt: skip
    return again


async def duplicate(
    session: AsyncSession, broadcast: Broadcast, staff: Staff, title: str | None = None
) -> Broadcast:
    """A new draft with ``broadcast``'s texts, translations, image, buttons, audience,
    templates, reply window and repeat rule, from any broadcast, sent or not. It is nobody's
    approved or scheduled broadcast: it waits for its author to check it and send it."""
    audience = scoped(Audience.from_json(broadcast.audience), staff).to_json()
    head = broadcast if broadcast.repeat_of is None else None
    copy = lifecycle.copied(broadcast, audience=audience, created_by=staff.id,
                            title=(broadcast.title if title is None else title)[:200])  # fmt: skip
    if head is not None and head.repeat:
        until = head.repeat_until
        if until is not None and until < utcnow().date():
            until = None  # an end already past: the author chooses again
        with suppress(BroadcastError):  # a rule no longer possible: it goes once
            series.set_rule(copy, head.repeat, until=until, times=head.repeat_times,
                            zone=head.repeat_zone or "UTC")  # fmt: skip
    session.add(copy)
    await session.flush()
    await record(session, staff, "broadcast.duplicate", f"broadcast:{copy.id}",
                 source=broadcast.id)  # fmt: skip
    return copy


def _via(front_end: str | None) -> dict[str, str]:
    return {"via": front_end} if front_end else {}
