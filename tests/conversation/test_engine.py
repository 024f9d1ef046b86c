"""The engine on its own: store, handle in order, retry a failing handler, apologise, sweep.

No web server and no platform fakes: the engine gets the features of these tests (a router
whose handlers say what they saw), on each backend's real database and coordination, migrated
once for the file, so that the whole file runs in seconds (`make mutation` runs it once per
deliberate bug in bot/conversation/engine.py). Every member here has an address of their own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, select, update
from sqlalchemy import text as sql

from bot.config import Settings
from bot.conversation.choosing import label_of, payload_of
from bot.conversation.engine import DRAINS, LOCK_TTL, MAX_ATTEMPTS, Engine
from bot.conversation.router import Context, Dispatcher, Handled, Router
from bot.coordination import Coordinator, create_coordinator
from bot.coordination.keys import BROADCASTS, OUTBOX, contact_key, seen_key
from bot.coordination.memory import MemoryCoordinator
from bot.messages import READ_PAYLOAD, Button, InboundMessage, Kind, OutboundMessage
from bot.storage.db import Database
from bot.storage.models import (
    Broadcast,
    ChatMove,
    Contact,
    Delivery,
    Inbound,
    Person,
    utcnow,
)
from bot.storage.outbox import CALLBACK, REPLY
from tests.clock import VirtualClock
from tests.conftest import make_backend
from tests.harness import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

# What the member reads when a message could not be handled, written out here rather than
# taken from the code: English, and the Romanian of locales/ro/LC_MESSAGES/messages.po.
SORRY_EN = "Sorry, something went wrong on our side. Please try again in a moment."
SORRY_RO = (
    "Ne pare rău, a apărut o problemă la noi. Vă rugăm să încercați din nou peste puțin timp."
)


@dataclass
class Shared:
    db: Database
    coordinator: Coordinator
    scaled: bool


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["embedded", "scaled"])
async def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shared]:
    """One backend's database, migrated once for the file, and its coordination."""
    async for backend in make_backend(request.param, tmp_path_factory.mktemp("engine")):
        db = Database(backend.database_url, schema=backend.schema)
        await db.migrate()
        coordinator = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
        await coordinator.start()
        try:
            yield Shared(db, coordinator, backend.redis_url is not None)
        finally:
            await coordinator.close()
            await db.dispose()


# An exception whose class name is longer than the 200 characters kept of it.
LongNamedTrouble = type("Trouble" * 40, (Exception,), {})


@dataclass
class Features:
    """The handlers of these tests, and what they saw."""

    seen: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    raised: dict[str, int] = field(default_factory=dict)  # text -> attempts that raised
    staff: list[tuple[int, str]] = field(default_factory=list)
    gated: list[str] = field(default_factory=list)
    reply_to: list[int | None] = field(default_factory=list)  # the broadcast each answered
    # What happens while the handler of "stuck" runs (a worker that hangs there).
    while_stuck: Callable[[], Awaitable[None]] | None = None

    def dispatcher(self) -> Dispatcher:
        router = Router("engine tests")

        @router.gate
        async def hold_in_gated_flow(ctx: Context) -> bool:
            # A gate that keeps a message back and hands it on at once (as the consent gate
            # does with a message held while the member answered the privacy notice).
            if ctx.contact.flow != "gated":
                return False
            self.gated.append(ctx.text)
            ctx.contact.flow = None
            ctx.reply("held")
            ctx.again = f"again {ctx.text}"
            return True

        @router.command("help")
        async def help_(ctx: Context) -> None:
            self.note("help", ctx)
            ctx.reply("help text")

        @router.button("colour")
        async def colour(ctx: Context) -> None:
            self.note("colour", ctx)
            ctx.reply(f"chose {ctx.payload}")

        @router.staff_reply
        async def staff(session: Any, settings: Settings, inbound_id: int, msg: Any) -> None:
            self.staff.append((inbound_id, msg.text))

        @router.text()
        async def text(ctx: Context) -> None:
            self.note("text", ctx)
            if ctx.text == "stuck" and self.while_stuck is not None:
                await self.while_stuck()
            if ctx.text == "long trouble":
                raise LongNamedTrouble("a library's bug")
            if ctx.text.startswith("boom"):
                self.raised[ctx.text] = self.raised.get(ctx.text, 0) + 1
                raise RuntimeError("a handler's bug")
            if ctx.text.startswith("fails twice") and self.raised.get(ctx.text, 0) < 2:
                self.raised[ctx.text] = self.raised.get(ctx.text, 0) + 1
                raise ValueError("a passing trouble")
            if ctx.text == "colours":
                ctx.reply(
                    "Which colour?",
                    [[Button("Red", "colour:red"), Button("Green", "colour:green")],
                     [Button("Blue", "colour:blue"), Button("Site", "x", url="https://e.org")]],
                )  # fmt: skip
                return
            if ctx.text == "effect":
                ctx.reply("with an effect")
                ctx.effects.append(self.effect)
                return
            if ctx.text == "silent":
                return
            if ctx.text.startswith("note "):  # the contact changed by the handler, then later
                ctx.contact.flow_data = {"note": ctx.text}
                contact = ctx.contact

                async def join(done: Handled) -> None:
                    contact.organisation = "Școala Nr. 1"

                ctx.effects.append(join)
                ctx.reply("noted")
                return
            if ctx.text.startswith("speak "):
                ctx.contact.locale = ctx.text.removeprefix("speak ")
                ctx.contact.settings_at = utcnow()
                ctx.reply("done")
                return
            if ctx.text == "which language?":
                ctx.reply(f"locale {ctx.t.locale}")
                return
            ctx.reply(f"echo {ctx.text}")

        return Dispatcher([router])

    def note(self, name: str, ctx: Context) -> None:
        self.seen.append((name, ctx.command, ctx.payload, ctx.text))
        self.reply_to.append(ctx.reply_to)

    @staticmethod
    async def effect(done: Handled) -> None:
        # Storage work in the replies' transaction: the reply has its id already.
        reply = await done.session.scalar(
            select(Delivery).where(Delivery.inbound_id == done.inbound_id)
        )
        assert reply is not None and reply.id is not None
        reply.message = {**reply.message, "text": "with an effect, seen"}
        done.forget.append(f"effect-key:{done.inbound_id}")


