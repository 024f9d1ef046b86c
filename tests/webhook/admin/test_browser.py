"""The dashboard in a real browser (headless Chromium): an editor signs in, finds a member,
answers a member who asked for the secretariat on Telegram and sees the answer arrive, signs
out; a viewer finds no button that sends. Screenshots of the main pages, at desktop and phone
widths, go to test-artifacts/admin/."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.backends import IN_CI
from tests.conftest import Backend
from tests.dialog import Member
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import eventually
from tests.webhook.admin.dashboard import PASSWORD, Dashboard, dashboard

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "admin"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
TIMEOUT = 10_000  # ms
QUESTION = "Bună ziua! Putem găzdui adunarea generală la Chișinău în mai?"
ANSWER = "Da, cu mare plăcere. Vă scriem detaliile săptămâna viitoare."


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true requires the browser test")
    pytest.skip(f"{reason} (set CI=true to make this a failure)")


@pytest.fixture
def async_api() -> Any:
    try:
        from playwright import async_api
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not at {CHROMIUM} (apt-get install chromium)")
    return async_api


async def launch(playwright: Any) -> Any:
    """Debian's headless Chromium, as every dashboard browser test drives it."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


async def open_page(
    browser: Any, problems: list[str], *, viewport: dict[str, int] = DESKTOP, locale: str = "en-GB"
) -> Any:
    """A page in a new context of ``browser`` at that size and language; its script errors and
    console errors, each with the page's address, go to ``problems``."""
    context = await browser.new_context(viewport=viewport, locale=locale)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"{page.url} {error}"))
    page.on(
        "console",
        lambda m: problems.append(f"{page.url} {m.text}") if m.type == "error" else None,
    )
    return page


@dataclass
class Browsing:
    board: Dashboard
    page: Any
    expect: Any  # Playwright's, its timeout set
    problems: list[str] = field(default_factory=list)  # the page's script and console errors


@contextlib.asynccontextmanager
async def signed_in(
    async_api: Any, tmp_path: Path, email: str = "editor@childpact.org"
) -> AsyncIterator[Browsing]:
    """A dashboard on a new embedded database, and a page of Debian's Chromium signed in to it
    as ``email``; the browser is closed after."""
    async_api.expect.set_options(timeout=TIMEOUT)
    backend = Backend("embedded", f"sqlite+aiosqlite:///{tmp_path}/childpact.db")
    async with dashboard(backend) as board, async_api.async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            browsing = Browsing(board, None, async_api.expect)
            browsing.page = await open_page(browser, browsing.problems)
            await sign_in(browsing.page, board.stack.url, email)
            yield browsing
        finally:
            await browser.close()


@pytest.fixture
async def editor(async_api: Any, tmp_path: Path) -> AsyncIterator[Browsing]:
    """An editor signed in to a new dashboard in Chromium (``signed_in``)."""
    async with signed_in(async_api, tmp_path) as browsing:
        yield browsing


async def add_saved_reply(page: Any, expect: Any, title: str, language: str, text: str) -> None:
    """The editor adds a saved reply from the dashboard's menu."""
    await page.get_by_role("link", name="Saved replies", exact=True).click()
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Language").select_option(language)
    await page.get_by_label("Text").fill(text)
    await page.get_by_role("button", name="Save the reply").click()
    await expect(page.get_by_role("status").first).to_have_text("The saved reply is added.")


