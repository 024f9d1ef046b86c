"""The fake Twilio Messages API answers like the real one: credentials, the parameters of
Twilio's OpenAPI, templates and their variables, media fetched first, the 24-hour window, the
errors and faults, and the signed status callbacks it posts in Twilio's order."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.clock import VirtualClock
from tests.fakes.twilio_api import (
    MESSAGE_PARAMETERS,
    REQUIRED_PARAMETERS,
    SPECS,
    ContentTemplate,
    FakeTwilio,
    check_parameters,
    load_spec,
    signed_inbound,
    signed_status,
)
from tests.harness import eventually

SID = "AC" + "0" * 32
AUTH = "t" * 32
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"
TO = "whatsapp:+40722111222"
HX = "HX" + "1" * 32


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
        ({"ContentSid": HX, "ContentVariables": '{"1":"Ana"}'}, 201, None),
        ({"ContentSid": "HX123", "ContentVariables": '{"1":"Ana"}'}, 400, 21655),
        ({"Body": "x", "StatusCallback": "not a url"}, 400, 21609),
        ({"Body": "x", "ProvideFeedback": "perhaps"}, 400, 20001),
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


async def test_above_the_sender_rate_twilio_queues_rather_than_refuses(
    http: httpx.AsyncClient,
) -> None:
    async with FakeTwilio(rate=3, wrote=[TO], callback_delay=0.0) as fake:
        fake.clock = VirtualClock()  # the five requests in one second
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        fake.sleep = sleep
        statuses = [(await create(http, fake, Body="x", StatusCallback="http://127.0.0.1:9/s"))
                    .status_code for _ in range(5)]  # fmt: skip
        await fake.settle()
    assert statuses == [201] * 5 and fake.rate_limited == 0
    # The fourth and fifth leave the queue a third and two thirds of a second later.
    assert sorted(s for s in slept if s > 0)[-2:] == pytest.approx([1.0, 4 / 3])


async def test_too_many_concurrent_requests_is_20429(http: httpx.AsyncClient) -> None:
    held = asyncio.Event()

    async def hold(callback: Any) -> int:  # the first create waits here, still in flight
        await held.wait()
        return 200

    async with FakeTwilio(concurrency=1, wrote=[TO], early_callbacks=1, on_callback=hold) as fake:
        slow = asyncio.ensure_future(create(http, fake, Body="x", StatusCallback="http://h/s"))
        await eventually(lambda: fake.callbacks)
        second = await create(http, fake, Body="x")
        held.set()
        first = await slow
        await fake.settle()
    assert (first.status_code, second.status_code, second.json()["code"]) == (201, 429, 20429)
    assert fake.rate_limited == 1


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
    async with FakeTwilio(callback_delay=0.0, wrote=[TO]) as fake:
        sid = (await create(http, fake, Body="x", StatusCallback=url)).json()["sid"]
        await fake.settle()
    await runner.cleanup()
    order = ["queued", "sent", "delivered", "read"]
    assert [form["MessageStatus"] for _, form, _ in hits] == order
    validator = RequestValidator(AUTH)
    for called, form, signature in hits:
        assert called == url
        assert (form["MessageSid"], form["AccountSid"], form["To"]) == (sid, SID, TO)
        assert "ErrorCode" not in form
        assert validator.validate(url, form, signature)
    assert fake.by_sid(sid).statuses == order
    assert [c.response_status for c in fake.callbacks] == [204] * 4


async def test_a_callback_can_arrive_before_the_create_call_answers(
    http: httpx.AsyncClient,
) -> None:
    answered: list[bool] = []
    seen: list[tuple[str, bool]] = []

    async def record(callback: Any) -> int:
        seen.append((callback.params["MessageStatus"], bool(answered)))
        return 200

    async with FakeTwilio(callback_delay=0.0, wrote=[TO], early_callbacks=2,
                          on_callback=record) as fake:  # fmt: skip
        await create(http, fake, Body="x", StatusCallback="https://bot.example.org/s")
        answered.append(True)
        await fake.settle()
    assert seen[:2] == [("queued", False), ("sent", False)]  # before the answer
    assert [status for status, _ in seen] == ["queued", "sent", "delivered", "read"]


async def test_twilio_signs_for_the_public_url_and_delivers_locally(
    http: httpx.AsyncClient,
) -> None:
    hits: list[tuple[str, dict[str, str], str]] = []
    runner = await receiver(hits)
    public = "https://bot.example.org/webhook/whatsapp/status"
    local = f"http://127.0.0.1:{port_of(runner)}"
    async with FakeTwilio(callback_delay=0.0, deliver_to=local, wrote=[TO]) as fake:
        await create(http, fake, Body="x", StatusCallback=public)
        await fake.settle()
    await runner.cleanup()
    assert len(hits) == 4
    for called, form, signature in hits:
        assert called.startswith(local)
        assert RequestValidator(AUTH).validate(public, form, signature)
        assert not RequestValidator(AUTH).validate(called, form, signature)


async def test_twilio_never_calls_a_public_url_on_its_own(http: httpx.AsyncClient) -> None:
    async with FakeTwilio(callback_delay=0.0, wrote=[TO]) as fake:
        await create(http, fake, Body="x", StatusCallback="https://bot.example.org/status")
        await fake.settle()
    assert len(fake.callbacks) == 4
    assert {c.delivered_to for c in fake.callbacks} == {None}


def outcome(fake: FakeTwilio) -> list[tuple[str, Any]]:
    return [(c.params["MessageStatus"], c.params.get("ErrorCode")) for c in fake.callbacks]


QUEUED = ("queued", None)


@pytest.mark.parametrize(
    ("to", "extra", "expected"),
    [
        ("+40722000003", {}, [QUEUED, ("failed", "63003")]),
        ("+40722000024", {}, [QUEUED, ("failed", "63024")]),
        ("+40722000014", {}, [QUEUED, ("sent", None), ("undelivered", "63014")]),
        ("+40722000016", {}, [QUEUED, ("failed", "63016")]),
        ("+40722000016", {"ContentSid": HX, "ContentVariables": '{"1":"x"}', "Body": None},
         [QUEUED, ("sent", None), ("delivered", None), ("read", None)]),
    ],
)  # fmt: skip
async def test_twilio_failures_arrive_by_callback(
    http: httpx.AsyncClient, to: str, extra: dict[str, Any], expected: list[tuple[str, Any]]
) -> None:
    async with FakeTwilio(
        callback_delay=0.0,
        not_on_whatsapp=[to] if to.endswith("03") else [],
        invalid_recipients=[to] if to.endswith("24") else [],
        blocked=[to] if to.endswith("14") else [],
        wrote=[] if to.endswith("16") else [to],
    ) as fake:
        form = {"Body": "x", "StatusCallback": "http://127.0.0.1:9/status", **extra}
        answer = await create(http, fake, To=f"whatsapp:{to}",
                              **{k: v for k, v in form.items() if v is not None})  # fmt: skip
        await fake.settle()
    assert answer.status_code == 201  # accepted first: the failure comes later
    assert outcome(fake) == expected


async def test_the_window_is_counted_from_the_last_message_received() -> None:
    async with FakeTwilio() as fake:
        clock = VirtualClock()
        fake.clock = clock
        assert not fake.in_window(TO)
        fake.inbound("https://bot.example.org/webhook/whatsapp", From=TO, Body="Salut")
        assert fake.in_window(TO)
        clock.advance(24 * 3600 - 1)
        assert fake.in_window(TO)
        clock.advance(1)
        assert not fake.in_window(TO)
        fake.received(TO, ago=60)
        assert fake.in_window(TO)


@pytest.mark.parametrize(
    ("code", "status", "callbacks"),
    [
        (21610, 400, []),
        (20429, 429, []),
        (63018, 201, [QUEUED, ("failed", "63018")]),
        (63024, 201, [QUEUED, ("failed", "63024")]),
    ],
)
async def test_errors_on_demand(
    http: httpx.AsyncClient, code: int, status: int, callbacks: list[Any]
) -> None:
    async with FakeTwilio(callback_delay=0.0, wrote=[TO]) as fake:
        fake.error_next(code, to=TO)
        answer = await create(http, fake, Body="x", StatusCallback="http://127.0.0.1:9/s")
        await fake.settle()
        again = await create(http, fake, Body="x")
    assert answer.status_code == status and again.status_code == 201
    if status != 201:
        assert answer.json()["code"] == code
    assert outcome(fake) == callbacks


VARIABLE_CASES = [
    ('{"1":"Short news, one line"}', 201, None),
    ('{"1":"Para one.\\n\\nPara two."}', 400, 21656),
    ('{"1":"a\\tb"}', 400, 21656),
    ('{"1":"five     spaces"}', 400, 21656),
    ('{"1":"four    spaces"}', 201, None),
    ('{"1":""}', 400, 21656),
    ('{"2":"no variable one"}', 400, 21656),
    ("not json", 400, 21656),
    ('["1"]', 400, 21656),
]


@pytest.mark.parametrize(("variables", "status", "code"), VARIABLE_CASES)
async def test_template_variables_follow_twilios_rules(
    http: httpx.AsyncClient, variables: str, status: int, code: int | None
) -> None:
    async with FakeTwilio() as fake:
        answer = await create(http, fake, ContentSid=HX, ContentVariables=variables)
    assert answer.status_code == status
    if code:
        assert answer.json()["code"] == code
    else:
        assert fake.messages[0].text.startswith("ChildPact: ")


async def test_a_template_body_over_1024_characters_fails_with_63021(
    http: httpx.AsyncClient,
) -> None:
    news = ContentTemplate(HX, "en", body="News: {{1}}")
    async with FakeTwilio(callback_delay=0.0, templates=[news]) as fake:
        fits = await create(http, fake, ContentSid=HX, StatusCallback="http://127.0.0.1:9/s",
                            ContentVariables=json.dumps({"1": "x" * 1018}))  # fmt: skip
        await fake.settle()
        assert outcome(fake)[-1] == ("read", None)
        fake.callbacks.clear()
        await create(http, fake, ContentSid=HX, StatusCallback="http://127.0.0.1:9/s",
                     ContentVariables=json.dumps({"1": "x" * 1019}))  # fmt: skip
        await fake.settle()
    assert fits.status_code == 201 and outcome(fake) == [QUEUED, ("failed", "63021")]


@pytest.mark.parametrize(
    "sid", ["not-a-sid", "HX" + "1" * 31, "HX" + "g" * 32, "MG" + "1" * 32, "HX" + "1" * 33]
)
async def test_a_malformed_content_sid_is_refused(http: httpx.AsyncClient, sid: str) -> None:
    async with FakeTwilio() as fake:
        answer = await create(http, fake, ContentSid=sid, ContentVariables='{"1":"x"}')
    assert (answer.status_code, answer.json()["code"]) == (400, 21655)


async def test_the_content_api_describes_a_template(http: httpx.AsyncClient) -> None:
    async with FakeTwilio() as fake:
        answer = await http.get(f"{fake.url}/v1/Content/{HX}", headers=basic())
    types = answer.json()["types"]
    schema = load_spec("twilio_content_v1.json")["components"]["schemas"]
    assert set(types) <= set(schema["types"]["properties"])
    quick = types["twilio/quick-reply"]
    assert set(quick) == set(schema["twilioQuickReply"]["required"])
    assert all(set(a) <= set(schema["quickReplyAction"]["properties"]) for a in quick["actions"])


async def test_media_is_fetched_with_head_then_get(http: httpx.AsyncClient) -> None:
    served: list[str] = []

    async def photo(request: web.Request) -> web.Response:
        served.append(request.method)
        return web.Response(body=b"\xff\xd8jpeg", content_type="image/jpeg")

    async def get_only(request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF", content_type="application/pdf")

    app = web.Application()
    app.router.add_route("*", "/photo.jpg", photo)
    app.router.add_get("/data.pdf", get_only, allow_head=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{port_of(runner)}"
    async with FakeTwilio(callback_delay=0.0, wrote=[TO]) as fake:
        for path in ("/photo.jpg", "/data.pdf", "/missing.png"):
            await create(http, fake, Body="x", MediaUrl=base + path,
                         StatusCallback="http://127.0.0.1:9/s")  # fmt: skip
        await fake.settle()
    await runner.cleanup()
    assert served == ["HEAD", "GET"]
    by_message = [m.statuses[-1] for m in fake.messages]
    assert by_message == ["read", "failed", "failed"]
    # Each message's media is fetched on its own, in Twilio's order (HEAD, then GET); the
    # messages' fetches may interleave.
    fetched = {
        path: [(f.method, f.status) for f in fake.media_fetches if f.url == base + path]
        for path in ("/photo.jpg", "/data.pdf", "/missing.png")
    }
    assert fetched == {
        "/photo.jpg": [("HEAD", 200), ("GET", 200)],
        "/data.pdf": [("HEAD", 405)],
        "/missing.png": [("HEAD", 404)],
    }
    assert len(fake.media_fetches) == 4
    assert [c.params.get("ErrorCode") for c in fake.callbacks if c.params.get("ErrorCode")] == [
        "63019",
        "63019",
    ]


async def test_an_image_caption_over_1024_characters_fails(http: httpx.AsyncClient) -> None:
    async with FakeTwilio(callback_delay=0.0, wrote=[TO]) as fake:
        fake.host_media("https://cdn.example.org/p.png", "image/png")
        await create(http, fake, Body="x" * 1025, MediaUrl="https://cdn.example.org/p.png",
                     StatusCallback="http://127.0.0.1:9/s")  # fmt: skip
        await fake.settle()
    assert outcome(fake) == [QUEUED, ("failed", "63021")]


def test_the_fake_checks_every_parameter_of_twilios_openapi() -> None:
    """The fake's checks are built from the spec file: the names and rules it knows are the
    spec's, and a value the spec forbids is refused."""
    spec = load_spec("twilio_api_v2010_messages.json")
    form = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"][
        "requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]  # fmt: skip
    assert set(MESSAGE_PARAMETERS) == set(form["properties"])
    assert REQUIRED_PARAMETERS == {"To"}
    assert MESSAGE_PARAMETERS["ContentSid"]["pattern"] == "^HX[0-9a-fA-F]{32}$"
    assert spec["x-extract"]["commit"] == "d50069b4" and (SPECS / "twilio-oai.LICENSE").exists()
    for name, prop in MESSAGE_PARAMETERS.items():
        bad = {"boolean": "maybe", "integer": "1.5", "number": "x"}.get(prop.get("type", ""))
        if "enum" in prop:
            bad = "not-an-enum-value"
        elif "pattern" in prop:
            bad = "zz"
        if bad is None:
            continue
        with pytest.raises(Exception, match="Invalid"):
            check_parameters(_Form({"To": TO, name: bad}))
    with pytest.raises(Exception, match="Unknown parameter"):
        check_parameters(_Form({"To": TO, "Bdy": "typo"}))
    with pytest.raises(Exception, match="not a valid URL"):
        check_parameters(_Form({"To": TO, "StatusCallback": "https://bad_host.example.org/s"}))


