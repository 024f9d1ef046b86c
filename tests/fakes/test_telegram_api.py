"""The fake Telegram Bot API answers like the real one: its formats, limits, refusals and
faults, and Update JSON that python-telegram-bot accepts."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from telegram import Update

from tests.clock import VirtualClock
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import UpdateBuilder

TOKEN = "123456789:AA" + "x" * 33


async def call(
    http: httpx.AsyncClient, fake: FakeTelegram, method: str, token: str = TOKEN, **params: Any
) -> tuple[int, dict[str, Any]]:
    answer = await http.post(f"{fake.url}/bot{token}/{method}", json=params)
    return answer.status_code, answer.json()


async def test_telegram_accepts_json_form_multipart_and_query(http: httpx.AsyncClient) -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        base = f"{fake.url}/bot{TOKEN}"
        answers = [
            await http.post(f"{base}/sendMessage", json={"chat_id": 1, "text": "json"}),
            await http.post(f"{base}/sendMessage", data={"chat_id": "2", "text": "form"}),
            await http.post(
                f"{base}/sendMessage", data={"chat_id": "3"}, files={"text": (None, "multipart")}
            ),
            await http.get(f"{base}/sendMessage", params={"chat_id": "4", "text": "query"}),
            await http.get(f"{base}/getMe"),
        ]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["ok"] for a in answers] == [True] * 5
    assert [(m.chat_id, m.text) for m in fake.messages] == [
        ("1", "json"),
        ("2", "form"),
        ("3", "multipart"),
        ("4", "query"),
    ]
    me = answers[-1].json()["result"]
    assert me["id"] == 123456789 and me["is_bot"] is True


async def test_telegram_message_result_is_a_message(http: httpx.AsyncClient) -> None:
    async with FakeTelegram() as fake:
        status, body = await call(http, fake, "sendMessage", chat_id=7, text="a &amp; b",
                                  parse_mode="HTML")  # fmt: skip
    assert status == 200
    result = body["result"]
    assert result["chat"] == {"id": 7, "first_name": "Member", "type": "private"}
    assert result["text"] == "a & b" and isinstance(result["message_id"], int)


@pytest.mark.parametrize(
    ("token", "method", "status", "description"),
    [
        ("987654321:" + "y" * 35, "getMe", 401, "Unauthorized"),
        ("not-a-token", "getMe", 404, "Not Found"),
        (TOKEN, "sendCarrierPigeon", 404, "Not Found"),
    ],
)
async def test_telegram_refuses_tokens_and_unknown_methods(
    http: httpx.AsyncClient, token: str, method: str, status: int, description: str
) -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        got = await call(http, fake, method, token=token)
    assert got == (status, {"ok": False, "error_code": status, "description": description})


async def test_telegram_global_limit(http: httpx.AsyncClient) -> None:
    async with FakeTelegram(rate=5) as fake:
        fake.clock = VirtualClock()  # the six requests in one second, however slow they are
        answers = [await call(http, fake, "sendMessage", chat_id=n, text="x") for n in range(1, 7)]
    assert [status for status, _ in answers] == [200] * 5 + [429]
    assert answers[-1][1] == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert fake.rate_limited == 1 and len(fake.messages) == 5
    assert fake.max_per_second == 6  # attempts, refused ones included


async def test_telegram_per_chat_limit_with_burst(http: httpx.AsyncClient) -> None:
    async with FakeTelegram(chat_rate=20, chat_burst=2) as fake:
        fake.clock = clock = VirtualClock()
        first = [(await call(http, fake, "sendMessage", chat_id=9, text="x"))[0] for _ in range(3)]
        other_chat, _ = await call(http, fake, "sendMessage", chat_id=10, text="x")
        clock.advance(0.06)  # one more message's worth of budget at 20/s
        later, _ = await call(http, fake, "sendMessage", chat_id=9, text="x")
    assert first == [200, 200, 429] and other_chat == 200 and later == 200
    assert fake.max_per_second_chat == {"9": 4, "10": 1}


@pytest.mark.parametrize(
    ("chat", "status", "description"),
    [
        (666, 403, "Forbidden: bot was blocked by the user"),
        (667, 403, "Forbidden: user is deactivated"),
        (404, 400, "Bad Request: chat not found"),
        (1234, 400, "Bad Request: chat not found"),  # not among known_chats
        ("@nobody", 400, "Bad Request: chat not found"),
    ],
)
async def test_telegram_chat_refusals(
    http: httpx.AsyncClient, chat: int | str, status: int, description: str
) -> None:
    async with FakeTelegram(
        blocked=[666], deactivated=[667], missing=[404], known_chats=[1, 666, 667, 404]
    ) as fake:
        got_status, body = await call(http, fake, "sendMessage", chat_id=chat, text="x")
    assert (got_status, body["description"]) == (status, description)
    assert fake.messages == []


async def test_telegram_migrated_group(http: httpx.AsyncClient) -> None:
    async with FakeTelegram(migrated={-55: -10055}) as fake:
        status, body = await call(http, fake, "sendMessage", chat_id=-55, text="x")
    assert status == 400 and body["parameters"] == {"migrate_to_chat_id": -10055}


@pytest.mark.parametrize(
    ("params", "status", "description"),
    [
        ({"text": "x" * 4096}, 200, None),
        ({"text": "x" * 4097}, 400, "Bad Request: message is too long"),
        ({"text": "&lt;" * 4096, "parse_mode": "HTML"}, 200, None),  # counted once parsed
        ({"text": ""}, 400, "Bad Request: message text is empty"),
        ({"text": "a <x> b", "parse_mode": "HTML"}, 400,
         'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 2'),
        ({"text": "a <x> b"}, 200, None),  # plain text: no parsing
        ({"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "d" * 64}]]}},
         200, None),
        ({"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "d" * 65}]]}},
         400, "Bad Request: BUTTON_DATA_INVALID"),
        ({"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "я" * 33}]]}},
         400, "Bad Request: BUTTON_DATA_INVALID"),  # 66 bytes
    ],
)  # fmt: skip
async def test_telegram_message_validation(
    http: httpx.AsyncClient, params: dict[str, Any], status: int, description: str | None
) -> None:
    async with FakeTelegram() as fake:
        got_status, body = await call(http, fake, "sendMessage", chat_id=1, **params)
    assert got_status == status
    assert body.get("description") == description


async def test_telegram_caption_limit_and_photo(http: httpx.AsyncClient) -> None:
    async with FakeTelegram() as fake:
        fake.host_photo("https://cdn.example.org/p.jpg")
        ok, body = await call(http, fake, "sendPhoto", chat_id=1, photo="https://cdn.example.org/p.jpg",
                              caption="c" * 1024)  # fmt: skip
        too_long, _ = await call(http, fake, "sendPhoto", chat_id=1, photo="https://cdn.example.org/p.jpg",
                                 caption="c" * 1025)  # fmt: skip
    assert (ok, too_long) == (200, 400)
    assert body["result"]["photo"][-1]["width"] == 800
    assert [(m.method, m.photo) for m in fake.messages] == [
        ("sendPhoto", "https://cdn.example.org/p.jpg")
    ]


async def test_telegram_documents_upload_or_come_by_a_pdf_or_zip_link(
    http: httpx.AsyncClient,
) -> None:
    async with FakeTelegram() as fake:
        base = f"{fake.url}/bot{TOKEN}/sendDocument"
        uploaded = await http.post(
            base,
            data={"chat_id": "1", "caption": "yours"},
            files={"document": ("data.json", b'{"a": 1}', "application/json")},
        )
        empty = await http.post(
            base, data={"chat_id": "2"}, files={"document": ("e.json", b"", "application/json")}
        )
        by_pdf_link, _ = await call(
            http, fake, "sendDocument", chat_id=3, document="https://cdn.example.org/a.pdf"
        )
        by_json_link, refused = await call(
            http, fake, "sendDocument", chat_id=4, document="https://cdn.example.org/a.json"
        )
    assert (uploaded.status_code, empty.status_code, by_pdf_link, by_json_link) == (
        200,
        400,
        200,
        400,
    )
    assert uploaded.json()["result"]["document"]["file_name"] == "data.json"
    assert refused["description"] == "Bad Request: wrong type of the web page content"
    assert [(m.document, m.file, m.caption) for m in fake.messages] == [
        ("data.json", b'{"a": 1}', "yours"),
        ("https://cdn.example.org/a.pdf", None, None),
    ]


async def test_telegram_faults_are_one_shot(http: httpx.AsyncClient) -> None:
    async with FakeTelegram() as fake:
        fake.fail_next(2)
        statuses = [(await call(http, fake, "getMe"))[0] for _ in range(3)]
        fake.delay_next(seconds=0.2)
        started = time.monotonic()
        delayed, _ = await call(http, fake, "getMe")
        waited = time.monotonic() - started
    assert statuses == [500, 500, 200]
    assert delayed == 200 and waited >= 0.2


async def test_telegram_fault_order(http: httpx.AsyncClient) -> None:
    async with FakeTelegram() as fake:
        fake.fail_next(2, status=502)
        fake.flood_next(retry_after=3)
        answers = [await call(http, fake, "getMe") for _ in range(4)]
    assert [status for status, _ in answers] == [502, 502, 429, 200]
    assert answers[2][1]["parameters"] == {"retry_after": 3}
    assert fake.rate_limited == 1


async def test_telegram_callbacks_edits_and_webhook(http: httpx.AsyncClient) -> None:
    async with FakeTelegram() as fake:
        fake.expired_callbacks.add("old")
        assert (await call(http, fake, "answerCallbackQuery", callback_query_id="q1",
                           text="Saved"))[0] == 200  # fmt: skip
        assert (await call(http, fake, "answerCallbackQuery", callback_query_id="old"))[0] == 400
        _, sent = await call(http, fake, "sendMessage", chat_id=1, text="x")
        message_id = sent["result"]["message_id"]
        markup = {"inline_keyboard": [[{"text": "b", "callback_data": "b"}]]}
        edited, _ = await call(http, fake, "editMessageReplyMarkup", chat_id=1,
                               message_id=message_id, reply_markup=markup)  # fmt: skip
        missing, _ = await call(http, fake, "editMessageReplyMarkup", chat_id=1, message_id=999)
        bad_port, _ = await call(http, fake, "setWebhook", url="https://bot.example.org:8080/x")
        plain_http, _ = await call(http, fake, "setWebhook", url="http://bot.example.org/x")
        bad_secret, _ = await call(
            http, fake, "setWebhook", url="https://b.org/x", secret_token="a b"
        )
        set_ok, _ = await call(http, fake, "setWebhook", url="https://bot.example.org/x",
                               secret_token="abc", allowed_updates=["message"])  # fmt: skip
        _, info = await call(http, fake, "getWebhookInfo")
        await call(http, fake, "deleteWebhook")
        _, cleared = await call(http, fake, "getWebhookInfo")
    assert [(c.callback_query_id, c.text) for c in fake.callbacks] == [("q1", "Saved")]
    assert (edited, missing) == (200, 400)
    assert fake.messages[-1].method == "editMessageReplyMarkup"
    assert (bad_port, plain_http, bad_secret, set_ok) == (400, 400, 400, 200)
    assert info["result"]["url"] == "https://bot.example.org/x"
    assert info["result"]["allowed_updates"] == ["message"]
    assert cleared["result"]["url"] == ""


def test_update_builder_makes_updates_python_telegram_bot_accepts() -> None:
    member = UpdateBuilder(chat_id=5081234567, language_code="ka")
    updates = [
        member.message("/start"),
        member.message("გამარჯობა"),
        member.callback_query("lang:ka"),
        member.edited_message("გამარჯობა!"),
        member.sticker(),
        member.photo(caption="ფოტო"),
        member.voice(),
        member.group_message("hi"),
        member.my_chat_member("member"),
    ]
    parsed = [Update.de_json(update, None) for update in updates]
    assert [u.update_id for u in parsed] == list(range(783421001, 783421010))
    assert (
        parsed[0].message.text == "/start" and parsed[0].message.entities[0].type == "bot_command"
    )
    assert parsed[1].effective_user.language_code == "ka"
    assert parsed[2].callback_query.data == "lang:ka"
    assert parsed[3].edited_message is not None
    assert parsed[4].message.sticker and parsed[5].message.photo and parsed[6].message.voice
    assert parsed[7].effective_chat.type == "supergroup"
    assert parsed[8].my_chat_member.new_chat_member.status == "member"


def test_telegram_in_thread() -> None:
    with FakeTelegram.in_thread(token=TOKEN, blocked=[5]) as fake:
        with httpx.Client() as http:
            ok = http.post(f"{fake.url}/bot{TOKEN}/sendMessage", json={"chat_id": 1, "text": "x"})
            blocked = http.post(
                f"{fake.url}/bot{TOKEN}/sendMessage", json={"chat_id": 5, "text": "x"}
            )
        assert (ok.status_code, blocked.status_code) == (200, 403)
        assert len(fake.messages) == 1
    with pytest.raises(httpx.ConnectError), httpx.Client() as http:
        http.get(f"{fake.url}/bot{TOKEN}/getMe")  # stopped with the block
