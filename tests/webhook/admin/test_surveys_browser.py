"""A survey from the dashboard in a real browser (headless Chromium): an editor builds a single
choice and a rating question, watches the Telegram and WhatsApp preview follow the typing,
saves the launch page's filters as an audience and picks it again (its boxes ticked, its count
in the preview), launches it to the members, moves its closing date, and while the members
answer through the fake Telegram and WhatsApp, watches the results page's chart change by
itself. Screenshots of the builder, the launch page, the survey's page, the results and the
list, at desktop and phone widths, go to test-artifacts/admin/."""

from __future__ import annotations

import re
from typing import Any

from bot.surveys import questions_of
from tests.dialog import Member
from tests.handlers.test_menu import onboard
from tests.harness import eventually
from tests.webhook.admin.test_browser import (
    Browsing,
    async_api,  # noqa: F401 - a fixture
    editor,  # noqa: F401 - a fixture
    shoot,
)


async def members_in_two_countries(board: Any) -> tuple[Member, Member]:
    """A Romanian member on Telegram and a Russian-speaking Moldovan on WhatsApp, onboarded."""
    telegram = Member(board.stack, "telegram")
    whatsapp = Member(board.stack, "whatsapp", country_code="373")
    await onboard(telegram, "ro")
    await onboard(whatsapp, "ru", "MD")
    return telegram, whatsapp


async def test_an_editor_builds_launches_and_watches_the_results_arrive(editor: Browsing) -> None:  # noqa: F811 - the fixture imported above
    board, page, expect = editor.board, editor.page, editor.expect
    telegram, whatsapp = await members_in_two_countries(board)
    await page.get_by_role("link", name="Surveys", exact=True).click()
    await expect(page.get_by_text("No surveys yet.")).to_be_visible()
    await page.get_by_role("link", name="New survey").click()
    preview = page.locator("#preview")
    await page.locator("input[name='title:en']").fill("Training needs")
    await page.locator("textarea[name='intro:en']").fill("Two questions, one minute.")
    await page.locator("textarea[name='q0-text:en']").fill("What is your role?")
    await page.locator("input[name='q0-o0-label:en']").fill("Staff")
    await page.locator("input[name='q0-o1-label:en']").fill("Volunteer")
    # The preview follows the typing: Telegram's buttons, WhatsApp's numbered options.
    await expect(preview.locator(".tg .chip", has_text="Volunteer")).to_be_visible()
    await expect(preview.locator(".wa").first).to_contain_text("Training needs")
    await expect(preview).to_contain_text("1. Staff")

    await page.get_by_role("button", name="Add a question").click()
    await page.locator("select[name='q1-type']").select_option("rating5")
    await page.locator("textarea[name='q1-text:en']").fill("How useful was the training?")
    await expect(preview).to_contain_text("How useful was the training?")
    await expect(preview).to_contain_text("Reply with a number from 1 to 5.")
    await expect(page.locator("input[name='q1-o0-key']")).to_be_hidden()  # not a choice
    await shoot(page, "survey-builder")

    await page.get_by_role("button", name="Save and choose who gets it").click()
    await expect(page.locator("#preview .recipients")).to_contain_text("2")
    await expect(page.locator("#preview")).to_contain_text("Română: 1 member reads")
    # The filters kept under a name, then picked again: its boxes ticked, its count shown.
    count = page.locator("#preview .recipients .big")
    await page.locator("input[name='country:RO']").check()
    await page.locator("input[name='country:MD']").check()
    await page.get_by_label("Save this audience as").fill("Romania and Moldova")
    await page.get_by_role("button", name="Save the audience").click()
    await expect(page.get_by_role("status").first).to_contain_text("The audience is saved")
    await page.locator("input[name='country:MD']").uncheck()
    await expect(count).to_have_text("1")
    await page.get_by_label("Use a saved audience").select_option(label="Romania and Moldova")
    await page.get_by_role("button", name="Use it").click()
    await expect(page.get_by_role("status").first).to_contain_text(
        "The saved audience is chosen: its filters are ticked."
    )
    await expect(page.locator("input[name='country:MD']")).to_be_checked()
    await expect(page.locator("input[name='country:RO']")).to_be_checked()
    await expect(count).to_have_text("2")
    await shoot(page, "survey-launch")
    await page.get_by_role("button", name="Open the survey and invite them").click()
    await expect(page.get_by_role("status").first).to_have_text(
        "The survey is open and its invitation is going out."
    )
    found = re.search(r"/admin/surveys/(\d+)", page.url)
    assert found
    survey_id = int(found.group(1))
    # The closing date moves from the survey's page, and goes.
    await page.get_by_label("Answers are taken until").fill("2099-06-01T18:00")
    await page.get_by_role("button", name="Change the closing date").click()
    await expect(page.get_by_role("status").first).to_have_text("The closing date is changed.")
    await shoot(page, "survey")
    await page.get_by_role("button", name="Remove the closing date").click()
    await expect(page.get_by_role("status").first).to_contain_text("has no closing date now")
    await page.get_by_role("link", name="Results", exact=True).click()
    await expect(page.locator("#finished")).to_have_text("0")
    role_chart = page.locator("#result-what_is_your_role")  # ids made from the texts
    await expect(role_chart).to_contain_text("0 answers")

    async with board.stack.service.db.session() as session:
        q = {x.key: x.id for x in await questions_of(session, survey_id)}

    async def invited() -> bool:
        return bool(await telegram.replies()) and bool(await whatsapp.replies())

    await eventually(invited, timeout=30)
    await telegram.tap(f"survey:{survey_id}")
    await telegram.tap(f"sv:a:{q['what_is_your_role']}:0")
    # The chart changes by itself while answers arrive.
    await expect(role_chart).to_contain_text("1 answer", timeout=20_000)
    await telegram.tap(f"sv:a:{q['how_useful_was_the_training']}:5")
    await whatsapp.say("меню")
    await whatsapp.tap("menu:surveys")
    await whatsapp.tap(f"survey:{survey_id}")
    await whatsapp.say("2")
    await whatsapp.say("4")
    await expect(page.locator("#finished")).to_have_text("2", timeout=20_000)
    await expect(role_chart).to_contain_text("2 answers")
    await expect(role_chart.locator("tr", has_text="Volunteer")).to_contain_text("50%")
    await expect(page.locator("#result-how_useful_was_the_training")).to_contain_text("mean 4.5")
    await shoot(page, "survey-results")

    await page.get_by_label("Compare by").select_option("country")
    await page.get_by_role("button", name="Show").click()
    await expect(role_chart.locator("figure.panel")).to_have_count(2)  # one per country
    await expect(role_chart.locator("figure.panel", has_text="Moldova")).to_contain_text("n = 1")
    await shoot(page, "survey-results-by-country")
    await page.get_by_role("link", name="Surveys", exact=True).click()
    await expect(page.locator("table.surveys tbody tr")).to_have_count(1)
    await expect(page.locator("table.surveys")).to_contain_text("Open")
    await shoot(page, "surveys")
    assert not editor.problems, editor.problems
