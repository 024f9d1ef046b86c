"""The fake Telegram and Twilio servers answer like the real ones (their speed: bench_fakes)."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram import Update
from twilio.request_validator import RequestValidator

from tests.clock import VirtualClock
from tests.fakes.server import refuse_internet
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import UpdateBuilder
from tests.fakes.twilio_api import FakeTwilio, signed_inbound, signed_status

TOKEN = "123456789:AA" + "x" * 33
SID = "AC" + "0" * 32
AUTH = "t" * 32
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"
ROOT = Path(__file__).parent.parent.parent


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def call(
    http: httpx.AsyncClient, fake: FakeTelegram, method: str, token: str = TOKEN, **params: Any
) -> tuple[int, dict[str, Any]]:
    answer = await http.post(f"{fake.url}/bot{token}/{method}", json=params)
    return answer.status_code, answer.json()


# ---------------------------------------------------------------- Telegram


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
        ok, body = await call(http, fake, "sendPhoto", chat_id=1, photo="https://x/p.jpg",
                              caption="c" * 1024)  # fmt: skip
        too_long, _ = await call(http, fake, "sendPhoto", chat_id=1, photo="https://x/p.jpg",
                                 caption="c" * 1025)  # fmt: skip
    assert (ok, too_long) == (200, 400)
    assert body["result"]["photo"][-1]["width"] == 800
    assert [(m.method, m.photo) for m in fake.messages] == [("sendPhoto", "https://x/p.jpg")]


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
            http, fake, "sendDocument", chat_id=3, document="https://x/a.pdf"
        )
        by_json_link, refused = await call(
            http, fake, "sendDocument", chat_id=4, document="https://x/a.json"
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
        ("https://x/a.pdf", None, None),
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


# ---------------------------------------------------------------- Twilio


def basic(sid: str = SID, token: str = AUTH) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}


async def create(
    http: httpx.AsyncClient, fake: FakeTwilio, auth: dict[str, str] | None = None, **form: str
) -> httpx.Response:
    form = {"From": "whatsapp:+40700000000", "To": "whatsapp:+40722111222", **form}
    return await http.post(
        f"{fake.url}{MESSAGES}", data=form, headers=basic() if auth is None else auth
    )


async def test_twilio_creates_a_message_resource(http: httpx.AsyncClient) -> None:
    async with FakeTwilio() as fake:
        answer = await create(http, fake, Body="Bună", MediaUrl="https://x/p.png")
        fetched = await http.get(
            f"{fake.url}/2010-04-01/Accounts/{SID}/Messages/{answer.json()['sid']}.json",
            headers=basic(),
        )
    assert answer.status_code == 201
    resource = answer.json()
    assert resource["sid"].startswith("SM") and len(resource["sid"]) == 34
    int(resource["sid"][2:], 16)
    assert (resource["status"], resource["body"], resource["num_media"]) == ("queued", "Bună", "1")
    assert (resource["to"], resource["from"]) == ("whatsapp:+40722111222", "whatsapp:+40700000000")
    assert resource["date_created"].endswith("+0000")
    assert resource["uri"] == f"/2010-04-01/Accounts/{SID}/Messages/{resource['sid']}.json"
    assert fetched.status_code == 200 and fetched.json()["sid"] == resource["sid"]
    [message] = fake.messages
    assert message.media_url == ["https://x/p.png"]


@pytest.mark.parametrize("auth", [{}, basic(token="wrong"), basic(sid="AC" + "1" * 32)])
async def test_twilio_refuses_bad_credentials(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async with FakeTwilio() as fake:
        answer = await create(http, fake, auth=auth, Body="x")
    assert answer.status_code == 401
    assert answer.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ({"Body": "x" * 1600}, 201, None),
        ({"Body": "x" * 1601}, 400, 21617),
        ({"Body": "stop me", "To": "whatsapp:+40722000610"}, 400, 21610),
        ({"Body": "x", "To": "whatsapp:+40"}, 400, 21211),
        ({"Body": "x", "To": "whatsapp:0722111222"}, 400, 21211),
        ({"Body": "x", "To": ""}, 400, 21604),
        ({}, 400, 21602),
        ({"ContentSid": "HX" + "1" * 32, "ContentVariables": '{"1":"Ana"}'}, 201, None),
        ({"Body": "x", "From": "whatsapp:+40799999999"}, 400, 63007),
    ],
)
async def test_twilio_validation_errors(
    http: httpx.AsyncClient, form: dict[str, str], status: int, code: int | None
) -> None:
    async with FakeTwilio(opted_out=["whatsapp:+40722000610"], sender="+40700000000") as fake:
        answer = await create(http, fake, **form)
    assert answer.status_code == status
    if code is not None:
        body = answer.json()
        assert (body["code"], body["status"]) == (code, status)
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


async def test_twilio_rate_limit(http: httpx.AsyncClient) -> None:
    async with FakeTwilio(rate=3) as fake:
        fake.clock = VirtualClock()  # the five requests in one second
        statuses = [(await create(http, fake, Body="x")).status_code for _ in range(4)]
        last = await create(http, fake, Body="x")
    assert statuses == [201, 201, 201, 429]
    assert last.json()["code"] == 20429
    assert fake.rate_limited == 2 and fake.max_per_second == 5 and len(fake.messages) == 3


async def test_twilio_faults(http: httpx.AsyncClient) -> None:
    async with FakeTwilio() as fake:
        fake.fail_next(status=503)
        fake.flood_next()
        statuses = [(await create(http, fake, Body="x")).status_code for _ in range(3)]
    assert statuses == [503, 429, 201]


async def receiver(hits: list[tuple[str, dict[str, str], str]]) -> web.AppRunner:
    async def status(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        hits.append((str(request.url), form, request.headers.get("X-Twilio-Signature", "")))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhook/whatsapp/status", status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def port_of(runner: web.AppRunner) -> int:
    return runner.addresses[0][1]


async def test_twilio_posts_signed_status_callbacks_in_order(http: httpx.AsyncClient) -> None:
    hits: list[tuple[str, dict[str, str], str]] = []
    runner = await receiver(hits)
    url = f"http://127.0.0.1:{port_of(runner)}/webhook/whatsapp/status"
    async with FakeTwilio(callback_delay=0.0) as fake:
        sid = (await create(http, fake, Body="x", StatusCallback=url)).json()["sid"]
        await fake.settle()
    await runner.cleanup()
    assert [form["MessageStatus"] for _, form, _ in hits] == ["sent", "delivered", "read"]
    validator = RequestValidator(AUTH)
    for called, form, signature in hits:
        assert called == url
        assert (form["MessageSid"], form["AccountSid"], form["To"]) == (
            sid,
            SID,
            "whatsapp:+40722111222",
        )
        assert "ErrorCode" not in form
        assert validator.validate(url, form, signature)
    assert fake.by_sid(sid).statuses == ["sent", "delivered", "read"]
    assert [c.response_status for c in fake.callbacks] == [204] * 3


async def test_twilio_signs_for_the_public_url_and_delivers_locally(
    http: httpx.AsyncClient,
) -> None:
    hits: list[tuple[str, dict[str, str], str]] = []
    runner = await receiver(hits)
    public = "https://bot.example.org/webhook/whatsapp/status"
    local = f"http://127.0.0.1:{port_of(runner)}"
    async with FakeTwilio(callback_delay=0.0, deliver_to=local) as fake:
        await create(http, fake, Body="x", StatusCallback=public)
        await fake.settle()
    await runner.cleanup()
    assert len(hits) == 3
    for called, form, signature in hits:
        assert called.startswith(local)
        assert RequestValidator(AUTH).validate(public, form, signature)
        assert not RequestValidator(AUTH).validate(called, form, signature)


async def test_twilio_never_calls_a_public_url_on_its_own(http: httpx.AsyncClient) -> None:
    async with FakeTwilio(callback_delay=0.0) as fake:
        await create(http, fake, Body="x", StatusCallback="https://bot.example.org/status")
        await fake.settle()
    assert len(fake.callbacks) == 3
    assert {c.delivered_to for c in fake.callbacks} == {None}


@pytest.mark.parametrize(
    ("to", "extra", "expected"),
    [
        ("+40722000003", {}, [("failed", "63003")]),
        ("+40722000014", {}, [("sent", None), ("undelivered", "63014")]),
        ("+40722000016", {}, [("failed", "63016")]),
        ("+40722000016", {"ContentSid": "HX" + "2" * 32}, [("sent", None), ("delivered", None),
                                                          ("read", None)]),
    ],
)  # fmt: skip
async def test_twilio_failures_arrive_by_callback(
    http: httpx.AsyncClient, to: str, extra: dict[str, str], expected: list[tuple[str, Any]]
) -> None:
    async with FakeTwilio(
        callback_delay=0.0,
        not_on_whatsapp=[to] if to.endswith("03") else [],
        blocked=[to] if to.endswith("14") else [],
        outside_window=[to] if to.endswith("16") else [],
    ) as fake:
        form = {"Body": "x", "StatusCallback": "http://127.0.0.1:9/status", **extra}
        answer = await create(http, fake, To=f"whatsapp:{to}", **form)
        await fake.settle()
    assert answer.status_code == 201  # accepted first: the failure comes later
    got = [(c.params["MessageStatus"], c.params.get("ErrorCode")) for c in fake.callbacks]
    assert got == expected


@pytest.mark.parametrize(
    ("order", "repeat", "expected"),
    [
        ("reverse", 1, ["read", "delivered", "sent"]),
        ("normal", 2, ["sent", "delivered", "read"] * 2),
    ],
)
async def test_twilio_callbacks_out_of_order_and_repeated(
    http: httpx.AsyncClient, order: Any, repeat: int, expected: list[str]
) -> None:
    async with FakeTwilio(callback_delay=0.0, callback_order=order, callback_repeat=repeat) as fake:
        await create(http, fake, Body="x", StatusCallback="http://127.0.0.1:9/status")
        await fake.settle()
    assert [c.params["MessageStatus"] for c in fake.callbacks] == expected


async def test_twilio_shuffled_callbacks_are_reproducible(http: httpx.AsyncClient) -> None:
    orders = []
    for _ in range(2):
        async with FakeTwilio(callback_delay=0.0, callback_order="shuffle", callback_repeat=2,
                              seed=7) as fake:  # fmt: skip
            await create(http, fake, Body="x", StatusCallback="http://127.0.0.1:9/status")
            await fake.settle()
        orders.append([c.params["MessageStatus"] for c in fake.callbacks])
    assert orders[0] == orders[1] and sorted(orders[0]) == sorted(["sent", "delivered", "read"] * 2)


def test_signed_inbound_builds_a_realistic_signed_form() -> None:
    url = "https://bot.example.org/webhook/whatsapp"
    form, headers = signed_inbound(url, AUTH, From="whatsapp:+995599123456", Body="გამარჯობა",
                                   ProfileName=None)  # fmt: skip
    assert form["From"] == "whatsapp:+995599123456" and form["WaId"] == "995599123456"
    assert form["MessageSid"] == form["SmsSid"] and form["MessageSid"].startswith("SM")
    assert "ProfileName" not in form
    assert {"AccountSid", "To", "NumMedia", "SmsStatus", "ApiVersion"} <= set(form)
    assert RequestValidator(AUTH).validate(url, form, headers["X-Twilio-Signature"])
    status_form, status_headers = signed_status(url, AUTH, sid="SM" + "a" * 32, status="failed",
                                                error_code=63016)  # fmt: skip
    assert status_form["ErrorCode"] == "63016"
    assert RequestValidator(AUTH).validate(url, status_form, status_headers["X-Twilio-Signature"])


def test_twilio_in_thread() -> None:
    with FakeTwilio.in_thread(opted_out=["+40722000610"]) as fake:
        with httpx.Client() as http:
            form = {"From": "whatsapp:+40700000000", "Body": "x"}
            ok = http.post(f"{fake.url}{MESSAGES}", data={**form, "To": "whatsapp:+40722111222"},
                           headers=basic())  # fmt: skip
            stop = http.post(f"{fake.url}{MESSAGES}", data={**form, "To": "whatsapp:+40722000610"},
                             headers=basic())  # fmt: skip
        assert (ok.status_code, stop.status_code) == (201, 400)
        assert len(fake.messages) == 1


# ---------------------------------------------------------------- limits lifted and the command line


async def test_limits_lifted_refuse_nothing(http: httpx.AsyncClient) -> None:
    # How fast the fakes answer with their limits lifted is `python -m bench fakes`.
    async with FakeTelegram(rate=None, chat_rate=None) as telegram, FakeTwilio(rate=None) as twilio:
        telegram.clock = twilio.clock = VirtualClock()  # every request in the same instant
        for _ in range(40):
            assert (await call(http, telegram, "sendMessage", chat_id=42, text="x"))[0] == 200
            assert (await create(http, twilio, Body="x")).status_code == 201
    assert telegram.rate_limited == twilio.rate_limited == 0
    assert telegram.max_per_second == twilio.max_per_second == 40


@pytest.mark.parametrize("module", ["tests.fakes.telegram_api", "tests.fakes.twilio_api"])
def test_command_line(module: str) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--rate", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:"), line
        with httpx.Client() as http:
            if "telegram" in module:
                answer = http.get(f"{url}/bot{TOKEN}/getMe")
                assert answer.status_code == 200 and answer.json()["ok"] is True
            else:
                answer = http.post(f"{url}{MESSAGES}", headers=basic(),
                                   data={"From": "whatsapp:+40700000000",
                                         "To": "whatsapp:+40722111222", "Body": "x"})  # fmt: skip
                assert answer.status_code == 201
    finally:
        server.terminate()
        server.wait(10)


def test_tests_cannot_reach_the_internet() -> None:
    with pytest.raises(OSError, match="loopback"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    with pytest.raises(httpx.ConnectError, match="loopback"), httpx.Client() as http:
        http.get("https://api.telegram.org/bot123:abc/getMe")
