"""The fake Bot API agrees with the Bot API's published description of itself (specs/): it
serves only methods the spec has, refuses a call missing any required parameter or carrying
one the spec does not know or of the wrong type, and delivers only the update kinds a webhook
asked for."""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.clock import VirtualClock
from tests.fakes import botapi_spec
from tests.fakes.telegram_api import WRONG_FILE, FakeTelegram
from tests.fakes.telegram_updates import UpdateBuilder
from tests.fakes.test_telegram_api import TOKEN, call

SPECS = Path(__file__).parent / "specs"

# A valid value of each required parameter of the methods the fake serves: a method (or a
# required parameter) the fake gains without an example here fails the test below.
EXAMPLES: dict[str, Any] = {
    "chat_id": 1,
    "text": "hello",
    "photo": "https://cdn.example.org/poster.jpg",
    "document": "https://cdn.example.org/report.pdf",
    "callback_query_id": "4382",
    "url": "https://bot.example.org/webhook/telegram",
    "commands": [{"command": "menu", "description": "The main menu"}],
}


def test_the_spec_copy_is_the_published_one_named_in_its_readme() -> None:
    readme = (SPECS / "README.md").read_text()
    digest = hashlib.sha256((SPECS / "telegram-bot-api.json").read_bytes()).hexdigest()
    assert digest in readme, "telegram-bot-api.json changed: note its source and hash in README"
    assert botapi_spec.version() == "Bot API 10.1" and "Bot API 10.1" in readme
    assert (SPECS / "telegram-bot-api.LICENSE").read_text().startswith("MIT License")


def test_every_method_the_fake_serves_is_in_the_spec() -> None:
    served = set(FakeTelegram()._methods)
    assert served - set(botapi_spec.methods()) == set()
    # and the update kinds it knows of are the spec's
    assert {"chat_member", "message_reaction", "message_reaction_count", "my_chat_member",
            "message", "edited_message", "callback_query"} <= botapi_spec.update_kinds()  # fmt: skip


async def test_each_required_parameter_of_each_method_is_required(
    http: httpx.AsyncClient,
) -> None:
    async with FakeTelegram() as fake:
        fake.clock = clock = VirtualClock()
        fake.host_photo(EXAMPLES["photo"])
        for method in fake._methods:
            entry = botapi_spec.methods()[method]
            required = [f["name"] for f in entry.get("fields", []) if f["required"]]
            full = {name: EXAMPLES[name] for name in required}
            for name in required:
                clock.advance(5)  # clear of the flood limits
                status, body = await call(
                    http, fake, entry["name"], **{k: v for k, v in full.items() if k != name}
                )
                assert status == 400, (entry["name"], name, body)
            if method in ("editmessagetext", "editmessagereplymarkup"):
                continue  # they need a message to edit: test_telegram_api.py has them
            clock.advance(5)
            status, body = await call(http, fake, entry["name"], **full)
            assert status == 200, (entry["name"], body)


@pytest.mark.parametrize(
    ("method", "params", "description"),
    [
        ("sendMessage", {"chat_id": 1, "text": "x", "disable_web_preview": True},
         'Bad Request: unknown parameter "disable_web_preview" of sendMessage in Bot API 10.1'),
        ("sendMessage", {"chat_id": {"id": 1}, "text": "x"}, "Bad Request: chat not found"),
        ("sendMessage", {"chat_id": 1, "text": "x", "disable_notification": "maybe"},
         "Bad Request: disable_notification must be Boolean"),
        ("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": "{not json"},
         "Bad Request: can't parse reply keyboard markup JSON object"),
        ("sendMessage", {"chat_id": 1, "text": "x",
                         "reply_markup": {"inline_keyboard": [[{"label": "a", "url": "https://a.org"}]]}},
         "Bad Request: can't parse reply keyboard markup JSON object"),
        ("setWebhook", {"url": "https://bot.example.org/x", "allowed_updates": ["message", "member"]},
         "Bad Request: can't parse allowed updates: unknown update type member"),
        ("setWebhook", {"url": "https://bot.example.org/x", "max_connections": 500},
         "Bad Request: bad webhook: max_connections must be between 1 and 100"),
    ],
)  # fmt: skip
async def test_unknown_parameters_and_wrong_types_are_refused(
    http: httpx.AsyncClient, method: str, params: dict[str, Any], description: str
) -> None:
    async with FakeTelegram() as fake:
        status, body = await call(http, fake, method, **params)
    assert (status, body["description"]) == (400, description)
    assert fake.messages == []


