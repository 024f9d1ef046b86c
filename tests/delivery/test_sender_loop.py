"""The sender's loop on its own, against the fake platforms: what goes, what waits, what is tried again.

The real Telegram and WhatsApp channels send to the fakes (tests/fakes), which refuse what the
platforms refuse; the sender claims from the real outbox on each backend's database (migrated
once for the file) and records what happened. No web server and no service: the file runs in
seconds, so that `make mutation` can run it once per deliberate bug in bot/delivery/sender.py.
Twilio's status reports are caught from the fake and applied as the status webhook applies them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from bot.channels.base import Outcome, SendResult
from bot.channels.registry import build_channels
from bot.config import Settings
from bot.coordination import Coordinator, create_coordinator
from bot.delivery.sender import Sender, apply_early_reports, record_status
from bot.messages import OutboundMessage
from bot.storage import outbox
from bot.storage.db import Database
from bot.storage.models import Broadcast, Contact, Delivery, utcnow
from bot.storage.outbox import BULK, REPLY
from tests.clock import VirtualClock
from tests.conftest import make_backend
from tests.fakes.server import refuse_internet
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio, StatusCallback
from tests.harness import eventually, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEMPLATE = "HX" + "a" * 32  # a well-formed Content SID: the fake takes it as an approved template
PHOTO = "https://cdn.example.org/news.jpg"
STAFF = "-100777001"  # the secretariat's Telegram group


@dataclass
class Shared:
    db: Database
    coordinator: Coordinator
    settings: Settings
    telegram: FakeTelegram
    twilio: FakeTwilio
    channels: dict[str, Any]
    redis_url: str | None
    reports: list[tuple[str, str, str | None]] = field(default_factory=list)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["embedded", "scaled"])
async def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shared]:
    reports: list[tuple[str, str, str | None]] = []

    async def caught(record: StatusCallback) -> int:
        # Twilio's status callback, kept for the test to apply (see ``apply_reports``).
        params = record.params
        reports.append((params["MessageSid"], params["MessageStatus"], params.get("ErrorCode")))
        return 200

    async for backend in make_backend(request.param, tmp_path_factory.mktemp("sending")):
        async with (
            FakeTelegram() as telegram,
            FakeTwilio(on_callback=caught, callback_delay=0.0) as twilio,
        ):
            # A pool of two places: the places taken and given back are counted right, or
            # the sender stops claiming after a few sends.
            settings = settings_for(
                backend, telegram.url, twilio.url, send_max_attempts=2, sender_concurrency=2,
                admin_telegram_chat_id=STAFF,
            )  # fmt: skip
            db = Database(backend.database_url, schema=backend.schema)
            await db.migrate()
            coordinator = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
            await coordinator.start()
            channels = dict(build_channels(settings))
            for channel in channels.values():
                await channel.start()
            try:
                yield Shared(
                    db,
                    coordinator,
                    settings,
                    telegram,
                    twilio,
                    channels,
                    backend.redis_url,
                    reports,
                )
            finally:
                for channel in channels.values():
                    await channel.stop()
                await coordinator.close()
                await db.dispose()


@pytest.fixture
def lost() -> list[tuple[int, int]]:
    return []


@pytest.fixture
def clock() -> VirtualClock:
    """The sender's epoch seconds, standing still while a test runs: a retry's or a pause's
    due time is compared exactly, not bracketed by the real clock."""
    return VirtualClock(start=float(int(time.time())))


def new_sender(
    shared: Shared,
    lost: list[tuple[int, int]],
    coordinator: Coordinator | None = None,
    clock: VirtualClock | None = None,
) -> Sender:
    async def on_lost(session: Any, pairs: Iterable[tuple[int, int]]) -> int:
        pairs = list(pairs)
        lost.extend(pairs)
        return 0  # no linked chat takes them here

    return Sender(
        shared.db, coordinator or shared.coordinator, shared.channels, shared.settings,
        on_lost=on_lost, clock=clock or time.time,
    )  # fmt: skip


@pytest.fixture
def sender(shared: Shared, lost: list[tuple[int, int]], clock: VirtualClock) -> Sender:
    return new_sender(shared, lost, clock=clock)


@contextlib.asynccontextmanager
async def own_coordination(shared: Shared) -> AsyncIterator[Coordinator]:
    """Coordination of the test's own: a pause, shared by every process, would hold up the
    other tests of the file."""
    coordinator = create_coordinator(shared.redis_url, prefix=f"own-{uuid.uuid4().hex[:8]}:")
    await coordinator.start()
    try:
        yield coordinator
    finally:
        await coordinator.close()


# ---- members, their messages, and sending them ----------------------------------------------


async def member(
    shared: Shared, channel: str, *, wrote: timedelta | None = timedelta(minutes=1)
) -> Contact:
    """A member who last wrote ``wrote`` ago (None: never), as we know it and as the platform
    does (WhatsApp's window is the fake's too)."""
    if channel == "whatsapp":
        address = f"whatsapp:+4072{uuid.uuid4().int % 10**7:07d}"
        if wrote is not None:
            shared.twilio.received(address, ago=wrote.total_seconds())
    else:
        address = str(700000000 + uuid.uuid4().int % 99999999)
    async with shared.db.session() as session, session.begin():
        found = Contact(
            channel=channel, address=address, status="active", flow_data={}, choices=[],
            last_inbound_at=None if wrote is None else utcnow() - wrote,
        )  # fmt: skip
        session.add(found)
    return found


async def queue(shared: Shared, to: Contact, message: OutboundMessage, **values: Any) -> int:
    async with shared.db.session() as session, session.begin():
        row = Delivery(contact_id=to.id, channel=to.channel, address=to.address,
                       message=message.to_json(), **values)  # fmt: skip
        session.add(row)
    return row.id


async def row(shared: Shared, row_id: int) -> Delivery:
    async with shared.db.session() as session:
        found = await session.get(Delivery, row_id)
    assert found is not None
    return found


async def rows_of(shared: Shared, to: Contact) -> list[Delivery]:
    async with shared.db.session() as session:
        return list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.channel == to.channel, Delivery.address == to.address)
                .order_by(Delivery.id)
            )
        )


async def send_due(sender: Sender) -> int:
    """What the loop does while there is work: claim, send, record; until nothing is due."""
    claimed = 0
    for _ in range(20):
        found = await sender.pump()
        await sender.flush()
        claimed += found
        if not found:
            return claimed
    raise AssertionError("the outbox never emptied")


async def apply_reports(shared: Shared, sender: Sender) -> None:
    """Twilio's status callbacks so far, applied as the status webhook applies them."""
    await shared.twilio.settle()
    while shared.reports:
        sid, status, error = shared.reports.pop(0)
        await record_status(shared.db, sid, status, error, sender.on_lost, sender.clock)


