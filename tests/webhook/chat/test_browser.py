"""The web chat in a real browser: a member onboards on a phone, reloads, loses the network,
and a visitor opens the chat from the coalition's website. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn

from app.web import create_app
from bot.config import Settings
from bot.i18n import Translator
from tests.backends import IN_CI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PHONE = {"width": 390, "height": 800}
TIMEOUT = 15_000  # ms; a reply normally takes well under a second


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true requires the browser test")
    pytest.skip(f"{reason} (set CI=true to make this a failure)")


@pytest.fixture(scope="module")
def sync_api() -> Any:
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not at {CHROMIUM} (apt-get install chromium)")
    return sync_api


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The real app under uvicorn on a free port, in a thread."""
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,  # a long-poll would otherwise hold the shutdown for 25 s
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def website(server: str) -> Iterator[str]:
    """The coalition's website on another origin, with the one-line embed. A real server on
    loopback, because Chromium forbids a public page to reach a loopback one."""
    html = (
        '<!doctype html><html lang="bg"><head><meta charset="utf-8"><title>ChildPact</title>'
        '</head><body style="font:18px/1.6 Georgia,serif;margin:3rem;max-width:40rem">'
        "<h1>ChildPact</h1><p>Regional Coalition for Child Protection.</p>"
        f'<script src="{server}/chat/embed.js" defer></script></body></html>'
    ).encode()

    class Website(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Website)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def browser(sync_api: Any) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def opened(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    """A new browser context (its locale, viewport...) and page, and the page's script errors."""
    context = browser.new_context(**options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"webchat-{name}.png"))


def test_a_member_onboards_on_a_phone_and_keeps_the_conversation(sync_api, server, browser):
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT)
    ro = Translator("ro")
    context, page, errors = opened(browser, locale="ro-RO", viewport=PHONE, device_scale_factor=2)
    page.goto(f"{server}/chat")

    bot, mine = page.locator(".msg.bot"), page.locator(".msg.me")
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(bot.first).to_contain_text(ro("Do you agree?"))
    expect(mine).to_have_count(0)  # the automatic "/start" is not the member's bubble
    shoot(page, "1-welcome")

    page.get_by_role("button", name=ro("Yes, I agree")).click()
    expect(mine.last).to_have_text(ro("Yes, I agree"))
    page.get_by_role("button", name="Română").click()
    expect(bot.last).to_contain_text(ro("Which country do you work in?"))
    page.get_by_role("button", name=ro.country_name("MD"), exact=True).click()
    expect(bot.last).to_contain_text(
        ro("Which organisation do you work for? Type its name, or choose Skip.")
    )
    page.get_by_role("button", name=ro("Skip")).click()
    expect(bot.last).to_contain_text(ro("Thank you, you are all set!"))
    expect(bot.last.get_by_role("button", name=ro("About ChildPact"))).to_be_visible()
    shoot(page, "2-menu")

    page.reload()
    expect(bot).to_have_count(5)
    expect(mine).to_have_count(4)
    texts = page.locator(".msg > .text").all_inner_texts()
    assert ro("Do you agree?") in texts[0]
    assert texts[1:3] == [ro("Yes, I agree"), ro("Which language do you prefer?")]
    assert texts[-2] == ro("Skip")
    expect(bot.last).to_contain_text(ro("Thank you, you are all set!"))

    # Offline: the typed message waits, the page says so, and it goes when the network is back.
    context.set_offline(True)
    page.get_by_label(ro("Type a message…")).fill("/help")
    page.get_by_role("button", name=ro("Send")).click()
    expect(page.get_by_role("status")).to_have_text(
        ro("You are offline. We will send your message when the connection is back.")
    )
    expect(mine.last).to_have_text("/help")
    shoot(page, "3-offline")
    context.set_offline(False)
    expect(bot).to_have_count(6)
    assert "\n" in bot.last.inner_text()  # line breaks of the bot's text are kept
    expect(page.get_by_role("status")).to_have_text("")
    shoot(page, "4-help")
    page.set_viewport_size({"width": 1280, "height": 800})
    shoot(page, "5-desktop")
    page.emulate_media(color_scheme="dark")
    shoot(page, "6-dark")

    page.set_viewport_size(PHONE)  # a long word and emoji wrap inside the bubble
    long_word = "Mulțumesc 🙏🏽 " + "Kinderschutzorganisation" * 12
    page.get_by_label(ro("Type a message…")).fill(long_word)
    page.keyboard.press("Enter")
    expect(mine.last).to_have_text(long_word)
    assert mine.last.evaluate("li => li.scrollWidth <= li.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    # A new conversation, not a new person: asked first, and the same member is greeted back.
    session = page.evaluate("JSON.parse(localStorage.getItem('childpact-chat')).session")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name=ro("Start a new conversation")).click()
    expect(mine.last).to_have_text(long_word)  # dismissed: nothing changes
    assert asked and asked[0].startswith(ro("Start a new conversation")[:10])
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=ro("Start a new conversation")).click()
    expect(bot).to_have_count(1)
    expect(bot.first).to_contain_text(ro("Hello again!"))
    expect(bot.first.get_by_role("button", name=ro("About ChildPact"))).to_be_visible()
    expect(mine).to_have_count(0)
    page.reload()  # the page starts from the new conversation, still the same member
    expect(bot.first).to_contain_text(ro("Hello again!"))
    assert page.evaluate("JSON.parse(localStorage.getItem('childpact-chat')).session") == session
    assert not errors
    context.close()


