"""Pacing: each platform's limits, shared by every process through the coordinator."""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict

from bot.config import Settings
from bot.coordination import Bucket, Coordinator
from bot.engine import contact_key
from bot.messages import OutboundMessage

LOOKAHEAD = 0.25  # seconds of sending a rate-limited channel claims ahead of its tokens
PAUSE_RECHECK = 0.1  # how stale this process's view of another process's pause may be


class Pacer:
    """Decides when a message may go: the chat's own limit, the channel's, and any pause."""

    def __init__(self, coordinator: Coordinator, settings: Settings) -> None:
        self.coordinator = coordinator
        self.settings = settings
        self._turns: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._paused_until: dict[str, float] = {}
        self._pause_checked: dict[str, float] = {}

    def channel_bucket(self, channel: str) -> Bucket | None:
        rate = {"telegram": self.settings.telegram_rate, "whatsapp": self.settings.twilio_rate}.get(
            channel, 0
        )
        if not rate or math.isinf(rate):
            return None
        # Any rolling second sees at most burst + rate tokens: keep that under the limit with
        # a few per cent to spare for the jitter between a grant and the platform. Half a
        # token of burst lets a waiter woken a little late keep its turn instead of losing it.
        burst = 1.5 if rate >= 20 else 1.0
        return Bucket(f"rate:{channel}", rate * 0.97 - (burst - 1), burst)

    def chat_bucket(self, channel: str, address: str, message: OutboundMessage) -> Bucket | None:
        rate = self.settings.telegram_chat_rate
        if channel != "telegram" or message.callback_id or not rate:
            return None
        return Bucket(f"rate:{contact_key(channel, address)}", rate, 1)

    def lookahead(self, channel: str, ceiling: int) -> int:
        """How many messages of ``channel`` may be claimed and waiting for their turn at once:
        few enough that a reply queued now overtakes the bulk within a quarter second."""
        bucket = self.channel_bucket(channel)
        if bucket is None:
            return ceiling
        return max(2, min(ceiling, math.ceil(bucket.rate * LOOKAHEAD)))

    async def paused_for(self, channel: str) -> float:
        now = time.monotonic()
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
            self._paused_until.get(channel, 0.0), time.monotonic() + seconds
        )
        await self.coordinator.pause(channel, seconds)

    async def wait_turn(self, channel: str, address: str, message: OutboundMessage) -> None:
        chat = self.chat_bucket(channel, address, message)
        while chat is not None and (wait := await self.coordinator.take([chat])) > 0:
            await asyncio.sleep(wait)
        bucket = self.channel_bucket(channel)
        # One waiter per process polls the shared bucket; the others queue behind it in order.
        async with self._turns[channel]:
            while True:
                wait = await self.paused_for(channel)
                if wait <= 0 and bucket is not None:
                    wait = await self.coordinator.take([bucket])
                if wait <= 0:
                    return
                await asyncio.sleep(min(wait, 5.0))
