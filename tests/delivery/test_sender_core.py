"""The sender's bookkeeping on its own: what it claims, and what it records for each outcome.

No web server and no platform fakes: rows put straight in the outbox, claimed, and the send's
outcome recorded as the sender does after a send, on each backend's real database (migrated
once for the file), so that the file runs in seconds. `tests/delivery/test_sender.py` runs
the whole loop against the fake platforms.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import update

from bot.channels.base import Outcome, SendResult
from bot.config import Settings
from bot.conversation import choosing
from bot.coordination import Coordinator, create_coordinator
from bot.coordination.keys import OUTBOX, web_chat_topic
from bot.delivery.sender import (
    LEASE,
    Claimed,
    OnLost,
    Sender,
    Tuning,
    apply_early_reports,
    mark_unreachable_after,
    record_status,
)
from bot.messages import Button, OutboundMessage
from bot.storage import outbox
from bot.storage.db import Database
from bot.storage.models import Contact, Delivery
from bot.storage.outbox import BULK, REPLY, Rank
from tests.clock import VirtualClock
from tests.conftest import make_backend
from tests.harness import eventually, free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Shared:
    db: Database
    coordinator: Coordinator
    redis_url: str | None


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["embedded", "scaled"])
async def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shared]:
    async for backend in make_backend(request.param, tmp_path_factory.mktemp("sender")):
        db = Database(backend.database_url, schema=backend.schema)
        await db.migrate()
        coordinator = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
        await coordinator.start()
        try:
            yield Shared(db, coordinator, backend.redis_url)
        finally:
            await coordinator.close()
            await db.dispose()


class _Channel:
    """A channel that is on and never asked to send here."""

    enabled = True

    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        raise AssertionError("these tests record outcomes; nothing is sent")


class _Platform:
    """A channel that takes every message handed to it, in the order it is handed them; while
    ``open`` is clear each send waits there (messages on their way)."""

    enabled = True

    def __init__(self) -> None:
        self.handed: list[tuple[str, OutboundMessage]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.refusals: dict[str, SendResult] = {}  # by address; the others are sent

    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        self.handed.append((address, message))
        await self.open.wait()
        refused = self.refusals.get(address)
        return refused or SendResult(Outcome.SENT, platform_id=f"p-{uuid.uuid4().hex}")

    def texts_to(self, addresses: Iterable[str]) -> list[str | None]:
        wanted = set(addresses)
        return [m.text for address, m in self.handed if address in wanted]


async def _lose_nothing(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
    return 0  # no linked chat takes them


def sender_of(
    shared: Shared,
    channels: dict[str, Any],
    *,
    on_lost: OnLost = _lose_nothing,
    coordinator: Coordinator | None = None,
    clock: VirtualClock | None = None,
    loop_clock: VirtualClock | None = None,
    tuning: Tuning | None = None,
    **settings: Any,
) -> Sender:
    """A sender of the test's own: its channels, settings, clock and broadcasts' fallback.
    With ``loop_clock`` its loop's waits (the idle wait, the writer's linger, the retries while
    the database is away) pass on that clock too, and only when the test moves it."""
    timed: dict[str, Any] = {"clock": clock or time.time}
    if loop_clock is not None:
        timed = {"clock": loop_clock, "monotonic": loop_clock, "sleep": loop_clock.sleep}
    return Sender(
        shared.db, coordinator or shared.coordinator, channels,
        Settings(_env_file=None, **settings), on_lost=on_lost, tuning=tuning, **timed,
    )  # fmt: skip


@pytest.fixture
def lost() -> list[tuple[int, int]]:
    return []


@pytest.fixture
def clock() -> VirtualClock:
    """Epoch seconds that stand still while a test runs, unless it moves them."""
    return VirtualClock(start=float(int(time.time())))


@pytest.fixture
def sender(shared: Shared, lost: list[tuple[int, int]], clock: VirtualClock) -> Sender:
    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        pairs = list(pairs)
        lost.extend(pairs)
        return len(pairs)

    channels = {"telegram": _Channel(), "web": _Channel()}
    return sender_of(shared, channels, on_lost=on_lost, clock=clock, send_max_attempts=3)


async def contact(db: Database, channel: str = "telegram") -> Contact:
    async with db.session() as session, session.begin():
        found = Contact(
            channel=channel, address=str(600000000 + uuid.uuid4().int % 99999999),
            status="active", flow_data={}, choices=[],
        )  # fmt: skip
        session.add(found)
    return found


async def queue(db: Database, to: Contact, text: str, **values: Any) -> int:
    message = values.pop("message", None) or OutboundMessage(text=text).to_json()
    async with db.session() as session, session.begin():
        row = Delivery(contact_id=to.id, channel=to.channel, address=to.address,
                       message=message, **values)  # fmt: skip
        session.add(row)
    return row.id


async def row(db: Database, row_id: int) -> Delivery | None:
    async with db.session() as session:
        return await session.get(Delivery, row_id)


async def set_aside(db: Database, channel: str) -> None:
    """What earlier tests of the file left queued or claimed on ``channel`` (retries, rate
    limits) is failed here: a test that counts what its channel claims counts its own only."""
    async with db.session() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.channel == channel, Delivery.status.in_(["queued", "sending"]))
            .values(status="failed", status_rank=Rank.FINAL)
        )


async def mine(sender: Sender, ids: set[int]) -> list[Claimed]:
    """Claim, keeping this test's rows (other tests' rows are left as claimed: never recorded)."""
    return [c for c in await sender.claim(500, ["telegram", "web"]) if c.id in ids]


# ---- claiming -----------------------------------------------------------------------------


async def test_a_chats_reply_goes_before_its_bulk_and_one_message_per_chat_at_a_time(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    news = await queue(shared.db, member, "news", priority=BULK)
    reply = await queue(shared.db, member, "reply", priority=REPLY)
    later = await queue(shared.db, member, "later reply", priority=REPLY)
    ids = {news, reply, later}
    claimed = await mine(sender, ids)
    assert [c.id for c in claimed] == [reply]
    assert claimed[0].attempts == 1
    # When it was queued, as a moment in UTC on either database (the send's latency counts from it).
    assert claimed[0].created_at is not None and claimed[0].created_at.tzinfo is not None
    assert await mine(sender, ids) == []  # the chat is busy until the reply is recorded
    await sender._record([(claimed[0], SendResult(Outcome.SENT, platform_id="p1"))])
    assert [c.id for c in await mine(sender, ids)] == [later]


async def test_a_message_due_later_or_on_another_channel_is_not_claimed(
    sender: Sender, shared: Shared, clock: VirtualClock
) -> None:
    member = await contact(shared.db)
    later = await queue(shared.db, member, "later", due_at=clock.now + 600)
    whatsapp = await contact(shared.db, "whatsapp")
    elsewhere = await queue(shared.db, whatsapp, "there")
    assert await mine(sender, {later, elsewhere}) == []
    # Due this very second: it goes now.
    other = await contact(shared.db)
    now = await queue(shared.db, other, "now", due_at=clock.now)
    assert [c.id for c in await mine(sender, {now})] == [now]


async def test_a_claim_holds_a_lease_and_a_dead_senders_claims_are_put_back(
    sender: Sender, shared: Shared, clock: VirtualClock
) -> None:
    member = await contact(shared.db)
    row_id = await queue(shared.db, member, "hello")
    (claimed,) = await mine(sender, {row_id})
    found = await row(shared.db, row_id)
    assert found is not None and found.status == "sending"
    assert found.lease_until == clock.now + 60  # a minute
    await sender.recover()  # the lease has not run out: left alone
    found = await row(shared.db, row_id)
    assert found is not None and found.status == "sending"
    async with shared.db.session() as session, session.begin():
        stale = await session.get(Delivery, row_id)
        assert stale is not None
        stale.lease_until = clock.now - 1
    assert await sender.recover() >= 1
    found = await row(shared.db, row_id)
    assert found is not None and (found.status, found.lease_until) == ("queued", None)


# ---- recording each outcome -----------------------------------------------------------------


async def claimed_one(
    sender: Sender, shared: Shared, to: Contact, text: str, **values: Any
) -> Claimed:
    row_id = await queue(shared.db, to, text, **values)
    (claimed,) = await mine(sender, {row_id})
    return claimed


async def test_a_sent_message_is_recorded_sent_with_the_platforms_id(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "hello")
    await sender._record([(claimed, SendResult(Outcome.SENT, platform_id="tg-1"))])
    found = await row(shared.db, claimed.id)
    assert found is not None
    assert (found.status, found.platform_id, found.attempts) == ("sent", "tg-1", 1)
    assert found.sent_at is not None and found.lease_until is None


async def test_a_refused_message_is_failed_and_a_lost_broadcast_goes_to_the_linked_chat(
    sender: Sender, shared: Shared, lost: list[tuple[int, int]]
) -> None:
    member = await contact(shared.db)
    reply = await claimed_one(sender, shared, member, "hello")
    await sender._record([(reply, SendResult(Outcome.FAILED, error_code="400"))])
    found = await row(shared.db, reply.id)
    assert found is not None and (found.status, found.error_code) == ("failed", "400")
    assert lost == []  # a reply is no broadcast
    news = await claimed_one(sender, shared, member, "news", broadcast_id=77, priority=BULK)
    await sender._record([(news, SendResult(Outcome.FAILED, error_code="400"))])
    assert lost == [(77, member.id)]


async def test_a_passing_failure_is_tried_again_later_until_the_last_attempt(
    sender: Sender, shared: Shared, clock: VirtualClock
) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "hello")
    await sender._record([(claimed, SendResult(Outcome.RETRY, error_code="exception"))])
    found = await row(shared.db, claimed.id)
    assert found is not None and found.status == "queued"
    # the first retry waits 2 s, give or take a fifth
    assert clock.now + 2 * 0.8 <= found.due_at <= clock.now + 2 * 1.2
    claimed.attempts = 3  # send_max_attempts in these tests
    await sender._record([(claimed, SendResult(Outcome.RETRY, error_code="exception"))])
    found = await row(shared.db, claimed.id)
    assert found is not None and found.status == "failed"


async def test_a_rate_limited_message_waits_what_the_platform_said_without_an_attempt(
    sender: Sender, shared: Shared, clock: VirtualClock
) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "hello")
    await sender._record([(claimed, SendResult(Outcome.RATE_LIMITED, retry_after=7.0))])
    found = await row(shared.db, claimed.id)
    assert found is not None
    assert (found.status, found.attempts) == ("queued", 0)
    assert found.due_at == clock.now + 7.0
    other = await contact(shared.db)  # the first's chat waits behind it
    short = await claimed_one(sender, shared, other, "again")
    await sender._record([(short, SendResult(Outcome.RATE_LIMITED, retry_after=0.1))])
    found = await row(shared.db, short.id)
    assert found is not None and found.due_at == clock.now + 1.0  # at least a second


async def test_a_message_held_outside_the_window_waits_without_an_attempt(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "hello")
    await sender._record([(claimed, SendResult(Outcome.HELD, error_code="outside_window"))])
    found = await row(shared.db, claimed.id)
    assert found is not None and (found.status, found.attempts) == ("held", 0)


async def test_a_broadcast_held_outside_the_window_goes_to_a_linked_chat_that_takes_it(
    sender: Sender, shared: Shared, lost: list[tuple[int, int]]
) -> None:
    # The fallback here takes every broadcast handed to it (another chat of theirs reads it
    # now): the held copy is then done with, rather than waiting for the member to write.
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "news", broadcast_id=99, priority=BULK)
    await sender._record([(claimed, SendResult(Outcome.HELD, error_code="outside_window"))])
    assert lost == [(99, member.id)]
    found = await row(shared.db, claimed.id)
    assert found is not None and found.status == "failed"


async def test_a_member_who_blocked_the_bot_is_unreachable(sender: Sender, shared: Shared) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "hello")
    await sender._record([(claimed, SendResult(Outcome.UNREACHABLE, error_code="403"))])
    async with shared.db.session() as session:
        found = await session.get(Contact, member.id)
    assert found is not None and found.unreachable_at is not None


async def test_a_broadcasts_options_become_the_members_choices_once_it_reaches_them(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    message = OutboundMessage(
        text="Which topics?",
        buttons=[[Button("Health", "topic:1"), Button("Site", "x", url="https://e.org")],
                 [Button("Schools", "topic:2")]],
        remember_choices=True,
    ).to_json()  # fmt: skip
    claimed = await claimed_one(sender, shared, member, "", message=message, priority=BULK)
    await sender._record([(claimed, SendResult(Outcome.SENT, platform_id="tg-2"))])
    async with shared.db.session() as session:
        found = await session.get(Contact, member.id)
    # With their labels, so that "schools" typed picks the second as "2" does.
    kept = ["topic:1\nHealth", "topic:2\nSchools"]
    assert found is not None and found.choices == kept
    assert choosing.read("schools", found.choices) == choosing.read("2", found.choices)
    assert choosing.read("2", found.choices) == "topic:2"
    # A later message that offers nothing of its own leaves them their choices.
    plain = await claimed_one(sender, shared, member, "Thanks")
    await sender._record([(plain, SendResult(Outcome.SENT, platform_id="tg-2b"))])
    async with shared.db.session() as session:
        found = await session.get(Contact, member.id)
    assert found is not None and found.choices == kept


async def test_a_web_chats_page_is_woken_when_its_answer_is_recorded(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db, "web")
    topic = web_chat_topic("web", member.address)
    claimed = await claimed_one(sender, shared, member, "hello")
    waiting = asyncio.ensure_future(shared.coordinator.wait(topic, timeout=20.0))
    await asyncio.sleep(0.05)  # the page is listening (a notice before it still counts)
    # The web chat's channel reports it delivered: the page reads it from the outbox.
    await sender._record([(claimed, SendResult(Outcome.SENT, status="delivered"))])
    assert await waiting is True  # woken, not timed out
    assert (await row(shared.db, claimed.id) or Delivery()).status == "delivered"


async def test_a_members_own_data_is_erased_from_the_outbox_once_sent(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    message = OutboundMessage(text="your data", ephemeral=True).to_json()
    claimed = await claimed_one(sender, shared, member, "", message=message)
    await sender._record([(claimed, SendResult(Outcome.SENT, platform_id="tg-3"))])
    assert await row(shared.db, claimed.id) is None
    # while one that will be tried again is kept
    again = await claimed_one(sender, shared, member, "", message=message)
    await sender._record([(again, SendResult(Outcome.RETRY))])
    assert await row(shared.db, again.id) is not None
    # and a web chat's, which its page reads from the outbox and then erases itself
    visitor = await contact(shared.db, "web")
    shown = await claimed_one(sender, shared, visitor, "", message=message)
    await sender._record([(shown, SendResult(Outcome.SENT))])
    assert await row(shared.db, shown.id) is not None


# ---- status reports -----------------------------------------------------------------------


async def test_a_status_report_only_moves_a_delivery_forward(
    sender: Sender, shared: Shared, lost: list[tuple[int, int]]
) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "news", broadcast_id=88)
    pid = f"SM{uuid.uuid4().hex}"
    await sender._record([(claimed, SendResult(Outcome.SENT, platform_id=pid))])

    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> None:
        lost.extend(pairs)

    assert await record_status(shared.db, pid, "read", None, on_lost) == 1
    assert await record_status(shared.db, pid, "delivered", None, on_lost) == 0  # late
    assert await record_status(shared.db, pid, "queued", None, on_lost) == 0
    found = await row(shared.db, claimed.id)
    assert found is not None and found.status == "read"
    assert lost == []
    assert await record_status(shared.db, pid, "undelivered", "30008", on_lost) == 1
    found = await row(shared.db, claimed.id)
    assert found is not None and (found.status, found.error_code) == ("undelivered", "30008")
    assert lost == [(88, member.id)]
    # A reply that was not delivered is no broadcast: nothing to give a linked chat.
    reply = await claimed_one(sender, shared, member, "your answer")
    reply_id = f"SM{uuid.uuid4().hex}"
    await sender._record([(reply, SendResult(Outcome.SENT, platform_id=reply_id))])
    assert await record_status(shared.db, reply_id, "undelivered", "30008", on_lost) == 1
    assert lost == [(88, member.id)]
    # The platform repeats its report: the linked chat is not given the broadcast twice.
    assert await record_status(shared.db, pid, "undelivered", "30008", on_lost) == 0
    assert lost == [(88, member.id)]


@pytest.mark.parametrize(
    ("jitter", "waits"),
    [
        # The jitter at its top (a fifth more): each wait is at its longest.
        ("top", [2.4, 9.6, 307.2, 360.0, 360.0]),
        # At its bottom (a fifth less): at its shortest.
        ("bottom", [1.6, 6.4, 204.8, 240.0, 240.0]),
    ],
)
async def test_retries_wait_twice_as_long_each_time_up_to_five_minutes(
    shared: Shared,
    clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
    jitter: str,
    waits: list[float],
) -> None:
    pick = (lambda low, high: high) if jitter == "top" else (lambda low, high: low)
    monkeypatch.setattr("bot.delivery.sender.random.uniform", pick)
    patient = sender_of(shared, {"telegram": _Channel()}, clock=clock, send_max_attempts=20)
    member = await contact(shared.db)
    for attempts, wait in zip([1, 3, 8, 9, 15], waits, strict=True):
        claimed = await claimed_one(patient, shared, member, f"try {attempts}")
        claimed.attempts = attempts
        await patient._record([(claimed, SendResult(Outcome.RETRY, error_code="502"))])
        found = await row(shared.db, claimed.id)
        assert found is not None and found.status == "queued"
        assert found.due_at == pytest.approx(clock.now + wait, abs=0.001), attempts
        await patient._record([(claimed, SendResult(Outcome.SENT, platform_id=f"p{attempts}"))])


@pytest.mark.parametrize("places", [1, 0])  # none configured: one all the same
async def test_a_pool_of_one_place_sends_one_message_at_a_time(shared: Shared, places: int) -> None:
    platform = _Platform()
    await set_aside(shared.db, "web")
    one = sender_of(shared, {"web": platform}, sender_concurrency=places)
    first, second = await contact(shared.db, "web"), await contact(shared.db, "web")
    await queue(shared.db, first, "a")
    await queue(shared.db, second, "b")
    platform.open.clear()
    assert await one.pump() == 1  # two chats waiting, one place
    await asyncio.sleep(0.05)
    assert await one.pump() == 0  # the place is taken until that send ends
    platform.open.set()
    await one.flush()
    assert await one.pump() == 1
    await one.flush()
    assert sorted(platform.texts_to([first.address, second.address])) == ["a", "b"]


async def send_all_due(sender: Sender) -> None:
    """Claim, send and record until nothing is due (what the loop does while there is work)."""
    while await sender.pump():
        await sender.flush()


# ---- sending: what is claimed while sends are on their way ----------------------------------


async def test_a_reply_queued_while_bulk_is_on_its_way_goes_in_the_next_claim(
    shared: Shared,
) -> None:
    # A rate-limited channel claims only what it can send in a moment (its look-ahead), and
    # nothing more while that is on its way: a reply queued meanwhile goes next, not behind
    # every broadcast message already claimed.
    await set_aside(shared.db, "telegram")
    platform = _Platform()
    sender = sender_of(shared, {"telegram": platform}, sender_concurrency=50)
    members = [await contact(shared.db) for _ in range(30)]
    for m in members:
        await queue(shared.db, m, f"news for {m.address}", priority=BULK)
    platform.open.clear()
    ahead = await sender.pump()
    assert 2 <= ahead < len(members)  # a part of the bulk, not all of it
    await asyncio.sleep(0.05)
    assert await sender.pump() == 0  # still on its way: nothing more is claimed
    waiting = await contact(shared.db)
    await queue(shared.db, waiting, "the answer", priority=REPLY)
    platform.open.set()
    await sender.flush()
    # The next claim takes the reply, and again no more than the look-ahead.
    assert await sender.pump() == ahead
    await sender.flush()
    texts = [m.text for _, m in platform.handed]
    assert "the answer" in texts
    assert texts.index("the answer") <= 2 * ahead - 1
    await send_all_due(sender)  # the rest of the bulk follows
    assert sorted(platform.texts_to(m.address for m in members)) == sorted(
        f"news for {m.address}" for m in members
    )


async def test_one_message_on_its_way_does_not_hold_back_the_rest_of_its_channel(
    shared: Shared,
) -> None:
    # One reply is on its way to Telegram (the platform has not answered yet): replies to
    # other members queued meanwhile are claimed and handed over too, up to the look-ahead.
    await set_aside(shared.db, "telegram")
    platform = _Platform()
    sender = sender_of(shared, {"telegram": platform}, sender_concurrency=50)
    first = await contact(shared.db)
    await queue(shared.db, first, "first", priority=REPLY)
    platform.open.clear()
    assert await sender.pump() == 1
    others = [await contact(shared.db) for _ in range(2)]
    for m in others:
        await queue(shared.db, m, f"reply to {m.address}", priority=REPLY)
    assert await sender.pump() >= 1
    platform.open.set()
    await sender.flush()
    await send_all_due(sender)
    assert sorted(platform.texts_to(m.address for m in [first, *others])) == sorted(
        ["first", *(f"reply to {m.address}" for m in others)]
    )


async def test_with_the_coordination_away_a_claimed_message_is_queued_again_in_a_second(
    shared: Shared, clock: VirtualClock
) -> None:
    # Redis stops answering between the claim and the send: the limits cannot be kept, so
    # nothing goes; the message is back in the queue a second later, no attempt counted, and
    # nothing is left claimed until its lease runs out.
    platform = _Platform()
    # Telegram without a channel-wide limit: the claim asks nothing of the coordination, the
    # chats' own limits (and the sends) do.
    away = create_coordinator(f"redis://127.0.0.1:{free_port()}/0", prefix="away:")
    sender = sender_of(shared, {"telegram": platform}, coordinator=away, clock=clock,
                       telegram_rate=0)  # fmt: skip
    try:
        member = await contact(shared.db)
        row_id = await queue(shared.db, member, "hello")
        assert await sender.pump() >= 1
        await sender.flush()
    finally:
        await away.close()
    assert platform.texts_to([member.address]) == []
    found = await row(shared.db, row_id)
    assert found is not None
    assert (found.status, found.attempts, found.error_code) == ("queued", 0, "coordination")
    assert found.due_at == clock.now + 1.0


class _PauseUnshared:
    """The coordination answering everything but the pause it is asked to share (Redis
    failing at that moment)."""

    def __init__(self, inner: Coordinator) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def pause(self, scope: str, seconds: float) -> None:
        raise ConnectionError("the coordination went away")


async def test_a_wait_the_platform_asked_for_is_kept_when_it_cannot_be_shared(
    shared: Shared, clock: VirtualClock
) -> None:
    # Telegram answers "retry after 5 s" and the pause cannot reach the other processes: the
    # message still waits its five seconds in the queue, rather than staying claimed until
    # its lease runs out.
    platform = _Platform()
    sender = sender_of(shared, {"telegram": platform}, coordinator=_PauseUnshared(shared.coordinator),
                       clock=clock, telegram_rate=0)  # type: ignore[arg-type]  # fmt: skip
    member = await contact(shared.db)
    platform.refusals[member.address] = SendResult(Outcome.RATE_LIMITED, retry_after=5.0)
    row_id = await queue(shared.db, member, "hello")
    assert await sender.pump() >= 1
    await sender.flush()
    found = await row(shared.db, row_id)
    assert found is not None
    assert (found.status, found.attempts, found.lease_until) == ("queued", 0, None)
    assert found.due_at == clock.now + 5.0


async def test_results_met_by_a_database_outage_are_recorded_once_it_is_back(
    shared: Shared,
) -> None:
    # The database fails while a batch is recorded (here inside the broadcasts' fallback):
    # the batch is written when it answers again, rather than left claimed and sent twice.
    calls: list[list[tuple[int, int]]] = []

    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        calls.append(list(pairs))
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        return 0

    sender = sender_of(shared, {"telegram": _Channel()}, on_lost=on_lost)
    first, second = await contact(shared.db), await contact(shared.db)
    reply = await claimed_one(sender, shared, first, "your answer")
    news = await claimed_one(sender, shared, second, "news", broadcast_id=55, priority=BULK)
    await sender._record_until_stored(
        [(reply, SendResult(Outcome.SENT, platform_id="tg-ok")),
         (news, SendResult(Outcome.FAILED, error_code="400"))],
        asyncio.Event(),
    )  # fmt: skip
    sent, failed = await row(shared.db, reply.id), await row(shared.db, news.id)
    assert sent is not None and (sent.status, sent.platform_id) == ("sent", "tg-ok")
    assert failed is not None and (failed.status, failed.error_code) == ("failed", "400")
    assert calls == [[(55, second.id)], [(55, second.id)]]


async def test_stopping_while_the_database_is_away_gives_up_recording_rather_than_hang(
    shared: Shared, caplog: pytest.LogCaptureFixture
) -> None:
    # The service stops and the database does not answer: what could not be written down is
    # left to its lease (it goes again later), and the process ends.
    calls: list[list[tuple[int, int]]] = []

    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        calls.append(list(pairs))
        raise ConnectionError("the database is away")

    sender = sender_of(shared, {"telegram": _Channel()}, on_lost=on_lost)
    member = await contact(shared.db)
    news = await claimed_one(sender, shared, member, "news", broadcast_id=56, priority=BULK)
    stopping = asyncio.Event()
    stopping.set()
    with caplog.at_level("ERROR", logger="bot.delivery.sender"):
        await asyncio.wait_for(
            sender._record_until_stored(
                [(news, SendResult(Outcome.FAILED, error_code="400"))], stopping
            ),
            timeout=10,
        )
    assert calls == [[(56, member.id)]]  # tried once, then given up
    found = await row(shared.db, news.id)
    assert found is not None and found.status == "sending"
    assert any("their leases will end" in r.getMessage() for r in caplog.records)


class _Moving(_Platform):
    """A platform whose client fails the first time it is told of a chat that moved."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self.follows: list[float] = []  # when it was told

    def follow(self, address: str, moved_to: str) -> None:
        self.follows.append(self.clock.now)
        if len(self.follows) == 1:
            raise ConnectionError("the platform's client failed")