def telegram_texts(shared: Shared, to: Contact) -> list[str | None]:
    return [m.text or m.caption for m in shared.telegram.messages if m.chat_id == to.address]


def whatsapp_sent(shared: Shared, to: Contact) -> list[tuple[str, str | None]]:
    """(body, template) of what Twilio accepted for the member."""
    return [(m.body, m.content_sid) for m in shared.twilio.to(to.address)]


# ---- sending ----------------------------------------------------------------------------


async def test_a_reply_goes_to_the_members_chat_and_is_recorded_with_the_platforms_id(
    sender: Sender, shared: Shared
) -> None:
    alice = await member(shared, "telegram")
    bob = await member(shared, "whatsapp")
    first = await queue(shared, alice, OutboundMessage(text="Hello Alice"))
    second = await queue(shared, bob, OutboundMessage(text="Hello Bob"))
    assert await send_due(sender) == 2
    assert telegram_texts(shared, alice) == ["Hello Alice"]
    assert whatsapp_sent(shared, bob) == [("Hello Bob", None)]
    sent_tg, sent_wa = await row(shared, first), await row(shared, second)
    (tg,) = [m for m in shared.telegram.messages if m.chat_id == alice.address]
    (wa,) = shared.twilio.to(bob.address)
    assert (sent_tg.status, sent_tg.platform_id, sent_tg.attempts) == (
        "sent",
        str(tg.message_id),
        1,
    )
    assert (sent_wa.status, sent_wa.platform_id, sent_wa.attempts) == ("sent", wa.sid, 1)
    assert sent_tg.sent_at is not None and sent_tg.lease_until is None
    await apply_reports(shared, sender)
    assert (await row(shared, second)).status == "read"  # Twilio's reports moved it on