@dataclass
class Member:
    """A member of one chat: sends messages through ``accept``, reads their replies."""

    engine: Engine
    channel: str
    address: str
    counter: int = 0

    def message(self, text: str = "", **fields: Any) -> InboundMessage:
        self.counter += 1
        platform_id = f"{self.address}-{self.counter}"
        return InboundMessage(self.channel, platform_id, self.address, text=text, **fields)

    async def send(self, text: str = "", **fields: Any) -> InboundMessage:
        msg = self.message(text, **fields)
        assert await self.engine.accept(msg)
        return msg

    async def drain(self) -> int | None:
        return await self.engine.drain(self.channel, self.address)

    async def replies(self) -> list[str]:
        return [text for _, text, _ in await self.outbox()]

    async def outbox(self) -> list[tuple[int, str, str | None]]:
        async with self.engine.db.session() as session:
            rows = await session.scalars(
                select(Delivery).where(
                    Delivery.channel == self.channel, Delivery.address == self.address
                ).order_by(Delivery.id)
            )  # fmt: skip
            return [(r.priority, r.message["text"], r.message.get("callback_id")) for r in rows]

    async def inbound(self) -> list[Inbound]:
        async with self.engine.db.session() as session:
            rows = await session.scalars(
                select(Inbound).where(
                    Inbound.channel == self.channel, Inbound.address == self.address
                ).order_by(Inbound.id)
            )  # fmt: skip
            return list(rows)

    async def contact(self) -> Contact | None:
        async with self.engine.db.session() as session:
            return await session.scalar(
                select(Contact).where(
                    Contact.channel == self.channel, Contact.address == self.address
                )
            )  # fmt: skip

    async def set(self, **values: Any) -> None:
        async with self.engine.db.session() as session, session.begin():
            await session.execute(
                update(Contact).where(
                    Contact.channel == self.channel, Contact.address == self.address
                ).values(**values)
            )  # fmt: skip


@pytest.fixture
def features() -> Features:
    return Features()


@pytest.fixture
def counted() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def engine(shared: Shared, features: Features, counted: list[tuple[str, str]]) -> Engine:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return Engine(
        shared.db,
        shared.coordinator,
        settings,
        features.dispatcher(),
        on_stored=lambda channel, result: counted.append((channel, result)),
    )


def member(engine: Engine, channel: str = "web") -> Member:
    if channel == "whatsapp":
        address = f"whatsapp:+4079{uuid.uuid4().int % 10**7:07d}"
    elif channel == "telegram":
        address = str(500000000 + uuid.uuid4().int % 99999999)
    else:
        address = f"engine-{uuid.uuid4().hex[:12]}"
    return Member(engine, channel, address)


# ---- storing ----------------------------------------------------------------------------


async def test_a_message_is_stored_once_however_often_the_platform_sends_it(
    engine: Engine, counted: list[tuple[str, str]]
) -> None:
    alice = member(engine)
    msg = alice.message("hello")
    assert await engine.accept(msg) is True
    assert await engine.accept(msg) is False
    assert counted == [("web", "stored"), ("web", "duplicate")]
    assert [row.status for row in await alice.inbound()] == ["pending"]
    assert await alice.drain() == 1
    assert await alice.replies() == ["echo hello"]


async def test_a_repeat_whose_dedupe_mark_is_gone_is_still_not_stored_twice(
    engine: Engine, shared: Shared, counted: list[tuple[str, str]]
) -> None:
    alice = member(engine)
    msg = alice.message("hello")
    assert await engine.accept(msg)
    # The mark lapsed (a day later, or Redis was flushed): the database still knows it.
    await shared.coordinator.forget([seen_key(msg.channel, msg.platform_id)])
    assert await engine.accept(msg) is False
    assert counted == [("web", "stored"), ("web", "duplicate")]
    assert len(await alice.inbound()) == 1
    await alice.drain()