class _Form(dict[str, str]):
    def getall(self, name: str) -> list[str]:
        return [self[name]]


async def test_twilio_callbacks_out_of_order_and_repeated(http: httpx.AsyncClient) -> None:
    normal = ["queued", "sent", "delivered", "read"]
    for order, repeat, expected in (("reverse", 1, normal[::-1]), ("normal", 2, normal * 2)):
        async with FakeTwilio(callback_delay=0.0, callback_order=order, callback_repeat=repeat,
                              wrote=[TO]) as fake:  # fmt: skip
            await create(http, fake, Body="x", StatusCallback="http://127.0.0.1:9/status")
            await fake.settle()
        assert [c.params["MessageStatus"] for c in fake.callbacks] == expected


async def test_twilio_shuffled_callbacks_are_reproducible(http: httpx.AsyncClient) -> None:
    orders = []
    for _ in range(2):
        async with FakeTwilio(callback_delay=0.0, callback_order="shuffle", callback_repeat=2,
                              seed=7, wrote=[TO]) as fake:  # fmt: skip
            await create(http, fake, Body="x", StatusCallback="http://127.0.0.1:9/status")
            await fake.settle()
        orders.append([c.params["MessageStatus"] for c in fake.callbacks])
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(["queued", "sent", "delivered", "read"] * 2)


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