async def test_a_chats_messages_go_one_after_another_in_their_order(
    sender: Sender, shared: Shared
) -> None:
    alice = await member(shared, "telegram")
    for text in ("one", "two"):
        await queue(shared, alice, OutboundMessage(text=text), priority=BULK)
    await queue(shared, alice, OutboundMessage(text="the answer"), priority=REPLY)
    await send_due(sender)
    assert telegram_texts(shared, alice) == ["the answer", "one", "two"]
    assert [r.status for r in await rows_of(shared, alice)] == ["sent"] * 3


@pytest.mark.parametrize(
    "stored",
    [{"no": "text"}, ["a list"], "a string", {"text": "x", "buttons": [[{"label": 1}]]}],
    ids=["unknown_fields", "list", "string", "bad_button"],
)
async def test_a_message_no_version_can_read_fails_rather_than_blocking_its_chat(
    sender: Sender, shared: Shared, stored: object
) -> None:
    alice = await member(shared, "telegram")
    async with shared.db.session() as session, session.begin():
        broken = Delivery(contact_id=alice.id, channel="telegram", address=alice.address,
                          message=stored)  # fmt: skip
        session.add(broken)
    after = await queue(shared, alice, OutboundMessage(text="still comes"))
    await send_due(sender)
    found = await row(shared, broken.id)
    assert (found.status, found.error_code) == ("failed", "bad_row")
    assert (await row(shared, after)).status == "sent"
    assert telegram_texts(shared, alice) == ["still comes"]


async def test_a_broadcasts_photo_is_fetched_by_telegram_once_then_sent_by_its_file_id(
    sender: Sender, shared: Shared, lost: list[tuple[int, int]]
) -> None:
    shared.telegram.host_photo(PHOTO)
    async with shared.db.session() as session, session.begin():
        news = Broadcast(title="News", status="sending", image_url=PHOTO)
        session.add(news)
    members = [await member(shared, "telegram") for _ in range(3)]
    for m in members:
        await queue(shared, m, OutboundMessage(text="Look", image_url=PHOTO),
                    broadcast_id=news.id, priority=BULK)  # fmt: skip
    await send_due(sender)
    assert shared.telegram.photo_fetches.count(PHOTO) == 1
    async with shared.db.session() as session:
        kept = await session.scalar(select(Broadcast.photo_file_id).where(Broadcast.id == news.id))
    assert kept and shared.telegram.file_ids[kept] == PHOTO
    # Another process (or after a restart) takes the file_id kept on the broadcast.
    late = await member(shared, "telegram")
    await queue(shared, late, OutboundMessage(text="Look", image_url=PHOTO),
                broadcast_id=news.id, priority=BULK)  # fmt: skip
    await send_due(new_sender(shared, lost))
    assert shared.telegram.photo_fetches.count(PHOTO) == 1
    (photo,) = [m for m in shared.telegram.messages if m.chat_id == late.address]
    assert photo.photo == kept and photo.caption == "Look"


