"""The sender's bookkeeping on its own: what it claims, and what it records for each outcome.

No web server and no platform fakes: rows put straight in the outbox, claimed, and the send's
outcome recorded as the sender does after a send, on each backend's real database (migrated
once for the file), so that the file runs in seconds. `tests/delivery/test_sender.py` runs
the whole loop against the fake platforms.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from bot.channels.base import Outcome, SendResult
from bot.config import Settings
from bot.conversation import choosing
from bot.coordination import Coordinator, create_coordinator
from bot.coordination.keys import web_chat_topic
from bot.delivery.sender import LEASE, Claimed, Sender, record_status
from bot.messages import Button, OutboundMessage
from bot.storage.db import Database
from bot.storage.models import Contact, Delivery
from bot.storage.outbox import BULK, REPLY
from tests.conftest import make_backend

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Shared:
    db: Database
    coordinator: Coordinator


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
            yield Shared(db, coordinator)
        finally:
            await coordinator.close()
            await db.dispose()


class _Channel:
    """A channel that is on and never asked to send here."""

    enabled = True

    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        raise AssertionError("these tests record outcomes; nothing is sent")


@pytest.fixture
def lost() -> list[tuple[int, int]]:
    return []


@pytest.fixture
def sender(shared: Shared, lost: list[tuple[int, int]]) -> Sender:
    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        pairs = list(pairs)
        lost.extend(pairs)
        return len(pairs)

    settings = Settings(_env_file=None, send_max_attempts=3)  # type: ignore[call-arg]
    return Sender(
        shared.db, shared.coordinator, {"telegram": _Channel(), "web": _Channel()}, settings,
        on_lost=on_lost,
    )  # fmt: skip


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
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    later = await queue(shared.db, member, "later", due_at=time.time() + 600)
    whatsapp = await contact(shared.db, "whatsapp")
    elsewhere = await queue(shared.db, whatsapp, "there")
    assert await mine(sender, {later, elsewhere}) == []


async def test_a_claim_holds_a_lease_and_a_dead_senders_claims_are_put_back(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    row_id = await queue(shared.db, member, "hello")
    before = time.time()
    (claimed,) = await mine(sender, {row_id})
    found = await row(shared.db, row_id)
    assert found is not None and found.status == "sending"
    assert found.lease_until is not None
    assert before + LEASE <= found.lease_until <= time.time() + LEASE
    await sender.recover()  # the lease has not run out: left alone
    found = await row(shared.db, row_id)
    assert found is not None and found.status == "sending"
    async with shared.db.session() as session, session.begin():
        stale = await session.get(Delivery, row_id)
        assert stale is not None
        stale.lease_until = time.time() - 1
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
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "hello")
    before = time.time()
    await sender._record([(claimed, SendResult(Outcome.RETRY, error_code="exception"))])
    found = await row(shared.db, claimed.id)
    assert found is not None and found.status == "queued"
    # the first retry waits 2 s, give or take a fifth
    assert before + 2 * 0.8 <= found.due_at <= time.time() + 2 * 1.2
    claimed.attempts = 3  # send_max_attempts in these tests
    await sender._record([(claimed, SendResult(Outcome.RETRY, error_code="exception"))])
    found = await row(shared.db, claimed.id)
    assert found is not None and found.status == "failed"


async def test_a_rate_limited_message_waits_what_the_platform_said_without_an_attempt(
    sender: Sender, shared: Shared
) -> None:
    member = await contact(shared.db)
    claimed = await claimed_one(sender, shared, member, "hello")
    before = time.time()
    await sender._record([(claimed, SendResult(Outcome.RATE_LIMITED, retry_after=7.0))])
    found = await row(shared.db, claimed.id)
    assert found is not None
    assert (found.status, found.attempts) == ("queued", 0)
    assert before + 7.0 <= found.due_at <= time.time() + 7.0
    other = await contact(shared.db)  # the first's chat waits behind it
    short = await claimed_one(sender, shared, other, "again")
    before = time.time()
    await sender._record([(short, SendResult(Outcome.RATE_LIMITED, retry_after=0.1))])
    found = await row(shared.db, short.id)
    assert found is not None and found.due_at >= before + 1.0  # at least a second


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
    await sender._record([(claimed, SendResult(Outcome.SENT))])
    assert await waiting is True  # woken, not timed out


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


async def test_retries_wait_twice_as_long_each_time_up_to_five_minutes(
    shared: Shared, lost: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The jitter at its top (a fifth more): each wait is at its longest.
    monkeypatch.setattr("bot.delivery.sender.random.uniform", lambda low, high: high)
    settings = Settings(_env_file=None, send_max_attempts=20)  # type: ignore[call-arg]
    patient = Sender(shared.db, shared.coordinator, {"telegram": _Channel()}, settings,
                     on_lost=lambda session, pairs: _nothing())  # fmt: skip
    member = await contact(shared.db)
    for attempts, wait in [(1, 2.4), (3, 9.6), (8, 307.2), (9, 360.0), (15, 360.0)]:
        claimed = await claimed_one(patient, shared, member, f"try {attempts}")
        claimed.attempts = attempts
        before = time.time()
        await patient._record([(claimed, SendResult(Outcome.RETRY, error_code="502"))])
        found = await row(shared.db, claimed.id)
        assert found is not None and found.status == "queued"
        assert before + wait <= found.due_at <= time.time() + wait, attempts
        await patient._record([(claimed, SendResult(Outcome.SENT, platform_id=f"p{attempts}"))])


async def _nothing() -> None:
    return None


async def test_a_pool_of_one_place_sends_one_message_at_a_time(shared: Shared) -> None:
    settings = Settings(_env_file=None, sender_concurrency=1)  # type: ignore[call-arg]
    one = Sender(shared.db, shared.coordinator, {"web": _Channel()}, settings,
                 on_lost=lambda session, pairs: _nothing())  # fmt: skip
    first, second = await contact(shared.db, "web"), await contact(shared.db, "web")
    await queue(shared.db, first, "a")
    await queue(shared.db, second, "b")
    assert await one.pump() == 1  # two chats waiting, one place
    await one.flush()  # (the channel here sends nothing: the claim is given back)