async def stopped(loop: asyncio.Task[None], stopping: asyncio.Event, clock: VirtualClock) -> None:
    """Stop a loop whose waits pass on ``clock``: time moves on until it has ended."""
    stopping.set()
    for _ in range(1000):
        if loop.done():
            break
        if not clock.wake_next():
            await asyncio.sleep(0.01)
        await clock.settle()
    await asyncio.wait_for(loop, 30)


async def test_a_round_of_the_loop_that_fails_is_tried_again_and_sending_goes_on(
    shared: Shared, caplog: pytest.LogCaptureFixture, clock: VirtualClock
) -> None:
    # The round fails (the platform's client, told of a chat that moved); the loop tries again
    # after its wait (30 s here, on the test's clock), and sends.
    platform = _Moving(clock)
    tuning = Tuning(round_retry=30.0, idle_wait=1000.0, writer_poll=1000.0)
    sender = sender_of(shared, {"telegram": platform}, loop_clock=clock, tuning=tuning)
    group = f"-100{uuid.uuid4().int % 10**9}"
    async with shared.db.session() as session, session.begin():
        await outbox.record_move(session, "telegram", group, f"-100{uuid.uuid4().int % 10**9}")
    member = await contact(shared.db)
    row_id = await queue(shared.db, member, "hello")
    stopping = asyncio.Event()
    start = clock.now
    loop = asyncio.create_task(sender.run(stopping))

    async def sent() -> bool:
        if loop.done():
            loop.result()  # the loop ended: its error fails the test
        found = await row(shared.db, row_id)
        return found is not None and found.status == "sent"

    with caplog.at_level("ERROR", logger="bot.delivery.sender"):
        try:
            # The failed round waits, and so does the writer.
            assert await clock.step(asleep=2) == start + 30
            await eventually(sent, timeout=30)
        finally:
            await stopped(loop, stopping, clock)
    assert platform.texts_to([member.address]) == ["hello"]
    assert platform.follows[:2] == [start, start + 30]  # the failed round, then the next
    assert any("trying again" in r.getMessage() for r in caplog.records)


