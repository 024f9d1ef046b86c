"""A broadcast from the dashboard in a real browser (headless Chromium): an editor writes it in
English and Romanian, watches the preview follow the typing, sends it, and watches the progress
reach 100 % while the service's workers deliver it to the fake Telegram. Screenshots of the
compose page and of the progress, at desktop and phone widths, go to test-artifacts/admin/."""

from __future__ import annotations

import re

from tests.harness import eventually
from tests.webhook.admin.dashboard import Dashboard
from tests.webhook.admin.test_browser import (
    Browsing,
    async_api,  # noqa: F401 - a fixture
    editor,  # noqa: F401 - a fixture
    shoot,
)

EN = "The General Assembly meets on 12 May in Chișinău. Registration is open until 30 April."
RO = (
    "Adunarea Generală are loc pe 12 mai la Chișinău. Înscrierile sunt deschise până la 30 aprilie."
)


async def audience(board: Dashboard) -> list[str]:
    """Thirty members on Telegram in Romania, Moldova and Georgia, and one who stopped the
    news; returns the Telegram chats that should get it."""
    chats = []
    for n in range(30):
        country, locale = [("RO", "ro"), ("MD", "ru"), ("GE", "en")][n % 3]
        chat = str(700_000_000 + n)
        await board.member(country, locale=locale, address=chat, organisation=f"Member NGO {n}")
        chats.append(chat)
    await board.member("RO", locale="ro", status="stopped", address="799999999")
    return chats


async def test_an_editor_writes_previews_and_sends_a_broadcast_and_watches_it_arrive(
    editor: Browsing,  # noqa: F811 - the fixture imported above
) -> None:
    board, page, expect = editor.board, editor.page, editor.expect
    chats = await audience(board)
    await page.get_by_role("link", name="Broadcasts", exact=True).click()
    await expect(page.get_by_text("No broadcasts yet.")).to_be_visible()
    await page.get_by_role("link", name="New broadcast").click()
    await expect(page.locator("#preview .recipients")).to_be_visible()
    await page.get_by_label("Title").fill("General Assembly 2027")
    await page.locator("textarea[name='text:en']").fill(EN)
    # The preview follows the typing: everyone reads English while it is the only text.
    await expect(page.locator("#preview .recipients")).to_contain_text("30")
    await expect(page.locator("#count-en")).to_contain_text(f"{len(EN)} characters")
    await expect(page.locator("#preview")).to_contain_text("Română: 10 members read")
    await page.get_by_label("Add a language").select_option("ro")
    await page.get_by_role("button", name="Add", exact=True).click()
    await page.locator("textarea[name='text:ro']").fill(RO)
    await expect(page.locator("#count-ro")).to_contain_text(f"{len(RO)} characters")
    await expect(page.locator("#preview")).not_to_contain_text("Română: 10 members read")
    await expect(page.locator("#preview")).to_contain_text("in their country's language")
    await expect(page.locator("#preview")).to_contain_text("stopped the news")
    await shoot(page, "broadcast-compose")

    await page.get_by_role("button", name="Send now").click()
    # Nothing goes before the numbers are confirmed, on a page of their own.
    await expect(page.locator("#confirm .when")).to_contain_text("Now")
    await expect(page.locator("#confirm")).to_contain_text("Română")
    assert not board.stack.telegram.messages
    await page.get_by_role("button", name=re.compile(r"^Yes, send it to \d+ people now")).click()
    await expect(page.get_by_role("status").first).to_have_text("The broadcast is going out now.")
    # The progress refreshes by itself until everything has gone.
    await expect(page.locator("#broadcast-status")).to_have_text("Sent", timeout=30_000)
    await expect(page.locator("#progress .meter")).to_contain_text("100 %")
    await expect(page.locator("#progress .tally .d-skipped dd")).to_have_text("1")
    await shoot(page, "broadcast-progress")
    arrived = await eventually(
        lambda: {str(m.chat_id) for m in board.stack.telegram.messages} >= set(chats)
    )
    assert arrived
    texts = {m.text for m in board.stack.telegram.messages}
    assert texts == {EN, RO}  # Moldovans chose Russian, not written: their country's Romanian

    await page.get_by_role("link", name="Broadcasts", exact=True).first.click()
    await expect(page.locator("table.broadcasts tbody tr")).to_have_count(1)
    await expect(page.locator("table.broadcasts")).to_contain_text("100 %")
    await shoot(page, "broadcasts")
    assert not editor.problems, editor.problems
