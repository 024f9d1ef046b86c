"""The outbox: the one place that queues a message, numbers its choices and ranks its status."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import logs
from bot.messages import OutboundMessage
from bot.storage.models import Broadcast, ChatMove, Contact, Delivery, utcnow

# Priorities: lower goes first, so a member's reply never waits behind a broadcast.
CALLBACK = 0  # the answer that stops the spinner on a tapped Telegram button
REPLY = 1  # a reply to a member, or a message to a staff chat
BULK = 5  # broadcasts


class Rank:
    """Where a delivery stands, as a number that only grows: a status report may only move a
    delivery forward (a late "sent" never overwrites "read")."""

    QUEUED = 0
    SENDING = 1
    SENT = 2
    DELIVERED = 3
    READ = 4
    FINAL = 5  # failed, undelivered, skipped or cancelled: nothing moves it any more


STATUS_RANK = {
    "queued": Rank.QUEUED, "sending": Rank.SENDING, "sent": Rank.SENT,
    "delivered": Rank.DELIVERED, "read": Rank.READ,
    "failed": Rank.FINAL, "undelivered": Rank.FINAL, "skipped": Rank.FINAL,
    # Kept until the member writes: outside WhatsApp's window, the full text behind the notice
    # template (or with no template to carry it). Never claimed; ``release_held`` queues it.
    "held": Rank.QUEUED,
    # A platform's status report that came before the send was recorded (no chat, never
    # claimed): applied, then removed, when the sender records the send.
    "early": Rank.FINAL,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat to write to that is not a member's own profile: the secretariat's or the
    safeguarding chat, or a member's chat once their profile is being erased."""

    channel: str
    address: str
    contact_id: int | None = None


def enqueue(
    session: AsyncSession,
    to: Contact | Chat,
    message: OutboundMessage,
    *,
    priority: int = REPLY,
    inbound_id: int | None = None,
    t: Callable[[str], str] | None = None,
    locale: str | None = None,
) -> Delivery:
    """Put one message in the outbox, in ``session``'s transaction, for the sender to deliver.

    With the member's translator ``t``, a message that offers options numbers them: they
    become the member's choices (see ``remember_choices``); one without options leaves the
    member's choices as they were.
    """
    if t is not None and isinstance(to, Contact) and message.choices():
        remember_choices(to, [message], t)
    contact_id = to.id if isinstance(to, Contact) else to.contact_id
    row = Delivery(
        contact_id=contact_id,
        inbound_id=inbound_id,
        channel=to.channel,
        address=to.address,
        priority=priority,
        message=logs.stamp(message.to_json()),  # the id of the request this answers, if any
        locale=locale,
    )
    session.add(row)
    return row


# Core, not the unit of work: one statement for all of a message's replies, compiled once.
OUTBOX_INSERT = Delivery.__table__.insert()


def columns(
    to: Contact | Chat,
    message: OutboundMessage,
    *,
    priority: int = REPLY,
    inbound_id: int | None = None,
) -> dict[str, Any]:
    """One outbox row's columns, for ``enqueue_all``."""
    return {
        "contact_id": to.id if isinstance(to, Contact) else to.contact_id,
        "inbound_id": inbound_id,
        "channel": to.channel,
        "address": to.address,
        "priority": priority,
        "message": logs.stamp(message.to_json()),  # the id of the request this answers, if any
        "locale": None,
    }