async def shoot(page: Any, name: str) -> None:
    """The page at desktop and at phone width."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"), full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def some_members(board: Dashboard) -> None:
    """Enough members in several countries, languages and states for the charts to say something."""
    for n, (country, locale, channel, status) in enumerate(
        [("RO", "ro", "whatsapp", "active"), ("RO", "ro", "telegram", "active"),
         ("MD", "ro", "telegram", "active"), ("MD", "ru", "whatsapp", "stopped"),
         ("GE", "ka", "telegram", "active"), ("AM", "hy", "web", "active"),
         ("BG", "bg", "whatsapp", "active"), ("RS", "sr", "telegram", "declined"),
         ("AL", "sq", "whatsapp", "active"), ("BA", "bs", "web", "new")]
    ):  # fmt: skip
        org = ["Hope and Homes", "Salvați Copiii", "CCF Moldova", "Partnerships for Every Child",
               "Child Pact Georgia", "SOS Armenia", "Знание", "Centar za decu", "Tjetër Vizion",
               "Zdravo da ste"][n]  # fmt: skip
        await board.member(country, locale=locale, channel=channel, status=status, organisation=org)
    await board.conversation(await board.member("RS", locale="sr"), "safeguarding",
                             "Dete u susedstvu je često samo i gladno.")  # fmt: skip
    await board.conversation(await board.member("AL", locale="sq"), "question",
                             "Kur është takimi i ardhshëm i rrjetit?")  # fmt: skip


async def sign_in(page: Any, url: str, email: str) -> None:
    """Sign in, whatever language the browser asks the sign-in page in."""
    await page.goto(f"{url}/admin")
    await page.locator("input[name=email]").fill(email)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("form button").click()


async def test_an_editor_answers_a_member_from_the_dashboard_and_a_viewer_cannot(
    async_api, tmp_path
):
    expect = async_api.expect
    expect.set_options(timeout=TIMEOUT)
    backend = Backend("embedded", f"sqlite+aiosqlite:///{tmp_path}/childpact.db")
    async with dashboard(backend) as board, async_api.async_playwright() as playwright:
        await some_members(board)
        member = Member(board.stack, "telegram", lang="ro")
        await onboard(member, "ro", "MD")
        await member.tap("menu:secretariat")
        await member.say(QUESTION)
        chat = (await contact_of(member)).address
        url = board.stack.url

        browser = await launch(playwright)
        problems: list[str] = []
        page = await open_page(browser, problems)
        wrong_password = "the server responded with a status of 401"  # the refused sign-in itself

        await page.goto(f"{url}/admin")
        await expect(page.get_by_role("heading", name="Sign in to the dashboard")).to_be_visible()
        await page.set_viewport_size(PHONE)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "sign-in-phone.png"))
        await page.get_by_label("E-mail address").fill("editor@childpact.org")
        await page.get_by_label("Password").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_contain_text("is not right")
        await page.set_viewport_size(DESKTOP)
        await sign_in(page, url, "editor@childpact.org")
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        await expect(page.locator(".tile.urgent")).to_contain_text("1")
        await shoot(page, "overview")

        # Find a member: the list follows the search box as it is typed.
        await page.get_by_role("link", name="Members", exact=True).click()
        # Typed before the page's script is ready, the search would never be sent: a busy
        # machine can show the box well before that.
        await page.wait_for_url("**/admin/members")
        await page.wait_for_load_state("load")
        await page.get_by_role("searchbox").fill("hope and")
        await expect(page.locator("#results tbody tr")).to_have_count(1)
        await expect(page).to_have_url(re.compile(r"/admin/members\?q=hope(%20|\+)and"))
        export = page.get_by_role("link", name="Export as CSV")
        await expect(export).to_have_attribute("href", "/admin/members.csv?q=hope+and")
        await page.get_by_role("searchbox").fill("")
        await page.get_by_label("Country").select_option("MD")
        await expect(page.locator("#results tbody tr")).to_have_count(3)
        await shoot(page, "members")
        await (
            page.locator("#results tbody tr")
            .filter(has_text="CCF Moldova")
            .get_by_role("link")
            .click()
        )
        await expect(page.get_by_text("CCF Moldova")).to_be_visible()

        # The inbox: the safeguarding alert on top, then the member who wrote on Telegram.
        await page.get_by_role("link", name="Inbox", exact=True).click()
        threads = page.locator(".thread")
        await expect(threads).to_have_count(3)
        await expect(threads.first).to_contain_text("Safeguarding alert")
        await shoot(page, "inbox")
        await threads.filter(has_text="Chișinău").get_by_role("link").click()
        await expect(page.locator("#messages")).to_contain_text(QUESTION)
        await page.get_by_label("Your answer").fill(ANSWER)
        await page.get_by_role("button", name="Send the answer").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Your answer is on its way to the member."
        )
        await expect(page.locator("#messages")).to_contain_text(ANSWER)
        arrived = await eventually(lambda: [m for m in board.stack.telegram.messages_to(chat)
                                            if m.text and ANSWER in m.text])  # fmt: skip
        assert arrived
        # Nobody had it: whoever answers takes it.
        await expect(page.get_by_text("Assigned to Editor")).to_be_visible()
        await member.say("Mulțumesc! Aștept detaliile.")  # the open page shows it by itself
        await expect(page.locator("#messages")).to_contain_text("Aștept detaliile", timeout=15_000)
        await shoot(page, "conversation")
        await page.locator("h1 a").click()  # the member's own page, with their whole history
        await expect(page.locator(".history")).to_contain_text("Aștept detaliile")
        await shoot(page, "member")

        await page.locator(".me summary").click()
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="Sign in to the dashboard")).to_be_visible()
        await expect(page.get_by_role("status")).to_have_text("You are signed out.")

        # An administrator's pages, in Romanian for a change.
        await sign_in(page, url, "admin@childpact.org")
        await page.locator(".me summary").click()
        await page.get_by_role("button", name="Română").click()
        await expect(page.get_by_role("heading", name="Privire de ansamblu")).to_be_visible()
        await page.get_by_role("link", name="Conturi", exact=True).click()
        await shoot(page, "accounts")
        await page.get_by_role("link", name="Jurnal de audit", exact=True).click()
        await expect(page.locator("tbody")).to_contain_text("inbox.reply")
        await shoot(page, "audit")
        await page.context.close()

        # A viewer reads everything and finds nothing that sends or changes.
        context = await browser.new_context(viewport=PHONE, locale="ru-RU")
        page = await context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        await sign_in(page, url, "viewer@childpact.org")
        await page.goto(f"{url}/admin/inbox")
        await (
            page.locator(".thread").filter(has_text="Aștept detaliile").get_by_role("link").click()
        )
        await expect(page.locator("#messages")).to_contain_text(ANSWER)
        await expect(page.locator("main button")).to_have_count(0)
        await expect(page.locator("main textarea")).to_have_count(0)
        await page.screenshot(path=str(ARTIFACTS / "conversation-viewer-phone.png"), full_page=True)
        await page.goto(f"{url}/admin/members")
        await page.locator("#results tbody a").first.click()
        await expect(page.locator("h1")).to_contain_text("Member #")
        await expect(page.locator("main button, main .danger")).to_have_count(0)
        await page.context.close()
        await browser.close()
        assert not [p for p in problems if wrong_password not in p], problems