class _Broken:
    """A database whose transactions fail: what the engine meets when the database is away."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def session(self) -> Any:
        raise ConnectionError("the database is away")


def database_away(engine: Engine, shared: Shared, away: bool = True) -> None:
    """The engine's database, and the inbox's that stores for it, away (or back)."""
    db = _Broken(shared.db) if away else shared.db
    engine.db = db  # type: ignore[assignment]
    engine.inbox.db = db  # type: ignore[assignment]


async def test_a_repeat_within_a_day_is_refused_by_its_mark_without_asking_the_database(
    shared: Shared, features: Features
) -> None:
    # The platforms repeat a webhook for up to a day: the mark answers those; only later
    # does the database's unique key have to. In process, on a clock the test moves.
    clock = VirtualClock()
    coordinator = MemoryCoordinator(clock)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    engine = Engine(shared.db, coordinator, settings, features.dispatcher())
    alice = member(engine)
    first, second = alice.message("hello"), alice.message("again")
    assert await engine.accept(first) and await engine.accept(second)
    database_away(engine, shared)
    clock.advance(24 * 3600 - 1)  # a second short of a day
    assert await engine.accept(first) is False  # the mark alone: the database is away
    clock.advance(2)  # a second past it: the database is asked
    with pytest.raises(ConnectionError):
        await engine.accept(second)
    database_away(engine, shared, False)
    assert await engine.accept(second) is False
    assert len(await alice.inbound()) == 2
    await alice.drain()


async def test_a_message_the_database_could_not_store_is_taken_when_the_platform_sends_it_again(
    engine: Engine, shared: Shared
) -> None:
    alice = member(engine)
    msg = alice.message("hello")
    database_away(engine, shared)
    with pytest.raises(ConnectionError):
        await engine.accept(msg)
    database_away(engine, shared, False)
    assert await engine.accept(msg) is True  # not taken for a repeat
    assert await alice.drain() == 1
    assert await alice.replies() == ["echo hello"]


# ---- handling, in order -----------------------------------------------------------------


async def test_every_pending_message_of_a_member_is_handled_in_one_drain_in_order(
    engine: Engine,
) -> None:
    alice = member(engine)
    for text in ("one", "two", "three"):
        await alice.send(text)
    assert await alice.drain() == 3
    assert await alice.replies() == ["echo one", "echo two", "echo three"]
    rows = await alice.inbound()
    assert [r.status for r in rows] == ["done"] * 3
    assert all(r.processed_at is not None for r in rows)
    assert await alice.drain() == 0


async def test_a_member_whose_messages_another_worker_holds_is_left_to_it(
    engine: Engine, shared: Shared
) -> None:
    alice = member(engine)
    await alice.send("hello")
    lease = await shared.coordinator.try_lock(contact_key(alice.channel, alice.address))
    assert lease is not None
    try:
        assert await alice.drain() is None
        assert [r.status for r in await alice.inbound()] == ["pending"]
    finally:
        await lease.release()
    assert await alice.drain() == 1
    # and the lock is let go after a drain: the next one may take the member
    await alice.send("again")
    assert await alice.drain() == 1


async def test_handling_wakes_the_sender_at_once(engine: Engine, shared: Shared) -> None:
    alice = member(engine)
    await alice.send("hello")
    # Wake-ups from earlier tests' drains are heard and done with first.
    while await shared.coordinator.wait(OUTBOX, timeout=0.05):
        pass
    waiting = asyncio.ensure_future(shared.coordinator.wait(OUTBOX, timeout=20.0))
    await asyncio.sleep(0.05)  # the waiter is listening (a notify before it still counts)
    await alice.drain()
    # Woken by the drain, not by the timeout: wait() answers True only when notified.
    assert await waiting is True


async def test_a_new_member_is_a_new_contact_with_what_their_platform_said(
    engine: Engine,
) -> None:
    bob = member(engine, "telegram")
    await bob.send("hello", lang_hint="ro-RO-with-a-long-tag-x", country_hint="MD")
    await bob.drain()
    contact = await bob.contact()
    assert contact is not None
    assert contact.status == "new"
    assert contact.lang_hint == "ro-RO-with-a-long-tag-x"[:16]
    assert contact.country_hint == "MD"
    assert contact.last_inbound_at is not None
    # A message with no hints leaves what was known.
    await bob.set(unreachable_at=utcnow())
    await bob.send("again")
    await bob.drain()
    contact = await bob.contact()
    assert contact is not None
    assert contact.lang_hint == "ro-RO-with-a-lon"
    assert contact.country_hint == "MD"
    assert contact.unreachable_at is None  # they wrote: reachable again


async def test_replies_belong_to_the_members_contact(engine: Engine) -> None:
    # What the outbox knows of whom a reply is for: the sender gives the member their numbered
    # choices by it, erasure finds the member's messages by it.
    alice = member(engine)
    await alice.send("hello")
    await alice.drain()
    contact = await alice.contact()
    assert contact is not None
    async with engine.db.session() as session:
        owners = list(
            await session.scalars(
                select(Delivery.contact_id).where(Delivery.address == alice.address)
            )
        )
    assert owners == [contact.id]


@pytest.mark.parametrize(
    ("hints", "locale"),
    [
        ({"country_hint": "RO"}, "ro"),  # a WhatsApp number from Romania
        ({"country_hint": "TR"}, "tr"),
        ({"country_hint": "RO", "lang_hint": "ru"}, "ru"),  # what their platform says first
        ({}, "en"),
    ],
)
async def test_a_member_is_answered_in_the_language_their_number_or_platform_tells(
    engine: Engine, hints: dict[str, str], locale: str
) -> None:
    carol = member(engine, "whatsapp")
    await carol.send("which language?", **hints)
    await carol.drain()
    assert await carol.replies() == [f"locale {locale}"]


async def test_a_members_chosen_country_wins_over_their_numbers(engine: Engine) -> None:
    carol = member(engine, "whatsapp")
    await carol.send("hello", country_hint="RO")
    await carol.drain()
    await carol.set(country="TR")
    await carol.send("which language?")
    await carol.drain()
    assert (await carol.replies())[-1] == "locale tr"


async def test_a_setting_changed_in_one_linked_chat_holds_in_the_others(engine: Engine) -> None:
    on_telegram, on_web = member(engine, "telegram"), member(engine)
    for m in (on_telegram, on_web):
        await m.send("hello")
        await m.drain()
    async with engine.db.session() as session, session.begin():
        person = Person()
        session.add(person)
        await session.flush()
        await session.execute(
            update(Contact)
            .where(Contact.address.in_([on_telegram.address, on_web.address]))
            .values(person_id=person.id)
        )
    await on_telegram.send("speak ro")
    await on_telegram.drain()
    other = await on_web.contact()
    assert other is not None and other.locale == "ro"


async def test_what_a_member_writes_after_a_broadcast_that_asked_for_replies_answers_it(
    engine: Engine, features: Features
) -> None:
    bob = member(engine, "telegram")
    await bob.send("hello")
    await bob.drain()
    contact = await bob.contact()
    assert contact is not None
    async with engine.db.session() as session, session.begin():
        broadcast = Broadcast(title="Your views", status="done", collect_replies_hours=24)
        session.add(broadcast)
        await session.flush()
        session.add(
            Delivery(contact_id=contact.id, broadcast_id=broadcast.id, channel=bob.channel,
                     address=bob.address, priority=5, message={"text": "Tell us"},
                     status="sent", status_rank=2, sent_at=utcnow() - timedelta(hours=1))
        )  # fmt: skip
        broadcast_id = broadcast.id
    await engine.coordinator.notify(BROADCASTS)  # as whatever sends a broadcast does
    await eventually(lambda: engine.windows.told)  # heard (through Redis when scaled)
    features.reply_to.clear()
    await bob.send("my view")  # typed: a reply to it
    await bob.send("", kind=Kind.BUTTON, payload="colour:red")  # a tap: not a reply
    await bob.drain()
    assert features.reply_to == [broadcast_id, None]


async def test_an_edit_or_an_unsupported_update_is_marked_done_without_a_contact(
    engine: Engine, features: Features
) -> None:
    bob = member(engine, "telegram")
    await bob.send("edited text", kind=Kind.EDITED)
    await bob.send("", kind=Kind.UNSUPPORTED)
    assert await bob.drain() == 2
    assert await bob.contact() is None
    assert await bob.replies() == []
    assert features.seen == []
    assert [r.status for r in await bob.inbound()] == ["done", "done"]


async def test_a_staff_message_goes_to_the_staff_hook_and_makes_no_contact(
    engine: Engine, features: Features
) -> None:
    staff = member(engine, "telegram")
    msg = await staff.send("the answer", kind=Kind.STAFF, payload="42")
    await staff.drain()
    row = (await staff.inbound())[0]
    assert features.staff == [(row.id, "the answer")]
    assert msg.text == "the answer"
    assert await staff.contact() is None
    assert features.seen == []


async def test_a_member_who_blocks_the_bot_is_unreachable_until_they_unblock_it(
    engine: Engine,
) -> None:
    bob = member(engine, "telegram")
    await bob.send("hello")
    await bob.drain()
    for status, unreachable in (("kicked", True), ("member", False), ("left", True)):
        await bob.send("", kind=Kind.UNSUPPORTED, payload=f"my_chat_member:{status}")
        await bob.drain()
        contact = await bob.contact()
        assert contact is not None
        assert (contact.unreachable_at is not None) is unreachable, status


async def test_a_group_that_moved_is_followed_to_its_new_id(engine: Engine) -> None:
    group = Member(engine, "telegram", f"-100{uuid.uuid4().int % 10**9}")
    await group.send("", kind=Kind.UNSUPPORTED, payload="chat_moved:-1009999")
    await group.drain()
    async with engine.db.session() as session:
        moved = await session.scalar(
            select(ChatMove.moved_to).where(
                ChatMove.channel == "telegram", ChatMove.address == group.address
            )
        )  # fmt: skip
    assert moved == "-1009999"


async def test_a_tapped_button_goes_to_its_handler_and_its_spinner_is_answered(
    engine: Engine, features: Features
) -> None:
    bob = member(engine, "telegram")
    await bob.send("", kind=Kind.BUTTON, payload="colour:red", callback_id="cb-1")
    await bob.drain()
    assert features.seen == [("colour", None, "colour:red", "")]
    # The spinner's answer first, then the reply.
    assert await bob.outbox() == [(CALLBACK, "", "cb-1"), (REPLY, "chose colour:red", None)]


async def test_a_typed_command_is_recognised(engine: Engine, features: Features) -> None:
    alice = member(engine)
    await alice.send("help")
    await alice.drain()
    assert features.seen == [("help", "help", None, "help")]
    assert await alice.replies() == ["help text"]


async def test_a_number_typed_in_answer_to_options_is_that_option(
    engine: Engine, features: Features
) -> None:
    # Three options and a link: the numbers 1 to 3 choose; 0, 4 and others are just text.
    alice = member(engine, "whatsapp")
    await alice.send("colours")
    await alice.drain()
    contact = await alice.contact()
    assert contact is not None
    # Each kept with its label, so that the option's words choose it too.
    assert [payload_of(c) for c in contact.choices] == ["colour:red", "colour:green", "colour:blue"]
    assert [label_of(c) for c in contact.choices] == ["Red", "Green", "Blue"]
    expected = {
        "1": ("colour", "colour:red"),
        " 2. ": ("colour", "colour:green"),
        "3)": ("colour", "colour:blue"),
        "4": ("text", None),
        "0": ("text", None),
        "-1": ("text", None),
        "two": ("text", None),
    }
    for typed, (handler, payload) in expected.items():
        features.seen.clear()
        await alice.set(choices=["colour:red", "colour:green", "colour:blue"])
        await alice.send(typed)
        await alice.drain()
        assert [(name, chosen) for name, _, chosen, _ in features.seen] == [(handler, payload)], (
            typed
        )
    # The replies that offered nothing left the choices as they were, or cleared them: a
    # number typed with no options is text.
    await alice.set(choices=[])
    features.seen.clear()
    await alice.send("1")
    await alice.drain()
    assert [(name, chosen) for name, _, chosen, _ in features.seen] == [("text", None)]


async def test_a_message_a_gate_holds_is_handled_past_the_gates_as_text(
    engine: Engine, features: Features
) -> None:
    alice = member(engine)
    await alice.send("hello")
    await alice.drain()
    await alice.set(flow="gated")
    await alice.send("help")
    await alice.drain()
    assert features.gated == ["help"]
    # The gate's own reply, then the message it handed on, as new text (no button, no command
    # from before).
    assert (await alice.replies())[-2:] == ["held", "echo again help"]
    assert features.seen[-1] == ("text", None, None, "again help")


async def test_read_it_on_the_notice_asks_for_no_answer(engine: Engine, features: Features) -> None:
    bob = member(engine, "telegram")
    await bob.send("", kind=Kind.BUTTON, payload=READ_PAYLOAD)
    await bob.drain()
    assert features.seen == []
    assert await bob.replies() == []
    assert await bob.contact() is not None


async def test_what_was_kept_outside_the_window_goes_before_the_answer_when_they_write(
    engine: Engine,
) -> None:
    alice = member(engine, "whatsapp")
    await alice.send("hello")
    await alice.drain()
    contact = await alice.contact()
    assert contact is not None
    async with engine.db.session() as session, session.begin():
        session.add(
            Delivery(contact_id=contact.id, channel=alice.channel, address=alice.address,
                     priority=5, message=OutboundMessage(text="kept news").to_json(),
                     status="held", status_rank=0, error_code="outside_window")
        )  # fmt: skip
    await alice.send("I am back")
    await alice.drain()
    async with engine.db.session() as session:
        rows = list(
            await session.scalars(
                select(Delivery).where(Delivery.address == alice.address).order_by(Delivery.id)
            )
        )
    kept = next(r for r in rows if r.message["text"] == "kept news")
    assert (kept.status, kept.priority, kept.error_code) == ("queued", REPLY, None)


async def test_a_telegram_member_has_nothing_released_by_writing(engine: Engine) -> None:
    # Telegram has no reply window: a held row there (none should exist) stays as it is.
    bob = member(engine, "telegram")
    await bob.send("hello")
    await bob.drain()
    contact = await bob.contact()
    assert contact is not None
    async with engine.db.session() as session, session.begin():
        session.add(
            Delivery(contact_id=contact.id, channel=bob.channel, address=bob.address,
                     priority=5, message=OutboundMessage(text="kept").to_json(),
                     status="held", status_rank=0, error_code="outside_window")
        )  # fmt: skip
    await bob.send("again")
    await bob.drain()
    async with engine.db.session() as session:
        status = await session.scalar(
            select(Delivery.status).where(
                Delivery.address == bob.address, Delivery.error_code == "outside_window"
            )
        )  # fmt: skip
    assert status == "held"


async def test_effects_run_in_the_replies_transaction_and_their_keys_are_forgotten(
    engine: Engine, shared: Shared
) -> None:
    alice = member(engine)
    await alice.send("effect")
    row_id = (await alice.inbound())[0].id
    key = f"effect-key:{row_id}"
    assert not await shared.coordinator.seen(key, ttl=60)  # marked now
    assert await shared.coordinator.seen(key, ttl=60)
    await alice.drain()
    assert await alice.replies() == ["with an effect, seen"]
    assert not await shared.coordinator.seen(key, ttl=60)  # forgotten by the drain


async def test_what_a_handler_and_its_effects_change_in_the_contact_is_stored_and_nothing_else(
    engine: Engine,
) -> None:
    alice = member(engine)
    await alice.send("hello", country_hint="RO")
    await alice.drain()
    before = await alice.contact()
    assert before is not None and before.last_inbound_at is not None
    await alice.set(locale="ro")  # what this message does not change is not written back
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    await alice.send("note one")
    event.listen(engine.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await alice.drain()
    finally:
        event.remove(engine.db.engine.sync_engine, "before_cursor_execute", seen)
    after = await alice.contact()
    assert after is not None
    assert after.flow_data == {"note": "note one"}  # the handler's
    assert after.organisation == "Școala Nr. 1"  # the effect's, after the replies were queued
    assert after.organisation_search == "scoala nr. 1"  # and what follows from it
    assert (after.locale, after.country_hint) == ("ro", "RO")
    assert after.last_inbound_at > before.last_inbound_at
    assert after.updated_at > before.updated_at
    assert await alice.replies() == ["echo hello", "noted"]
    # Read with the message, written column by column: the handler's changes, then the effect's.
    # A read during the handling (while a broadcast may be collecting replies, the member's
    # last one) flushes what was changed until then in a statement of its own.
    assert not [s for s in statements if s.startswith("SELECT contacts")]
    writes = [s.partition(" WHERE ")[0] for s in statements if s.startswith("UPDATE contacts")]
    handler = [i for i, w in enumerate(writes) if "flow_data" in w]
    effect = [i for i, w in enumerate(writes) if "organisation" in w]
    assert len(handler) == 1 and len(effect) == 1 and handler[0] < effect[0]
    assert any("last_inbound_at" in w for w in writes[: effect[0]])
    assert "flow_data" not in writes[effect[0]] and len(writes) <= 3
    assert not [w for w in writes if "locale" in w or "status" in w or "country" in w]


async def test_a_message_with_no_reply_is_done(engine: Engine) -> None:
    alice = member(engine)
    await alice.send("silent")
    await alice.drain()
    assert [r.status for r in await alice.inbound()] == ["done"]
    assert await alice.replies() == []


# ---- a handler that raises ----------------------------------------------------------------


async def test_a_handler_that_always_raises_is_tried_three_times_then_the_member_gets_an_apology(
    engine: Engine, features: Features
) -> None:
    alice = member(engine)
    await alice.send("boom")
    await alice.send("after")
    # One drain: the failing message is retried up to the limit, then the next is handled.
    assert await alice.drain() == MAX_ATTEMPTS + 1
    assert features.raised == {"boom": 3}
    first, second = await alice.inbound()
    assert (first.status, first.attempts, first.error) == ("failed", 3, "RuntimeError")
    assert second.status == "done"
    assert await alice.replies() == [SORRY_EN, "echo after"]
    # The member's later messages are still answered.
    await alice.send("and later")
    assert await alice.drain() == 1
    assert (await alice.replies())[-1] == "echo and later"


async def test_a_new_member_whose_first_message_fails_still_gets_the_apology_in_their_language(
    engine: Engine, features: Features
) -> None:
    # The contact their first message made went with the failed attempt: the apology goes to
    # their chat all the same, in the language their platform or number tells.
    bob = member(engine, "telegram")
    await bob.send("boom", lang_hint="ro")
    await bob.drain()
    assert await bob.replies() == [SORRY_RO]
    carol = member(engine, "whatsapp")
    await carol.send("boom", country_hint="RO")
    await carol.drain()
    assert await carol.replies() == [SORRY_RO]


async def test_a_known_members_apology_follows_their_country_when_they_chose_no_language(
    engine: Engine, features: Features
) -> None:
    carol = member(engine, "whatsapp")
    await carol.send("hello", country_hint="RO")
    await carol.drain()
    await carol.send("boom")
    await carol.drain()
    assert (await carol.replies())[-1] == SORRY_RO


async def test_a_handler_that_fails_twice_then_succeeds_answers_once_without_apology(
    engine: Engine, features: Features
) -> None:
    alice = member(engine)
    await alice.send("fails twice")
    assert await alice.drain() == 3
    (row,) = await alice.inbound()
    assert (row.status, row.attempts, row.error) == ("done", 2, "ValueError")
    assert await alice.replies() == ["echo fails twice"]


async def test_the_apology_is_in_the_members_language_and_answers_a_tapped_button(
    engine: Engine, features: Features
) -> None:
    bob = member(engine, "telegram")
    await bob.send("hello", lang_hint="ro")
    await bob.drain()
    features.raised.clear()
    await bob.send("boom", callback_id="cb-9")
    await bob.drain()
    outbox = await bob.outbox()
    # Each attempt's spinner answer was rolled back with it; the apology answers it once.
    assert outbox[-2:] == [(CALLBACK, "", "cb-9"), (REPLY, SORRY_RO, None)]
    assert [text for _, text, cb in outbox if cb == "cb-9"] == [""]


async def test_a_failure_whose_exception_has_a_very_long_name_is_still_recorded(
    engine: Engine,
) -> None:
    alice = member(engine)
    await alice.send("long trouble")
    assert await alice.drain() == MAX_ATTEMPTS
    (row,) = await alice.inbound()
    # The first 200 characters of its name, all the column holds: written out, not computed.
    assert (row.status, row.error) == ("failed", "Trouble" * 28 + "Trouble"[:4])
    assert await alice.replies() == [SORRY_EN]


async def test_a_member_held_by_a_worker_that_hangs_is_taken_by_another_after_half_a_minute(
    shared: Shared, features: Features
) -> None:
    # On a clock the test moves: while the handler hangs, another worker looks at the member.
    clock = VirtualClock()
    coordinator = MemoryCoordinator(clock)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    engine = Engine(shared.db, coordinator, settings, features.dispatcher())
    alice = member(engine)
    key = contact_key(alice.channel, alice.address)
    held: list[bool] = []

    async def while_stuck() -> None:
        clock.advance(29.5)
        held.append(await coordinator.try_lock(key) is None)
        clock.advance(1.0)
        other = await coordinator.try_lock(key)
        held.append(other is None)
        if other is not None:
            await other.release()

    features.while_stuck = while_stuck
    await alice.send("stuck")
    assert await alice.drain() == 1
    assert held == [True, False]  # still held at 29.5 s, free at 30.5 s


async def test_a_message_is_answered_once_when_the_members_lease_lapses_mid_handler(
    shared: Shared, features: Features
) -> None:
    # A handler that hangs past the lease (30 s), or a Redis failover: a second worker takes
    # the member. On PostgreSQL it waits for the message the first holds, rather than
    # answering it a second time. (SQLite has one writer at a time: nothing to race.)
    if not shared.scaled:
        pytest.skip("one process, one writer: no second worker on SQLite")
    clock = VirtualClock()
    coordinator = MemoryCoordinator(clock)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    first = Engine(shared.db, coordinator, settings, features.dispatcher())
    second = Engine(shared.db, coordinator, settings, features.dispatcher())
    alice = member(first)
    calls, gate = 0, asyncio.Event()

    async def while_stuck() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()

    async def waiting_for_a_row() -> bool:
        async with shared.db.session() as session:
            found = await session.scalar(
                sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name = current_setting('application_name')"
                )
            )
        return bool(found)

    features.while_stuck = while_stuck
    await alice.send("stuck")
    one = asyncio.create_task(alice.drain())
    try:
        await eventually(lambda: calls == 1)
        clock.advance(LOCK_TTL + 1)  # the lease lapses while the handler hangs
        two = asyncio.create_task(second.drain(alice.channel, alice.address))
        # The second worker stops at the row (or, without the row lock, runs the handler).
        await eventually(lambda: calls > 1 or waiting_for_a_row())
        assert calls == 1
    finally:
        gate.set()
    assert await one == 1
    assert await two == 0
    assert await alice.replies() == ["echo stuck"]


async def test_a_failing_message_of_a_chat_without_a_contact_fails_without_an_apology(
    engine: Engine, shared: Shared
) -> None:
    # A staff chat's message whose hook raises: there is no member to apologise to.
    router = Router("failing staff")

    @router.staff_reply
    async def staff(session: Any, settings: Settings, inbound_id: int, msg: Any) -> None:
        raise RuntimeError("the relay's bug")

    engine.dispatcher = Dispatcher([router])
    staff_chat = member(engine, "telegram")
    await staff_chat.send("an answer", kind=Kind.STAFF)
    assert await staff_chat.drain() == MAX_ATTEMPTS
    (row,) = await staff_chat.inbound()
    assert (row.status, row.attempts) == ("failed", 3)
    assert await staff_chat.replies() == []


async def test_a_drain_whose_database_fails_before_reading_leaves_the_message_pending(
    engine: Engine, shared: Shared
) -> None:
    alice = member(engine)
    await alice.send("hello")
    database_away(engine, shared)
    with pytest.raises(ConnectionError):
        await alice.drain()
    database_away(engine, shared, False)
    (row,) = await alice.inbound()
    assert (row.status, row.attempts) == ("pending", 0)
    assert await alice.drain() == 1  # the lock was let go
    assert await alice.replies() == ["echo hello"]


# ---- the sweep --------------------------------------------------------------------------


async def _age(m: Member, seconds: float) -> None:
    async with m.engine.db.session() as session, session.begin():
        await session.execute(
            update(Inbound)
            .where(Inbound.channel == m.channel, Inbound.address == m.address)
            .values(received_at=utcnow() - timedelta(seconds=seconds))
        )


async def test_the_sweep_answers_messages_left_pending_by_a_crash_at_any_age(
    engine: Engine,
) -> None:
    # Left pending: stored, then the process that stored them stopped before handling them.
    members = {}
    for age in (4.0, 60.0, 3 * 3600.0):
        m = member(engine)
        await m.send(f"left {age:.0f} s ago")
        await m.send("and another")
        await _age(m, age)
        members[age] = m
    await engine.sweep(older_than=3.0)
    for age, m in members.items():
        assert await m.replies() == [f"echo left {age:.0f} s ago", "echo and another"], age


async def test_the_sweep_at_start_takes_a_message_stored_in_the_same_tick_of_the_clock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A coarse system clock gives a message stored just before a restart the very time the
    # start-up sweep reads (older than 0 s): it is answered all the same.
    now = utcnow()
    monkeypatch.setattr("bot.conversation.engine.utcnow", lambda: now)
    alice = member(engine)
    await alice.send("just before the restart")
    assert await engine.sweep(older_than=0.0) >= 1
    assert await alice.replies() == ["echo just before the restart"]


async def test_the_sweep_leaves_young_messages_to_the_process_that_stored_them(
    engine: Engine,
) -> None:
    young = member(engine)
    await young.send("just now")
    old = member(engine)
    await old.send("a while ago")
    await _age(old, 10.0)
    await engine.sweep(older_than=3.0)
    assert await young.replies() == []
    assert await old.replies() == ["echo a while ago"]
    await young.drain()


async def test_the_sweep_counts_what_it_handled_and_takes_every_member_up_to_its_limit(
    engine: Engine,
) -> None:
    # Other tests' members have nothing pending: the count is this test's.
    crowd = [member(engine) for _ in range(3)]
    for m in crowd:
        await m.send("one")
        await m.send("two")
        await _age(m, 30.0)
    assert await engine.sweep(limit=2, older_than=3.0) == 4
    left = [m for m in crowd if not await m.replies()]
    assert len(left) == 1
    assert await engine.sweep(older_than=3.0) == 2
    assert await left[0].replies() == ["echo one", "echo two"]


async def test_the_sweep_handles_in_the_places_the_webhooks_drains_leave_free(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every running drain lengthens the event loop's round, and a webhook's request waits a
    # round at each of its steps: the sweep and the webhooks' drains share one bound.
    running, most = 0, 0
    release = asyncio.Event()
    drain = engine.drain

    async def held_drain(channel: str, address: str) -> int | None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        return await drain(channel, address)

    monkeypatch.setattr(engine, "drain", held_drain)
    crowd = [member(engine) for _ in range(10)]
    for m in crowd:
        await m.send("hello")
        await _age(m, 30.0)
    places = engine.gate._value  # noqa: SLF001 - the process's bound
    assert places == DRAINS
    for _ in range(places - 1):  # webhooks' drains hold every place but one
        await engine.gate.acquire()
    sweep = asyncio.create_task(engine.sweep(older_than=3.0))
    try:
        await eventually(lambda: running == 1)
        assert most == 1 and not sweep.done()
    finally:
        for _ in range(places - 1):
            engine.gate.release()
    try:
        await eventually(lambda: running == places)
    finally:
        release.set()
    assert await sweep == len(crowd)
    assert most == places
    for m in crowd:
        assert await m.replies() == ["echo hello"]


async def test_the_sweep_does_not_count_a_member_another_worker_holds(
    engine: Engine, shared: Shared
) -> None:
    busy, idle = member(engine), member(engine)
    for m in (busy, idle):
        await m.send("hello")
        await _age(m, 30.0)
    lease = await shared.coordinator.try_lock(contact_key(busy.channel, busy.address))
    assert lease is not None
    try:
        assert await engine.sweep(older_than=3.0) == 1
    finally:
        await lease.release()
    assert await engine.sweep(older_than=3.0) == 1
    assert await busy.replies() == ["echo hello"]
