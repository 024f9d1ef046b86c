"""From a change of the knowledge to the bot answering with it: a topic added (and then edited)
in the database of a running service (SQLite, in-process), timed until its matcher answers a
paraphrase with it; and how long questions wait while the new matcher is built beside the old.

python -m bench knowledge
python -m bench.bench_knowledge --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from app.service import Service
from bot.config import Settings
from bot.i18n import Translator
from bot.knowledge import library
from bot.knowledge.answers import understand
from bot.knowledge.live import changed
from tests.webhook.api.test_api_knowledge import FORUM

QUESTION = ("când este forumul anual?", "ro")


async def one_round(service: Service, n: int) -> tuple[float, float]:
    """Seconds from the commit to the answer, and the longest a question waited meanwhile."""
    key = f"forum{n}"
    async with service.db.session() as session, session.begin():
        await library.create(
            session, "bench", key, {k: FORUM[k] for k in ("titles", "answers", "examples")}
        )
    start = time.perf_counter()
    await changed(service.coordinator)
    longest = 0.0
    while True:
        asked = time.perf_counter()
        found = understand(
            service.features, QUESTION[0], Translator(QUESTION[1]), None, alerted=False
        )
        longest = max(longest, time.perf_counter() - asked)
        if found.topic == key:
            return time.perf_counter() - start, longest
        await asyncio.sleep(0.05)


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{Path(folder)}/b.db")
        service = Service(settings)
        await service.start(migrate=True, workers=False, only_process=True)
        try:
            times, waits = [], []
            for n in range(rounds):
                took, waited = await one_round(service, n)
                times.append(took)
                waits.append(waited)
                async with service.db.session() as session, session.begin():
                    await library.set_archived(session, "bench", f"forum{n}", True)
        finally:
            await service.stop()
    print(
        f"change to answer, {rounds} rounds: median {statistics.median(times):.2f} s, "
        f"longest {max(times):.2f} s (promise: 10 s)"
    )
    print(f"longest a question waited while the matcher was rebuilt: {max(waits) * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