# ---- WhatsApp's window: ten minutes' margin --------------------------------------------------


@pytest.mark.parametrize(
    ("left", "inside"),
    [
        (timedelta(minutes=10, seconds=30), True),
        (timedelta(minutes=10), False),  # exactly ten minutes left: too close to the end
        (timedelta(minutes=9, seconds=30), False),
    ],
)
async def test_a_message_goes_as_it_is_until_ten_minutes_before_the_window_ends(
    shared: Shared, clock: VirtualClock, left: timedelta, inside: bool
) -> None:
    platform = _Platform()
    sender = sender_of(shared, {"whatsapp": platform}, clock=clock)
    member = await contact(shared.db, "whatsapp")
    wrote = datetime.fromtimestamp(clock.now, UTC) - (timedelta(hours=24) - left)
    async with shared.db.session() as session, session.begin():
        found = await session.get(Contact, member.id)
        assert found is not None
        found.last_inbound_at = wrote
    row_id = await queue(shared.db, member, "Your answer")
    await send_all_due(sender)
    handed = platform.texts_to([member.address])
    status = (await row(shared.db, row_id) or Delivery()).status
    if inside:
        assert (handed, status) == (["Your answer"], "sent")
    else:
        assert (handed, status) == ([], "held")  # kept until they write


async def test_a_message_to_a_chat_without_a_member_does_not_spare_the_next_its_window(
    shared: Shared, clock: VirtualClock
) -> None:
    # The goodbye to an erased member goes to a chat with no member behind it; a member's
    # message claimed with it is judged against their window all the same.
    platform = _Platform()
    sender = sender_of(shared, {"whatsapp": platform}, clock=clock)
    async with shared.db.session() as session, session.begin():
        goodbye = Delivery(contact_id=None, channel="whatsapp", address="whatsapp:+40700000001",
                           message=OutboundMessage(text="Goodbye").to_json())  # fmt: skip
        session.add(goodbye)
    member = await contact(shared.db, "whatsapp")
    async with shared.db.session() as session, session.begin():
        found = await session.get(Contact, member.id)
        assert found is not None
        found.last_inbound_at = datetime.fromtimestamp(clock.now, UTC) - timedelta(hours=25)
    row_id = await queue(shared.db, member, "Your answer")
    await send_all_due(sender)
    assert platform.texts_to([member.address]) == []
    assert (await row(shared.db, row_id) or Delivery()).status == "held"


