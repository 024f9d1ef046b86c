"""A topic added from the dashboard in a real browser (headless Chromium): an editor writes it
in English, then its Romanian beside the English, and the trial box answers Romanian and English
paraphrases with it within 10 seconds; an edit shows within 10 seconds; archived, it is no longer
answered within 10 seconds (each counted from the click that saved the change). Embedded: one process on SQLite. Scaled: two ``childpact serve`` processes on
PostgreSQL and Redis, the editor on one and the trial box of the other. Screenshots go to
test-artifacts/admin/."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot.secretariat import accounts
from bot.storage.db import Database
from tests.conftest import Backend
from tests.harness import eventually
from tests.processes import two_serving
from tests.webhook.admin.dashboard import PASSWORD, dashboard
from tests.webhook.admin.test_browser import (  # noqa: F401 - async_api is a fixture
    TIMEOUT,
    async_api,
    launch,
    open_page,
    shoot,
    sign_in,
)
from tests.webhook.api.test_api_knowledge import ANSWERED_WITHIN, FORUM

EDITOR = "editor@childpact.org"
MOVED = "Forumul anual ChildPact are loc la Iași, pe 20 mai."


@asynccontextmanager
async def two_processes(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """Two ``childpact serve`` on one PostgreSQL database and one Redis, with an editor's
    account: the addresses of both."""
    async with two_serving(tmp_path) as (one, other, database_url):
        db = Database(database_url)
        try:
            async with db.session() as session, session.begin():
                await accounts.create_account(session, EDITOR, "editor", password=PASSWORD)
        finally:
            await db.dispose()
        yield one.url, other.url


@asynccontextmanager
async def service_of(backend: Backend, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """Where the editor writes, and where the answer is tried: the same process when embedded,
    the other process when scaled."""
    if backend.redis_url is None:
        async with dashboard(backend) as board:
            yield board.stack.url, board.stack.url
    else:
        async with two_processes(tmp_path) as urls:
            yield urls


async def trial(page: Any, url: str, question: str, language: str) -> str:
    """What the trial box of the dashboard at ``url`` answers, asked afresh (a link with a
    fragment to the page already open would not load it again)."""
    query = urlencode({"q": question, "lang": language})
    await page.goto(f"{url}/admin/knowledge?{query}")
    return await page.get_by_test_id("trial").inner_text()


async def answered(
    page: Any, url: str, question: str, language: str, words: str, *, since: float,
    present: bool = True,
) -> str:  # fmt: skip
    """The trial box's answer once it holds ``words`` (or no longer does): asked again until
    then, for at most the 10 seconds a change may take to be answered, counted from ``since``
    (``time.monotonic()`` before the click that saved the change)."""

    async def shows() -> str | None:
        found = await trial(page, url, question, language)
        return found if (words in found) == present else None

    left = ANSWERED_WITHIN - (time.monotonic() - since)
    return await eventually(shows, max(left, 0.0), 0.3)


async def test_an_editor_adds_a_topic_in_two_languages_and_the_bot_answers_it(
    async_api: Any,  # noqa: F811 - the fixture imported above
    backend: Backend,
    tmp_path: Path,
) -> None:
    expect = async_api.expect
    expect.set_options(timeout=TIMEOUT)
    async with service_of(backend, tmp_path) as (writer, asker), async_api.async_playwright() as pw:
        browser = await launch(pw)
        problems: list[str] = []
        page = await open_page(browser, problems)
        other = await open_page(browser, problems)
        await sign_in(page, writer, EDITOR)
        await sign_in(other, asker, EDITOR)
        await expect(other.get_by_role("link", name="Knowledge", exact=True)).to_be_visible()

        await page.get_by_role("link", name="Knowledge", exact=True).click()
        await expect(page.get_by_role("heading", name="Knowledge", exact=True)).to_be_visible()
        await page.locator("input[name=key]").fill("forum")
        await page.get_by_label("English title").fill(FORUM["titles"]["en"])
        await page.get_by_label("English answer").fill(FORUM["answers"]["en"])
        await page.locator("form[action='/admin/knowledge'] textarea[name=examples]").fill(
            "\n".join(FORUM["examples"]["en"])
        )
        await page.get_by_role("button", name="Add the topic").click()

        # The Romanian page, with the English beside it
        await expect(page.get_by_role("heading", name="The annual forum")).to_be_visible()
        await expect(page.locator("section[lang=en]")).to_contain_text(FORUM["answers"]["en"])
        await page.get_by_label("Title", exact=True).fill(FORUM["titles"]["ro"])
        await page.get_by_label("Answer", exact=True).fill(FORUM["answers"]["ro"])
        await page.get_by_label("Example questions, one a line").fill(
            "\n".join(FORUM["examples"]["ro"])
        )
        saved = time.monotonic()  # the topic has its English and Romanian from this click on
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status").first).to_have_text("Saved.")
        await expect(page.locator("textarea[name=answer]")).to_have_value(FORUM["answers"]["ro"])
        await expect(page.get_by_role("link", name="Română · missing")).to_have_count(0)
        await shoot(page, "knowledge-topic")

        ro = await answered(
            other, asker, "când este forumul anual?", "ro", "Chișinău, pe 14-15 mai", since=saved
        )
        assert "Forumul anual ChildPact are loc la Chișinău" in ro
        en = await answered(
            other, asker, "how do I sign up for the annual forum", "en", "14-15 May", since=saved
        )
        assert "The ChildPact annual forum takes place" in en
        await shoot(other, "knowledge-trial")

        # An edit of the Romanian answer
        await page.goto(f"{writer}/admin/knowledge/forum?lang=ro")
        await page.locator("textarea[name=answer]").fill(MOVED)
        saved = time.monotonic()
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status").first).to_have_text("Saved.")
        edited = await answered(
            other, asker, "cum ne putem înscrie la forumul anual?", "ro", "Iași", since=saved
        )
        assert MOVED in edited

        archived = time.monotonic()
        await page.get_by_role("button", name="Archive").click()
        await expect(page.get_by_role("status").first).to_have_text("Saved.")
        gone = await answered(
            other, asker, "când este forumul anual?", "ro", "Forumul anual", since=archived,
            present=False,
        )  # fmt: skip
        assert "20 mai" not in gone
        assert not problems, problems
        await browser.close()
