"""The fake Twilio Messages API answers like the real one: credentials, validation, rate
limit and faults, and the signed status callbacks it posts."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.clock import VirtualClock
from tests.fakes.twilio_api import FakeTwilio, signed_inbound, signed_status

SID = "AC" + "0" * 32
AUTH = "t" * 32
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


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