async def enqueue_all(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Put messages (``columns``) in the outbox in one statement, in order: after whatever
    ``session`` was about to write, which goes first as it came first."""
    if not rows:
        return
    if session.new:
        await session.flush()
    await session.execute(OUTBOX_INSERT, list(rows))


@dataclass(frozen=True, slots=True)
class BroadcastCopy:
    """One member's copy of a broadcast: in their locale, on the chat chosen for them, sent
    from ``due_at`` (epoch seconds), or recorded as skipped with the reason ``skip``."""

    contact: Contact
    locale: str
    message: dict[str, Any]
    due_at: float = 0.0
    skip: str | None = None


async def enqueue_broadcast(
    session: AsyncSession, broadcast_id: int, copies: Sequence[BroadcastCopy], now: datetime
) -> None:
    """Put a broadcast's copies in the outbox behind every reply, at most one per member: a
    page written again after a crash adds nothing."""
    rows = [
        {
            "contact_id": copy.contact.id,
            "broadcast_id": broadcast_id,
            "locale": copy.locale,
            "channel": copy.contact.channel,
            "address": copy.contact.address,
            "priority": BULK,
            "message": copy.message,
            "status": "skipped" if copy.skip else "queued",
            "status_rank": Rank.FINAL if copy.skip else Rank.QUEUED,
            "error_code": copy.skip,
            "attempts": 0,
            "due_at": copy.due_at,
            "created_at": now,
            "updated_at": now,
        }
        for copy in copies
    ]
    if not rows:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    once = insert(Delivery).on_conflict_do_nothing(index_elements=["broadcast_id", "contact_id"])
    await session.execute(once, rows)


def remember_choices(
    contact: Contact,
    messages: Sequence[OutboundMessage],
    t: Callable[[str], str],
    choices: list[str] | None = None,
) -> None:
    """What a member who types rather than taps may answer with a number: every message that
    offers options says so, and the member's choices become ``choices``, or else the options
    of the last message that offers any (none, when none does).

    Call it before the messages are queued: the hint is part of the stored message.
    """
    offering = [message for message in messages if message.choices()]
    hint = choice_hint(t)
    # A WhatsApp list opens with a button: "Choose", in the member's language.
    picker, more = t("Choose"), t("More choices:")
    locale = getattr(t, "locale", None)
    for message in offering:
        message.choice_hint, message.picker, message.more_choices = hint, picker, more
        message.locale = message.locale or locale
    if choices is None:
        choices = (
            [choice_entry(b.payload, b.label) for b in offering[-1].choices()] if offering else []
        )
    contact.choices = choices


# A kept choice: its payload, then the label the member saw after this mark, so that a typed
# answer may name the option by its words as well as its number.
CHOICE_MARK = "\n"


def choice_entry(payload: str, label: str) -> str:
    return f"{payload}{CHOICE_MARK}{label}"


def choice_hint(t: Callable[[str], str]) -> str:
    """What a member on a chat without buttons reads under numbered options."""
    return t("Reply with the number of your choice.")


async def mark_unreachable(
    session: AsyncSession, contact_ids: Collection[int]
) -> list[tuple[int, int]]:
    """The members blocked the bot or cannot be reached: mark them, and skip what is queued
    for them, which would only fail the same way. Returns the (broadcast, member) pairs of
    the broadcasts skipped, which a linked chat may still deliver."""
    await session.execute(
        update(Contact).where(Contact.id.in_(contact_ids)).values(unreachable_at=utcnow())
    )
    skipped = await session.execute(
        update(Delivery)
        .where(Delivery.contact_id.in_(contact_ids), Delivery.status == "queued")
        .values(status="skipped", status_rank=Rank.FINAL, error_code="unreachable")
        .returning(Delivery.broadcast_id, Delivery.contact_id)
    )
    return [(b, c) for b, c in skipped.all() if b and c]


async def record_move(session: AsyncSession, channel: str, address: str, moved_to: str) -> None:
    """Keep that the chat ``address`` lives at ``moved_to`` now (a group became a supergroup)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    values = {"channel": channel, "address": address, "moved_to": moved_to, "moved_at": utcnow()}
    await session.execute(
        insert(ChatMove)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["channel", "address"],
            set_={"moved_to": moved_to, "moved_at": values["moved_at"]},
        )
    )


async def chat_moves(session: AsyncSession) -> list[ChatMove]:
    """Every chat that moved, the latest first."""
    found = await session.scalars(select(ChatMove).order_by(ChatMove.moved_at.desc()))
    return list(found.all())


def hold(row_message: dict[str, Any], contact_id: int, channel: str, address: str) -> Delivery:
    """The full message a notice template stood for, kept for when the member answers; its
    choices become theirs once it is sent (not when the template went)."""
    message = {key: value for key, value in row_message.items() if key != "outside_window"}
    message["template"] = None
    if any(not b.get("url") for line in message.get("buttons") or [] for b in line):
        message["remember_choices"] = True
    return Delivery(
        contact_id=contact_id,
        channel=channel,
        address=address,
        priority=REPLY,
        message=message,
        status="held",
        status_rank=Rank.QUEUED,
        error_code="outside_window",
    )