async def test_photos_outside_broadcasts_each_go_as_their_own(
    sender: Sender, shared: Shared
) -> None:
    # Only a broadcast's photo is sent by the file_id Telegram gave it the first time: a photo
    # in a reply is its own, whatever photo went before it.
    first, second = "https://cdn.example.org/map.jpg", "https://cdn.example.org/poster.jpg"
    shared.telegram.host_photo(first)
    shared.telegram.host_photo(second)
    alice, bob = await member(shared, "telegram"), await member(shared, "telegram")
    await queue(shared, alice, OutboundMessage(text="The map", image_url=first))
    await send_due(sender)
    await queue(shared, bob, OutboundMessage(text="The poster", image_url=second))
    await send_due(sender)
    files = shared.telegram.file_ids
    seen = {
        m.chat_id: files.get(str(m.photo), m.photo)
        for m in shared.telegram.messages
        if m.chat_id in (alice.address, bob.address)
    }
    assert seen == {alice.address: first, bob.address: second}


# ---- WhatsApp's window, judged when the message goes --------------------------------------

HOURS = timedelta(hours=1)
MINUTES = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("wrote", "inside"),
    [
        (MINUTES, True),
        (23 * HOURS + 45 * MINUTES, True),  # a quarter of an hour left: it goes as it is
        (23 * HOURS + 55 * MINUTES, False),  # five minutes left: too close to the end
        (25 * HOURS, False),
        (None, False),  # never wrote
    ],
)
async def test_a_whatsapp_message_goes_as_it_is_only_well_inside_the_members_window(
    sender: Sender, shared: Shared, wrote: timedelta | None, inside: bool
) -> None:
    bob = await member(shared, "whatsapp", wrote=wrote)
    news = OutboundMessage(text="Full news\nwith details", template=TEMPLATE, teaser="News")
    row_id = await queue(shared, bob, news, priority=BULK)
    await send_due(sender)
    if inside:
        assert whatsapp_sent(shared, bob) == [("Full news\nwith details", None)]
        assert [r.status for r in await rows_of(shared, bob)] == ["sent"]
        return
    # Outside: the approved template carries a notice; the full text waits for their answer.
    ((body, template),) = whatsapp_sent(shared, bob)
    assert template == TEMPLATE and "Full news" not in body
    notice, full = await rows_of(shared, bob)
    assert (notice.id, notice.status) == (row_id, "sent")
    assert full.status == "held" and full.message["text"] == "Full news\nwith details"


async def test_outside_the_window_a_message_without_a_template_waits_for_the_member(
    sender: Sender, shared: Shared
) -> None:
    bob = await member(shared, "whatsapp", wrote=2 * 24 * HOURS)
    row_id = await queue(shared, bob, OutboundMessage(text="Your answer"))
    await send_due(sender)
    assert whatsapp_sent(shared, bob) == []
    found = await row(shared, row_id)
    assert (found.status, found.error_code, found.attempts) == ("held", "outside_window", 0)


async def test_the_window_is_judged_when_the_message_goes_not_when_it_was_queued(
    sender: Sender, shared: Shared
) -> None:
    bob = await member(shared, "whatsapp", wrote=2 * 24 * HOURS)
    row_id = await queue(shared, bob, OutboundMessage(text="Planned yesterday"))
    # They wrote since it was queued: their window is open now.
    shared.twilio.received(bob.address)
    async with shared.db.session() as session, session.begin():
        await session.execute(
            update(Contact).where(Contact.id == bob.id).values(last_inbound_at=utcnow())
        )
    await send_due(sender)
    assert whatsapp_sent(shared, bob) == [("Planned yesterday", None)]
    assert (await row(shared, row_id)).status == "sent"


async def test_telegram_has_no_window_whenever_the_member_last_wrote(
    sender: Sender, shared: Shared
) -> None:
    alice = await member(shared, "telegram", wrote=None)
    row_id = await queue(shared, alice, OutboundMessage(text="Hi", template=TEMPLATE))
    await send_due(sender)
    assert telegram_texts(shared, alice) == ["Hi"]
    assert (await row(shared, row_id)).status == "sent"


