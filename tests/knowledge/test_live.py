"""Knowledge changed in one process is answered by the other: two ``childpact serve`` on
PostgreSQL and Redis, a topic added through one and asked through the other, then edited and
archived. (One process on SQLite: tests/webhook/api/test_api_knowledge.py.) While a new matcher
is built, questions are answered from the one before; the seeded database answers exactly as
the YAML it came from."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

from app.service import Features
from bot.i18n import Translator
from bot.knowledge import library
from bot.knowledge.answers import understand
from bot.knowledge.live import fingerprint, matcher_for
from bot.knowledge.load import Knowledge, load_knowledge
from bot.knowledge.matcher import Matcher
from bot.secretariat import accounts
from bot.secretariat.staff import Staff
from bot.secretariat.tokens import create_api_token
from bot.storage.db import Database
from tests.harness import eventually
from tests.processes import Process, two_serving
from tests.webhook.api.test_api_knowledge import ANSWERED_WITHIN, FORUM, PARAPHRASES


async def _token(database_url: str) -> str:
    db = Database(database_url)
    try:
        async with db.session() as session, session.begin():
            user = await accounts.create_account(
                session, "editor@childpact.org", "editor", password="correct horse battery"
            )
            _, token = await create_api_token(session, Staff.of(user), "tests")
    finally:
        await db.dispose()
    return token


async def test_a_topic_added_in_one_process_is_answered_by_the_other_then_edited_and_archived(
    tmp_path,
):
    async with two_serving(tmp_path) as (one, other, database_url):
        headers = {"Authorization": f"Bearer {await _token(database_url)}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as client:

            async def topic_of(process: Process, question: str, locale: str) -> Any:
                reply = await client.post(
                    f"{process.url}/api/knowledge/try",
                    json={"question": question, "locale": locale},
                )
                assert reply.status_code == 200, reply.text
                return reply.json()

            async def answers(process: Process, topic: str | None, words: str = "") -> bool:
                for question, locale in PARAPHRASES:
                    found = await topic_of(process, question, locale)
                    if found["topic"] != topic or words not in found["answer"]:
                        return False
                return True

            made = await client.post(f"{one.url}/api/knowledge/topics", json=FORUM)
            assert made.status_code == 201, made.text
            await eventually(lambda: answers(other, "forum"), ANSWERED_WITHIN, 0.2)

            edit = {"answers": {"en": "The forum takes place in Iasi on 20 May."}}
            changed = await client.patch(f"{other.url}/api/knowledge/topics/forum", json=edit)
            assert changed.status_code == 200, changed.text

            async def edited() -> bool:
                found = await topic_of(one, *PARAPHRASES[0])
                return found["topic"] == "forum" and "Iasi" in found["answer"]

            await eventually(edited, ANSWERED_WITHIN, 0.2)

            archived = await client.post(f"{one.url}/api/knowledge/topics/forum/archive")
            assert archived.status_code == 200, archived.text

            async def gone() -> bool:
                for question, locale in PARAPHRASES:
                    if (await topic_of(other, question, locale))["topic"] == "forum":
                        return False
                return True

            await eventually(gone, ANSWERED_WITHIN, 0.2)


async def test_the_seeded_database_answers_exactly_as_the_yaml_it_came_from(db: Database):
    """The question figures (python -m bench.faq_eval, on the YAML) hold for the service: what
    it answers from once the database is seeded is the same knowledge, so the same matcher."""
    async with db.session() as session:
        served = await library.load(session)
    assert fingerprint(served) == fingerprint(load_knowledge())


async def test_questions_asked_while_the_matcher_is_rebuilt_are_answered_from_the_one_before(
    db: Database,
):
    building, finish = threading.Event(), threading.Event()

    def held_build(knowledge: Knowledge) -> Matcher:
        """The real build, held until the test has asked its questions."""
        building.set()
        if not finish.wait(60):
            raise TimeoutError("the build was never let finish")
        return matcher_for(knowledge)

    started = Features.load()
    live = Features(started.matcher, started.safeguarding, build=held_build)
    finish.set()
    assert await live.refresh(db)  # the seeded database's revision
    building.clear()
    finish.clear()
    async with db.session() as session, session.begin():
        texts = {k: FORUM[k] for k in ("titles", "answers", "examples")}
        await library.create(session, "editor@childpact.org", "forum", texts)

    rebuilt = asyncio.create_task(live.refresh(db))
    try:
        await eventually(building.is_set, ANSWERED_WITHIN)
        for question, locale in PARAPHRASES:  # the matcher before knows no forum yet
            found = understand(live, question, Translator(locale), None, alerted=False)
            assert found.topic != "forum", question
        founded = understand(live, "când a fost fondată coaliția?", Translator("ro"), None,
                             alerted=False)  # fmt: skip
        assert founded.topic == "founding" and founded.lang == "ro"
        assert not rebuilt.done()
    finally:
        finish.set()
    assert await rebuilt
    for question, locale in PARAPHRASES:
        found = understand(live, question, Translator(locale), None, alerted=False)
        assert found.topic == "forum", question
