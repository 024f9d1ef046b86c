"""Knowledge changed in one process is answered by the other: two ``childpact serve`` on
PostgreSQL and Redis, a topic added through one and asked through the other, then edited and
archived. (One process on SQLite: tests/webhook/api/test_api_knowledge.py.)"""

from __future__ import annotations

from typing import Any

import httpx

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