# ---------------------------------------------------------------- the Content API's limits


def quick(*titles: str, body: str = "Sunteți de acord?") -> dict[str, Any]:
    actions = [{"type": "QUICK_REPLY", "title": t, "id": f"c:{n}"} for n, t in enumerate(titles)]
    return {"twilio/quick-reply": {"body": body, "actions": actions}}


def listed(*items: str, button: str = "Alegeți", description: str | None = None) -> dict[str, Any]:
    rows = [{"item": t, "id": f"r:{n}"} for n, t in enumerate(items)]
    if description is not None:
        rows[0]["description"] = description
    return {"twilio/list-picker": {"body": "Ce limbă?", "button": button, "items": rows}}


# What Twilio's twilio/quick-reply and twilio/list-picker pages allow at most, and one more.
@pytest.mark.parametrize(("fits", "over"), [
    (quick("x" * 20, "Nu"), quick("x" * 21, "Nu")),  # a button's title: 20
    (quick(*"abcdefghij"), quick(*"abcdefghijk")),  # quick replies: 10 in an item
    (quick("Da", body="x" * 1024), quick("Da", body="x" * 1025)),  # the body: 1,024
    (quick("Da", "Nu"), quick("Da", "Da")),  # two equal titles
    (quick("Da"), {"twilio/quick-reply": {"body": "?", "actions": []}}),  # none at all
    (listed(*"abcdefghij"), listed(*"abcdefghijk")),  # rows: 10
    (listed("x" * 24, "b"), listed("x" * 25, "b")),  # a row's title: 24
    (listed("a", "b", description="x" * 72), listed("a", "b", description="x" * 73)),  # 72
    (listed("a", "b", button="x" * 20), listed("a", "b", button="x" * 21)),  # its button: 20
    (listed("a", "b"), listed("a", "a")),  # two equal rows
])  # fmt: skip
async def test_the_content_api_refuses_what_twilio_refuses(
    http: httpx.AsyncClient, fits: dict[str, Any], over: dict[str, Any]
) -> None:
    async with FakeTwilio() as fake:
        url, auth = f"{fake.url}/v1/Content", basic()
        made = await http.post(url, json={"language": "ro", "types": fits}, headers=auth)
        refused = await http.post(url, json={"language": "ro", "types": over}, headers=auth)
    assert made.status_code == 201, made.text
    assert (refused.status_code, refused.json()["code"]) == (400, 20001)
    assert len(fake.contents_made) == 1 and len(fake.content_refusals) == 1


