"""What one process answers from, kept current: the database holds the knowledge, and a
change anywhere is read here within seconds, without a restart.

A change raises the knowledge's revision and notifies ``KNOWLEDGE`` through the coordinator
(Redis between processes, in-process otherwise); every process also checks the revision every
``CHECK_EVERY`` seconds, so a lost notice or a change from the command line is only late. The
new matcher is built in a thread and swapped in when ready: questions arriving meanwhile are
answered from the previous one."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable

from bot.coordination import Coordinator
from bot.coordination.keys import KNOWLEDGE
from bot.knowledge import helplines as helpline_store
from bot.knowledge import library
from bot.knowledge.load import Knowledge
from bot.knowledge.matcher import Matcher
from bot.knowledge.safeguarding import Safeguarding
from bot.storage.db import Database

log = logging.getLogger(__name__)
CHECK_EVERY = 3.0  # seconds between checks of the revision when no notice came
_BUILT: OrderedDict[str, Matcher] = (
    OrderedDict()
)  # same knowledge, same matcher (tests start many services)
_KEEP = 4


def fingerprint(knowledge: Knowledge) -> str:
    digest = hashlib.sha256()
    for locale in sorted(knowledge.topics):
        for topic in knowledge.topics[locale].values():
            digest.update(repr((locale, topic)).encode())
    digest.update(repr(sorted(knowledge.corpus.items())).encode())
    return digest.hexdigest()


def matcher_for(knowledge: Knowledge) -> Matcher:
    """A matcher of ``knowledge``, built once per content (CPU work: call it off the loop)."""
    key = fingerprint(knowledge)
    found = _BUILT.get(key)
    if found is None:
        found = Matcher(knowledge)
        _BUILT[key] = found
        while len(_BUILT) > _KEEP:
            _BUILT.popitem(last=False)
    else:
        _BUILT.move_to_end(key)
    return found


class LiveKnowledge:
    """The knowledge, its matcher and safeguarding (with the current helplines) of one process;
    read them through the properties, which always give a consistent, finished set."""

    def __init__(
        self,
        matcher: Matcher,
        safeguarding: Safeguarding,
        build: Callable[[Knowledge], Matcher] = matcher_for,
    ) -> None:
        self._current: tuple[Matcher, Safeguarding] = (matcher, safeguarding)
        self.revision: int | None = None  # the database's revision answered from (None: the YAML)
        self._lock = asyncio.Lock()
        self._build = build  # CPU work, run in a thread: questions go on meanwhile

    @property
    def matcher(self) -> Matcher:
        return self._current[0]

    @property
    def knowledge(self) -> Knowledge:
        return self._current[0].knowledge

    @property
    def safeguarding(self) -> Safeguarding:
        return self._current[1]

    async def refresh(self, db: Database, *, force: bool = False) -> bool:
        """Read the database's knowledge if it changed since the last read; True if it did."""
        async with self._lock:
            async with db.session() as session:
                current = await library.revision(session)
                if current == self.revision and not force:
                    return False
                knowledge = await library.load(session, self.knowledge)
                lines = await helpline_store.current(session)
            matcher = await asyncio.to_thread(self._build, knowledge)
            safeguarding = copy.copy(self._current[1])
            safeguarding.use_helplines(lines)
            self._current = (matcher, safeguarding)
            self.revision = current
            log.info("knowledge: answering from revision %s", current)
            return True

    async def follow(self, db: Database, coordinator: Coordinator, stopping: asyncio.Event) -> None:
        """Keep current until ``stopping``: on every notice, and every ``CHECK_EVERY`` seconds."""
        while not stopping.is_set():
            try:
                await coordinator.wait(KNOWLEDGE, CHECK_EVERY)
                if stopping.is_set():
                    return
                await self.refresh(db)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away for a moment: answer from what is known
                log.exception("knowledge: could not read the current revision")
                await asyncio.sleep(CHECK_EVERY)


async def changed(coordinator: Coordinator | None) -> None:
    """Tell every process that the knowledge changed (after the change committed)."""
    if coordinator is not None:
        await coordinator.notify(KNOWLEDGE)