async def test_a_sender_stopped_before_it_started_ends_cleanly(shared: Shared) -> None:
    sender = sender_of(shared, {"telegram": _Platform()})
    stopping = asyncio.Event()
    stopping.set()
    await asyncio.wait_for(sender.run(stopping), 30)


# ---- status reports that are final ------------------------------------------------------------


async def test_a_message_reported_failed_for_good_is_not_sent_again(
    sender: Sender, shared: Shared, lost: list[tuple[int, int]]
) -> None:
    member = await contact(shared.db, "whatsapp")
    row_id = await queue(shared.db, member, "hello")
    (claimed,) = [c for c in await sender.claim(500, ["whatsapp"]) if c.id == row_id]
    pid = f"SM{uuid.uuid4().hex}"
    await sender._record([(claimed, SendResult(Outcome.SENT, platform_id=pid))])

    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> None:
        lost.extend(pairs)

    # A failure that is no window and no throttling (30008: unknown): final.
    assert await record_status(shared.db, pid, "failed", "30008", on_lost) == 1
    found = await row(shared.db, row_id)
    assert found is not None and (found.status, found.error_code) == ("failed", "30008")
    # A throttling report that comes after it changes nothing: it is not queued again.
    assert await record_status(shared.db, pid, "failed", "63018", on_lost) == 0
    found = await row(shared.db, row_id)
    assert found is not None and (found.status, found.error_code) == ("failed", "30008")