async def test_form_values_are_read_as_the_spec_types(http: httpx.AsyncClient) -> None:
    # python-telegram-bot sends numbers, booleans and objects as text: the fake reads them
    markup = '{"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}'
    async with FakeTelegram() as fake:
        answer = await http.post(
            f"{fake.url}/bot{TOKEN}/sendMessage",
            data={"chat_id": "-1001234", "text": "x", "disable_notification": "true",
                  "reply_markup": markup},
        )  # fmt: skip
    assert answer.status_code == 200, answer.json()
    assert fake.messages[0].reply_markup == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]
    }


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("<b>bold <i>both</i></b> &amp; &lt;3 &#128512; &quot;", None),
        ('<span class="tg-spoiler">x</span> <a href="https://a.org">a</a>', None),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("Tom & Jerry", 'Unescaped "&" at byte offset 4'),
        ("1 < 2", "Unclosed start tag at byte offset 2"),
        ("2 > 1", 'Unescaped ">" at byte offset 2'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("&nbsp;", 'Unescaped "&" at byte offset 0'),
    ],
)
async def test_html_must_be_telegrams_tags_nested_with_the_rest_escaped(
    http: httpx.AsyncClient, text: str, description: str | None
) -> None:
    async with FakeTelegram() as fake:
        status, body = await call(
            http, fake, "sendMessage", chat_id=1, text=text, parse_mode="HTML"
        )
    if description is None:
        assert status == 200, body
    else:
        assert body["description"] == f"Bad Request: can't parse entities: {description}"


@pytest.mark.parametrize(
    ("button", "description"),
    [
        ({"text": "Read", "url": "https://childpact.org/news?id=4"}, None),
        ({"text": "Open", "url": "tg://resolve?domain=childpact"}, None),
        ({"text": "Read", "url": "http://localhost/news"}, "BUTTON_URL_INVALID"),
        ({"text": "Read", "url": "ftp://childpact.org/a"}, "BUTTON_URL_INVALID"),
        ({"text": "Read", "url": "https://10.0.0.5/a"}, "BUTTON_URL_INVALID"),
        ({"text": "Read", "url": "childpact.org"}, "BUTTON_URL_INVALID"),
        ({"text": "Read"}, "can't parse inline keyboard button: Text buttons are unallowed "
                           "in the inline keyboard"),
        ({"text": "Read", "url": "https://childpact.org", "callback_data": "x"},
         "can't parse inline keyboard button: InlineKeyboardButton must have exactly one of "
         "the optional fields"),
        ({"text": "", "callback_data": "x"}, "BUTTON_TEXT_INVALID"),
    ],
)  # fmt: skip
async def test_buttons_open_a_valid_link_or_carry_data(
    http: httpx.AsyncClient, button: dict[str, str], description: str | None
) -> None:
    markup = {"inline_keyboard": [[button]]}
    async with FakeTelegram() as fake:
        status, body = await call(
            http, fake, "sendMessage", chat_id=1, text="x", reply_markup=markup
        )
    assert body.get("description") == (description and f"Bad Request: {description}")
    assert status == (200 if description is None else 400)


async def test_a_photo_must_come_from_a_url_telegram_can_fetch(http: httpx.AsyncClient) -> None:
    async with FakeTelegram() as fake:
        local, body = await call(http, fake, "sendPhoto", chat_id=1,
                                 photo="http://127.0.0.1:8000/poster.jpg")  # fmt: skip
    assert (local, body["description"]) == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )


async def test_a_photo_by_url_is_fetched_and_refused_when_it_cannot_be(
    http: httpx.AsyncClient,
) -> None:
    # Telegram downloads a photo given by URL before sending it: a URL it cannot fetch, or
    # that is not an image, fails the message. Its file_id sends the same photo again.
    poster, page = "https://cdn.example.org/poster.jpg", "https://cdn.example.org/index.html"
    async with FakeTelegram() as fake:
        fake.host_photo(poster)
        fake.host_photo(page, "text/html", b"<html></html>")
        gone, gone_body = await call(http, fake, "sendPhoto", chat_id=1,
                                     photo="https://cdn.example.org/missing.jpg")  # fmt: skip
        not_image, not_image_body = await call(http, fake, "sendPhoto", chat_id=2, photo=page)
        first, sent = await call(http, fake, "sendPhoto", chat_id=3, photo=poster)
        file_id = sent["result"]["photo"][-1]["file_id"]
        again, again_body = await call(http, fake, "sendPhoto", chat_id=4, photo=file_id)
        made_up, made_up_body = await call(http, fake, "sendPhoto", chat_id=5,
                                           photo="AgACAgQAAxkmadeup")  # fmt: skip
    assert (gone, gone_body["description"]) == (400, "Bad Request: " + WRONG_FILE)
    assert (not_image, not_image_body["description"]) == (
        400, "Bad Request: wrong type of the web page content")  # fmt: skip
    assert (first, again) == (200, 200)
    assert again_body["result"]["photo"] == sent["result"]["photo"]
    assert (made_up, made_up_body["description"]) == (400, "Bad Request: " + WRONG_FILE)
    assert fake.photo_fetches == ["https://cdn.example.org/missing.jpg", page, poster]


