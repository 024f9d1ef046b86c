"""The running service: every long-lived part, made from the settings and started together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import Coroutine
from functools import cache
from typing import Any

from bot.broadcasts.fallback import deliver_elsewhere
from bot.broadcasts.progress_message import report_progress
from bot.broadcasts.quiet import QuietHours
from bot.broadcasts.worker import Broadcaster
from bot.channels.base import Channel, ChannelName
from bot.channels.registry import build_channels
from bot.config import Settings
from bot.conversation.commands import set_telegram_profiles
from bot.conversation.engine import Engine
from bot.conversation.router import Dispatcher
from bot.coordination import Coordinator, create_coordinator
from bot.coordination.keys import RETENTION
from bot.delivery.contents import DatabaseContentStore
from bot.delivery.sender import Sender, Tuning
from bot.knowledge.live import LiveKnowledge, matcher_for
from bot.knowledge.load import Knowledge, load_knowledge
from bot.knowledge.matcher import Matcher
from bot.knowledge.safeguarding import Safeguarding
from bot.metrics import Metrics
from bot.privacy.retention import drop_unagreed_web, drop_unfetched, erase_old_texts
from bot.storage import outbox
from bot.storage.db import Database
from bot.surveys.launch import SurveyReminders
from handlers import routers

log = logging.getLogger(__name__)


class Features(LiveKnowledge):
    """What the handlers share: the knowledge, its matcher and safeguarding, first from the
    YAML, then from the database, kept current while the service runs."""

    @classmethod
    def load(cls) -> Features:
        knowledge, matcher, safeguarding = _features()
        return cls(matcher, safeguarding)


@cache
def _features() -> tuple[Knowledge, Matcher, Safeguarding]:
    # Read-only once built, so every service of a process (tests start many) shares them.
    knowledge = load_knowledge()
    return knowledge, matcher_for(knowledge), Safeguarding(knowledge=knowledge)


SWEEP_EVERY = 2.0
SWEEP_AFTER = 3.0  # seconds a message may wait for its web process before the sweep takes it
BUSY_RETRIES = (0.0, 0.2, 1.0)
RETENTION_EVERY = 3600.0
# Seconds between two claims of the sender: replies queued meanwhile share one claim. Without
# it, two senders claimed 2.3 times per message (an empty claim for every one that took it).
CLAIM_EVERY = 0.01


class Service:
    """Owns the database, coordination, channels, engine and sender of one process."""

    def __init__(
        self,
        settings: Settings,
        *,
        coordinator: Coordinator | None = None,
        channels: dict[str, Channel] | None = None,
        db_schema: str | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.db = Database(settings.database_url, schema=db_schema)
        self.coordinator = coordinator or create_coordinator(
            settings.redis_url, settings.redis_prefix
        )
        self.channels = channels if channels is not None else build_channels(settings)
        whatsapp = self.channels.get(ChannelName.WHATSAPP)
        if whatsapp is not None and hasattr(whatsapp, "contents"):
            # The content items made for WhatsApp's choices, shared by every process.
            whatsapp.contents = DatabaseContentStore(self.db, self.coordinator)
        self.features = Features.load()
        self.engine = Engine(
            self.db,
            self.coordinator,
            settings,
            Dispatcher(routers()),
            on_stored=lambda channel, result: self.metrics.inbound.labels(channel, result).inc(),
            services=self.features,
        )
        self.sender = Sender(
            self.db, self.coordinator, self.channels, settings, self.metrics,
            on_lost=deliver_elsewhere, tuning=Tuning(claim_every=CLAIM_EVERY),
        )  # fmt: skip
        self.broadcaster = Broadcaster(
            self.db,
            self.coordinator,
            QuietHours.parse(settings.quiet_hours),
            report_progress,
            approval_above=lambda: self.settings.broadcast_approval_above,
        )
        self.survey_reminders = SurveyReminders(self.db, self.coordinator)
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Members whose drain runs in this process: True when a message came meanwhile.
        self._draining: dict[tuple[str, str], bool] = {}

    async def start(self, *, migrate: bool, workers: bool, only_process: bool) -> None:
        """Connect everything; with ``workers``, also handle the backlog and send in this process."""
        for line in self.settings.channel_report():
            log.info("channel %s", line)
        if os.environ.get("ADMIN_API_TOKEN"):
            log.warning(
                "ADMIN_API_TOKEN is no longer read: create personal API tokens on the dashboard"
            )
        if migrate:
            await self.db.migrate()
        await self.coordinator.start()
        try:
            await self.features.refresh(self.db)
        except Exception:  # not migrated yet (a worker before the release): the YAML until then
            log.exception("knowledge: the database's could not be read; answering from the YAML")
        self.spawn(self.features.follow(self.db, self.coordinator, self._stopping), name="knowledge")
        for channel in self.channels.values():
            await channel.start()
        if workers and self.settings.telegram_set_commands and self.settings.telegram_enabled:
            self.spawn(self._telegram_profiles(), name="telegram-profiles")
        if workers:
            if only_process:
                # Nobody else can be sending: whatever was "sending" died with the last run.
                await self.sender.recover(everything=True)
            self.spawn(self.sender.run(self._stopping))
            self.spawn(self.broadcaster.run(self._stopping))
            self.spawn(self.survey_reminders.run(self._stopping))
            self.spawn(self._retention_forever(), name="retention")
            self.spawn(self._sweep_forever())
        # What was loaded to answer (the knowledge, the matcher, the safeguarding model, the
        # catalogs) lives as long as the process: out of the collector's generations, a full
        # collection no longer walks it (30 to 80 ms each in `python -m bench.bench_safeguarding`)
        gc.freeze()

    async def _telegram_profiles(self) -> None:
        """The command menu and descriptions in every language; a failure only warns, as the
        bot works without them."""
        try:
            done = await set_telegram_profiles(self.channels[ChannelName.TELEGRAM])
        except Exception as exc:  # noqa: BLE001 - any Bot API or network failure
            log.warning("telegram: the command menu was not set (%s)", type(exc).__name__)
        else:
            log.info("telegram: command menu set in %d languages", len(done))

    async def stop(self) -> None:
        self._stopping.set()
        for task in list(self._tasks):
            if task.get_name() in ("sweep", "retention", "knowledge"):
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.stop()
        await self.coordinator.close()
        await self.db.dispose()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run a background job owned by the service (kept referenced, errors logged)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job failed: %r", task.exception())

    def handle_soon(self, channel: str, address: str) -> None:
        """After a webhook stored a message: handle it now rather than at the next sweep.

        One drain per member in this process: a message stored while its member's drain runs
        has that drain go round once more, rather than a second one waiting for the lock."""
        key = (channel, address)
        if key in self._draining:
            self._draining[key] = True
            return
        self._draining[key] = False
        self.spawn(self._drain_soon(channel, address))

    async def _drain_soon(self, channel: str, address: str) -> None:
        key = (channel, address)
        try:
            while True:
                # When another process holds the member, it handles what it finds; a message
                # stored just as it let go is caught by trying again a moment later.
                for delay in BUSY_RETRIES:
                    await asyncio.sleep(delay)
                    # A place among the process's drains (Engine.gate); a member's message that
                    # comes while the drain waits for one is taken by it once it runs.
                    async with self.engine.gate:
                        if await self.engine.drain(channel, address) is not None:
                            break
                if not self._draining.get(key):
                    return
                self._draining[key] = False
        finally:
            self._draining.pop(key, None)

    async def _retention_forever(self) -> None:
        """Erase old message texts every hour, in one process at a time, a member's own data
        a web chat page never fetched, status reports no send ever claimed, and web chats
        that never agreed to the notice."""
        days = self.settings.message_retention_days
        while not self._stopping.is_set():
            try:
                lease = await self.coordinator.try_lock(RETENTION, ttl=600.0)
                if lease is not None:
                    try:
                        async with self.db.session() as session, session.begin():
                            if days > 0:
                                await erase_old_texts(session, days)
                            await drop_unfetched(session)
                            await outbox.drop_unmatched_reports(session)
                            erased = await drop_unagreed_web(session)
                        await self.coordinator.forget(erased.keys)
                    finally:
                        await lease.release()
            except Exception:
                log.exception("retention failed; trying again in an hour")
            await asyncio.sleep(RETENTION_EVERY)

    async def _sweep_forever(self) -> None:
        asyncio.current_task().set_name("sweep")  # type: ignore[union-attr]
        older_than = 0.0  # at start, whatever is pending was left by a process that stopped
        while not self._stopping.is_set():
            try:
                await self.engine.sweep(older_than=older_than)
                older_than = SWEEP_AFTER
            except Exception:
                log.exception("sweep failed; retrying")
            await asyncio.sleep(SWEEP_EVERY)
