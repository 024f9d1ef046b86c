"""Pacing: each platform's limits, shared by every process through the coordinator."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from bot.channels.base import ChannelName
from bot.channels.registry import send_rates
from bot.config import Settings
from bot.coordination import Bucket, Coordinator
from bot.coordination.keys import channel_rate_key, chat_rate_key
from bot.messages import OutboundMessage

LOOKAHEAD = 0.25  # seconds of sending a rate-limited channel claims ahead of its tokens
PAUSE_RECHECK = 0.1
SLOTS = 0.96  # share of a platform's limit the shared schedule books
CATCH_UP = SLOTS / 0.99  # closest two sends of one process may come, as a share of a slot
# However late its waiters wake, one process never sends more than this share of the limit in
# any rolling second: a request that reaches the platform a little late then still finds room.
WINDOW_SHARE = 0.97
WINDOW = 1.0
# A group's limit counts over a minute; its bucket refills at this share of it, so that a full
# bucket and a minute's refill stay within the limit.
GROUP_SHARE = 0.95


def is_group(channel: str, address: str) -> bool:
    """A Telegram group or supergroup (negative chat ids): 20 messages a minute, not 1 a second."""
    return channel == ChannelName.TELEGRAM and address.startswith("-")


class Pacer:
    """Decides when a message may go: the chat's own limit, the channel's, and any pause.

    ``clock`` (monotonic seconds) and ``sleep`` are for tests, which run the pacing on a
    clock they move themselves: what it decides is then the same on a busy machine.
    """

    def __init__(
        self,
        coordinator: Coordinator,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.coordinator = coordinator
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._paused_until: dict[str, float] = {}
        self._last_sent: dict[str, float] = {}
        self._pause_checked: dict[str, float] = {}
        self._recent: dict[str, deque[float]] = {}

    def channel_interval(self, channel: str) -> float | None:
        """Seconds between two messages on ``channel``, or None when it has no limit."""
        rate = send_rates(self.settings).get(channel, 0)
        if not rate or math.isinf(rate):
            return None
        # Evenly spaced slots at 96 % of the limit: any rolling second holds fewer messages
        # than the limit even when a request reaches the platform a few milliseconds late.
        return 1.0 / (rate * SLOTS)

    def chat_bucket(self, channel: str, address: str, message: OutboundMessage) -> Bucket | None:
        """The chat's own limit: about one message a second to a member's chat, 20 a minute
        to a group (Telegram's Bot FAQ), or None."""
        if channel != ChannelName.TELEGRAM or message.callback_id:
            return None
        if is_group(channel, address):
            per_minute = self.settings.telegram_group_rate
            if not per_minute or math.isinf(per_minute):
                return None
            # burst 1: at most 1 + 60 × rate = 20 messages in any minute
            rate = (per_minute * GROUP_SHARE - 1) / 60 if per_minute > 2 else per_minute / 120
            return Bucket(chat_rate_key(channel, address), rate, 1)
        rate = self.settings.telegram_chat_rate
        if not rate:
            return None
        return Bucket(chat_rate_key(channel, address), rate, 1)

    def lookahead(self, channel: str, ceiling: int) -> int:
        """How many messages of ``channel`` may be claimed and waiting for their turn at once:
        few enough that a reply queued now overtakes the bulk within a quarter second."""
        interval = self.channel_interval(channel)
        if interval is None:
            return ceiling
        return max(2, min(ceiling, math.ceil(LOOKAHEAD / interval)))

    async def paused_for(self, channel: str) -> float:
        now = self._clock()
        if now - self._pause_checked.get(channel, 0.0) > PAUSE_RECHECK:
            self._pause_checked[channel] = now
            shared = await self.coordinator.paused_for(channel)
            if shared > 0:
                self._paused_until[channel] = max(
                    self._paused_until.get(channel, 0.0), now + shared
                )
        return max(0.0, self._paused_until.get(channel, 0.0) - now)

    async def pause(self, channel: str, seconds: float) -> None:
        """The platform said 429: every process stops sending on ``channel`` for ``seconds``."""
        self._paused_until[channel] = max(
            self._paused_until.get(channel, 0.0), self._clock() + seconds
        )
        await self.coordinator.pause(channel, seconds)

    async def take_chat_turns(
        self, sends: Sequence[tuple[str, str, OutboundMessage]]
    ) -> list[bool]:
        """Take each chat's token for a batch of claimed messages (channel, address, message)
        in one call to the coordinator; True where the message may go as far as its chat is
        concerned. A claim holds at most one message per chat, so the takes do not compete."""
        chats = [self.chat_bucket(*send) for send in sends]
        limited = [(i, chat) for i, chat in enumerate(chats) if chat is not None]
        taken = [True] * len(sends)
        if limited:
            waits = await self.coordinator.take_each([chat for _, chat in limited])
            for (i, _), wait in zip(limited, waits, strict=True):
                taken[i] = wait <= 0
        return taken

    async def wait_turn(
        self, channel: str, address: str, message: OutboundMessage, *, chat_taken: bool = False
    ) -> None:
        """Wait until ``message`` may go; ``chat_taken`` when its chat's token is already taken."""
        if not chat_taken:
            await self._chat_turn(self.chat_bucket(channel, address, message))
        await self._channel_turn(channel)

    async def next_turn(self, channel: str, address: str, message: OutboundMessage) -> None:
        """The turn of one more platform message of ``message`` (a photo's text that did not
        fit its caption, a long text's next piece): a slot of the channel's limit, and a
        group's token. A member's chat takes its short burst, as Telegram tolerates one."""
        if is_group(channel, address):
            await self._chat_turn(self.chat_bucket(channel, address, message))
        await self._channel_turn(channel)

    async def _chat_turn(self, chat: Bucket | None) -> None:
        while chat is not None and (wait := await self.coordinator.take([chat])) > 0:
            # At least a millisecond: a wait rounded to almost nothing must still move time.
            await self._sleep(max(wait, 0.001))

    async def _channel_turn(self, channel: str) -> None:
        """A slot of the channel's shared schedule, outside any pause."""
        interval = self.channel_interval(channel)
        while True:
            while (wait := await self.paused_for(channel)) > 0:
                await self._sleep(min(wait, 5.0))
            if interval is None:
                return
            booked = self._clock()
            wait = await self.coordinator.reserve(channel_rate_key(channel), interval)
            slot = booked + wait
            if wait > 0:
                await self._sleep(wait)
            now = self._clock()
            if now - slot > interval:
                # Woken well after its slot (a busy or starved process): sending now would land
                # on the slots other processes are using. Book a new one instead.
                continue
            # A waiter woken a little late must not land right on top of the next one: keep
            # this process's own sends apart too (no await between reading and booking).
            ready = max(now, self._last_sent.get(channel, 0.0) + interval * CATCH_UP)
            self._last_sent[channel] = ready
            if ready > now:
                await self._sleep(ready - now)
            await self._within_window(channel)
            # A 429 may have paused the channel while this message waited for its slot.
            if await self.paused_for(channel) <= 0:
                self._recent[channel].append(self._clock())
                return

    async def _within_window(self, channel: str) -> None:
        """Wait while this process's sends of the last second already fill its share."""
        rate = 1.0 / (self.channel_interval(channel) or 1.0) / SLOTS
        cap = max(1, math.floor(rate * WINDOW_SHARE))
        recent = self._recent.setdefault(channel, deque())
        while True:
            now = self._clock()
            while recent and recent[0] <= now - WINDOW:
                recent.popleft()
            if len(recent) < cap:
                return
            await self._sleep(recent[0] + WINDOW - now + 0.001)