def test_the_website_opens_the_chat_in_a_panel(sync_api, website, browser):
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT)
    bg, ro = Translator("bg"), Translator("ro")
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(website)

    launcher = page.get_by_role("button", name=bg("Chat with ChildPact"))
    expect(launcher).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    shoot(page, "7-website")
    panel = page.frame_locator("iframe")
    launcher.click()
    expect(panel.locator("html")).to_have_attribute("lang", "bg")
    expect(panel.locator(".msg.bot").first).to_contain_text(bg("Do you agree?"))
    close = page.get_by_role("button", name=bg("Close")).first
    expect(close).to_have_attribute("aria-expanded", "true")
    shoot(page, "8-website-open")

    page.keyboard.press("Escape")
    expect(page.locator("iframe")).to_be_hidden()
    expect(launcher).to_be_focused()

    page.set_viewport_size(PHONE)  # on a phone the panel takes the whole screen
    launcher.click()
    expect(page.locator("iframe")).to_have_js_property("clientWidth", PHONE["width"])
    expect(panel.locator(".msg.bot")).to_have_count(1)  # the same conversation, not a new one
    shoot(page, "9-website-phone")
    panel.get_by_role("button", name=bg("Close")).click()
    expect(page.locator("iframe")).to_be_hidden()

    # The visitor chooses Română in the panel: the panel's words and the website's button
    # follow, and the panel stays open on the conversation.
    page.set_viewport_size({"width": 1280, "height": 800})
    launcher.click()
    panel.get_by_role("button", name=bg("Yes, I agree")).click()
    panel.get_by_role("button", name="Română").click()
    expect(panel.locator("html")).to_have_attribute("lang", "ro")
    expect(panel.get_by_role("button", name=ro("Send"))).to_be_visible()
    expect(panel.locator(".msg.bot").last).to_contain_text(ro("Which country do you work in?"))
    expect(page.get_by_role("button", name=ro("Close")).first).to_have_attribute(
        "aria-expanded", "true"
    )
    context.close()


def test_an_erased_member_leaves_nothing_in_the_browser(sync_api, server, browser):
    """After "delete me" the browser forgets what the member typed: at once when the goodbye
    comes, on the next visit when the page was closed before it came, and on a page that kept
    a session the server no longer knows."""
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT)
    en = Translator("en")
    secret = "My neighbour's boy sleeps in the car"
    goodbye = en(
        "Done: I deleted everything I kept about you. Goodbye, and thank you! "
        "If you write to me again, we start afresh."
    )
    context, page, errors = opened(browser, locale="en-GB", viewport=PHONE)
    bot, mine = page.locator(".msg.bot"), page.locator(".msg.me")
    box = page.get_by_label(en("Type a message…"))

    def kept() -> str:
        return page.evaluate("localStorage.getItem('childpact-chat') || ''")

    def told_drawn(session: str) -> Any:  # the page's poll that says it drew the goodbye
        return page.expect_request(lambda r: f"session={session}" in r.url and "&had=" in r.url)

    def nothing_kept(session: str) -> None:  # the server keeps not even the goodbye any more
        answer = context.request.get(f"{server}/chat/api/messages?session={session}&wait=0")
        assert answer.json() == {"messages": [], "cursor": 0, "erased": True, "locale": None}

    def onboard_and_confide() -> str:
        page.goto(f"{server}/chat")
        page.get_by_role("button", name=en("Yes, I agree")).click()
        expect(bot.last).to_contain_text(en("Which language do you prefer?"))
        box.fill(secret)
        box.press("Enter")
        expect(mine.last).to_have_text(secret)
        expect(bot.nth(2)).to_be_attached()  # the bot answered it
        assert secret in kept()
        return page.evaluate("JSON.parse(localStorage.getItem('childpact-chat')).session")

    # The goodbye comes while the page is open: only the goodbye stays, and nothing is kept.
    first = onboard_and_confide()
    saved = kept()
    box.fill("delete me")
    box.press("Enter")
    with told_drawn(first) as told:
        page.get_by_role("button", name=en("Yes, delete everything")).click()
    assert told.value.response().ok
    nothing_kept(first)
    expect(bot).to_have_count(1)
    expect(bot.first).to_have_text(goodbye)
    expect(mine).to_have_count(0)
    assert secret not in page.content()
    assert kept() == ""
    shoot(page, "10-erased")
    page.reload()  # a fresh session: a new visitor's welcome, none of what was typed
    expect(bot.first).to_contain_text(en("Do you agree?"))
    expect(mine).to_have_count(0)
    assert secret not in page.content() and secret not in kept()
    assert first not in kept()

    # A page that kept the erased session (another tab, a copy): the server no longer knows
    # it, so the page forgets it on loading and starts afresh.
    page.evaluate("saved => localStorage.setItem('childpact-chat', saved)", saved)
    page.reload()
    expect(bot.first).to_contain_text(en("Do you agree?"))
    expect(mine).to_have_count(0)
    assert secret not in page.content() and secret not in kept()
    assert first not in kept()

    # The page is closed before the goodbye comes: the next visit shows it and forgets.
    page.evaluate("localStorage.clear()")
    second = onboard_and_confide()
    page.goto("about:blank")
    for number, body in enumerate(({"text": "delete me"}, {"payload": "erase:yes"})):
        response = context.request.post(
            f"{server}/chat/api/messages", data={"session": second, "id": f"m{number}", **body}
        )
        assert response.status == 202, response.text()
    # The page was gone, but its last poll may have taken the goodbye: it stays until drawn.
    with told_drawn(second) as told:
        page.goto(f"{server}/chat")
    assert told.value.response().ok
    nothing_kept(second)
    expect(bot.first).to_have_text(goodbye)
    expect(bot).to_have_count(1)
    expect(mine).to_have_count(0)
    assert secret not in page.content() and secret not in kept()
    page.reload()
    expect(bot.first).to_contain_text(en("Do you agree?"))
    assert secret not in page.content() and second not in kept()
    assert not errors
    context.close()


