"""The sender: takes messages from the outbox and delivers them within each platform's limits."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import logs
from bot.channels.base import Channel, ChannelName, Outcome, SendResult, pace_further_messages
from bot.channels.registry import capabilities
from bot.config import Settings
from bot.coordination import Coordinator
from bot.coordination.keys import OUTBOX, web_chat_topic
from bot.delivery.pacing import Pacer
from bot.messages import OutboundMessage
from bot.metrics import Metrics
from bot.storage import outbox
from bot.storage.db import Database, relax_commit
from bot.storage.models import Broadcast, Contact, Delivery
from bot.storage.outbox import STATUS_RANK, Rank

log = logging.getLogger(__name__)

LEASE = 60.0  # seconds a claimed message belongs to one sender before others may take it
# Judged outside a reply window this long before it ends: the platform's clock and ours differ,
# and a message may wait in the platform's queue.
WINDOW_MARGIN = timedelta(minutes=10)
BACKOFF_CAP = 300.0
# Told, in the transaction that records it, of each (broadcast, contact) that failed for good:
# the broadcasts give a linked member the news on another chat.
OnLost = Callable[[AsyncSession, Iterable[tuple[int, int]]], Awaitable[Any]]


def _claim_statement() -> Any:
    """UPDATE ... RETURNING of the due messages, built once: a chat's message is due when
    nothing of that chat is being sent and nothing of it comes before it."""
    table = Delivery.__table__
    earlier = aliased(Delivery)
    blocked = exists().where(
        earlier.channel == Delivery.channel,
        earlier.address == Delivery.address,
        earlier.id != Delivery.id,
        or_(
            earlier.status == "sending",
            and_(
                earlier.status == "queued",
                or_(
                    earlier.priority < Delivery.priority,
                    and_(earlier.priority == Delivery.priority, earlier.id < Delivery.id),
                ),
            ),
        ),
    )
    due = (
        select(Delivery.id)
        .where(
            Delivery.status == "queued",
            Delivery.due_at <= bindparam("now"),
            Delivery.channel.in_(bindparam("channels", expanding=True)),
            ~blocked,
        )
        .order_by(Delivery.priority, Delivery.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=table)
    )
    return (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(
            status="sending",
            status_rank=Rank.SENDING,
            lease_until=bindparam("lease"),
            attempts=table.c.attempts + 1,
        )
        .returning(
            table.c.id,
            table.c.channel,
            table.c.address,
            table.c.contact_id,
            table.c.message,
            table.c.attempts,
            table.c.created_at,
            table.c.broadcast_id,
        )
    )


_CLAIM = _claim_statement()
_NO_SORT = text("SET LOCAL enable_sort = off")


def _record_statement() -> Any:
    """One UPDATE for every outcome, run as one executemany: each row binds the same keys,
    and the columns an outcome leaves alone bind NULL and keep their value."""
    table = Delivery.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            status=bindparam("new_status"),
            status_rank=bindparam("new_rank"),
            attempts=bindparam("new_attempts"),
            lease_until=None,
            error_code=bindparam("new_error"),
            due_at=func.coalesce(bindparam("new_due", type_=Float()), table.c.due_at),
            platform_id=func.coalesce(
                bindparam("new_platform_id", type_=String()), table.c.platform_id
            ),
            sent_at=func.coalesce(
                bindparam("new_sent_at", type_=DateTime(timezone=True)), table.c.sent_at
            ),
            updated_at=bindparam("new_updated_at"),
        )
    )


_RECORD = _record_statement()


# A broadcast's options become the member's numbered choices once it reaches them.
_CHOICES = (
    update(Contact.__table__)
    .where(Contact.__table__.c.id == bindparam("member"))
    .values(choices=bindparam("payloads"))
)


@dataclass
class Tuning:
    """How the sender's own loop waits and gathers: how soon a message goes and in how many
    commits it is written down, never which messages go or in which order. The service runs
    on these defaults; tests set values they can observe on a clock of their own. The
    defaults carry ``pragma: no mutate``: tests drive each behaviour at other values
    (docs/mutation.md)."""

    batch: int = 500  # pragma: no mutate  (results one commit records at most)
    # Seconds the writer waits for more results to share a commit, while at least
    # ``linger_from`` sends are on their way (a lone reply is recorded at once).
    linger: float = 0.02  # pragma: no mutate
    linger_from: int = 8  # pragma: no mutate
    idle_wait: float = 1.0  # pragma: no mutate  (an idle loop looks for work again)
    round_retry: float = 1.0  # pragma: no mutate  (after a round of the loop failed)
    recovery_every: float = 5.0  # pragma: no mutate  (looks for a dead sender's claims)
    # While the database is away, results are tried again after this wait, then twice as
    # long each time, up to the cap.
    record_retry: float = 0.5  # pragma: no mutate
    record_retry_cap: float = 10.0  # pragma: no mutate
    writer_poll: float = 0.2  # pragma: no mutate  (an idle writer looks whether to stop)
    # Seconds between two claims at least: messages queued meanwhile share the next claim
    # rather than a claim each (the service: ``CLAIM_EVERY``; none here, for tests' clocks).
    claim_every: float = 0.0


@dataclass(slots=True)  # pragma: no mutate  (a claimed row's memory layout only)
class Claimed:
    id: int
    channel: str
    address: str
    contact_id: int | None
    message: dict[str, Any]
    attempts: int
    created_at: datetime | None
    broadcast_id: int | None = None


class Sender:
    """Claims due messages, paces them per channel and per chat, records what happened."""

    def __init__(
        self,
        db: Database,
        coordinator: Coordinator,
        channels: Mapping[str, Channel],
        settings: Settings,
        metrics: Metrics | None = None,
        *,
        on_lost: OnLost,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tuning: Tuning | None = None,
    ) -> None:
        self.db = db
        self.clock = clock  # epoch seconds: when a claim is due, a retry, a reply window's end
        # The loop's own waits: the recovery interval, the writer's linger, the idle wait.
        self._monotonic = monotonic
        self._sleep = sleep
        self.tuning = tuning or Tuning()
        self.coordinator = coordinator
        self.on_lost = on_lost
        self.channels = {name: ch for name, ch in channels.items() if ch.enabled}
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.max_in_flight = max(1, settings.sender_concurrency)
        self.pacer = Pacer(coordinator, settings)
        self._in_flight = 0
        self._in_flight_by: defaultdict[str, int] = defaultdict(int)
        self._results: asyncio.Queue[tuple[Claimed, SendResult]] = asyncio.Queue()
        self._idle_wait = self.tuning.idle_wait
        self._tasks: set[asyncio.Task[None]] = set()
        # Set when finished sends free a quarter of the places: the next claim need not wait
        # for their results to be written first.
        self._room = asyncio.Event()
        self._room_at = self.max_in_flight - max(1, self.max_in_flight // 4)
        self._notified: asyncio.Future[bool] | None = None
        self._claimed_at = -math.inf  # when the last claim was made (``_monotonic``)
        # Broadcasts' photos as Telegram stored them (see ``_send``).
        self._photo_ids: dict[int, str] = {}
        self._photo_locks: dict[int, asyncio.Lock] = {}

    # ---- the loop -----------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Send until ``stopping`` is set; wakes on ``notify("outbox")``, a free token, or each second."""
        writer = asyncio.create_task(self._write_results(stopping))
        last_recovery = -math.inf  # the first round puts back what a dead sender left
        try:
            while not stopping.is_set():
                try:
                    if self._monotonic() - last_recovery > self.tuning.recovery_every:
                        await self.recover()
                        last_recovery = self._monotonic()
                    await self._claim_turn()
                    if not await self.pump():
                        await self._wait_for_work()
                except Exception:
                    # A database or Redis outage must not stop sending for good: try again.
                    log.exception("the sender's loop failed; trying again in %g s",
                                  self.tuning.round_retry)  # fmt: skip
                    await self._sleep(self.tuning.round_retry)
        finally:
            if self._notified is not None:
                self._notified.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            stopping.set()
            await writer

    async def _claim_turn(self) -> None:
        """Wait until ``claim_every`` has passed since the last claim. Every handled message
        notifies "outbox", and every sender of every process wakes and claims: one claim per
        message, and empty claims in the others (docs/benchmarks.md). A reply alone goes at
        once; under a stream of them each claim takes what came meanwhile."""
        wait = self._claimed_at + self.tuning.claim_every - self._monotonic()
        if wait > 0:
            await self._sleep(wait)
        self._claimed_at = self._monotonic()

    async def _wait_for_work(self) -> None:
        """New messages and recorded sends (which unblock a chat's next message) notify
        "outbox"; sends finishing here make room; retries and pauses end on the timer."""
        if self._notified is not None and self._notified.done():
            # Woken while pumping (or the wait failed): look again before waiting.
            notified, self._notified = self._notified, None
            notified.result()
            return
        if self._notified is None:
            # Kept across calls rather than cancelled: a wait cut short mid-command would
            # cost the coordinator its connection.
            self._notified = asyncio.ensure_future(
                self.coordinator.wait(OUTBOX, timeout=self._idle_wait)
            )
        self._room.clear()
        room = asyncio.ensure_future(self._room.wait())
        idle = asyncio.ensure_future(self._sleep(self._idle_wait))
        await asyncio.wait({self._notified, room, idle}, return_when=asyncio.FIRST_COMPLETED)
        room.cancel()
        idle.cancel()

    async def pump(self) -> int:
        """Claim what may go soon and start sending it; returns how many were claimed.

        A rate-limited channel claims only a quarter second ahead, so that a reply queued a
        moment later is not stuck behind bulk messages already waiting for their turn; the
        channels without a limit share one claim. Claims come in batches.
        """
        self._idle_wait = self.tuning.idle_wait
        groups: list[tuple[list[str], int]] = []
        unpaced: list[str] = []
        for name in self.channels:
            if self.pacer.channel_interval(name) is None:
                unpaced.append(name)
                continue
            ahead = self.pacer.lookahead(name, self.max_in_flight)
            room = ahead - self._in_flight_by[name]
            if room <= 0 or (self._in_flight_by[name] and room < max(1, ahead // 4)):
                continue
            if (wait := await self.pacer.paused_for(name)) > 0:
                self._idle_wait = min(self._idle_wait, wait)
                continue
            groups.append(([name], room))
        if unpaced:
            groups.append((unpaced, self.max_in_flight))
        total = 0
        for names, room in groups:
            room = min(room, self.max_in_flight - self._in_flight)
            if room <= 0:
                continue
            rows = await self.claim(room, names)
            if not rows:
                continue
            sendable: list[tuple[Claimed, OutboundMessage]] = []
            for row in rows:
                try:
                    sendable.append((row, OutboundMessage.from_json(row.message)))
                except (TypeError, ValueError):
                    # A row no code version could send: fail it rather than retry forever.
                    log.exception("outbox %s holds no message this version can send", row.id)
                    await self._results.put((row, SendResult(Outcome.FAILED, error_code="bad_row")))
            outside = await self._outside_window(sendable)
            # One round trip takes every claimed chat's token, rather than one per message.
            try:
                taken = await self.pacer.take_chat_turns(
                    [(row.channel, row.address, message) for row, message in sendable]
                )
            except Exception:
                # The rows are claimed: each send takes its own token (and meets the outage
                # there) rather than leaving them all to wait out their lease.
                log.warning("taking the chats' tokens failed; each send takes its own")
                taken = [False] * len(sendable)
            for (row, message), chat_taken in zip(sendable, taken, strict=True):
                self._in_flight += 1
                self._in_flight_by[row.channel] += 1
                task = asyncio.create_task(
                    self._deliver(row, message, chat_taken, outside=row.id in outside)
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            total += len(rows)
        return total

    async def claim(self, limit: int, channels: list[str]) -> list[Claimed]:
        """Take due messages, at most one per chat, replies before bulk, oldest first."""
        now = self.clock()
        params = {"now": now, "lease": now + LEASE, "limit": limit, "channels": channels}
        async with self.db.session() as session, session.begin():
            if not self.db.is_sqlite:
                # Right after a broadcast fills the outbox, PostgreSQL's statistics still say
                # few rows are queued, and it plans to check every queued row's chat before
                # sorting them (14-22 ms a claim at 4,000 queued, growing with the queue). With
                # sorting ruled out it walks ix_outbox_due in order and stops at the limit
                # (0.2 ms). SET LOCAL ends with this transaction.
                await session.execute(_NO_SORT)
                await relax_commit(session)  # a claim undone by a crash is claimed again
            result = await session.execute(_CLAIM, params)
            rows = [Claimed(*r) for r in result.all()]
        rows.sort(key=lambda r: r.id)
        return rows

    async def recover(self, *, everything: bool = False) -> int:
        """Put back messages whose sender died (its lease ran out), or all of them at start-up
        of the only process."""
        cond = Delivery.status == "sending"
        if not everything:
            cond = and_(cond, Delivery.lease_until < self.clock())
        async with self.db.session() as session, session.begin():
            result = await session.execute(
                update(Delivery)
                .where(cond)
                .values(status="queued", status_rank=Rank.QUEUED, lease_until=None)
            )
            # Chats another process saw move (a group became a supergroup): follow them here.
            for move in await outbox.chat_moves(session):
                channel = self.channels.get(move.channel)
                follow = getattr(channel, "follow", None)
                if follow is not None:
                    follow(move.address, move.moved_to)
        count = result.rowcount or 0  # type: ignore[attr-defined]
        if count:
            log.warning("requeued %d messages whose sender stopped while sending", count)
        return count

    async def _outside_window(self, sendable: list[tuple[Claimed, OutboundMessage]]) -> set[int]:
        """The rows whose member is outside their platform's reply window now, as the message
        is about to go (a broadcast planned hours before may have waited for quiet hours or
        a local hour), or that the platform has already refused for that (63016)."""
        windows = {
            row.id: window
            for row, _ in sendable
            if row.contact_id is not None
            and (window := capabilities(row.channel).reply_window) is not None
        }
        if not windows:
            return set()
        ids = {row.contact_id for row, _ in sendable if row.id in windows}
        async with self.db.session() as session:
            last = dict(
                (await session.execute(
                    select(Contact.id, Contact.last_inbound_at).where(Contact.id.in_(ids))
                )).all()
            )  # fmt: skip
        now = datetime.fromtimestamp(self.clock(), UTC)
        outside: set[int] = set()
        for row, _ in sendable:
            if row.id not in windows:
                continue
            wrote = last.get(row.contact_id)  # aware on both databases (UtcDateTime)
            margin = windows[row.id] - WINDOW_MARGIN
            if row.message.get("outside_window") or wrote is None or now - wrote >= margin:
                outside.add(row.id)
        return outside

    async def _deliver(
        self, row: Claimed, message: OutboundMessage, chat_taken: bool, outside: bool
    ) -> None:
        with logs.bound(logs.stamped(row.message)):  # the request this message answers
            await self._deliver_bound(row, message, chat_taken, outside=outside)

    async def _deliver_bound(
        self, row: Claimed, message: OutboundMessage, chat_taken: bool, outside: bool
    ) -> None:
        try:
            channel = self.channels[row.channel]
            if outside and not message.template:
                # Nothing may carry it now: kept until the member writes.
                await self._results.put(
                    (row, SendResult(Outcome.HELD, error_code="outside_window"))
                )
                return
            if not outside:
                message.template = None  # inside the window the full message goes itself
            try:
                await self.pacer.wait_turn(row.channel, row.address, message, chat_taken=chat_taken)
            except Exception as exc:
                # Redis away: the limits cannot be kept, so nothing goes. Back to the queue
                # in a second, without counting an attempt.
                log.warning("outbox %s: no pacing (%s); queued again", row.id, type(exc).__name__)
                await self._results.put((row, SendResult(Outcome.RATE_LIMITED, retry_after=1.0,
                                                         error_code="coordination")))  # fmt: skip
                return
            # One slot of the limits per platform message: a message the channel sends as
            # several (a photo, then its long text) takes a turn for each after the first.
            pace_further_messages(lambda: self.pacer.next_turn(row.channel, row.address, message))
            try:
                result = await self._send(channel, row, message)
            except Exception:
                log.exception("sending outbox %s on %s raised", row.id, row.channel)
                result = SendResult(Outcome.RETRY, error_code="exception")
            if result.outcome == Outcome.RATE_LIMITED and result.chat_only:
                # A group over its own limit: it waits (its message is queued again after
                # retry_after, and its later ones behind it); every other chat goes on.
                log.warning("%s: a group asked us to wait %.0f s", row.channel, result.retry_after)
            elif result.outcome == Outcome.RATE_LIMITED:
                log.warning("%s asked us to wait %.0f s", row.channel, result.retry_after)
                try:
                    await self.pacer.pause(row.channel, max(result.retry_after, 1.0))
                except Exception:
                    log.warning("could not share the pause of %s", row.channel,
                                exc_info=True)  # pragma: no mutate  (the traceback only)  # fmt: skip
            if result.outcome in (Outcome.FAILED, Outcome.UNREACHABLE) and (
                row.channel == ChannelName.TELEGRAM and row.address in self.settings.staff_chats
            ):
                # Staff chats are configured, not members: nobody else would notice.
                log.error(
                    "the staff chat %s refused a message (%s): alerts and relays do not "
                    "reach the secretariat", row.address, result.error_code,
                )  # fmt: skip
            self.metrics.outbound.labels(row.channel, result.outcome.value).inc()
            log.debug("outbox %s on %s: %s", row.id, row.channel, result.outcome.value)
            if result.outcome == Outcome.SENT and row.created_at is not None:
                # Aware on both databases: the claim returns the UtcDateTime column.
                age = self.clock() - row.created_at.timestamp()
                self.metrics.send_latency.labels(row.channel).observe(max(age, 0.0))
            await self._results.put((row, result))
        finally:
            self._in_flight -= 1
            self._in_flight_by[row.channel] -= 1
            if self._in_flight == self._room_at:  # once per crossing, not once per send
                self._room.set()

    async def _send(self, channel: Channel, row: Claimed, message: OutboundMessage) -> SendResult:
        """Send ``message``; a broadcast's photo on Telegram goes by URL once, then by the
        file_id Telegram gave it (kept on the broadcast): Telegram fetches the URL once, not
        once per member. Until the first send has answered, the others wait for it."""
        if not (row.broadcast_id and message.image_url and row.channel == ChannelName.TELEGRAM):
            return await channel.send(row.address, message)
        broadcast_id = row.broadcast_id
        known = self._photo_ids.get(broadcast_id) or await self._stored_photo_id(broadcast_id)
        if known:
            message.image_url = known
            return await channel.send(row.address, message)
        async with self._photo_locks.setdefault(broadcast_id, asyncio.Lock()):
            known = self._photo_ids.get(broadcast_id)
            if known:
                message.image_url = known
                return await channel.send(row.address, message)
            result = await channel.send(row.address, message)
            if result.outcome == Outcome.SENT and result.file_id:
                self._photo_ids[broadcast_id] = result.file_id
                async with self.db.session() as session, session.begin():
                    await session.execute(
                        update(Broadcast)
                        .where(Broadcast.id == broadcast_id)
                        .values(photo_file_id=result.file_id)
                    )
            return result

    async def _stored_photo_id(self, broadcast_id: int) -> str | None:
        """The file_id another process (or an earlier run) kept for this broadcast's photo."""
        async with self.db.session() as session:
            found = await session.scalar(
                select(Broadcast.photo_file_id).where(Broadcast.id == broadcast_id)
            )
        if found:
            self._photo_ids[broadcast_id] = found
        return found

    # ---- recording ----------------------------------------------------------------------

    async def _apply_early_reports(self, sent: list[tuple[str, str]]) -> None:
        """Status reports that came before their send was recorded, applied now, in order."""
        by_channel: defaultdict[str, list[str]] = defaultdict(list)
        for channel, platform_id in sent:
            by_channel[channel].append(platform_id)
        for name, platform_ids in by_channel.items():
            classify = getattr(self.channels.get(name), "report_outcome", None)
            await apply_early_reports(self.db, platform_ids, self.on_lost, classify, self.clock)

    async def _next_result(self, within: float) -> tuple[Claimed, SendResult] | None:
        """The next send's result, or None when none comes within ``within`` seconds (on
        the sender's own sleep)."""
        get = asyncio.ensure_future(self._results.get())
        timer = asyncio.ensure_future(self._sleep(within))
        await asyncio.wait({get, timer}, return_when=asyncio.FIRST_COMPLETED)
        timer.cancel()
        if get.done():
            return get.result()
        get.cancel()  # the queue keeps its item for the next get
        return None

    async def _write_results(self, stopping: asyncio.Event) -> None:
        tuning = self.tuning
        while not (stopping.is_set() and self._results.empty() and not self._tasks):
            first = await self._next_result(tuning.writer_poll)
            if first is None:
                continue
            batch = [first]
            # A moment's patience turns many small commits into one.
            deadline = self._monotonic() + tuning.linger
            while len(batch) < tuning.batch:
                if self._results.empty():
                    left = deadline - self._monotonic()
                    # Only bulk sending is worth the wait; a lone reply is recorded at once.
                    if left <= 0 or self._in_flight < tuning.linger_from:
                        break
                    if (more := await self._next_result(left)) is not None:
                        batch.append(more)
                    continue
                batch.append(self._results.get_nowait())
            await self._record_until_stored(batch, stopping)

    async def _record_until_stored(
        self, batch: list[tuple[Claimed, SendResult]], stopping: asyncio.Event
    ) -> None:
        """What was sent must be written down, or it is sent again when its lease ends: a
        database that is briefly away is waited for (until the process stops)."""
        delay = self.tuning.record_retry
        while True:
            try:
                await self._record(batch)
                return
            except Exception:
                if stopping.is_set() and not self._tasks:
                    log.exception("could not record %d results; their leases will end", len(batch))
                    return
                log.warning("could not record %d results; retrying", len(batch),
                            exc_info=True)  # pragma: no mutate  (the traceback only)  # fmt: skip
                await self._sleep(delay)
                delay = min(delay * 2, self.tuning.record_retry_cap)

    async def flush(self) -> None:
        """Record every finished send now (tests and benchmarks call this)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        batch = []
        while not self._results.empty():
            batch.append(self._results.get_nowait())
        if batch:
            await self._record(batch)

    async def _record(self, batch: list[tuple[Claimed, SendResult]]) -> None:
        now = self.clock()
        stamp = datetime.fromtimestamp(now, UTC)
        updates: list[dict[str, Any]] = []
        ephemeral: list[int] = []  # sent or given up: erased (a page's own go once it has them)
        unreachable: set[int] = set()
        web_addresses: set[str] = set()
        choices: list[dict[str, Any]] = []
        lost: list[tuple[int, int]] = []  # broadcasts that failed for good on a member's chat
        moves = {(row.channel, row.address): r.moved_to for row, r in batch if r.moved_to}
        held: list[Delivery] = []  # full messages behind a notice template
        kept: list[tuple[int, int, int]] = []  # broadcasts held: (row, broadcast, member)
        sent_ids: list[tuple[str, str]] = []  # (channel, platform id) that may have early reports
        for row, result in batch:
            values: dict[str, Any] = {
                "row_id": row.id,
                "new_status": "failed",
                "new_rank": Rank.FINAL,
                "new_attempts": row.attempts,
                "new_error": result.error_code,
                "new_due": None,
                "new_platform_id": None,
                "new_sent_at": None,
                "new_updated_at": stamp,
            }
            outcome = result.outcome
            if outcome == Outcome.SENT:
                status = result.status or "sent"
                values["new_status"] = status
                values["new_rank"] = STATUS_RANK.get(status, Rank.SENT)
                values["new_platform_id"] = result.platform_id
                values["new_sent_at"] = stamp
                if result.platform_id and capabilities(row.channel).reply_window is not None:
                    sent_ids.append((row.channel, result.platform_id))
                if row.channel == ChannelName.WEB:
                    web_addresses.add(row.address)
                if result.templated and row.contact_id is not None:
                    # The notice went; the full message waits for the member's answer, and
                    # its choices become theirs only when they see them.
                    held.append(outbox.hold(row.message, row.contact_id, row.channel, row.address))
                    choices.append({"member": row.contact_id, "payloads": []})
                elif row.message.get("remember_choices") and row.contact_id is not None:
                    # With their labels: a member may type an option's words, not only its
                    # number (``bot/conversation/choosing.py``).
                    payloads = [
                        outbox.choice_entry(b["payload"], b.get("label") or "")
                        for line in row.message.get("buttons") or [] for b in line
                        if not b.get("url")
                    ]  # fmt: skip
                    choices.append({"member": row.contact_id, "payloads": payloads})
            elif outcome == Outcome.HELD:
                values["new_status"], values["new_rank"] = "held", Rank.QUEUED
                values["new_attempts"] = row.attempts - 1
                if row.broadcast_id and row.contact_id:
                    kept.append((row.id, row.broadcast_id, row.contact_id))
            elif outcome == Outcome.RATE_LIMITED:
                values["new_status"], values["new_rank"] = "queued", Rank.QUEUED
                values["new_attempts"] = row.attempts - 1
                values["new_due"] = now + max(result.retry_after, 1.0)
            elif outcome == Outcome.RETRY and row.attempts < self.settings.send_max_attempts:
                delay = min(BACKOFF_CAP, 2.0**row.attempts) * random.uniform(0.8, 1.2)
                values["new_status"], values["new_rank"] = "queued", Rank.QUEUED
                values["new_due"] = now + delay
            elif outcome == Outcome.UNREACHABLE and row.contact_id is not None:
                unreachable.add(row.contact_id)
            if values["new_status"] == "failed" and row.broadcast_id and row.contact_id:
                lost.append((row.broadcast_id, row.contact_id))
            stored = row.message if isinstance(row.message, dict) else {}  # a bad row's too
            if stored.get("ephemeral") and values["new_status"] not in ("queued", "held"):
                # A page fetches the rest, and says when it has them (``fetch_replies``).
                shown = capabilities(row.channel).reads_outbox and stored.get("text")
                if not shown or outcome != Outcome.SENT:
                    ephemeral.append(row.id)
            updates.append(values)
        async with self.db.session() as session, session.begin():
            # Undone by a crash of the database, the sends are recorded as still under way
            # and go again when their lease runs out: twice, never lost.
            await relax_commit(session)
            # Core, not the ORM's bulk update: the same statement for every row, no
            # per-row bookkeeping, and asyncpg pipelines the executemany.
            connection = await session.connection()
            await connection.execute(_RECORD, updates)
            if choices:
                await connection.execute(_CHOICES, choices)
            if ephemeral:
                await session.execute(delete(Delivery).where(Delivery.id.in_(ephemeral)))
            for (channel, address), moved_to in moves.items():
                await outbox.record_move(session, channel, address, moved_to)
            if held:
                session.add_all(held)
            for row_id, broadcast_id, contact_id in kept:
                # A linked member reads it now on another chat rather than when they write.
                if await self.on_lost(session, [(broadcast_id, contact_id)]):
                    await session.execute(
                        update(Delivery)
                        .where(Delivery.id == row_id)
                        .values(status="failed", status_rank=Rank.FINAL)
                    )
            if unreachable:
                lost += await outbox.mark_unreachable(session, unreachable)
            if lost:
                # A linked member gets the broadcast on their next chat instead.
                await self.on_lost(session, lost)
        if sent_ids:
            await self._apply_early_reports(sent_ids)
        try:
            for address in web_addresses:
                await self.coordinator.notify(web_chat_topic(ChannelName.WEB, address))
            # A chat's next message waits for this one to finish: wake whoever may send it.
            await self.coordinator.notify(OUTBOX)
        except Exception:
            # The results are committed; without the wake-up, waiters find them on their timer.
            log.warning("recorded %d results but could not notify", len(batch),
                        exc_info=True)  # pragma: no mutate  (the traceback only)  # fmt: skip


async def record_status(
    db: Database,
    platform_id: str,
    status: str,
    error_code: str | None,
    on_lost: OnLost,
    clock: Callable[[], float] = time.time,
) -> int:
    """Apply a platform's status report, only ever forwards; returns rows changed."""
    rank = STATUS_RANK.get(status)
    if rank is None or rank < Rank.SENT:
        return 0
    if status == "failed" and error_code in (OUTSIDE_WINDOW, THROTTLED):
        requeued = await _again(db, platform_id, error_code, clock)
        if requeued:
            return requeued
    values: dict[str, Any] = {"status": status, "status_rank": rank}
    if error_code:
        values["error_code"] = error_code[:32]
    async with db.session() as session, session.begin():
        result = await session.execute(
            update(Delivery)
            .where(Delivery.platform_id == platform_id, Delivery.status_rank < rank)
            .values(**values)
            .returning(Delivery.broadcast_id, Delivery.contact_id)
        )
        changed = result.all()
        if status in ("failed", "undelivered"):
            # Reported failed after it left (e.g. outside WhatsApp's window): a linked
            # member gets the broadcast on their next chat instead.
            await on_lost(session, [(b, c) for b, c in changed if b and c])
    return len(changed)


OUTSIDE_WINDOW = "63016"  # WhatsApp: free-form outside the 24-hour window
THROTTLED = "63018"  # WhatsApp: over the sender's rate or Meta's daily limit
THROTTLED_DELAY = 15 * 60.0


async def _again(
    db: Database, platform_id: str, error_code: str, clock: Callable[[], float]
) -> int:
    """Failures reported later that are not final. 63016: the platform refused a free-form
    message as outside the member's window (their last message was older than we knew): it
    goes again as the notice template, or waits for them. 63018: throttled, perhaps for the
    day: it goes again in a quarter of an hour."""
    async with db.session() as session, session.begin():
        rows = list(
            await session.scalars(
                select(Delivery).where(
                    Delivery.platform_id == platform_id, Delivery.status_rank < Rank.FINAL
                )
            )
        )
        for row in rows:
            message = dict(row.message or {})
            if error_code == OUTSIDE_WINDOW:
                if message.get("outside_window"):
                    return 0  # refused as the template itself: nothing more to try
                message["outside_window"] = True
                row.due_at = 0.0
            else:
                row.due_at = clock() + THROTTLED_DELAY
            row.message = message
            row.status, row.status_rank = "queued", Rank.QUEUED
            row.error_code, row.platform_id = error_code, None
    return len(rows)


Classify = Callable[[str, str | None], Outcome | None]


async def apply_early_reports(
    db: Database,
    platform_ids: list[str],
    on_lost: OnLost,
    classify: Classify | None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Take the status reports kept for these sends (see ``outbox.keep_early_report``) and
    apply them in the order they came; a refusal that means the member cannot be reached
    marks them as a refusal at send time would. Returns how many reports were applied."""
    early = await outbox.take_early_reports(db, platform_ids)
    for platform_id, status, error in early:
        changed = await record_status(db, platform_id, status, error, on_lost, clock)
        if changed and classify is not None and classify(status, error) == Outcome.UNREACHABLE:
            await mark_unreachable_after(db, platform_id, on_lost)
    return len(early)


async def mark_unreachable_after(db: Database, platform_id: str, on_lost: OnLost) -> None:
    """A status report said the member cannot be reached (blocked, not on the platform): what
    the sender does when the platform refuses at once, for a refusal that came later. Their
    broadcasts still queued on this chat go to a linked one where there is one."""
    async with db.session() as session, session.begin():
        found = (
            await session.execute(
                select(Delivery.contact_id, Delivery.sent_at).where(
                    Delivery.platform_id == platform_id, Delivery.contact_id.is_not(None)
                )
            )
        ).first()
        if found is None:
            return
        contact = await session.get(Contact, found.contact_id)
        if contact is None:
            return
        if contact.last_inbound_at and found.sent_at and contact.last_inbound_at > found.sent_at:
            return  # they wrote after this message went out: reachable again
        lost = await outbox.mark_unreachable(session, [contact.id])
        if lost:
            await on_lost(session, lost)
