"""The secretariat's daily work in a real browser (headless Chromium): an officer sends a
broadcast that asks for replies and confirms the numbers before it goes; members reply on
Telegram, WhatsApp and the web chat; the replies show on the broadcast's page and in the inbox,
and the officer answers one from there with a saved reply and another with its shortcut (Alt+1),
and each is marked answered; the replies download as a spreadsheet. A question the bot could not
answer shows on the overview, leading to where the bot is taught it. A member with an open
safeguarding alert deletes their data and the alert stays; a search typed without accents finds the member."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from bot.storage.models import Contact
from tests.conftest import Backend
from tests.dialog import Member
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import eventually
from tests.webhook.admin.dashboard import dashboard
from tests.webhook.admin.test_browser import (  # noqa: F401 - async_api is a fixture
    TIMEOUT,
    add_saved_reply,
    async_api,
    launch,
    open_page,
    shoot,
    sign_in,
)

ALERTS = "-1001234567890"
EN = "Please confirm your delegates to the General Assembly by 20 January."
RO = "Vă rugăm să confirmați delegații la Adunarea Generală până la 20 ianuarie."
RU = "Пожалуйста, подтвердите ваших делегатов на Генеральную ассамблею до 20 января."
REPLIES = {
    "telegram": "Vom participa, delegații sunt Ana și Mihai",
    "whatsapp": "Confirmăm delegații: Ion Popescu și Maria Rusu",
    "web": "Мы будем, наши делегаты Анна и Михаил",
}
ANSWER = "Mulțumim, v-am înregistrat delegații."
UNKNOWN = "какво ще е времето утре в София"
DISCLOSURE = "Vecinul își bate copilul în fiecare seară, aud cum plânge"


async def test_an_officer_collects_replies_answers_them_and_finds_members(
    async_api: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Any,
) -> None:
    expect = async_api.expect
    expect.set_options(timeout=TIMEOUT)
    backend = Backend("embedded", f"sqlite+aiosqlite:///{tmp_path}/childpact.db")
    async with (
        dashboard(backend, safeguarding_telegram_chat_id=ALERTS) as board,
        async_api.async_playwright() as playwright,
    ):
        stack = board.stack
        tg = Member(stack, "telegram", lang="ro")
        wa = Member(stack, "whatsapp", country_code="40")
        web = Member(stack, "web", lang="ru")
        await onboard(tg, "ro", "RO")
        await onboard(wa, "ro", "RO")
        await onboard(web, "ru", "MD")
        # One of them names their organisation, as it is written, with its accents.
        tg_id = (await contact_of(tg)).id
        async with stack.service.db.session() as session, session.begin():
            contact = await session.get(Contact, tg_id)
            assert contact is not None
            contact.organisation = "Salvați Copiii România"
        url = stack.url

        browser = await launch(playwright)
        problems: list[str] = []
        page = await open_page(browser, problems)
        await sign_in(page, url, "editor@childpact.org")
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

        # A broadcast that asks for replies, in three languages.
        await page.goto(f"{url}/admin/broadcasts/new")
        await expect(page.locator("#preview .recipients")).to_be_visible()
        await page.get_by_label("Title").fill("Delegates")
        await page.locator("textarea[name='text:en']").fill(EN)
        for loc, text in (("ro", RO), ("ru", RU)):
            await page.get_by_label("Add a language").select_option(loc)
            await page.get_by_role("button", name="Add", exact=True).click()
            await page.locator(f"textarea[name='text:{loc}']").fill(text)
        await page.get_by_label("Collect members' replies").select_option("48")
        await expect(page.locator("#preview .recipients")).to_contain_text("3")

        # "Send now" asks first, with the numbers; nothing has gone yet.
        await page.get_by_role("button", name="Send now").click()
        confirm = page.locator("#confirm")
        await expect(confirm.locator(".recipients")).to_contain_text("3")
        await expect(confirm).to_contain_text("Telegram: 1")
        await expect(confirm).to_contain_text("WhatsApp: 1")
        await expect(confirm).to_contain_text("Web chat: 1")
        await expect(confirm).to_contain_text("Română: 2")
        await expect(confirm).to_contain_text("Русский: 1")
        await expect(confirm.locator(".when")).to_contain_text("Now")
        await shoot(page, "broadcast-confirm")
        assert not [m for m in stack.telegram.messages if m.text == RO]
        await page.get_by_role("button", name="Yes, send it to 3 people now").click()
        await expect(page.get_by_role("status").first).to_have_text(
            "The broadcast is going out now."
        )
        await expect(page.locator("#broadcast-status")).to_have_text("Sent", timeout=30_000)
        broadcast_url = page.url.split("?")[0]

        # The members reply, each on their own channel.
        for member in (tg, wa, web):
            await member.replies()  # the broadcast
        for member in (tg, wa, web):
            told = await member.say(REPLIES[member.channel])
            assert any("secretaria" in r.text or "секретариат" in r.text for r in told), told

        # The replies on the broadcast's page, with a spreadsheet of them.
        await page.goto(broadcast_url)
        replies = page.locator("#replies")
        for text in REPLIES.values():
            await expect(replies).to_contain_text(text)
        waiting = page.locator("#replies li").filter(has_text="Not answered yet")
        await expect(waiting).to_have_count(3)
        async with page.expect_download() as downloading:
            await replies.get_by_role("link", name="Download the replies (CSV)").click()
        downloaded = Path(await (await downloading.value).path())
        sheet = await asyncio.to_thread(downloaded.read_text, encoding="utf-8")
        assert all(text in sheet for text in REPLIES.values()), sheet
        await shoot(page, "broadcast-replies")

        # And in the inbox, each marked as a reply to the broadcast.
        await page.get_by_role("link", name="Inbox", exact=True).click()
        threads = page.locator(".thread")
        await expect(threads.filter(has_text="Reply to a broadcast")).to_have_count(3)
        await expect(threads.filter(has_text="reply to “Delegates”")).to_have_count(3)
        await shoot(page, "inbox-replies")

        # A saved reply, written once, answers the Telegram member from the broadcast's page.
        await add_saved_reply(page, expect, "Delegates registered", "ro", ANSWER)
        await page.goto(broadcast_url)
        item = page.locator("#replies li").filter(has_text=REPLIES["telegram"])
        await item.get_by_label("Insert a saved reply").select_option(label="1. Delegates registered (Română)")
        await expect(item.get_by_label("Your answer")).to_have_value(ANSWER)
        await item.get_by_role("button", name="Send the answer").click()
        await expect(page.get_by_role("status").first).to_have_text(
            "Your answer is on its way to the member."
        )
        chat = (await contact_of(tg)).address
        arrived = await eventually(lambda: [m for m in stack.telegram.messages_to(chat)
                                            if m.text and ANSWER in m.text])  # fmt: skip
        assert arrived
        # Back on the page, the answered reply says so; the others still wait.
        item = page.locator("#replies li").filter(has_text=REPLIES["telegram"])
        await expect(item.locator(".answered")).to_contain_text("Answered")
        await expect(item.locator(".answered")).to_contain_text(ANSWER)
        await expect(waiting).to_have_count(2)
        # The WhatsApp member answered with the shortcut: Alt and the saved reply's number.
        item = page.locator("#replies li").filter(has_text=REPLIES["whatsapp"])
        await item.get_by_label("Your answer").focus()
        await page.keyboard.press("Alt+1")
        await expect(item.get_by_label("Your answer")).to_have_value(ANSWER)
        await item.get_by_role("button", name="Send the answer").click()
        await expect(page.get_by_role("status").first).to_have_text(
            "Your answer is on its way to the member."
        )
        got = await eventually(wa.replies)
        assert any(ANSWER in r.text for r in got)
        await expect(waiting).to_have_count(1)
        # On a Mac, Option+1 types "¡": the key's place counts, not the character it types.
        box = page.locator("#replies li").filter(has_text=REPLIES["web"]).get_by_label("Your answer")
        await box.dispatch_event("keydown", {"key": "¡", "code": "Digit1", "altKey": True})
        await expect(box).to_have_value(ANSWER)
        await box.fill("")
        await shoot(page, "broadcast-replies-answered")

        # A question the bot could not answer, from a member who got no broadcast: on the
        # overview, with the way to teach the bot its answer.
        bg = Member(stack, "whatsapp", country_code="359")
        await onboard(bg, "bg", "BG")
        await bg.say(UNKNOWN)
        await page.get_by_role("link", name="Overview", exact=True).click()
        card = page.locator(".card.unanswered")
        await expect(card).to_contain_text(UNKNOWN)
        await expect(card).to_contain_text("asked 1 time")
        await shoot(page, "overview-unanswered")
        await card.get_by_role("link", name="Teach the bot the answers").click()
        await expect(page.locator("#unanswered")).to_contain_text(UNKNOWN)
        teach = page.locator("#unanswered li").filter(has_text=UNKNOWN)
        await expect(teach.get_by_role("button", name="Add as an example")).to_be_visible()

        # Search as people type: no accents, any case, part of a word.
        await page.get_by_role("link", name="Members", exact=True).click()
        await page.wait_for_url("**/admin/members")
        await page.wait_for_load_state("load")
        await page.get_by_role("searchbox").fill("salvati cop")
        await expect(page.locator("#results tbody tr")).to_have_count(1)
        await expect(page.locator("#results")).to_contain_text("Salvați Copiii România")

        # A member with an open safeguarding alert deletes their data: the alert stays.
        await wa.say(DISCLOSURE)
        await eventually(lambda: stack.telegram.messages_to(ALERTS))
        await page.get_by_role("link", name="Overview", exact=True).click()
        await expect(page.locator(".tile.urgent")).to_contain_text("1")
        asked = await wa.say("delete me")
        assert any("safeguarding" in r.text or "protecția copilului" in r.text for r in asked)
        await wa.say("da")
        await page.reload()
        await expect(page.locator(".tile.urgent")).to_contain_text("1")
        await page.get_by_role("link", name="Inbox", exact=True).click()
        alert = page.locator(".thread").first
        await expect(alert).to_contain_text("Safeguarding alert")
        await alert.get_by_role("link").first.click()
        await expect(page.locator("#messages")).to_contain_text(DISCLOSURE)
        await expect(page.get_by_text("This member deleted their data.")).to_be_visible()
        await expect(page.locator("h1 a")).to_have_count(0)  # no link to a page that is gone
        await shoot(page, "alert-after-erasure")

        await page.context.close()
        await browser.close()
        assert not [p for p in problems if not re.search(r"status of 4\d\d", p)], problems