async def test_a_message_twilio_refuses_as_outside_the_window_goes_again_as_the_template(
    sender: Sender, shared: Shared
) -> None:
    # Our record says they wrote a minute ago; WhatsApp knows better (a message of theirs we
    # never got): the free-form message is refused later, by status report (63016).
    bob = await member(shared, "whatsapp")
    shared.twilio.forget(bob.address)
    news = OutboundMessage(text="The full news", template=TEMPLATE, teaser="News")
    row_id = await queue(shared, bob, news)
    await send_due(sender)
    await apply_reports(shared, sender)
    found = await row(shared, row_id)
    assert (found.status, found.error_code, found.platform_id) == ("queued", "63016", None)
    await send_due(sender)
    sent = whatsapp_sent(shared, bob)
    assert [template for _, template in sent] == [None, TEMPLATE]
    notice, full = await rows_of(shared, bob)
    assert (notice.id, notice.status) == (row_id, "sent")
    assert full.status == "held" and full.message["text"] == "The full news"
    # Refused again as the template itself: nothing more to try.
    await record_status(shared.db, notice.platform_id or "", "failed", "63016", sender.on_lost)
    assert (await row(shared, row_id)).status == "failed"


async def test_a_message_twilio_throttled_goes_again_in_a_quarter_of_an_hour(
    sender: Sender, shared: Shared, clock: VirtualClock
) -> None:
    bob = await member(shared, "whatsapp")
    shared.twilio.error_next(63018, to=bob.address)
    row_id = await queue(shared, bob, OutboundMessage(text="Later"))
    await send_due(sender)
    await apply_reports(shared, sender)
    found = await row(shared, row_id)
    assert (found.status, found.error_code) == ("queued", "63018")
    assert found.due_at == clock.now + 15 * 60
    assert len(whatsapp_sent(shared, bob)) == 1


# ---- what is tried again, and what is not ---------------------------------------------------


async def test_a_platform_error_is_tried_again_after_a_backoff_then_given_up(
    sender: Sender, shared: Shared, clock: VirtualClock
) -> None:
    bob = await member(shared, "whatsapp")
    row_id = await queue(shared, bob, OutboundMessage(text="Try me"))
    shared.twilio.fail_next(1, status=500)
    await send_due(sender)
    found = await row(shared, row_id)
    assert (found.status, found.attempts) == ("queued", 1)
    assert clock.now + 2 * 0.8 <= found.due_at <= clock.now + 2 * 1.2  # 2 s, give or take
    assert whatsapp_sent(shared, bob) == []
    # Due now: the second attempt goes.
    async with shared.db.session() as session, session.begin():
        await session.execute(update(Delivery).where(Delivery.id == row_id).values(due_at=0.0))
    await send_due(sender)
    found = await row(shared, row_id)
    assert (found.status, found.attempts) == ("sent", 2)
    assert whatsapp_sent(shared, bob) == [("Try me", None)]
    # Failing on its last attempt (two in these tests), a message is given up.
    carol = await member(shared, "telegram")
    given_up = await queue(shared, carol, OutboundMessage(text="No luck"), attempts=1)
    shared.telegram.fail_next(1, status=502)
    await send_due(sender)
    found = await row(shared, given_up)
    assert (found.status, found.attempts) == ("failed", 2)


async def test_a_flood_wait_pauses_the_channel_and_requeues_without_an_attempt(
    shared: Shared, lost: list[tuple[int, int]], clock: VirtualClock
) -> None:
    async with own_coordination(shared) as coordinator:
        sender = new_sender(shared, lost, coordinator, clock)
        alice = await member(shared, "telegram")
        row_id = await queue(shared, alice, OutboundMessage(text="Wait for it"))
        shared.telegram.flood_next(1, retry_after=30)
        await send_due(sender)
        found = await row(shared, row_id)
        assert (found.status, found.attempts) == ("queued", 0)
        assert found.due_at == clock.now + 30
        # The whole channel waits, in every process: another member's message is not claimed.
        bob = await member(shared, "telegram")
        other = await queue(shared, bob, OutboundMessage(text="Me too"))
        assert 25 <= await coordinator.paused_for("telegram") <= 30
        assert await sender.pump() == 0
        assert await new_sender(shared, lost, coordinator).pump() == 0
        assert (await row(shared, other)).status == "queued"
        # Only that channel: WhatsApp goes on.
        carol = await member(shared, "whatsapp")
        await queue(shared, carol, OutboundMessage(text="Not paused"))
        assert await send_due(sender) == 1
        assert whatsapp_sent(shared, carol) == [("Not paused", None)]
    await send_due(new_sender(shared, lost))  # where the pause is not known: it goes
    assert telegram_texts(shared, bob) == ["Me too"]


