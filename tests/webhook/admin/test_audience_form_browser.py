"""The audience form in a real browser (headless Chromium): Enter in "Save this audience as"
keeps the ticked filters under the name written, as its button does, on the broadcast compose
page and on the survey launch page; it neither uses the saved audience offered above it nor
adds a language. Enter in the compose page's other fields keeps the draft, and so does Enter in
the survey builder's fields (it used to add a language there too)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.broadcasts import Audience
from bot.storage.models import SavedAudience, Survey
from bot.surveys import create
from bot.surveys import format as surveys_format
from tests.webhook.admin.dashboard import Dashboard
from tests.webhook.admin.test_browser import (  # noqa: F401 - fixtures
    Browsing,
    async_api,
    editor,
)

KEPT = "The audience is saved"


async def moldova_kept(board: Dashboard) -> None:
    """Members in Romania and Moldova, and an audience already saved: the one "Use it" picks."""
    await board.member("RO", locale="ro")
    await board.member("MD", locale="ru", address="710000001")
    async with board.stack.service.db.session() as session, session.begin():
        session.add(SavedAudience(name="Moldova", audience=Audience(countries=["MD"]).to_json()))


async def kept(board: Dashboard, name: str) -> dict[str, Any] | None:
    """The filters saved under ``name``, if any."""
    async with board.stack.service.db.session() as session:
        found = await session.scalar(select(SavedAudience).where(SavedAudience.name == name))
    return found.audience if found else None


async def a_survey(board: Dashboard) -> int:
    definition = surveys_format.parse_definition({"title": "Training needs", "questions": [
        {"id": "a", "type": "yes_no", "text": "Was it useful?"}]})  # fmt: skip
    async with board.stack.service.db.session() as session, session.begin():
        return (await create(session, definition, author=None, country=None)).id


async def test_enter_in_the_audience_name_saves_the_audience(editor: Browsing) -> None:  # noqa: F811 - the fixture imported above
    board, page, expect = editor.board, editor.page, editor.expect
    await moldova_kept(board)
    survey_id = await a_survey(board)

    # Compose: Romania ticked, a name written, Enter.
    await page.goto(f"{board.stack.url}/admin/broadcasts/new")
    await page.get_by_label("Title").fill("General Assembly")
    await page.locator("input[name='country:RO']").check()
    name = page.get_by_label("Save this audience as")
    await name.fill("Romania")
    await name.press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text(KEPT)
    await expect(page.locator("input[name='country:RO']")).to_be_checked()
    await expect(page.locator("input[name='country:MD']")).not_to_be_checked()  # not used
    await expect(page.locator("textarea[name='text:ro']")).to_have_count(0)  # not added
    await expect(page.get_by_label("Title")).to_have_value("General Assembly")
    await expect(page.get_by_label("Use a saved audience").locator("option")).to_have_text(
        ["Moldova", "Romania"]
    )
    assert (await kept(board, "Romania") or {}).get("countries") == ["RO"]

    # Enter in another field of the compose page keeps the draft, and only that.
    await page.get_by_label("Title").fill("General Assembly, June")
    await page.get_by_label("Title").press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text("The draft is saved.")
    await expect(page.get_by_label("Title")).to_have_value("General Assembly, June")
    await expect(page.locator("textarea[name='text:ro']")).to_have_count(0)  # not added
    await expect(page.get_by_label("Use a saved audience").locator("option")).to_have_count(2)

    # Launch: the same, and nothing launched.
    await page.goto(f"{board.stack.url}/admin/surveys/{survey_id}/launch")
    await page.locator("input[name='country:RO']").check()
    await page.locator("input[name='country:MD']").check()
    name = page.get_by_label("Save this audience as")
    await name.fill("Romania and Moldova")
    await name.press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text(KEPT)
    await expect(page.locator("input[name='country:RO']")).to_be_checked()
    await expect(page.locator("input[name='country:MD']")).to_be_checked()
    await expect(page.get_by_label("Use a saved audience").locator("option")).to_have_text(
        ["Moldova", "Romania", "Romania and Moldova"]
    )
    assert sorted((await kept(board, "Romania and Moldova") or {}).get("countries", [])) == [
        "MD", "RO",
    ]  # fmt: skip
    async with board.stack.service.db.session() as session:
        survey = await session.get(Survey, survey_id)
        assert survey is not None and survey.status == "draft"

    # The save button does what it did when clicked, and is the only one a person meets.
    await page.locator("input[name='country:MD']").uncheck()
    await name.fill("Romania alone")
    await page.get_by_role("button", name="Save the audience").click()
    await expect(page.get_by_role("status").first).to_contain_text(KEPT)
    assert (await kept(board, "Romania alone") or {}).get("countries") == ["RO"]
    assert not editor.problems, editor.problems


async def test_enter_in_the_survey_builder_saves_the_draft(editor: Browsing) -> None:  # noqa: F811 - the fixture imported above
    board, page, expect = editor.board, editor.page, editor.expect
    await page.goto(f"{board.stack.url}/admin/surveys/new")
    await page.locator("input[name='name']").fill("Training needs, spring")
    await page.locator("input[name='title:en']").fill("Training needs")
    await page.locator("textarea[name='q0-text:en']").fill("What is your role?")
    await page.locator("input[name='q0-o0-label:en']").fill("Staff")
    await page.locator("input[name='q0-o1-label:en']").fill("Volunteer")
    await page.locator("input[name='q0-o1-label:en']").press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text("The survey is saved.")
    await expect(page.locator("input[name='name']")).to_have_value("Training needs, spring")
    await expect(page.locator("input[name='q0-o0-label:en']")).to_have_value("Staff")
    await expect(page.locator("input[name^='title:']")).to_have_count(1)  # no language added
    async with board.stack.service.db.session() as session:
        saved = await session.scalar(select(Survey).where(Survey.name == "Training needs, spring"))
        assert saved is not None and saved.status == "draft"
    assert not editor.problems, editor.problems