# ---- what the operator sees ---------------------------------------------------------------


class _Broken(_Platform):
    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        raise ConnectionResetError("the platform's connection broke")


async def test_a_send_that_raises_is_tried_again_later(shared: Shared, clock: VirtualClock) -> None:
    sender = sender_of(shared, {"telegram": _Broken()}, clock=clock, send_max_attempts=3)
    member = await contact(shared.db)
    row_id = await queue(shared.db, member, "hello")
    await send_all_due(sender)
    found = await row(shared.db, row_id)
    assert found is not None
    assert (found.status, found.attempts, found.error_code) == ("queued", 1, "exception")
    assert clock.now + 2 * 0.8 <= found.due_at <= clock.now + 2 * 1.2


async def test_every_channel_is_served_whatever_the_order_they_are_configured_in(
    shared: Shared,
) -> None:
    # A channel without a rate limit (the web chat) listed first does not keep the others
    # from claiming.
    platform = _Platform()
    sender = sender_of(shared, {"web": platform, "telegram": platform})
    member = await contact(shared.db)
    await queue(shared.db, member, "on Telegram")
    await send_all_due(sender)
    assert platform.texts_to([member.address]) == ["on Telegram"]


async def test_the_send_latency_counts_from_queuing_to_the_platform_taking_it(
    shared: Shared, clock: VirtualClock
) -> None:
    platform = _Platform()
    sender = sender_of(shared, {"web": platform}, clock=clock)
    at = datetime.fromtimestamp(clock.now, UTC)
    quick, skewed, refused = [await contact(shared.db, "web") for _ in range(3)]
    await queue(shared.db, quick, "a", created_at=at - timedelta(seconds=0.25))
    # Stamped by a machine whose clock runs ahead: counted as no wait, not a negative one.
    await queue(shared.db, skewed, "b", created_at=at + timedelta(seconds=0.5))
    await queue(shared.db, refused, "c", created_at=at - timedelta(seconds=30))
    platform.refusals[refused.address] = SendResult(Outcome.FAILED, error_code="400")
    await send_all_due(sender)
    registry = sender.metrics.registry
    labels = {"channel": "web"}
    assert registry.get_sample_value("childpact_send_latency_seconds_count", labels) == 2
    assert registry.get_sample_value("childpact_send_latency_seconds_sum", labels) == 0.25