async def release_held(session: AsyncSession, contact: Contact) -> int:
    """The member wrote: what was kept for them goes now, before any answer to what they
    wrote (it is older and as urgent). Returns how many."""
    held = list(
        await session.scalars(
            select(Delivery).where(
                Delivery.channel == contact.channel,
                Delivery.address == contact.address,
                Delivery.status == "held",
            )
        )
    )
    for row in held:
        row.message = {k: v for k, v in (row.message or {}).items() if k != "outside_window"}
        row.status, row.status_rank, row.due_at = "queued", Rank.QUEUED, 0.0
        row.priority, row.error_code = REPLY, None
    return len(held)


# A status report kept for a send never recorded (the process stopped before writing it
# down, or the message was not ours) is dropped after this long (``drop_unmatched_reports``).
EARLY_REPORT_HOURS = 24


def ephemeral() -> ColumnElement[bool]:
    """The outbox rows meant to go once delivered: a member's own data, a goodbye."""
    return Delivery.message["ephemeral"].as_boolean().is_(True)


def keeps_early(status: str) -> bool:
    """Whether a report for a send not recorded yet is worth keeping: one that may move a
    delivery forward (not "queued" or "sending", nor a status we do not know)."""
    rank = STATUS_RANK.get(status)
    return rank is not None and rank >= Rank.SENT and status not in ("skipped", "held", "early")


async def keep_early_report(db: Any, platform_id: str, status: str, error_code: str | None) -> None:
    """Keep a status report for a message the sender has not recorded yet."""
    async with db.session() as session, session.begin():
        session.add(
            Delivery(
                channel="", address="", priority=REPLY, platform_id=platform_id[:64],
                message={"report": status}, status="early", status_rank=Rank.FINAL,
                error_code=(error_code or None) and error_code[:32],
            )
        )  # fmt: skip


async def take_early_reports(db: Any, platform_ids: list[str]) -> list[tuple[str, str, str | None]]:
    """The early reports kept for these messages, in the order they came, and forget them.

    One DELETE ... RETURNING: when the sender and a status callback both look at once, each
    report is taken (and so applied) by exactly one of them."""
    if not platform_ids:
        return []
    async with db.session() as session, session.begin():
        taken = await session.execute(
            delete(Delivery)
            .where(Delivery.status == "early", Delivery.platform_id.in_(platform_ids))
            .returning(Delivery.id, Delivery.platform_id, Delivery.message, Delivery.error_code)
        )
        rows = sorted(taken.all(), key=lambda r: r.id)
    return [(r.platform_id or "", str((r.message or {}).get("report", "")), r.error_code)
            for r in rows]  # fmt: skip


async def drop_unmatched_reports(
    session: AsyncSession, *, now: datetime | None = None, hours: float = EARLY_REPORT_HOURS
) -> int:
    """Forget the early reports no recorded send claimed within ``hours``; returns how many."""
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    result = await session.execute(
        delete(Delivery).where(Delivery.status == "early", Delivery.created_at < cutoff)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


REPLY_WINDOW_MAX_HOURS = 24 * 30  # the longest a broadcast may collect replies


async def reply_window(session: AsyncSession, contact: Contact) -> int | None:
    """The broadcast whose replies the secretariat collects and that reached this member (on
    any of their linked chats) within its window, the latest one; None when there is none."""
    now = utcnow()
    mine = (
        select(Contact.id).where(Contact.person_id == contact.person_id).scalar_subquery()
        if contact.person_id is not None
        else None
    )
    to_member = Delivery.contact_id.in_(mine) if mine is not None else (
        Delivery.contact_id == contact.id
    )
    rows = (
        await session.execute(
            select(Broadcast.id, Broadcast.collect_replies_hours, Delivery.sent_at)
            .join(Delivery, Delivery.broadcast_id == Broadcast.id)
            .where(
                to_member,
                Broadcast.collect_replies_hours > 0,
                Delivery.sent_at.is_not(None),
                Delivery.sent_at >= now - timedelta(hours=REPLY_WINDOW_MAX_HOURS),
            )
            .order_by(Delivery.sent_at.desc())
            .limit(10)
        )
    ).all()
    for broadcast_id, hours, sent_at in rows:
        if sent_at + timedelta(hours=hours) > now:
            return int(broadcast_id)
    return None
