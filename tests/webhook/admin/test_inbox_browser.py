"""The inbox's help-desk tools in a real browser (headless Chromium): an officer (an editor, not
an administrator) gives Moldova's new conversations to its coordinator; a Moldovan member, told in Russian when the
secretariat usually answers, writes; the conversation arrives assigned; the officer leaves an
internal note, hands the conversation to a colleague and answers with a saved reply. The member
gets the answer and never the note."""

from __future__ import annotations

import re

from tests.dialog import Member
from tests.handlers.test_menu import onboard
from tests.harness import eventually
from tests.webhook.admin.test_browser import (
    Browsing,
    add_saved_reply,
    async_api,  # noqa: F401 - a fixture
    editor,  # noqa: F401 - a fixture
    shoot,
)

QUESTION = "Можно ли привезти на собрание волонтёра?"
NOTE = "Позвонила в их офис: список делегатов будет в понедельник."
ANSWER = "Да, конечно. Пришлите, пожалуйста, его имя до пятницы."
REPLY_TIME = "Обычно секретариат отвечает в течение одного рабочего дня."


async def test_an_officer_notes_reassigns_and_answers_with_a_saved_reply(editor: Browsing) -> None:  # noqa: F811 - the fixture imported above
    board, page, expect = editor.board, editor.page, editor.expect
    stack = board.stack
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # Moldova's new conversations go to its coordinator.
    await page.get_by_role("link", name="Inbox", exact=True).click()
    await page.get_by_role("link", name="Assignment rules").click()
    await page.get_by_label("Moldova").select_option(label="Md")
    await page.get_by_role("button", name="Save the rules").click()
    await expect(page.get_by_role("status").first).to_have_text("The assignment rules are saved.")
    await expect(page.get_by_label("Moldova")).to_have_value(str(board.ids["md@childpact.org"]))
    await shoot(page, "assignment-rules")

    # A Moldovan member turns to the secretariat and is told its usual reply time.
    member = Member(stack, "web", lang="ru")
    await onboard(member, "ru", "MD")
    invite = await member.tap("menu:secretariat")
    assert invite[-1].text.endswith(REPLY_TIME)
    await member.say(QUESTION)

    # The conversation arrives assigned; the inbox narrows to Moldova and to nobody's.
    await page.get_by_role("link", name="Inbox", exact=True).click()
    await page.get_by_label("Country").select_option(label="Moldova")
    await page.get_by_role("button", name="Show").click()
    thread = page.locator(".thread").filter(has_text=QUESTION)
    await expect(thread).to_contain_text("assigned to Md")
    await page.get_by_role("link", name="Unassigned").click()
    await expect(page.locator(".thread").filter(has_text=QUESTION)).to_have_count(0)
    await page.get_by_role("link", name="Open", exact=True).click()
    await page.locator(".thread").filter(has_text=QUESTION).get_by_role("link").click()
    await expect(page.locator("aside")).to_contain_text("Assigned to Md")

    # An internal note, in the timeline with its author, marked as unseen by the member.
    await page.get_by_label("Internal note").fill(NOTE)
    await page.get_by_role("button", name="Add the note").click()
    await expect(page.get_by_role("status").first).to_have_text(
        "The note is saved. Only the secretariat sees it."
    )
    note = page.locator("#messages .msg.note")
    await expect(note).to_contain_text(NOTE)
    await expect(note).to_contain_text("Internal note by Editor")
    await expect(note).to_contain_text("the member does not see it")
    await expect(page.locator("#messages .msg.in")).to_contain_text(QUESTION)

    # Handed on to a colleague.
    await page.locator("aside").get_by_label("Assign to").select_option(label="Admin")
    await page.locator("aside").get_by_role("button", name="Assign", exact=True).click()
    await expect(page.get_by_role("status").first).to_have_text("The conversation is assigned.")
    await expect(page.locator("aside")).to_contain_text("Assigned to Admin")
    conversation_url = page.url.split("?")[0]

    # A saved reply in Russian answers the member.
    await add_saved_reply(page, expect, "Volunteer welcome", "ru", ANSWER)
    await page.goto(conversation_url)
    await page.get_by_label("Insert a saved reply").select_option(
        label="1. Volunteer welcome (Русский)"
    )
    await expect(page.get_by_label("Your answer")).to_have_value(ANSWER)
    await shoot(page, "inbox-note-and-saved-reply")
    await page.get_by_role("button", name="Send the answer").click()
    await expect(page.get_by_role("status").first).to_have_text(
        "Your answer is on its way to the member."
    )
    await expect(page.locator("#messages .msg.out")).to_contain_text(ANSWER)

    got = await eventually(member.replies)
    assert any(ANSWER in r.text for r in got)
    assert not any(NOTE in r.text for r in got)

    assert not [p for p in editor.problems if not re.search(r"status of 4\d\d", p)], editor.problems