async def test_the_fake_counts_button_presses_left_unanswered(http: httpx.AsyncClient) -> None:
    async with FakeTelegram(deliver_to="http://127.0.0.1:9") as fake:  # nobody listens there
        await call(http, fake, "setWebhook", url="https://bot.example.org/webhook/telegram")
        member = UpdateBuilder(chat_id=77, language_code="en", first_update_id=1)
        pressed = [member.callback_query("menu:a"), member.callback_query("menu:b")]
        for update in pressed:
            with contextlib.suppress(httpx.HTTPError):
                await fake.deliver(update)
        first, second = (str(u["callback_query"]["id"]) for u in pressed)
        assert fake.unanswered == [first, second]
        status, _ = await call(http, fake, "answerCallbackQuery", callback_query_id=first)
    assert status == 200 and fake.answer_calls == 1
    assert fake.unanswered == [second]


async def test_groups_take_20_messages_a_minute(http: httpx.AsyncClient) -> None:
    async with FakeTelegram(chat_rate=None) as fake:
        fake.clock = clock = VirtualClock()
        statuses = []
        for _ in range(21):
            clock.advance(1.0)
            statuses.append((await call(http, fake, "sendMessage", chat_id=-100555, text="x"))[0])
        _, refused = await call(http, fake, "sendMessage", chat_id=-100555, text="x")
        other_group, _ = await call(http, fake, "sendMessage", chat_id=-100777, text="x")
        private = [
            (await call(http, fake, "sendMessage", chat_id=7, text="x"))[0] for _ in range(25)
        ]
        clock.advance(refused["parameters"]["retry_after"])
        later, _ = await call(http, fake, "sendMessage", chat_id=-100555, text="x")
    assert statuses == [200] * 20 + [429]
    # the first of the 20 leaves the minute 60 s after it was sent, 40 s from now
    assert refused["parameters"] == {"retry_after": 40}
    assert refused["description"] == "Too Many Requests: retry after 40"
    assert (other_group, later) == (200, 200) and private == [200] * 25
    assert fake.limited_by == {"bot": 0, "chat": 0, "group": 2}
    assert fake.max_per_minute_group == {"-100555": 20, "-100777": 1}


async def test_edits_count_against_the_chat_limits(http: httpx.AsyncClient) -> None:
    async with FakeTelegram(chat_burst=1) as fake:
        fake.clock = VirtualClock()
        _, sent = await call(http, fake, "sendMessage", chat_id=3, text="50 %")
        status, _ = await call(http, fake, "editMessageText", chat_id=3,
                               message_id=sent["result"]["message_id"], text="60 %")  # fmt: skip
    assert status == 429 and fake.limited_by["chat"] == 1


async def test_updates_reach_the_webhook_only_when_asked_for(http: httpx.AsyncClient) -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhook/telegram", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    member = UpdateBuilder(chat_id=5)
    try:
        async with FakeTelegram(deliver_to=f"http://127.0.0.1:{port}") as fake:
            await call(http, fake, "setWebhook", url="https://bot.example.org/webhook/telegram",
                       secret_token="abc", allowed_updates=["message", "callback_query"])  # fmt: skip
            sent = await fake.deliver(member.message("hi"))
            blocked = await fake.deliver(member.my_chat_member("kicked"))
            # a setWebhook without allowed_updates keeps the list (the spec says so)
            await call(http, fake, "setWebhook", url="https://bot.example.org/webhook/telegram",
                       secret_token="abc")  # fmt: skip
            still = await fake.deliver(member.my_chat_member("member"))
            await call(http, fake, "setWebhook", url="https://bot.example.org/webhook/telegram",
                       secret_token="abc", allowed_updates=[])  # fmt: skip
            default = await fake.deliver(member.my_chat_member("member"))
            assert not fake.wants("chat_member") and not fake.wants("message_reaction")
    finally:
        await runner.cleanup()
    assert sent is not None and sent.status_code == 200
    assert blocked is None and still is None and default is not None
    assert [(secret, sorted(u)) for secret, u in received] == [
        ("abc", ["message", "update_id"]),
        ("abc", ["my_chat_member", "update_id"]),
    ]
    assert len(fake.withheld) == 2 and len(fake.delivered) == 2
    assert re.fullmatch(r"\d+", str(received[0][1]["update_id"]))