async def test_a_group_that_moved_is_followed_by_every_sender(
    sender: Sender, shared: Shared
) -> None:
    # A Telegram group became a supergroup: the send went to its new address, and every
    # process learns where it lives now.
    group, supergroup = "-4001", f"-100{uuid.uuid4().int % 10**9:09d}"
    async with shared.db.session() as session, session.begin():
        note = Delivery(contact_id=None, channel="telegram", address=group,
                        message=OutboundMessage(text="For the group").to_json())  # fmt: skip
        session.add(note)
    (claimed,) = await mine(sender, {note.id})
    await sender._record(
        [(claimed, SendResult(Outcome.SENT, platform_id="9", moved_to=supergroup))]
    )
    async with shared.db.session() as session:
        moves = [(m.channel, m.address, m.moved_to) for m in await outbox.chat_moves(session)]
    assert ("telegram", group, supergroup) in moves


class _Gated(_Platform):
    """Each chat's send waits until its own gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.at_gate: set[str] = set()  # the chats whose send has come as far as its gate

    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        self.at_gate.add(address)
        await self.gates[address].wait()
        return await super().send(address, message)


async def test_a_send_is_recorded_at_once_while_many_others_are_on_their_way(
    shared: Shared,
) -> None:
    # During a broadcast most sends are on their way at once; one that has gone is written
    # down at once all the same: until it is, its chat's next message (a reply) waits.
    platform = _Gated()
    sender = sender_of(shared, {"web": platform}, sender_concurrency=50)
    members = [await contact(shared.db, "web") for _ in range(10)]
    ids = [await queue(shared.db, m, "news", priority=BULK) for m in members]
    stopping = asyncio.Event()
    writer = asyncio.create_task(sender._write_results(stopping))
    try:
        assert await sender.pump() >= len(members)
        platform.gates[members[0].address].set()

        async def first_recorded() -> bool:
            found = await row(shared.db, ids[0])
            return found is not None and found.status == "sent"

        await eventually(first_recorded, timeout=10)
        assert [(await row(shared.db, i) or Delivery()).status for i in ids[1:]] == ["sending"] * 9
    finally:
        for m in members:
            platform.gates[m.address].set()
        stopping.set()
        await asyncio.wait_for(writer, 30)
    assert {(await row(shared.db, i) or Delivery()).status for i in ids} == {"sent"}


async def test_a_late_refusal_marks_a_member_unreachable_unless_they_wrote_since(
    sender: Sender, shared: Shared, clock: VirtualClock
) -> None:
    # "Not on WhatsApp" reported after the send: the member cannot be reached, unless they
    # wrote after that message went (reachable again).
    sent_at = datetime.fromtimestamp(clock.now, UTC)
    wrote = {"never": None, "before": sent_at - timedelta(minutes=5),
             "after": sent_at + timedelta(minutes=5)}  # fmt: skip
    for when, last in wrote.items():
        member = await contact(shared.db, "whatsapp")
        pid = f"SM{uuid.uuid4().hex}"
        async with shared.db.session() as session, session.begin():
            found = await session.get(Contact, member.id)
            assert found is not None
            found.last_inbound_at = last
            session.add(Delivery(contact_id=member.id, channel="whatsapp", address=member.address,
                                 message=OutboundMessage(text="hi").to_json(), status="sent",
                                 platform_id=pid, sent_at=sent_at))  # fmt: skip
        await mark_unreachable_after(shared.db, pid, _lose_nothing)
        async with shared.db.session() as session:
            found = await session.get(Contact, member.id)
        assert found is not None
        assert (found.unreachable_at is None) == (when == "after"), when


# ---- the loop's own waits and batches, on a clock the test moves -------------------------------
# Each with values of the test's own (`Tuning`): the service's are too short to see.


def commits_of(found: list[list[tuple[int, int]]]) -> OnLost:
    """A broadcasts' fallback that keeps what each commit told it (one call per commit)."""

    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        found.append(sorted(pairs))
        return 0

    return on_lost


async def test_results_are_recorded_in_commits_of_at_most_the_batch(shared: Shared) -> None:
    # Five broadcast messages refused at once, with a batch of three: written down in two
    # commits, three and two, and the broadcasts' fallback is told of each commit's five.
    commits: list[list[tuple[int, int]]] = []
    await set_aside(shared.db, "web")
    platform = _Platform()
    sender = sender_of(shared, {"web": platform}, on_lost=commits_of(commits),
                       sender_concurrency=10, tuning=Tuning(batch=3))  # fmt: skip
    members = [await contact(shared.db, "web") for _ in range(5)]
    for number, m in enumerate(members):
        platform.refusals[m.address] = SendResult(Outcome.FAILED, error_code="400")
        await queue(shared.db, m, "news", broadcast_id=700 + number, priority=BULK)
    assert await sender.pump() == 5
    await asyncio.gather(*list(sender._tasks))  # all five answered before the writer starts
    stopping = asyncio.Event()
    stopping.set()
    await asyncio.wait_for(sender._write_results(stopping), 30)
    assert [len(c) for c in commits] == [3, 2]
    assert sorted(p for c in commits for p in c) == [(700 + n, m.id) for n, m in enumerate(members)]


async def test_while_the_database_is_away_results_are_tried_again_ever_later_up_to_a_cap(
    shared: Shared, clock: VirtualClock
) -> None:
    # The database fails six times as a result is written (here in the broadcasts' fallback):
    # tried again after a second, then two, four, and five at most, until it answers.
    tries: list[float] = []

    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        tries.append(clock.now)
        if len(tries) <= 6:
            raise ConnectionError("the database is away")
        return 0

    sender = sender_of(shared, {"telegram": _Channel()}, on_lost=on_lost, loop_clock=clock,
                       tuning=Tuning(record_retry=1.0, record_retry_cap=5.0))  # fmt: skip
    member = await contact(shared.db)
    news = await claimed_one(sender, shared, member, "news", broadcast_id=57, priority=BULK)
    start = clock.now
    recording = asyncio.create_task(
        sender._record_until_stored(
            [(news, SendResult(Outcome.FAILED, error_code="400"))], asyncio.Event()
        )
    )
    for _ in range(6):
        await clock.step()
    await asyncio.wait_for(recording, 30)
    assert [t - start for t in tries] == [0, 1, 3, 7, 12, 17, 22]
    found = await row(shared.db, news.id)
    assert found is not None and found.status == "failed"