async def test_a_flood_wait_of_one_second_pauses_the_channel_for_one_second(
    shared: Shared, lost: list[tuple[int, int]]
) -> None:
    async with own_coordination(shared) as coordinator:
        alice = await member(shared, "telegram")
        row_id = await queue(shared, alice, OutboundMessage(text="A second"))
        shared.telegram.flood_next(1, retry_after=1)
        await send_due(new_sender(shared, lost, coordinator))
        assert 0 < await coordinator.paused_for("telegram") <= 1.0
    assert (await row(shared, row_id)).attempts == 0


async def test_a_group_over_its_own_limit_waits_alone_while_the_channel_goes_on(
    shared: Shared, lost: list[tuple[int, int]], clock: VirtualClock
) -> None:
    # Telegram's 20 a minute to a group: that group's message waits what Telegram said; the
    # bot's other chats are not held up by it.
    async with own_coordination(shared) as coordinator:
        sender = new_sender(shared, lost, coordinator, clock)
        group = f"-100{uuid.uuid4().int % 10**9:09d}"
        async with shared.db.session() as session, session.begin():
            note = Delivery(contact_id=None, channel="telegram", address=group,
                            message=OutboundMessage(text="For the group").to_json())  # fmt: skip
            session.add(note)
        shared.telegram.flood_next(1, retry_after=30)
        await send_due(sender)
        found = await row(shared, note.id)
        assert (found.status, found.attempts) == ("queued", 0)
        assert found.due_at == clock.now + 30
        assert await coordinator.paused_for("telegram") == 0
        alice = await member(shared, "telegram")
        await queue(shared, alice, OutboundMessage(text="Not held up"))
        assert await send_due(sender) == 1
        assert telegram_texts(shared, alice) == ["Not held up"]


async def test_a_member_who_blocked_the_bot_is_unreachable_and_their_broadcast_is_lost_here(
    sender: Sender, shared: Shared, lost: list[tuple[int, int]]
) -> None:
    alice = await member(shared, "telegram")
    shared.telegram.blocked.add(alice.address)
    reply = await queue(shared, alice, OutboundMessage(text="Hi"))
    await send_due(sender)
    assert (await row(shared, reply)).status == "failed"
    async with shared.db.session() as session:
        found = await session.get(Contact, alice.id)
    assert found is not None and found.unreachable_at is not None
    bob = await member(shared, "whatsapp")
    shared.twilio.opted_out.add(bob.address.removeprefix("whatsapp:"))
    news = await queue(shared, bob, OutboundMessage(text="News"), broadcast_id=4242, priority=BULK)
    await send_due(sender)
    assert (await row(shared, news)).status == "failed"
    assert (4242, bob.id) in lost


