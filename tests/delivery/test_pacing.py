"""The pacing on a clock the test moves: each chat's limit, the bot's limit, and 429 pauses.

Every send time here is the pacer's own decision, on a virtual clock, so a busy machine
changes nothing; what the sends look like on a real clock is `python -m bench outbound`.
"""

from __future__ import annotations

import asyncio
import bisect

from bot.config import Settings
from bot.coordination.memory import MemoryCoordinator
from bot.delivery.pacing import CATCH_UP, SLOTS, Pacer
from bot.messages import OutboundMessage
from tests.clock import VirtualClock

MESSAGE = OutboundMessage(text="ChildPact news")


def pacer_on(clock: VirtualClock, **settings: float) -> Pacer:
    values = {"telegram_rate": 30.0, "telegram_chat_rate": 1.0, **settings}
    return Pacer(
        MemoryCoordinator(clock), Settings(_env_file=None, **values), clock=clock, sleep=clock.sleep
    )


def most_in_one_second(times: list[float]) -> int:
    """The most send times in any rolling second, counted as the platform counts them."""
    ordered = sorted(times)
    return max(i - bisect.bisect_right(ordered, t - 1.0) + 1 for i, t in enumerate(ordered))


async def test_one_chat_gets_one_message_a_second_in_order() -> None:
    # Would catch a chat's token not taken before each of its messages, or taken at a
    # different rate than Telegram's one message a second per chat.
    clock = VirtualClock()
    pacer = pacer_on(clock)

    async def in_turn(address: str, count: int) -> list[float]:
        sent = []
        for _ in range(count):  # the sender has one message of a chat in flight at a time
            await pacer.wait_turn("telegram", address, MESSAGE)
            sent.append(clock())
        return sent

    one, other = await clock.run(in_turn("612345678", 4), in_turn("612345679", 4))
    for sent in (one, other):
        assert [b - a for a, b in zip(sent, sent[1:], strict=False)] == [1.0, 1.0, 1.0]
    assert one[0] < one[1] and other[0] < one[1]  # the other chat does not wait for this one


async def test_a_chats_token_taken_with_its_claim_is_not_taken_twice() -> None:
    # Would catch the batch take at claim time and the take before sending both counting.
    clock = VirtualClock()
    pacer = pacer_on(clock)
    sends = [("telegram", chat, MESSAGE) for chat in ("611111111", "622222222")]
    assert await pacer.take_chat_turns(sends) == [True, True]
    await clock.run(pacer.wait_turn("telegram", "611111111", MESSAGE, chat_taken=True))
    assert clock() < 1000.1  # it went at once, on the token the claim took
    assert await pacer.take_chat_turns(sends[:1]) == [False]  # that token is spent for a second
    callback = OutboundMessage(text="", callback_id="42")  # answers to taps are not chat messages
    assert await pacer.take_chat_turns([("telegram", "611111111", callback)]) == [True]


async def bulk(pacer: Pacer, clock: VirtualClock, count: int) -> list[float]:
    """Send times of ``count`` messages to as many chats, all waiting for their turn at once."""

    async def one(n: int) -> float:
        await pacer.wait_turn("telegram", str(500000000 + n), MESSAGE)
        return clock()

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def test_the_bots_overall_limit_holds_and_is_used() -> None:
    # Would catch a channel left unpaced (a 429 from Telegram) or paced far below its limit.
    clock = VirtualClock()
    (sent,) = await clock.run(bulk(pacer_on(clock, telegram_rate=20), clock, 60))
    assert most_in_one_second(sent) <= 20
    span = max(sent) - min(sent)
    assert 59 / (20 * SLOTS) * CATCH_UP <= span  # slots no closer than the schedule's
    assert 59 / span >= 0.9 * 20  # and no slower than 90 % of the limit


async def test_the_limit_holds_when_every_wake_up_is_late() -> None:
    # A busy machine wakes sleepers late and in bunches: the pacer must still never let more
    # than the limit go in a rolling second. Would catch a waiter that sends on a stale slot.
    clock = VirtualClock(lateness=0.3, seed=7)
    (sent,) = await clock.run(bulk(pacer_on(clock, telegram_rate=20), clock, 120))
    assert len(sent) == 120
    assert most_in_one_second(sent) <= 20


async def test_a_pause_holds_back_every_message_until_it_ends() -> None:
    # Would catch a 429's retry_after ignored, by messages that were already waiting included.
    clock = VirtualClock()
    pacer = pacer_on(clock, telegram_rate=20)
    paused: list[float] = []

    async def refused_after_a_moment() -> None:
        await clock.sleep(0.2)
        await pacer.pause("telegram", 2.0)  # what the sender does on a 429
        paused.append(clock())

    sent, _ = await clock.run(bulk(pacer, clock, 20), refused_after_a_moment())
    (start,) = paused
    assert any(t < start for t in sent)  # some went before the refusal
    assert not [t for t in sent if start <= t < start + 2.0]
    assert any(t >= start + 2.0 for t in sent)  # and sending resumed after it


async def test_another_processs_pause_is_heeded() -> None:
    # Would catch a pause kept only in the process that got the 429.
    clock = VirtualClock()
    shared = MemoryCoordinator(clock)
    settings = Settings(_env_file=None)
    here = Pacer(shared, settings, clock=clock, sleep=clock.sleep)
    there = Pacer(shared, settings, clock=clock, sleep=clock.sleep)
    await there.pause("telegram", 3.0)
    await clock.run(here.wait_turn("telegram", "611111111", MESSAGE))
    assert clock() >= 1003.0


def most_in_one_minute(times: list[float]) -> int:
    ordered = sorted(times)
    return max(i - bisect.bisect_right(ordered, t - 60.0) + 1 for i, t in enumerate(ordered))


async def test_a_group_gets_20_messages_a_minute_and_a_member_is_not_held_by_it() -> None:
    # Would catch a staff group paced like a member's chat (one a second: 60 a minute, and
    # Telegram answers 429 after 20), or a member's chat slowed to the group's pace.
    clock = VirtualClock()
    pacer = pacer_on(clock)

    async def in_turn(address: str, count: int, more: int = 0) -> list[float]:
        sent = []
        for _ in range(count):
            await pacer.wait_turn("telegram", address, MESSAGE)
            sent.append(clock())
            for _ in range(more):  # further platform messages of the same outbox message
                await pacer.next_turn("telegram", address, MESSAGE)
                sent.append(clock())
        return sent

    group, group_pairs, member = await clock.run(
        in_turn("-1001876543210", 45), in_turn("-4012345678", 15, more=1), in_turn("612345678", 45)
    )
    assert most_in_one_minute(group) <= 20 and most_in_one_minute(group_pairs) <= 20
    assert len(group) == 45 and max(group) - min(group) < 150  # and not far below it
    assert max(member) - 1000.0 < 45  # one a second, as before


async def test_each_further_message_of_one_send_takes_a_slot_of_the_bots_limit() -> None:
    # A photo whose text is too long for its caption is two messages: each counts against
    # Telegram's 30 a second. Would catch the second one sent on the first one's slot.
    clock = VirtualClock()
    pacer = pacer_on(clock, telegram_rate=20)

    async def photo_and_text(n: int) -> list[float]:
        address = str(500000000 + n)
        await pacer.wait_turn("telegram", address, MESSAGE)
        first = clock()
        await pacer.next_turn("telegram", address, MESSAGE)
        return [first, clock()]

    (pairs,) = await clock.run(asyncio.gather(*(photo_and_text(n) for n in range(40))))
    sent = [t for pair in pairs for t in pair]
    assert len(sent) == 80
    assert most_in_one_second(sent) <= 20