async def test_results_that_come_while_the_writer_lingers_share_a_commit_a_later_one_has_its_own(
    shared: Shared, clock: VirtualClock
) -> None:
    # While two sends or more are on their way, the writer waits half a second (here) for
    # more results to share one commit; with fewer on their way it writes at once.
    commits: list[list[tuple[int, int]]] = []
    await set_aside(shared.db, "web")
    platform = _Gated()
    tuning = Tuning(linger=0.5, linger_from=2, writer_poll=1000.0)
    sender = sender_of(shared, {"web": platform}, on_lost=commits_of(commits),
                       sender_concurrency=10, loop_clock=clock, tuning=tuning)  # fmt: skip
    members = [await contact(shared.db, "web") for _ in range(4)]
    ids = []
    for number, m in enumerate(members):
        platform.refusals[m.address] = SendResult(Outcome.FAILED, error_code="400")
        ids.append(await queue(shared.db, m, "news", broadcast_id=710 + number, priority=BULK))
    assert await sender.pump() == 4
    # Each send paces itself first (on Redis in scaled mode, real I/O): all four are let to
    # reach their gates before any opens, so that the results come in the gates' order.
    await eventually(lambda: len(platform.at_gate) == 4, timeout=10)
    first, second, third, fourth = members
    stopping = asyncio.Event()
    start = clock.now
    writer = asyncio.create_task(sender._write_results(stopping))
    try:
        await clock.settle()
        platform.gates[first.address].set()  # three still on their way: the writer waits
        await clock.settle()
        platform.gates[second.address].set()  # two: it waits on, for the same half second
        await clock.settle()
        assert await clock.step() == start + 0.5
        await eventually(lambda: len(commits) == 1, timeout=10)
        platform.gates[third.address].set()  # one left on its way: written at once
        await eventually(lambda: len(commits) == 2, timeout=10)
        platform.gates[fourth.address].set()
        await eventually(lambda: len(commits) == 3, timeout=10)
    finally:
        for m in members:
            platform.gates[m.address].set()
        stopping.set()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    assert commits == [[(710, first.id), (711, second.id)], [(712, third.id)], [(713, fourth.id)]]
    # Each written down half a second after the first result, on the test's clock.
    stamps = {(await row(shared.db, i) or Delivery()).updated_at for i in ids}
    assert stamps == {datetime.fromtimestamp(start + 0.5, UTC)}


async def test_an_idle_writer_ends_at_its_next_look_once_the_sender_stops(
    shared: Shared, clock: VirtualClock
) -> None:
    # With nothing to record, the writer looks every 3 s (here) whether the sender is stopping:
    # it goes on until then, and ends at the first look after.
    sender = sender_of(shared, {"web": _Platform()}, loop_clock=clock,
                       tuning=Tuning(writer_poll=3.0))  # fmt: skip
    stopping = asyncio.Event()
    start = clock.now
    writer = asyncio.create_task(sender._write_results(stopping))
    assert await clock.step() == start + 3
    assert not writer.done()
    stopping.set()
    assert await clock.step() == start + 6
    await asyncio.wait_for(writer, 10)


@contextlib.asynccontextmanager
async def own_coordination(shared: Shared) -> AsyncIterator[Coordinator]:
    """Coordination of the test's own: notices no other test sends, and a wait left pending
    that only this test's connection pays for."""
    prefix = f"own-{uuid.uuid4().hex[:8]}:"
    coordinator = create_coordinator(shared.redis_url, prefix=prefix)
    await coordinator.start()
    try:
        yield coordinator
    finally:
        await coordinator.close()


@pytest.mark.parametrize(
    ("places", "freed"),
    # A quarter of the places, rounded down, and one at least.
    [(2, 1), (4, 1), (10, 2), (12, 3)],
)
async def test_the_loop_claims_again_once_a_quarter_of_its_places_are_free(
    shared: Shared, clock: VirtualClock, places: int, freed: int
) -> None:
    # Every place of the pool is taken by a send on its way, and more messages wait. Once a
    # quarter of the places are free the loop looks for work at once (before those results
    # are written down, and long before its idle wait ends), and claims as many as are free.
    await set_aside(shared.db, "web")
    platform = _Gated()
    async with own_coordination(shared) as coordinator:
        sender = sender_of(shared, {"web": platform}, coordinator=coordinator, loop_clock=clock,
                           sender_concurrency=places, tuning=Tuning(idle_wait=3600.0))  # fmt: skip
        members = [await contact(shared.db, "web") for _ in range(places + freed)]
        for m in members:
            await queue(shared.db, m, f"news for {m.address}", priority=BULK)
        try:
            assert await sender.pump() == places
            looking = asyncio.create_task(sender._wait_for_work())
            await clock.settle()
            for m in members[: freed - 1]:
                platform.gates[m.address].set()
            await clock.settle()
            assert not looking.done()  # fewer than a quarter free: it waits on
            platform.gates[members[freed - 1].address].set()
            await asyncio.wait_for(looking, 10)
            assert await sender.pump() == freed
        finally:
            for m in members:
                platform.gates[m.address].set()
            await sender.flush()
            if sender._notified is not None:
                sender._notified.cancel()
    assert sorted(platform.texts_to(m.address for m in members)) == sorted(
        f"news for {m.address}" for m in members[: places + freed]
    )


@pytest.mark.parametrize(
    ("rate", "claims"),
    [
        # Telegram at 15 a second claims four ahead (a quarter second at 96 % of its rate):
        # each place freed is claimed again.
        (15, [1]),
        # At 40, ten ahead: nothing until two are free (a quarter of ten, rounded down).
        (40, [0, 2]),
        # At 50, twelve ahead: nothing until three are free.
        (50, [0, 0, 3]),
    ],
)
async def test_a_channel_with_sends_on_their_way_claims_again_once_a_quarter_of_its_look_ahead_is_free(
    shared: Shared, rate: int, claims: list[int]
) -> None:
    await set_aside(shared.db, "telegram")
    ahead = {15: 4, 40: 10, 50: 12}[rate]
    platform = _Gated()
    sender = sender_of(shared, {"telegram": platform}, sender_concurrency=100, telegram_rate=rate)
    members = [await contact(shared.db) for _ in range(ahead + 5)]
    for m in members:
        await queue(shared.db, m, f"news for {m.address}", priority=BULK)
    try:
        assert await sender.pump() == ahead
        on_their_way = ahead
        for m, expected in zip(members, claims, strict=False):
            platform.gates[m.address].set()
            await eventually(lambda m=m: m.address in {a for a, _ in platform.handed}, timeout=10)
            on_their_way -= 1  # its place given back: waited for, not slept on
            await eventually(lambda n=on_their_way: sender._in_flight_by["telegram"] == n)
            assert await sender.pump() == expected, m.address
            on_their_way += expected
    finally:
        for m in members:
            platform.gates[m.address].set()
        await sender.flush()
        await send_all_due(sender)
    assert sorted(platform.texts_to(m.address for m in members)) == sorted(
        f"news for {m.address}" for m in members
    )