async def test_a_staff_chat_that_refuses_a_message_is_an_error_for_the_operator(
    sender: Sender, shared: Shared, caplog: pytest.LogCaptureFixture
) -> None:
    # Nobody else would notice: alerts and relays would silently not reach the secretariat.
    alice = await member(shared, "telegram")
    shared.telegram.blocked.update({alice.address, STAFF})
    await queue(shared, alice, OutboundMessage(text="For a member who left"))
    caplog.clear()
    with caplog.at_level("ERROR", logger="bot.delivery.sender"):
        await send_due(sender)
        assert [r for r in caplog.records if r.levelname == "ERROR"] == []
        async with shared.db.session() as session, session.begin():
            alert = Delivery(contact_id=None, channel="telegram", address=STAFF,
                             message=OutboundMessage(text="An alert").to_json())  # fmt: skip
            session.add(alert)
        await send_due(sender)
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert STAFF in error.getMessage() and "secretariat" in error.getMessage()
    assert (await row(shared, alert.id)).status == "failed"
    shared.telegram.blocked.discard(STAFF)


async def test_a_sender_that_finds_nothing_to_put_back_reports_nothing(
    sender: Sender, shared: Shared, caplog: pytest.LogCaptureFixture
) -> None:
    # Run every few seconds: a warning each time would drown the real ones.
    with caplog.at_level("WARNING", logger="bot.delivery.sender"):
        assert await sender.recover() == 0
    assert [r.getMessage() for r in caplog.records if "requeued" in r.getMessage()] == []


async def test_a_report_that_came_before_the_send_was_recorded_is_applied_when_it_is(
    sender: Sender, shared: Shared, lost: list[tuple[int, int]]
) -> None:
    bob = await member(shared, "whatsapp")
    news = await queue(shared, bob, OutboundMessage(text="News"), broadcast_id=4343, priority=BULK)
    claimed = [c for c in await sender.claim(50, ["whatsapp"]) if c.id == news]
    sid = f"SM{uuid.uuid4().hex}"
    # Twilio reports before the sender wrote its send down: the webhook keeps the report.
    await outbox.keep_early_report(shared.db, sid, "undelivered", "63024")
    await sender._record([(claimed[0], SendResult(Outcome.SENT, platform_id=sid))])
    found = await row(shared, news)
    assert (found.status, found.error_code) == ("undelivered", "63024")
    assert (4343, bob.id) in lost
    async with shared.db.session() as session:
        contact = await session.get(Contact, bob.id)
    assert contact is not None and contact.unreachable_at is not None  # 63024: no WhatsApp
    assert await apply_early_reports(shared.db, [sid], sender.on_lost, None) == 0  # taken once


# ---- the loop ---------------------------------------------------------------------------


async def test_the_loop_sends_what_is_queued_and_takes_back_a_dead_senders_claims(
    sender: Sender, shared: Shared, caplog: pytest.LogCaptureFixture, clock: VirtualClock
) -> None:
    caplog.set_level("ERROR", logger="bot.delivery.sender")
    alice = await member(shared, "telegram")
    bob = await member(shared, "telegram")
    waiting = await queue(shared, alice, OutboundMessage(text="Queued"))
    # Claimed by a sender that died: its lease ran out a while ago.
    orphan = await queue(shared, bob, OutboundMessage(text="Orphaned"), status="sending",
                         lease_until=clock.now - 5, attempts=1)  # fmt: skip
    stopping = asyncio.Event()
    loop = asyncio.create_task(sender.run(stopping))
    try:

        async def both_sent() -> bool:
            return {(await row(shared, waiting)).status, (await row(shared, orphan)).status} == {
                "sent"
            }

        await eventually(both_sent, timeout=30)
        # A message queued while the loop waits goes at once, woken by the outbox's notice.
        carol = await member(shared, "telegram")
        later = await queue(shared, carol, OutboundMessage(text="Later"))
        await shared.coordinator.notify("outbox")

        async def later_sent() -> bool:
            return (await row(shared, later)).status == "sent"

        await eventually(later_sent, timeout=30)
    finally:
        stopping.set()
        await asyncio.wait_for(loop, 30)
    assert telegram_texts(shared, alice) == ["Queued"]
    assert telegram_texts(shared, carol) == ["Later"]
    assert telegram_texts(shared, bob) == ["Orphaned"]
    assert (await row(shared, orphan)).attempts == 2
    # Nothing went wrong in the loop: no error for the operator.
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
