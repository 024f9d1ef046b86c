"""The engine: store what members send, then handle each member's messages one at a time, in order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import logs
from bot.channels.registry import capabilities
from bot.config import Settings
from bot.conversation import choosing
from bot.conversation.commands import recognise
from bot.conversation.reply_windows import ReplyWindows
from bot.conversation.router import Context, Dispatcher, Effect, Handled
from bot.coordination import Coordinator
from bot.coordination.keys import OUTBOX, contact_key, seen_key
from bot.i18n import Translator, resolve_locale, translator_for
from bot.members.linking import keep_in_step
from bot.members.timezones import zone_name
from bot.messages import READ_PAYLOAD, InboundMessage, Kind, OutboundMessage
from bot.storage import outbox
from bot.storage.db import Database, relax_commit
from bot.storage.inbox import Inbox
from bot.storage.models import Contact, Inbound, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
LOCK_TTL = 30.0
# Drains running at once in one process, the sweep's and the webhooks' together (the sweep's
# used to come on top, up to sixteen). Each holds a transaction while it handles, and every
# running drain makes the event loop's round longer: a webhook's request waits a round at
# each of its steps. bench_vs_ptb on SQLite, ack p99: 50-340 ms with the sweep's on top,
# 59-86 ms with eight in all; four cost answered/s, sixteen lengthen the acks (docs/benchmarks.md).
DRAINS = 8
# A handled message is done: Core, built once (the unit of work costs more than the statement).
_inbound = Inbound.__table__
DONE = (
    _inbound.update()
    .where(_inbound.c.id == bindparam("row_id"))
    .values(status="done", processed_at=bindparam("processed_at"))
)
# A member's oldest two pending messages, with their contact (None before their first one):
# one statement; only the messages are locked, as before.
PENDING = (
    select(Inbound.id, Inbound.attempts, Inbound.message, Contact)
    .outerjoin(Contact, (Contact.channel == Inbound.channel) & (Contact.address == Inbound.address))
    .where(
        Inbound.channel == bindparam("channel"),
        Inbound.address == bindparam("address"),
        Inbound.status == "pending",
    )
    .order_by(Inbound.id)
    .limit(2)
    .with_for_update(of=Inbound)
)
# The contact's changed columns: the columns come with the values (one compiled form per set).
_contacts = Contact.__table__
CONTACT_UPDATE = _contacts.update().where(_contacts.c.id == bindparam("row_id"))


class Engine:
    """Accepts inbound messages durably and turns them into replies in the outbox."""

    def __init__(
        self,
        db: Database,
        coordinator: Coordinator,
        settings: Settings,
        dispatcher: Dispatcher,
        on_stored: Callable[[str, str], None] | None = None,
        services: Any = None,
    ) -> None:
        self.db = db
        self.coordinator = coordinator
        self.settings = settings
        self.dispatcher = dispatcher
        self.on_stored = on_stored  # metrics hook: (channel, "stored" | "duplicate")
        self.services = services
        self.inbox = Inbox(db)
        self.windows = ReplyWindows(coordinator)
        # Shared by every drain of this engine: the sweep's and the service's (``gate``).
        self.gate = asyncio.Semaphore(DRAINS)

    async def accept(self, msg: InboundMessage) -> bool:
        """Store one inbound message; False when it was already stored (a repeat delivery).

        Raises when the database cannot store it: the webhook must then not answer 2xx.
        """
        dedupe_key = seen_key(msg.channel, msg.platform_id)
        if await self.coordinator.seen(dedupe_key, ttl=24 * 3600):
            self._count(msg.channel, "duplicate")
            return False
        values = {
            "channel": msg.channel,
            "platform_id": msg.platform_id,
            "address": msg.address,
            "message": logs.stamp(msg.to_json()),
            "status": "pending",
            "attempts": 0,
            "received_at": utcnow(),
        }
        try:
            # Committed with whatever other requests stored meanwhile (group commit).
            stored = await self.inbox.store(values)
        except BaseException:
            # Not stored: the platform's next attempt must not look like a repeat.
            await self.coordinator.forget([dedupe_key])
            raise
        if stored is None:  # the database already had it: a repeat the mark did not catch
            self._count(msg.channel, "duplicate")
            return False
        self._count(msg.channel, "stored")
        log.debug("inbound %s stored (%s)", stored, msg.channel)
        return True

    def _count(self, channel: str, result: str) -> None:
        if self.on_stored:
            self.on_stored(channel, result)

    async def drain(self, channel: str, address: str) -> int | None:
        """Handle every pending message of one contact, oldest first; returns how many, or
        None when another worker holds the contact (it will handle them, or the caller retries).
        """
        lease = await self.coordinator.try_lock(contact_key(channel, address), ttl=LOCK_TTL)
        if lease is None:
            return None
        handled = 0
        try:
            more = True
            while more:
                found, more = await self._handle_next(channel, address)
                handled += found
        finally:
            await lease.release()
        return handled

    async def sweep(self, older_than: float, limit: int = 100) -> int:
        """Handle what is pending: after a restart, or what a busy contact left behind.

        Only messages older than ``older_than`` seconds: younger ones are being handled by
        the web process that stored them.
        """
        cutoff = utcnow() - timedelta(seconds=older_than)
        async with self.db.session() as session:
            rows = await session.execute(
                select(Inbound.channel, Inbound.address)
                .where(Inbound.status == "pending", Inbound.received_at <= cutoff)
                .group_by(Inbound.channel, Inbound.address)
                .order_by(func.min(Inbound.id))
                .limit(limit)
            )
            contacts = rows.all()

        # A few at a time: each drain holds a database connection and a Redis lock.
        async def one(channel: str, address: str) -> int:
            async with self.gate:
                return await self.drain(channel, address) or 0

        return sum(await asyncio.gather(*(one(c, a) for c, a in contacts)))

    async def _handle_next(self, channel: str, address: str) -> tuple[bool, bool]:
        """Handle the contact's oldest pending message: (handled one, more are pending)."""
        taken: tuple[int, int] | None = None  # the message's id and its attempts so far
        try:
            async with self.db.session() as session, session.begin():
                # The message is stored for good already: undone by a crash of the database,
                # its handling is done again (see relax_commit).
                await relax_commit(session)
                # The oldest two: the second says whether another waits behind this one.
                rows = (
                    await session.execute(PENDING, {"channel": channel, "address": address})
                ).all()
                if not rows:
                    return False, False
                row, more = rows[0], len(rows) > 1
                taken = (row.id, row.attempts)
                with logs.bound(logs.stamped(row.message)):  # the webhook request's id
                    forget = await self._handle(session, row)
        except Exception as exc:
            if taken is None:
                raise  # the database itself failed: the message stays pending for the sweep
            # A bug in a handler must not block this member forever.
            row_id, attempt = taken[0], taken[1] + 1
            log.exception("inbound %s failed (attempt %d)", row_id, attempt)
            await self._record_failure(row_id, attempt, exc)
            more, forget = True, []
        if forget:  # an erased member's dedupe marks and buckets
            await self.coordinator.forget(forget)
        await self.coordinator.notify(OUTBOX)
        return True, more

    async def _handle(self, session: AsyncSession, row: Row[Any]) -> list[str]:
        """Handle one message in ``session``; returns the coordination keys to forget."""
        started = time.perf_counter()
        msg = InboundMessage.from_json(row.message)
        contact: Contact | None = None
        replies: list[OutboundMessage] = []
        effects: list[Effect] = []
        if msg.kind == Kind.STAFF:
            # Secretariat staff answering in their chat: not a member, no contact of their own.
            await self.dispatcher.staff_reply(session, self.settings, row.id, msg)
        elif msg.kind not in (Kind.EDITED, Kind.UNSUPPORTED):
            contact = await self._contact(session, msg, row.Contact)
            # Whatever they wrote opens the platform's window: what was kept for them goes
            # first, then the answer to it. A tap on the notice's "Read it" asks for no more.
            if capabilities(msg.channel).reply_window is not None:
                await outbox.release_held(session, contact)
            if not (msg.kind == Kind.BUTTON and msg.payload == READ_PAYLOAD):
                # Free text may be a reply to a broadcast that asked for replies; only while one
                # may be collecting them is it worth looking for.
                text = msg.kind == Kind.TEXT and await self.windows.open(session)
                reply_to = await outbox.reply_window(session, contact) if text else None
                replies, effects = await self._dispatch(msg, contact, reply_to)
        elif msg.payload and msg.payload.startswith("my_chat_member:"):
            await self._membership(session, msg)
        elif msg.payload and msg.payload.startswith("chat_moved:"):
            # A group became a supergroup: its messages go to the new id from now on.
            moved_to = msg.payload.partition(":")[2]
            await outbox.record_move(session, msg.channel, msg.address, moved_to)
        to = contact or outbox.Chat(msg.channel, msg.address)
        rows: list[dict[str, Any]] = []
        if msg.callback_id:
            # Telegram shows a spinner on the button until the query is answered.
            answer = OutboundMessage(text="", callback_id=msg.callback_id)
            rows.append(outbox.columns(to, answer, priority=outbox.CALLBACK, inbound_id=row.id))
        rows += [outbox.columns(to, out, inbound_id=row.id) for out in replies]
        if contact is not None:
            await write_contact(session, contact)
        # One statement, before what the effects add: the replies have their ids for them.
        await outbox.enqueue_all(session, rows)
        done = Handled(session, row.id)
        for effect in effects:
            await effect(done)
        if contact is not None and contact in session:  # not when it erased itself
            await keep_in_step(session, contact)
            await write_contact(session, contact)  # what the effects changed since
        await session.execute(DONE, {"row_id": row.id, "processed_at": utcnow()})
        took = (time.perf_counter() - started) * 1000  # pragma: no mutate (a debug line's figure)
        log.debug("inbound %s handled in %.1f ms", row.id, took)
        return done.forget

    async def _membership(self, session: AsyncSession, msg: InboundMessage) -> None:
        """A member blocked the bot ("kicked") or unblocked it: they are unreachable, or not."""
        status = (msg.payload or "").partition(":")[2]
        contact = await session.scalar(
            select(Contact).where(Contact.channel == msg.channel, Contact.address == msg.address)
        )
        if contact is not None:
            contact.unreachable_at = utcnow() if status in ("kicked", "left") else None

    async def _contact(
        self, session: AsyncSession, msg: InboundMessage, contact: Contact | None
    ) -> Contact:
        """The message's contact (read with it; None: their first message), made now if new."""
        if contact is None:
            contact = Contact(
                channel=msg.channel, address=msg.address, status="new", flow_data={}, choices=[]
            )
            session.add(contact)
            await session.flush()
        contact.last_inbound_at = utcnow()
        contact.unreachable_at = None
        if msg.lang_hint:
            contact.lang_hint = msg.lang_hint[:16]
        if msg.country_hint:
            contact.country_hint = msg.country_hint
        return contact

    async def _dispatch(
        self, msg: InboundMessage, contact: Contact, reply_to: int | None = None
    ) -> tuple[list[OutboundMessage], list[Effect]]:
        locale = resolve_locale(
            contact.locale, contact.lang_hint, contact.country or contact.country_hint
        )
        ctx = Context(
            msg=msg,
            contact=contact,
            t=Translator(locale, zone_name(contact)),
            settings=self.settings,
            services=self.services,
            reply_to=reply_to,
        )
        if msg.kind == Kind.BUTTON:
            ctx.payload = msg.payload
        elif msg.kind == Kind.TEXT:
            ctx.command = recognise(msg.text)
            ctx.payload = choosing.read(msg.text, contact.choices or [])
        if not await self.dispatcher.stopped_at_gate(ctx):
            await self._pick_and_run(ctx)
        if ctx.again is not None:  # a message a handler asked to handle now, past the gates
            text, ctx.again = ctx.again, None
            ctx.msg = replace(msg, kind=Kind.TEXT, text=text, payload=None, callback_id=None)
            ctx.command, ctx.payload = recognise(text), None
            await self._pick_and_run(ctx)
        if ctx.replies:
            outbox.remember_choices(ctx.contact, ctx.replies, ctx.t)
        return ctx.replies, ctx.effects

    async def _pick_and_run(self, ctx: Context) -> None:
        handler = self.dispatcher.pick(ctx)
        if handler is not None:
            await handler(ctx)

    async def _record_failure(self, row_id: int, attempts: int, exc: Exception) -> None:
        final = attempts >= MAX_ATTEMPTS
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Inbound)
                .where(Inbound.id == row_id)
                .values(
                    attempts=attempts,
                    error=type(exc).__name__[:200],
                    status="failed" if final else "pending",
                )
            )
            if final:
                row = await session.get(Inbound, row_id)
                if row is not None:
                    await self._apologise(session, row)

    async def _apologise(self, session: AsyncSession, row: Inbound) -> None:
        msg = InboundMessage.from_json(row.message)
        contact = await session.scalar(
            select(Contact).where(Contact.channel == msg.channel, Contact.address == msg.address)
        )
        to: Contact | outbox.Chat
        if contact is not None:
            to = contact
            locale = resolve_locale(
                contact.locale, contact.lang_hint, contact.country or contact.country_hint
            )
        elif msg.kind in (Kind.TEXT, Kind.BUTTON, Kind.MEDIA):
            # A member's first message: the contact it made went with the failed attempt.
            to = outbox.Chat(msg.channel, msg.address)
            locale = resolve_locale(None, msg.lang_hint, msg.country_hint)
        else:
            return  # staff, an edit, a platform's notice: no member waits for an answer
        t = translator_for(locale)
        if msg.callback_id:
            answer = OutboundMessage(text="", callback_id=msg.callback_id)
            outbox.enqueue(session, to, answer, priority=outbox.CALLBACK, inbound_id=row.id)
        sorry = OutboundMessage(
            text=t("Sorry, something went wrong on our side. Please try again in a moment.")
        )
        outbox.enqueue(session, to, sorry, inbound_id=row.id)


async def write_contact(session: AsyncSession, contact: Contact) -> None:
    """Write the contact's changed columns now, in one prepared ``UPDATE``, instead of the unit
    of work's at the next flush: the same columns and values (``updated_at`` stamped, as its
    ``onupdate`` would), the object clean afterwards as after a flush."""
    state = inspect(contact)
    if not state.modified or state.key is None or contact in session.deleted:
        return  # nothing changed, not stored yet, or being erased: the unit of work's
    values: dict[str, Any] = {}
    for key in state.committed_state:
        if key not in _contacts.c:
            return  # not a column of its own: the unit of work's
        added = state.attrs[key].history.added
        if added:
            values[key] = added[0]
    if values:
        values.setdefault("updated_at", utcnow())
        state.dict["updated_at"] = values["updated_at"]
    # Clean before the statement: its autoflush must not write the contact a second time.
    state._commit_all(state.dict, session.sync_session.identity_map)
    if values:
        await session.execute(CONTACT_UPDATE, {"row_id": contact.id, **values})