async def test_a_dead_senders_claims_are_taken_back_once_the_recovery_interval_has_passed(
    shared: Shared, clock: VirtualClock
) -> None:
    # The loop looks for a dead sender's claims every 30 s (here) and for work every 7 s: a
    # claim whose lease has run out is taken back at the first look past the 30 s (35 s) and
    # claimed again, with a new lease.
    await set_aside(shared.db, "web")
    platform = _Gated()  # the send waits: the new claim can be read
    tuning = Tuning(recovery_every=30.0, idle_wait=7.0, writer_poll=1000.0)
    sender = sender_of(shared, {"web": platform}, loop_clock=clock, tuning=tuning)
    member = await contact(shared.db, "web")
    stopping = asyncio.Event()
    start = clock.now
    loop = asyncio.create_task(sender.run(stopping))
    try:
        await clock.until_asleep(2)  # the first round found nothing: the loop and the writer wait
        orphan = await queue(shared.db, member, "orphaned", status="sending",
                             lease_until=start - 5, attempts=1)  # fmt: skip
        for _ in range(10):
            woke = await clock.step(asleep=2)
            await clock.until_asleep(2)
            found = await row(shared.db, orphan)
            assert found is not None
            if found.lease_until != start - 5:
                break
        assert woke == start + 35
        assert (found.status, found.lease_until, found.attempts) == ("sending", start + 95, 2)
    finally:
        platform.gates[member.address].set()
        await stopped(loop, stopping, clock)
    assert platform.texts_to([member.address]) == ["orphaned"]


async def test_replies_queued_while_the_loop_waits_its_claiming_turn_share_one_claim(
    shared: Shared, clock: VirtualClock
) -> None:
    # At most one claim every 2 s (here; 10 ms in the service): every handled message
    # notifies "outbox", and a claim each cost more than the sends. The first round claims at
    # the start; two replies queued and notified in the next 2 s wait for the turn, and one
    # claim takes both.
    await set_aside(shared.db, "web")
    platform = _Gated()
    tuning = Tuning(claim_every=2.0, idle_wait=1000.0, writer_poll=1000.0)
    sender = sender_of(shared, {"web": platform}, loop_clock=clock, tuning=tuning)
    members = [await contact(shared.db, "web") for _ in range(2)]
    start = clock.now
    stopping = asyncio.Event()
    loop = asyncio.create_task(sender.run(stopping))
    try:
        await clock.until_asleep(2)  # the first round found nothing: the loop and the writer
        ids = []
        for m in members:
            ids.append(await queue(shared.db, m, "a reply", priority=REPLY))
            await shared.coordinator.notify(OUTBOX)
            await clock.settle()
        await clock.until_asleep(2)  # the loop waits for its turn, on the test's clock
        for i in ids:
            assert (await row(shared.db, i) or Delivery()).status == "queued"
        assert await clock.step(asleep=2) == start + 2
        await eventually(lambda: len(platform.at_gate) == 2, timeout=10)
        for i in ids:
            found = await row(shared.db, i)
            assert found is not None
            assert (found.status, found.lease_until) == ("sending", start + 2 + LEASE)
    finally:
        for m in members:
            platform.gates[m.address].set()
        await stopped(loop, stopping, clock)
    assert platform.texts_to([m.address for m in members]) == ["a reply", "a reply"]


async def test_an_idle_loop_looks_for_work_again_after_its_idle_wait(
    shared: Shared, clock: VirtualClock
) -> None:
    # Nothing tells the loop when a retry becomes due: it finds it when it looks again, every
    # 5 s here, so a retry due 12 s from now is claimed at 15 s.
    await set_aside(shared.db, "web")
    platform = _Gated()
    tuning = Tuning(idle_wait=5.0, writer_poll=1000.0)
    sender = sender_of(shared, {"web": platform}, loop_clock=clock, tuning=tuning)
    member = await contact(shared.db, "web")
    start = clock.now
    retry = await queue(shared.db, member, "again", due_at=start + 12)
    stopping = asyncio.Event()
    loop = asyncio.create_task(sender.run(stopping))
    try:
        await clock.until_asleep(2)
        for _ in range(10):
            woke = await clock.step(asleep=2)
            await clock.until_asleep(2)
            found = await row(shared.db, retry)
            assert found is not None
            if found.status == "sending":
                break
        assert (woke, found.lease_until) == (start + 15, start + 15 + 60)
    finally:
        platform.gates[member.address].set()
        await stopped(loop, stopping, clock)
    assert platform.texts_to([member.address]) == ["again"]


# ---- status reports that come late ------------------------------------------------------------


def not_on_whatsapp(status: str, error: str | None) -> Outcome | None:
    """How the WhatsApp channel reads a late report: 63024 (no WhatsApp) is unreachable."""
    return Outcome.UNREACHABLE if status in ("failed", "undelivered") and error == "63024" else None


async def test_a_late_report_that_changes_nothing_marks_nobody_unreachable(shared: Shared) -> None:
    # A message that had failed for good already (30008, unknown); a "not on WhatsApp" kept for
    # it before its send was recorded changes nothing, and the member stays reachable. The
    # same report for a message that was only sent marks its member.
    failed, sent = await contact(shared.db, "whatsapp"), await contact(shared.db, "whatsapp")
    ids = {}
    for member, status in ((failed, "failed"), (sent, "sent")):
        pid = f"SM{uuid.uuid4().hex}"
        ids[member.id] = pid
        async with shared.db.session() as session, session.begin():
            session.add(Delivery(contact_id=member.id, channel="whatsapp", address=member.address,
                                 message=OutboundMessage(text="hi").to_json(), status=status,
                                 status_rank=outbox.STATUS_RANK[status], platform_id=pid,
                                 error_code="30008" if status == "failed" else None,
                                 sent_at=datetime.now(UTC)))  # fmt: skip
        await outbox.keep_early_report(shared.db, pid, "undelivered", "63024")
        assert await apply_early_reports(shared.db, [pid], _lose_nothing, not_on_whatsapp) == 1
    async with shared.db.session() as session:
        still = await session.get(Contact, failed.id)
        marked = await session.get(Contact, sent.id)
    assert still is not None and still.unreachable_at is None
    assert marked is not None and marked.unreachable_at is not None


async def test_a_late_refusal_hands_the_members_waiting_broadcast_to_a_linked_chat(
    shared: Shared, clock: VirtualClock
) -> None:
    # "Not on WhatsApp" reported after the send: the broadcast still queued for them on this
    # chat is skipped here and handed to the broadcasts' fallback (a linked chat).
    lost: list[tuple[int, int]] = []

    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        lost.extend(pairs)
        return 0

    member = await contact(shared.db, "whatsapp")
    pid = f"SM{uuid.uuid4().hex}"
    async with shared.db.session() as session, session.begin():
        session.add(Delivery(contact_id=member.id, channel="whatsapp", address=member.address,
                             message=OutboundMessage(text="hi").to_json(), status="sent",
                             platform_id=pid, sent_at=datetime.fromtimestamp(clock.now, UTC)))  # fmt: skip
    waiting = await queue(shared.db, member, "news", broadcast_id=66, priority=BULK)
    await mark_unreachable_after(shared.db, pid, on_lost)
    assert lost == [(66, member.id)]
    found = await row(shared.db, waiting)
    assert found is not None and found.status == "skipped"
