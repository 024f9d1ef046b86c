"""The pacing's figures, worked out by hand from the platforms' limits, and its edge cases.

Telegram allows about 30 messages a second for a bot, one a second to a member's chat and 20 a
minute to a group. The pacer books 96 % of a limit on a shared schedule, keeps one process's
own sends 0.96 / 0.99 of a slot apart, and never lets one process send more than 97 % of the
limit in a rolling second. Every expected figure below is that arithmetic, written out.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Sequence

import pytest

from bot.config import Settings
from bot.coordination import Bucket
from bot.coordination.keys import chat_rate_key
from bot.coordination.memory import MemoryCoordinator
from bot.delivery.pacing import Pacer
from bot.messages import OutboundMessage
from tests.clock import VirtualClock

MESSAGE = OutboundMessage(text="ChildPact news")


def settings(**values: float) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def pacer_on(
    clock: VirtualClock, coordinator: MemoryCoordinator | None = None, **values: float
) -> Pacer:
    return Pacer(
        coordinator or MemoryCoordinator(clock), settings(**values), clock=clock, sleep=clock.sleep
    )


def most_in_one_second(times: Sequence[float]) -> int:
    ordered = sorted(times)
    return max(i - bisect.bisect_right(ordered, t - 1.0) + 1 for i, t in enumerate(ordered))


# ---- the figures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "channel", "interval"),
    [
        ({"telegram_rate": 30.0}, "telegram", 1 / 28.8),  # 96 % of 30 a second
        ({"telegram_rate": 20.0}, "telegram", 1 / 19.2),
        ({"twilio_rate": 1.0}, "whatsapp", 1 / 0.96),
        ({"telegram_rate": 0.0}, "telegram", None),  # 0: no limit
        ({"telegram_rate": math.inf}, "telegram", None),
        ({}, "web", None),  # the web chat's page reads the outbox: no platform to wait for
        ({}, "sms", None),  # a channel with no rate known
    ],
)
def test_the_channels_slot_is_96_percent_of_its_limit(
    values: dict[str, float], channel: str, interval: float | None
) -> None:
    found = Pacer(MemoryCoordinator(), settings(**values)).channel_interval(channel)
    assert found == (None if interval is None else pytest.approx(interval))


@pytest.mark.parametrize(
    ("per_minute", "rate"),
    [
        # burst 1 plus 60 × rate stays within the minute's limit at 95 % of it
        (20.0, (20 * 0.95 - 1) / 60),  # 0.3 a second
        (3.0, (3 * 0.95 - 1) / 60),
        (2.0, 2 / 120),  # too few for the burst: half the rate
        (1.0, 1 / 120),
    ],
)
def test_a_group_gets_its_minutes_limit_less_its_burst(per_minute: float, rate: float) -> None:
    pacer = Pacer(MemoryCoordinator(), settings(telegram_group_rate=per_minute))
    bucket = pacer.chat_bucket("telegram", "-1001234567890", MESSAGE)
    assert bucket is not None
    assert (bucket.key, bucket.rate, bucket.burst) == (
        chat_rate_key("telegram", "-1001234567890"),
        pytest.approx(rate),
        1,
    )


def test_which_chats_have_a_limit_of_their_own() -> None:
    pacer = Pacer(MemoryCoordinator(), settings(telegram_chat_rate=1.0, telegram_group_rate=20))
    member = pacer.chat_bucket("telegram", "612345678", MESSAGE)
    assert member == Bucket(chat_rate_key("telegram", "612345678"), 1.0, 1)
    assert pacer.chat_bucket("whatsapp", "whatsapp:+40700000001", MESSAGE) is None
    callback = OutboundMessage(text="", callback_id="7")  # the answer to a tap is no message
    assert pacer.chat_bucket("telegram", "612345678", callback) is None
    for values in ({"telegram_group_rate": 0}, {"telegram_group_rate": math.inf}):
        unlimited = Pacer(MemoryCoordinator(), settings(**values))
        assert unlimited.chat_bucket("telegram", "-100123", MESSAGE) is None
    no_chat_limit = Pacer(MemoryCoordinator(), settings(telegram_chat_rate=0))
    assert no_chat_limit.chat_bucket("telegram", "612345678", MESSAGE) is None


@pytest.mark.parametrize(
    ("rate", "ceiling", "ahead"),
    [
        (30.0, 100, 8),  # a quarter second at 28.8 a second: 7.2, rounded up
        (30.0, 5, 5),  # never more than the sender may have in flight
        (1.0, 100, 2),  # a quarter second is less than one slot: two all the same
        (0.0, 100, 100),  # no limit: as many as may be in flight
    ],
)
def test_a_channel_claims_a_quarter_second_ahead(rate: float, ceiling: int, ahead: int) -> None:
    pacer = Pacer(MemoryCoordinator(), settings(telegram_rate=rate))
    assert pacer.lookahead("telegram", ceiling) == ahead


# ---- pauses -------------------------------------------------------------------------------


async def test_a_pause_lasts_what_the_platform_said_and_no_longer() -> None:
    clock = VirtualClock()
    pacer = pacer_on(clock)
    assert await pacer.paused_for("telegram") == 0.0
    await pacer.pause("telegram", 2.0)
    assert await pacer.paused_for("telegram") == 2.0
    clock.advance(1.5)
    assert await pacer.paused_for("telegram") == 0.5
    clock.advance(1.0)
    assert await pacer.paused_for("telegram") == 0.0
    assert await pacer.paused_for("whatsapp") == 0.0  # another channel was never paused


async def test_a_short_pause_from_another_process_is_heeded_too() -> None:
    clock = VirtualClock()
    shared = MemoryCoordinator(clock)
    here, there = pacer_on(clock, shared), pacer_on(clock, shared)
    await there.pause("telegram", 0.5)
    await clock.run(here.wait_turn("telegram", "611111111", MESSAGE))
    assert clock() >= 1000.5


async def test_a_short_pause_that_comes_while_a_message_waits_for_its_slot_holds_it() -> None:
    clock = VirtualClock()
    pacer = pacer_on(clock, telegram_rate=1.0, telegram_chat_rate=0)
    sent: list[float] = []

    async def two() -> None:
        for n in range(2):
            await pacer.wait_turn("telegram", f"61111111{n}", MESSAGE)
            sent.append(clock())

    async def refused() -> None:
        await clock.sleep(0.5)  # the second waits for its slot at 1000 + 1/0.96
        await pacer.pause("telegram", 0.8)

    await clock.run(two(), refused())
    assert sent[0] == 1000.0
    assert sent[1] >= 1000.5 + 0.8


async def test_the_shared_pause_is_asked_at_most_every_tenth_of_a_second() -> None:
    # Every message of a busy channel asks; the coordinator (Redis) is asked ten times a
    # second at most.
    clock = VirtualClock()
    coordinator = MemoryCoordinator(clock)
    asked: list[float] = []
    ask = coordinator.paused_for

    async def counted(channel: str) -> float:
        asked.append(clock())
        return await ask(channel)

    coordinator.paused_for = counted  # type: ignore[method-assign]
    pacer = pacer_on(clock, coordinator)
    for _ in range(5):
        await pacer.paused_for("telegram")
    assert len(asked) == 1
    clock.advance(0.25)
    await pacer.paused_for("telegram")
    assert len(asked) == 2


async def test_a_paused_channel_books_no_slots_while_it_waits() -> None:
    # Waiting messages sleep through the pause rather than booking slot after slot of the
    # schedule every process shares.
    clock = VirtualClock()
    coordinator = MemoryCoordinator(clock)
    booked: list[float] = []
    reserve = coordinator.reserve

    async def counted(key: str, interval: float) -> float:
        booked.append(clock())
        return await reserve(key, interval)

    coordinator.reserve = counted  # type: ignore[method-assign]
    pacer = pacer_on(clock, coordinator, telegram_rate=20)
    await pacer.pause("telegram", 3.0)

    async def one(n: int) -> None:
        await pacer.wait_turn("telegram", str(500000000 + n), MESSAGE)

    await clock.run(*(one(n) for n in range(5)))
    assert clock() >= 1003.0
    assert len(booked) == 5 and min(booked) >= 1003.0


async def test_a_short_pause_is_slept_through_without_booking_slots() -> None:
    clock = VirtualClock()
    coordinator = MemoryCoordinator(clock)
    booked: list[float] = []
    reserve = coordinator.reserve

    async def counted(key: str, interval: float) -> float:
        booked.append(clock())
        return await reserve(key, interval)

    coordinator.reserve = counted  # type: ignore[method-assign]
    pacer = pacer_on(clock, coordinator, telegram_rate=20)
    await pacer.pause("telegram", 0.5)
    await clock.run(pacer.wait_turn("telegram", "500000001", MESSAGE))
    assert booked == [1000.5]


# ---- one process's own spacing --------------------------------------------------------------


async def test_two_processes_together_keep_the_bots_limit() -> None:
    # Each process waits for the slot the shared schedule gave it, however soon its own
    # previous send was.
    clock = VirtualClock()
    shared = MemoryCoordinator(clock)
    one, two = pacer_on(clock, shared, telegram_rate=20), pacer_on(clock, shared, telegram_rate=20)

    async def send(pacer: Pacer, n: int) -> float:
        await pacer.wait_turn("telegram", str(500000000 + n), MESSAGE)
        return clock()

    sent = await clock.run(*(send(one if n % 2 else two, n) for n in range(60)))
    assert most_in_one_second(sent) <= 20
    # the schedule's slots, one after the other: 1/19.2 s apart
    assert sorted(sent) == pytest.approx([1000.0 + n / 19.2 for n in range(60)])


class _LateOnce:
    """Sleeps on ``clock``, all on time but the ``nth`` sleep, which wakes ``late`` seconds late."""

    def __init__(self, clock: VirtualClock, nth: int, late: float) -> None:
        self.clock, self.nth, self.late, self.count = clock, nth, late, 0

    async def __call__(self, seconds: float) -> None:
        self.count += 1
        await self.clock.sleep(seconds + (self.late if self.count == self.nth else 0.0))


async def test_a_send_woken_late_pushes_the_next_one_of_its_process_back() -> None:
    # Slots 1/19.2 s apart. The second message wakes 0.9 slot late, almost on the third's
    # slot: the third then waits 0.96/0.99 of a slot after the second rather than going with it.
    clock = VirtualClock()
    slot = 1 / 19.2
    late = _LateOnce(clock, nth=1, late=0.9 * slot)
    pacer = Pacer(
        MemoryCoordinator(clock), settings(telegram_rate=20, telegram_chat_rate=0),
        clock=clock, sleep=late,
    )  # fmt: skip
    sent: dict[int, float] = {}

    async def one(n: int) -> None:
        await pacer.wait_turn("telegram", str(500000000 + n), MESSAGE)
        sent[n] = clock()

    await clock.run(*(one(n) for n in range(3)))
    assert sent[0] == pytest.approx(1000.0)
    assert sent[1] == pytest.approx(1000.0 + 1.9 * slot)
    assert sent[2] == pytest.approx(1000.0 + 1.9 * slot + slot * 0.96 / 0.99)


async def test_one_process_sending_steadily_keeps_to_19_of_20_in_any_second() -> None:
    # The schedule's slots alone (1/19.2 s apart) put 20 sends within 0.99 s; one process
    # holds the 20th back until the first is a second old.
    clock = VirtualClock()
    pacer = pacer_on(clock, telegram_rate=20, telegram_chat_rate=0)

    async def one(n: int) -> float:
        await pacer.wait_turn("telegram", str(500000000 + n), MESSAGE)
        return clock()

    sent = sorted(await clock.run(*(one(n) for n in range(40))))
    assert most_in_one_second(sent) == 19
    assert sent[19] == pytest.approx(sent[0] + 1.001)  # a millisecond past the first's second


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_one_process_never_sends_over_97_percent_of_the_limit_in_a_second(seed: int) -> None:
    # Wake-ups late and in bunches: the slots alone would let 20 go in some second; one
    # process keeps to 19 (97 % of 20, rounded down), so a request that reaches the platform
    # late still finds room.
    clock = VirtualClock(lateness=0.4, seed=seed)
    pacer = pacer_on(clock, telegram_rate=20, telegram_chat_rate=0)

    async def one(n: int) -> float:
        await pacer.wait_turn("telegram", str(500000000 + n), MESSAGE)
        return clock()

    sent = await clock.run(*(one(n) for n in range(150)))
    assert len(sent) == 150
    assert most_in_one_second(sent) <= 19


async def test_a_slow_channel_sends_one_message_per_rolling_second_from_one_process() -> None:
    clock = VirtualClock(lateness=0.5, seed=3)
    pacer = pacer_on(clock, twilio_rate=1.0)

    async def one(n: int) -> float:
        await pacer.wait_turn("whatsapp", f"whatsapp:+4070000{n:04d}", MESSAGE)
        return clock()

    sent = await clock.run(*(one(n) for n in range(12)))
    assert most_in_one_second(sent) == 1
    await asyncio.sleep(0)