async def test_a_session_message_takes_at_most_three_quick_replies(
    http: httpx.AsyncClient,
) -> None:
    async with FakeTwilio(wrote=[TO]) as fake:
        url, auth = f"{fake.url}/v1/Content", basic()
        three = await http.post(url, json={"language": "ro", "types": quick("a", "b", "c")},
                                headers=auth)  # fmt: skip
        four = await http.post(url, json={"language": "ro", "types": quick("a", "b", "c", "d")},
                               headers=auth)  # fmt: skip
        sent = await create(http, fake, ContentSid=three.json()["sid"])
        refused = await create(http, fake, ContentSid=four.json()["sid"])
    assert sent.status_code == 201
    assert refused.status_code == 400  # made, but WhatsApp shows three without approval


async def test_a_lists_rows_in_variables_are_filled_in_from_each_message(
    http: httpx.AsyncClient,
) -> None:
    """Twilio's list rows take variables: made once with their samples, each message fills
    them in (a variable left out reads its sample); a filled row keeps a row's limits (21656),
    and an item with a variable but no sample is not made."""
    async with FakeTwilio(wrote=[TO]) as fake:
        url, auth = f"{fake.url}/v1/Content", basic()
        rows = listed("{{1}}", "{{2}}")
        unsampled = await http.post(url, json={"language": "ro", "types": rows}, headers=auth)
        assert (unsampled.status_code, unsampled.json()["code"]) == (400, 20001)
        samples = {"1": "Tbilisi 09:14", "2": "UTC+3 08:14"}
        made = await http.post(
            url, json={"language": "ro", "types": rows, "variables": samples}, headers=auth
        )
        sid = made.json()["sid"]
        filled = await create(http, fake, ContentSid=sid,
                              ContentVariables=json.dumps({"1": "Tbilisi 09:15"}))  # fmt: skip
        too_long = await create(http, fake, ContentSid=sid,
                                ContentVariables=json.dumps({"2": "x" * 25}))  # fmt: skip
        alike = await create(http, fake, ContentSid=sid,
                             ContentVariables=json.dumps({"1": "Ana", "2": "Ana"}))  # fmt: skip
    assert filled.status_code == 201, filled.text
    shown = fake.offered(TO)
    assert shown is not None and shown[1].choices() == [
        ("r:0", "Tbilisi 09:15"), ("r:1", "UTC+3 08:14")
    ]  # fmt: skip
    for refused in (too_long, alike):
        assert (refused.status_code, refused.json()["code"]) == (400, 21656)
    assert len(fake.contents_made) == 1
