"""The WhatsApp channel: captured Twilio webhooks, signatures, and sends through the fake Twilio."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.base import Outcome, split_text
from bot.channels.whatsapp import SIGNATURE_HEADER, WhatsAppChannel, classify_error
from bot.config import Settings
from bot.messages import Button, Kind, OutboundMessage
from tests.fakes.server import refuse_internet
from tests.fakes.twilio_api import FakeTwilio, StatusCallback, signed_inbound

FIXTURES = Path(__file__).parent.parent / "fixtures" / "whatsapp"
SID = "AC" + "0" * 32
AUTH = "t" * 32
PUBLIC = "https://bot.example.org"
INBOUND_URL = f"{PUBLIC}/webhook/whatsapp"
STATUS_URL = f"{PUBLIC}/webhook/whatsapp/status"
MEMBER = "whatsapp:+40722111222"


def make_settings(api_url: str = "http://127.0.0.1:9", **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        telegram_bot_token="123456789:AA" + "x" * 33,
        telegram_webhook_secret="s" * 32,
        telegram_api_url=api_url,
        twilio_account_sid=SID,
        twilio_auth_token=AUTH,
        twilio_whatsapp_number="+40700000000",
        twilio_api_url=api_url,
        public_url=PUBLIC,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def captured(name: str) -> dict[str, str]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    statuses: list[StatusCallback] = []

    async def keep(callback: StatusCallback) -> int:
        statuses.append(callback)
        return 204

    async with FakeTwilio(
        account_sid=SID,
        auth_token=AUTH,
        sender="whatsapp:+40700000000",
        opted_out=["+40722000610"],
        not_on_whatsapp=["+40722000003"],
        blocked=["+40722000014"],
        # Every member here wrote lately but +40722000016: outside its 24-hour window.
        wrote=[MEMBER, "+40722000003", "+40722000014", "+40722000610"],
        callback_delay=0.0,
        on_callback=keep,
    ) as fake:
        yield fake


@pytest.fixture
async def whatsapp(fake: FakeTwilio) -> AsyncIterator[WhatsAppChannel]:
    channel = WhatsAppChannel(make_settings(fake.url))
    await channel.start()
    assert channel.client.api.base_url == fake.url
    assert fake.url.startswith("http://127.0.0.1:")
    yield channel
    await channel.stop()


# ---------------------------------------------------------------- parsing

PARSED: list[tuple[str, dict[str, Any]]] = [
    ("text_romania", dict(kind=Kind.TEXT, address="whatsapp:+40722111222", country_hint="RO",
                          platform_id="SM7c2b9e4f1a3d5b6c8e0f2a4b6c8d0e1f",
                          text="Bună ziua, aș vrea să aflu despre coaliție")),
    ("text_georgia", dict(kind=Kind.TEXT, country_hint="GE", text="გამარჯობა")),
    ("text_kosovo", dict(kind=Kind.TEXT, country_hint="XK", address="whatsapp:+38344123456")),
    ("image", dict(kind=Kind.MEDIA, country_hint="MD", text="",
                   platform_id="MM9f8e7d6c5b4a39281706f5e4d3c2b1a0")),
    # A photo with a caption is media, as on Telegram: the photo is not lost in silence.
    ("image_with_caption", dict(kind=Kind.MEDIA, country_hint="BG", text="Снимка от обучението")),
    ("voice", dict(kind=Kind.MEDIA, country_hint="AM")),
    ("location", dict(kind=Kind.MEDIA, country_hint="AZ")),
    ("button_reply", dict(kind=Kind.BUTTON, payload="survey:7:yes", text="Da", country_hint="RS")),
    ("unknown_fields", dict(kind=Kind.TEXT, text="Merhaba", country_hint="TR")),
]  # fmt: skip

STATUSES = [
    ("status_sent", ("SM8f14e45fceea167a5a36dedd4bea2543", "sent", None)),
    ("status_read", ("SM8f14e45fceea167a5a36dedd4bea2543", "read", None)),
    ("status_failed_63016", ("SMc9f0f895fb98ab9159f51fd0297e236d", "failed", "63016")),
    ("status_undelivered_63014", ("SM45c48cce2e2d7fbdea1afc51c7c6ad26", "undelivered", "63014")),
]


def test_every_captured_payload_has_an_expectation() -> None:
    names = {name for name, _ in PARSED} | {name for name, _ in STATUSES}
    assert names == {p.stem for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize(("fixture", "expected"), PARSED, ids=[name for name, _ in PARSED])
def test_parse_captured_inbound(fixture: str, expected: dict[str, Any]) -> None:
    form = captured(fixture)
    found = WhatsAppChannel(make_settings()).parse(form)
    assert (found.channel, found.platform_id, found.address) == (
        "whatsapp",
        form["MessageSid"],
        form["From"],
    )
    assert found.callback_id is None and found.lang_hint is None
    assert {name: getattr(found, name) for name in expected} == expected


@pytest.mark.parametrize(("fixture", "expected"), STATUSES, ids=[name for name, _ in STATUSES])
def test_parse_captured_status(fixture: str, expected: tuple[str, str, str | None]) -> None:
    assert WhatsAppChannel(make_settings()).parse_status(captured(fixture)) == expected


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"From": MEMBER, "Body": "no sid"},
        {"MessageSid": "SM" + "1" * 32, "Body": "no sender"},
        {"MessageSid": "", "From": MEMBER},
    ],
)
def test_parse_refuses_forms_without_sid_or_sender(form: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        WhatsAppChannel(make_settings()).parse(form)


@pytest.mark.parametrize(
    "form", [{}, {"MessageSid": "SM1"}, {"MessageStatus": "read"}, captured("text_romania")]
)
def test_parse_status_refuses_other_forms(form: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        WhatsAppChannel(make_settings()).parse_status(form)


# ---------------------------------------------------------------- signatures


@pytest.mark.parametrize("fixture", [name for name, _ in PARSED + STATUSES])
def test_signed_captured_payloads_validate(fixture: str) -> None:
    form, headers = signed_inbound(INBOUND_URL, AUTH, **captured(fixture))
    channel = WhatsAppChannel(make_settings())
    assert channel.verify(INBOUND_URL, headers, form)


@pytest.mark.parametrize(
    ("url", "change", "signature"),
    [
        (INBOUND_URL, {"Body": "tampered"}, None),  # a field changed after signing
        (INBOUND_URL, {"Extra": "1"}, None),  # a field added after signing
        ("http://127.0.0.1:8000/webhook/whatsapp", {}, None),  # the internal URL, not PUBLIC_URL
        (f"{INBOUND_URL}?x=1", {}, None),  # a different query string
        (INBOUND_URL, {}, "bm90IGEgc2lnbmF0dXJl"),
        (INBOUND_URL, {}, ""),
    ],
)
def test_bad_signatures_are_refused(
    url: str, change: dict[str, str], signature: str | None
) -> None:
    form, headers = signed_inbound(INBOUND_URL, AUTH, Body="Salut")
    channel = WhatsAppChannel(make_settings())
    given = headers["X-Twilio-Signature"] if signature is None else signature
    assert not channel.verify(url, {SIGNATURE_HEADER: given}, {**form, **change})


def test_missing_signature_and_wrong_token_are_refused() -> None:
    form, headers = signed_inbound(INBOUND_URL, "another-token-0123456789", Body="Salut")
    channel = WhatsAppChannel(make_settings())
    assert not channel.verify(INBOUND_URL, headers, form)
    assert not channel.verify(INBOUND_URL, {}, form)


def test_query_string_is_part_of_the_signed_url() -> None:
    url = f"{INBOUND_URL}?tenant=md"
    form, headers = signed_inbound(url, AUTH)
    assert WhatsAppChannel(make_settings()).verify(url, headers, form)


# ---------------------------------------------------------------- rendering and errors


CLASSIFIED = [
    (20429, 429, Outcome.RATE_LIMITED),
    (None, 429, Outcome.RATE_LIMITED),
    (20500, 500, Outcome.RETRY),
    (None, 503, Outcome.RETRY),
    (None, None, Outcome.RETRY),  # network error
    (63018, None, Outcome.RATE_LIMITED),  # Meta's limit, perhaps daily: a long pause
    (63024, None, Outcome.UNREACHABLE),  # invalid recipient
    (21656, 400, Outcome.FAILED),
    (21655, 400, Outcome.FAILED),
    (20003, 401, Outcome.RETRY),
    (21610, 400, Outcome.UNREACHABLE),
    (63003, None, Outcome.UNREACHABLE),
    (63014, None, Outcome.UNREACHABLE),
    (21211, 400, Outcome.UNREACHABLE),
    (21614, 400, Outcome.UNREACHABLE),
    (63016, None, Outcome.FAILED),
    (63016, 400, Outcome.FAILED),
    (63021, None, Outcome.FAILED),
    (21617, 400, Outcome.FAILED),
    (21602, 400, Outcome.FAILED),
    (None, 404, Outcome.FAILED),
    (63999, None, Outcome.FAILED),
]


@pytest.mark.parametrize(("code", "status", "outcome"), CLASSIFIED)
def test_classify_error(code: int | None, status: int | None, outcome: Outcome) -> None:
    assert classify_error(code, status) == outcome


# ---------------------------------------------------------------- sending


async def test_send_text(whatsapp: WhatsAppChannel, fake: FakeTwilio) -> None:
    result = await whatsapp.send(MEMBER, OutboundMessage("Bună ziua!"))
    assert result.outcome == Outcome.SENT
    [sent] = fake.messages
    assert result.platform_id == sent.sid and sent.sid.startswith("SM")
    assert (sent.to, sent.from_, sent.body) == (MEMBER, "whatsapp:+40700000000", "Bună ziua!")
    assert sent.status_callback == STATUS_URL
    assert sent.media_url == [] and sent.content_sid is None


async def test_send_options_as_quick_replies(whatsapp: WhatsAppChannel, fake: FakeTwilio) -> None:
    message = OutboundMessage("Țara?", [[Button("Moldova", "c:MD")], [Button("România", "c:RO")]])
    message.choice_hint = "Răspundeți cu numărul."
    assert (await whatsapp.send(MEMBER, message)).outcome == Outcome.SENT
    (sent,) = fake.messages
    assert sent.text == "Țara?" and sent.content_sid == fake.contents_made[0].sid
    assert fake.contents_made[0].choices() == [("c:MD", "Moldova"), ("c:RO", "România")]


async def test_send_numbered_options_past_twenty(
    whatsapp: WhatsAppChannel, fake: FakeTwilio
) -> None:
    zones = [[Button(f"Zona {n}", f"tz:{n}")] for n in range(21)]
    message = OutboundMessage("Fusul orar?", zones, choice_hint="Răspundeți cu numărul.")
    assert (await whatsapp.send(MEMBER, message)).outcome == Outcome.SENT
    lines = "\n".join(f"{n + 1}. Zona {n}" for n in range(21))
    assert fake.messages[0].body == f"Fusul orar?\n\n{lines}\n\nRăspundeți cu numărul."


async def test_long_text_is_split_in_order(whatsapp: WhatsAppChannel, fake: FakeTwilio) -> None:
    paragraphs = [f"{n:02d} " + ("Drepturile copilului. " * 20).strip() for n in range(10)]
    message = OutboundMessage("\n\n".join(paragraphs), [[Button("Da", "y"), Button("Nu", "n")]])
    result = await whatsapp.send(MEMBER, message)
    bodies = [m.text for m in fake.messages]
    assert len(bodies) > 1 and all(len(b) <= 1600 for b in bodies)
    assert "\n\n".join(bodies) == message.text
    # The last piece carries the buttons, within a content item's 1,024 characters.
    assert fake.messages[-1].content_sid and len(bodies[-1]) <= 1024
    assert not any(m.content_sid for m in fake.messages[:-1])
    assert result.platform_id == fake.messages[-1].sid


async def test_image_goes_with_the_first_message(
    whatsapp: WhatsAppChannel, fake: FakeTwilio
) -> None:
    fake.host_media("https://childpact.org/poster.png", "image/png")
    message = OutboundMessage("Poster", image_url="https://childpact.org/poster.png")
    assert (await whatsapp.send(MEMBER, message)).outcome == Outcome.SENT
    await fake.settle()
    assert [f.method for f in fake.media_fetches] == ["HEAD", "GET"]
    assert fake.messages[0].statuses[-1] == "read"
    assert fake.messages[0].media_url == ["https://childpact.org/poster.png"]
    assert fake.messages[0].body == "Poster"


async def test_callback_answer_is_a_no_op(whatsapp: WhatsAppChannel, fake: FakeTwilio) -> None:
    result = await whatsapp.send(MEMBER, OutboundMessage("", callback_id="123", notice="Saved"))
    assert result.outcome == Outcome.SENT
    assert fake.requests == 0


@pytest.mark.parametrize(
    ("to", "outcome", "code"),
    [
        ("whatsapp:+40722000610", Outcome.UNREACHABLE, "21610"),  # replied STOP
        ("whatsapp:+4072", Outcome.UNREACHABLE, "21211"),  # not a phone number
        ("+40722111222", Outcome.FAILED, "21910"),  # SMS address from a WhatsApp sender
    ],
)
async def test_refusals(
    whatsapp: WhatsAppChannel, fake: FakeTwilio, to: str, outcome: Outcome, code: str
) -> None:
    result = await whatsapp.send(to, OutboundMessage("Salut"))
    assert (result.outcome, result.error_code) == (outcome, code)
    assert fake.messages == []


async def test_too_long_body_after_rendering_is_split_not_refused(
    whatsapp: WhatsAppChannel, fake: FakeTwilio
) -> None:
    assert (await whatsapp.send(MEMBER, OutboundMessage("x" * 1601))).outcome == Outcome.SENT
    assert [len(m.body) for m in fake.messages] == [1600, 1]


async def test_too_many_concurrent_requests(whatsapp: WhatsAppChannel, fake: FakeTwilio) -> None:
    fake.error_next(20429)
    results = [await whatsapp.send(MEMBER, OutboundMessage(f"n{n}")) for n in range(2)]
    assert [r.outcome for r in results] == [Outcome.RATE_LIMITED, Outcome.SENT]
    assert (results[0].error_code, results[0].retry_after) == ("20429", 1.0)
    assert fake.rate_limited == 1


@pytest.mark.parametrize(
    ("status", "outcome"), [(429, Outcome.RATE_LIMITED), (500, Outcome.RETRY), (503, Outcome.RETRY)]
)
async def test_server_trouble_is_retried(
    whatsapp: WhatsAppChannel, fake: FakeTwilio, status: int, outcome: Outcome
) -> None:
    fake.fail_next(status=status)
    assert (await whatsapp.send(MEMBER, OutboundMessage("Salut"))).outcome == outcome
    assert (await whatsapp.send(MEMBER, OutboundMessage("Salut"))).outcome == Outcome.SENT


async def test_wrong_credentials_are_retried(fake: FakeTwilio) -> None:
    channel = WhatsAppChannel(make_settings(fake.url, twilio_auth_token="u" * 32))
    result = await channel.send(MEMBER, OutboundMessage("Salut"))
    await channel.stop()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "20003")


async def test_unreachable_api_is_retried() -> None:
    channel = WhatsAppChannel(make_settings("http://127.0.0.1:9"))  # nothing listens there
    result = await channel.send(MEMBER, OutboundMessage("Salut"))
    await channel.stop()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "network")


async def test_status_callbacks_validate_and_parse(
    whatsapp: WhatsAppChannel, fake: FakeTwilio
) -> None:
    sent = await whatsapp.send(MEMBER, OutboundMessage("Salut"))
    await fake.settle()
    assert [c.url for c in fake.callbacks] == [STATUS_URL] * 4
    for callback in fake.callbacks:
        signed = {SIGNATURE_HEADER: callback.signature}
        assert whatsapp.verify(callback.url, signed, callback.params)
    assert [whatsapp.parse_status(c.params) for c in fake.callbacks] == [
        (sent.platform_id, "queued", None),
        (sent.platform_id, "sent", None),
        (sent.platform_id, "delivered", None),
        (sent.platform_id, "read", None),
    ]


@pytest.mark.parametrize(
    ("to", "status", "code", "outcome"),
    [
        ("whatsapp:+40722000016", "failed", "63016", Outcome.FAILED),  # outside the 24 h window
        ("whatsapp:+40722000003", "failed", "63003", Outcome.UNREACHABLE),  # not on WhatsApp
        ("whatsapp:+40722000014", "undelivered", "63014", Outcome.UNREACHABLE),  # blocked us
    ],
)
async def test_failures_reported_by_status_callback(
    whatsapp: WhatsAppChannel, fake: FakeTwilio, to: str, status: str, code: str, outcome: Outcome
) -> None:
    assert (await whatsapp.send(to, OutboundMessage("Salut"))).outcome == Outcome.SENT
    await fake.settle()
    _, last, error = whatsapp.parse_status(fake.callbacks[-1].params)
    assert (last, error) == (status, code)
    assert classify_error(int(error), None) == outcome


async def test_logs_hold_no_number_token_or_text(
    whatsapp: WhatsAppChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await whatsapp.send(MEMBER, OutboundMessage("Numele meu este Ana"))
    await whatsapp.send("whatsapp:+40722000610", OutboundMessage("Numele meu este Ana"))
    for secret in ("40722111222", "40722000610", AUTH, "Numele meu"):
        assert secret not in caplog.text


async def test_disabled_channel_sends_nothing() -> None:
    channel = WhatsAppChannel(
        make_settings(twilio_account_sid=None, twilio_auth_token=None, twilio_whatsapp_number=None)
    )
    assert not channel.enabled
    await channel.start()
    assert (await channel.send(MEMBER, OutboundMessage("x"))).error_code == "channel_off"
    await channel.stop()


def test_split_text() -> None:
    assert split_text("a\n\nb", 1600) == ["a\n\nb"]
    assert split_text("aaaa bbbb", 4) == ["aaaa", "bbbb"]
