"""A topic added from the dashboard in a real browser (headless Chromium): an editor writes it
in English, then its Romanian beside the English, and the trial box answers Romanian and English
paraphrases with it; archived, it is no longer answered. Screenshots go to
test-artifacts/admin/."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Backend
from tests.webhook.admin.dashboard import dashboard
from tests.webhook.admin.test_browser import (  # noqa: F401 - async_api is a fixture
    TIMEOUT,
    async_api,
    launch,
    open_page,
    shoot,
    sign_in,
)
from tests.webhook.api.test_api_knowledge import FORUM, LIVE


async def trial(page: Any, question: str, language: str) -> str:
    await page.get_by_label("Question", exact=True).fill(question)
    await page.locator("select[name=lang]").select_option(language)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Try it").click()
    return await page.get_by_test_id("trial").inner_text()


async def answered_within(
    page: Any, question: str, language: str, words: str, *, present: bool = True
) -> str:
    """Ask the trial box, then ask again (reloading its page) until the answer does (or no
    longer does) hold ``words``, for at most the test's deadline."""
    deadline = time.monotonic() + LIVE
    found = await trial(page, question, language)
    while (words in found) != present and time.monotonic() < deadline:
        await page.wait_for_timeout(300)
        await page.reload()
        found = await page.get_by_test_id("trial").inner_text()
    return found


async def test_an_editor_adds_a_topic_in_two_languages_and_the_bot_answers_it(
    async_api: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Any,
) -> None:
    expect = async_api.expect
    expect.set_options(timeout=TIMEOUT)
    backend = Backend("embedded", f"sqlite+aiosqlite:///{tmp_path}/childpact.db")
    async with dashboard(backend) as board, async_api.async_playwright() as playwright:
        browser = await launch(playwright)
        problems: list[str] = []
        page = await open_page(browser, problems)

        await sign_in(page, board.stack.url, "editor@childpact.org")
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
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status").first).to_have_text("Saved.")
        await expect(page.locator("textarea[name=answer]")).to_have_value(FORUM["answers"]["ro"])
        await expect(page.get_by_role("link", name="Română · missing")).to_have_count(0)
        await shoot(page, "knowledge-topic")

        await page.get_by_role("link", name="Knowledge", exact=True).first.click()
        ro = await answered_within(page, "când este forumul anual?", "ro", "Chișinău, pe 14-15 mai")
        assert "Forumul anual ChildPact are loc la Chișinău" in ro
        en = await answered_within(page, "how do I sign up for the annual forum", "en", "14-15 May")
        assert "The ChildPact annual forum takes place" in en
        await shoot(page, "knowledge-trial")

        await page.get_by_role("link", name="The annual forum").first.click()
        await page.get_by_role("button", name="Archive").click()
        await page.get_by_role("link", name="Knowledge", exact=True).first.click()
        gone = await answered_within(
            page, "când este forumul anual?", "ro", "14-15 mai", present=False
        )
        assert "14-15 mai" not in gone
        assert not problems, problems
        await browser.close()
