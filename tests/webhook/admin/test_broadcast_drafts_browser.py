"""A broadcast draft in a real browser (headless Chromium): an officer sees the preview in each
language the audience reads, a fallback marked with its count, per channel; is warned of a
button left in English for Romanian readers, there and on the confirmation page; saves the
audience under a name; sends; duplicates the broadcast and picks the saved audience for the
copy, schedules the copy after a confirmation that names the time; renames and deletes the
audience. Screenshots go to test-artifacts/admin/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.storage.models import Broadcast
from tests.webhook.admin.dashboard import Dashboard
from tests.webhook.admin.test_browser import (
    ARTIFACTS,
    Browsing,
    async_api,  # noqa: F401 - a fixture
    editor,  # noqa: F401 - a fixture
    shoot,
)

EN = "The General Assembly meets on 12 May in Chișinău."
RO = "Adunarea Generală are loc pe 12 mai la Chișinău."
LINK = "https://childpact.org/ga"
WARNING = "Button 1 “Programme” has no text in Română: 4 members reading them get it in English."


async def shoot_part(part: Any, name: str) -> None:
    """A screenshot of one part of the page. The preview is drawn again (htmx) after the last
    keystroke's pause and after a field loses focus: a part replaced while it is being shot is
    shot again, as it is now."""
    for attempt in range(3):
        try:
            await part.screenshot(path=str(ARTIFACTS / f"{name}.png"))
            return
        except Exception as error:  # playwright's Error: "Element is not attached to the DOM"
            if "not attached" not in str(error) or attempt == 2:
                raise


async def audience(board: Dashboard) -> None:
    """Two Romanians and two Russian-speaking Moldovans (whose country's language is Romanian)
    and an Armenian on Telegram; a Bulgarian on WhatsApp who wrote a moment ago."""
    for n, (country, locale) in enumerate([("RO", "ro"), ("RO", "ro"), ("MD", "ru"),
                                           ("MD", "ru"), ("AM", "hy")]):  # fmt: skip
        await board.member(country, locale=locale, address=str(710_000_000 + n))
    await board.member("BG", locale="bg", channel="whatsapp", address="whatsapp:+359888000333",
                       last_inbound_at=datetime.now(UTC))  # fmt: skip


async def test_an_officer_previews_each_language_is_warned_duplicates_and_saves_an_audience(
    editor: Browsing,  # noqa: F811 - the fixture imported above
) -> None:
    board, page, expect = editor.board, editor.page, editor.expect
    await audience(board)
    await page.goto(f"{board.stack.url}/admin/broadcasts/new")
    preview = page.locator("#preview")

    # An empty draft: English, the base, is something to write first, not to add.
    await expect(preview).to_contain_text("Write the English text first")
    await expect(preview.get_by_role("button", name="Add Română")).to_be_visible()
    await expect(preview.get_by_role("button", name="Add English")).to_have_count(0)

    await page.get_by_label("Title").fill("General Assembly")
    await page.locator("textarea[name='text:en']").fill(EN)
    await page.get_by_label("Add a language").select_option("ro")
    await page.get_by_role("button", name="Add", exact=True).click()
    await page.locator("textarea[name='text:ro']").fill(RO)
    await page.get_by_text("Image and buttons").click()
    await page.locator("input[name='button0-label']").fill("Programme")
    await page.locator("input[name='button0-url']").fill(LINK)

    # Romanian as its readers see it, the Moldovans' fallback marked with its count.
    romanian = preview.locator("#seen-ro")
    await expect(romanian).to_contain_text("Română: 2 members, in their own language")
    await expect(romanian.locator("li.fallback")).to_contain_text(
        "Русский: 2 members read this instead: their country's language"
    )
    await expect(romanian.locator(".pill.warn")).to_have_text("fallback")
    await expect(romanian).to_contain_text(RO)
    # English: the Armenian and the Bulgarian fall back to the base; on WhatsApp the
    # link is a line of text, on Telegram a button.
    english = preview.locator("#seen-en")
    await expect(english).to_contain_text("Հայերեն: 1 member reads this instead: the base language")
    await expect(english.locator(".phone.wa")).to_contain_text(f"Programme: {LINK}")
    await expect(english.locator(".phone.tg .chip")).to_have_text("Programme ↗")
    await expect(preview.locator(".untranslated-button")).to_have_text(WARNING)
    await shoot(page, "broadcast-languages")
    for locale in ("ro", "en"):  # inside the preview, which scrolls on its own
        await shoot_part(preview.locator(f"#seen-{locale}"), f"broadcast-seen-{locale}")

    # The audience, Telegram only, kept under a name.
    await page.get_by_label("Telegram", exact=True).check()
    await page.get_by_label("Save this audience as").fill("Telegram members")
    await page.get_by_role("button", name="Save the audience").click()
    await expect(page.get_by_role("status").first).to_contain_text("The audience is saved")
    await expect(preview.locator(".recipients")).to_contain_text("5")

    # The confirmation repeats the warning and the fallbacks before anything goes.
    await page.get_by_role("button", name="Send now").click()
    confirm = page.locator("#confirm")
    await expect(confirm.locator(".untranslated-button")).to_contain_text(
        "Button 1 “Programme” has no text in Română"
    )
    await expect(confirm).to_contain_text(
        "Русский: 2 members get the Română text, their country's language"
    )
    await page.get_by_role("link", name="No, back to the draft").click()
    # (the buttons' part is open now that there is one)
    await page.get_by_text("Its text in the other languages").first.click()
    await page.locator("input[name='button0-label:ro']").fill("Programul")
    await expect(preview.locator(".untranslated-button")).to_have_count(0)
    await expect(preview.locator("#seen-ro .phone.tg .chip")).to_have_text("Programul ↗")
    await page.get_by_role("button", name="Send now").click()
    await expect(confirm.locator(".untranslated-button")).to_have_count(0)
    await page.get_by_role("button", name=re.compile(r"^Yes, send it to 5 people now")).click()
    await expect(page.get_by_role("status").first).to_have_text("The broadcast is going out now.")
    first_url = page.url

    # Duplicated: a new draft with the same words and buttons, its audience picked anew.
    await page.get_by_role("button", name="Duplicate").click()
    await expect(page.get_by_role("status").first).to_contain_text("This is a copy")
    assert page.url != first_url
    await expect(page.get_by_label("Title")).to_have_value("Copy of General Assembly")
    await expect(page.locator("textarea[name='text:ro']")).to_have_value(RO)
    await expect(page.locator("input[name='button0-label:ro']")).to_have_value("Programul")
    await page.get_by_label("Telegram", exact=True).uncheck()
    await expect(preview.locator(".recipients")).to_contain_text("6")
    await page.get_by_label("Use a saved audience").select_option(label="Telegram members")
    await page.get_by_role("button", name="Use it").click()
    await expect(page.get_by_role("status").first).to_contain_text("saved audience is chosen")
    await expect(page.get_by_label("Telegram", exact=True)).to_be_checked()
    await expect(preview.locator(".recipients")).to_contain_text("5")
    await expect(page.locator("h1 .pill")).to_have_text("Draft")
    await expect(
        page.get_by_role("link", name="Saved audiences: rename or delete")
    ).to_have_attribute("href", "/admin/audiences")

    # The copy scheduled for a later day: "Schedule" too asks first, with the time.
    day = (datetime.now(ZoneInfo("Europe/Bucharest")) + timedelta(days=2)).date()
    await page.get_by_label("Date and time in Europe/Bucharest", exact=True).fill(f"{day}T09:30")
    await page.get_by_role("button", name="Schedule", exact=True).click()
    await expect(confirm.locator(".recipients")).to_contain_text("5")
    await expect(confirm.locator(".when")).to_contain_text("9:30")
    await expect(confirm).to_contain_text("Telegram: 5")
    await shoot(page, "broadcast-schedule-confirm")
    async with board.stack.service.db.session() as session:
        copy = await session.get(Broadcast, int(page.url.split("/")[-2]))
        assert copy is not None and copy.status == "draft"  # nothing set before "yes"
    await page.get_by_role("button", name=re.compile(r"^Yes, schedule it for 5 people")).click()
    await expect(page.get_by_role("status").first).to_have_text("The broadcast is scheduled.")
    await expect(page.locator("#broadcast-status")).to_have_text("Scheduled")

    # Renamed, then deleted, on their own page.
    await page.goto(f"{board.stack.url}/admin/audiences")
    item = page.locator(".saved-audiences li").first
    await expect(item).to_contain_text("Telegram members")
    await item.get_by_label("New name").fill("Everyone on Telegram")
    await item.get_by_role("button", name="Rename").click()
    await expect(page.locator(".saved-audiences")).to_contain_text("Everyone on Telegram")
    await shoot(page, "saved-audiences")
    await page.locator(".saved-audiences li").first.get_by_role("button", name="Delete").click()
    await expect(page.locator(".saved-audiences")).to_contain_text("No saved audiences yet")
    assert not editor.problems, editor.problems