def test_the_page_speaks_the_language_the_member_chose(sync_api, server, browser):
    """An English browser, a member who chooses Română in the conversation: the page's own
    words turn Romanian at once, and stay so on reloading and on a later visit, with the
    conversation kept."""
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT)
    en, ro = Translator("en"), Translator("ro")
    assert ro("Type a message…") != en("Type a message…") and ro("Send") != en("Send")
    context, page, errors = opened(browser, locale="en-GB", viewport=PHONE)
    page.goto(f"{server}/chat")
    bot, mine = page.locator(".msg.bot"), page.locator(".msg.me")

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label(en("Type a message…"))).to_be_visible()
    page.get_by_role("button", name=en("Yes, I agree")).click()

    def kept_session() -> str:
        return page.evaluate("JSON.parse(localStorage.getItem('childpact-chat')).session")

    expect(page.get_by_role("button", name="Română")).to_be_visible()
    session = kept_session()
    page.get_by_role("button", name="Română").click()

    def in_romanian() -> None:
        expect(page.locator("html")).to_have_attribute("lang", "ro")
        expect(page.get_by_label(ro("Type a message…"))).to_have_attribute(
            "placeholder", ro("Type a message…")
        )
        expect(page.get_by_role("button", name=ro("Send"))).to_be_visible()
        expect(page.get_by_role("button", name=ro("Start a new conversation"))).to_be_visible()
        expect(bot).to_have_count(3)
        expect(bot.last).to_contain_text(ro("Which country do you work in?"))
        expect(mine).to_have_text([en("Yes, I agree"), "Română"])
        assert kept_session() == session

    in_romanian()
    shoot(page, "11-chosen-language")
    page.reload()
    in_romanian()
    page.goto("about:blank")
    page.goto(f"{server}/chat")  # a later visit, by the address without a language
    in_romanian()

    # The conversation goes on in the page that speaks Romanian.
    page.get_by_role("button", name=ro.country_name("MD"), exact=True).click()
    expect(bot.last).to_contain_text(
        ro("Which organisation do you work for? Type its name, or choose Skip.")
    )
    expect(page.get_by_label(ro("Type a message…"))).to_be_visible()
    assert not errors
    context.close()


def test_the_page_in_sight_reports_what_it_showed_as_read(sync_api, server, browser):
    """The server's half is tests/webhook/chat/test_chat_read.py: the page's polls say up to
    which reply it showed while in sight, and only once it showed them."""
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT)
    context, page, errors = opened(browser, locale="en-GB")
    polls: list[dict[str, list[str]]] = []
    page.on(
        "request",
        lambda r: (
            polls.append(parse_qs(urlsplit(r.url).query))
            if "/chat/api/messages?" in r.url
            else None
        ),
    )

    def showed(request: Any) -> bool:
        """A poll that says the page showed a reply in sight."""
        query = parse_qs(urlsplit(request.url).query)
        return "/chat/api/messages?" in request.url and int(query.get("seen", ["0"])[0]) > 0

    # Waited for from before the page loads, so it cannot have gone by unseen.
    with page.expect_request(showed, timeout=TIMEOUT) as reported:
        page.goto(f"{server}/chat")
        expect(page.locator(".msg.bot").first).to_contain_text("Do you agree?")
    query = parse_qs(urlsplit(reported.value.url).query)
    assert query["seen"] == query["after"]  # up to what it has shown, no further
    assert all(p["after"] == p["seen"] for p in polls if "seen" in p)  # never past what it has
    assert page.evaluate("document.visibilityState") == "visible"
    context.close()
    assert not errors, errors
