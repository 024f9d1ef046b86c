"""Twilio's rules the WhatsApp channel keeps, each against the strict fake Twilio through the
real twilio client: template variables, captions, error codes read right, signatures, and a
status report that comes before its send is recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from bot.channels.base import Outcome
from bot.channels.whatsapp import (
    SIGNATURE_HEADER,
    THROTTLED_PAUSE,
    FormPairs,
    WhatsAppChannel,
    template_variable,
)
from bot.messages import OutboundMessage
from tests.channels.test_whatsapp import AUTH, MEMBER, SID, make_settings
from tests.conftest import Backend
from tests.fakes.server import refuse_internet
from tests.fakes.twilio_api import FakeTwilio, signed_inbound
from tests.harness import PUBLIC, running

HX = "HX" + "5" * 32
THREE_PARAGRAPHS = (
    "Annual meeting on 3 June\n\nThe coalitions meet in Chisinau.     Bring a report.\n\n"
    "Registration\tcloses on 20 May."
)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(account_sid=SID, auth_token=AUTH, wrote=[MEMBER],
                          callback_delay=0.0, on_callback=_ok) as fake:  # fmt: skip
        yield fake


async def _ok(callback: object) -> int:
    return 204


@pytest.fixture
async def whatsapp(fake: FakeTwilio) -> AsyncIterator[WhatsAppChannel]:
    channel = WhatsAppChannel(make_settings(fake.url))
    await channel.start()
    yield channel
    await channel.stop()


@pytest.mark.parametrize(
    ("text", "variable"),
    [
        (THREE_PARAGRAPHS, "Annual meeting on 3 June"),
        ("\n\n  Title\twith   gaps  \nrest", "Title with gaps"),
        ("   ", "…"),
        ("word " * 60, ("word " * 40).strip() + "…"),
        ("x" * 300, "x" * 199 + "…"),
    ],
)
def test_a_template_variable_is_one_clean_short_line(text: str, variable: str) -> None:
    found = template_variable(text)
    assert found == variable
    assert "\n" not in found and "\t" not in found and "     " not in found and len(found) <= 200


async def test_a_multi_paragraph_text_goes_as_a_template_twilio_accepts(
    whatsapp: WhatsAppChannel, fake: FakeTwilio
) -> None:
    outside = "whatsapp:+40722000077"  # never wrote: outside the window
    result = await whatsapp.send(outside, OutboundMessage(THREE_PARAGRAPHS, template=HX))
    await fake.settle()
    assert (result.outcome, result.templated) == (Outcome.SENT, True)
    [sent] = fake.messages
    assert json.loads(sent.content_variables or "") == {"1": "Annual meeting on 3 June"}
    assert fake.refused == [] and sent.statuses[-1] == "read"


async def test_a_malformed_template_sid_is_not_sent(
    whatsapp: WhatsAppChannel, fake: FakeTwilio
) -> None:
    result = await whatsapp.send(MEMBER, OutboundMessage("News", template="HX123"))
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "21655")
    assert fake.requests == 0


async def test_an_image_with_a_long_text_goes_alone_then_the_text(
    whatsapp: WhatsAppChannel, fake: FakeTwilio
) -> None:
    fake.host_media("https://cdn.example.org/poster.png", "image/png")
    text = "Rapoartele coaliției. " * 60  # about 1,300 characters: too long for a caption
    message = OutboundMessage(text, image_url="https://cdn.example.org/poster.png")
    assert (await whatsapp.send(MEMBER, message)).outcome == Outcome.SENT
    await fake.settle()
    photo, words = fake.messages
    assert (photo.media_url, photo.body) == (["https://cdn.example.org/poster.png"], "")
    assert (words.media_url, words.body) == ([], text.strip())
    assert [m.statuses[-1] for m in fake.messages] == ["read", "read"]
    # A short text stays the caption.
    fake.messages.clear()
    short = OutboundMessage("Poster", image_url="https://cdn.example.org/poster.png")
    await whatsapp.send(MEMBER, short)
    [one] = fake.messages
    assert (one.media_url, one.body) == (["https://cdn.example.org/poster.png"], "Poster")


@pytest.mark.parametrize(
    ("code", "outcome", "pause"),
    [
        (20429, Outcome.RATE_LIMITED, 1.0),  # too many in flight: a second
        (21610, Outcome.UNREACHABLE, 0.0),  # replied STOP
    ],
)
async def test_errors_in_the_answer_are_read_right(
    whatsapp: WhatsAppChannel, fake: FakeTwilio, code: int, outcome: Outcome, pause: float
) -> None:
    fake.error_next(code)
    result = await whatsapp.send(MEMBER, OutboundMessage("Salut"))
    assert (result.outcome, result.error_code, result.retry_after) == (outcome, str(code), pause)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(63024, Outcome.UNREACHABLE), (63018, Outcome.RATE_LIMITED), (63016, Outcome.FAILED)],
)
async def test_errors_in_status_reports_are_read_right(
    whatsapp: WhatsAppChannel, fake: FakeTwilio, code: int, outcome: Outcome
) -> None:
    fake.error_next(code)
    assert (await whatsapp.send(MEMBER, OutboundMessage("Salut"))).outcome == Outcome.SENT
    await fake.settle()
    _, status, error = whatsapp.parse_status(fake.callbacks[-1].params)
    assert (status, error) == ("failed", str(code))
    assert whatsapp.report_outcome(status, error) == outcome


def test_63018_pauses_for_long() -> None:
    assert THROTTLED_PAUSE >= 600


def test_a_name_posted_twice_is_signed_with_both_values() -> None:
    channel = WhatsAppChannel(make_settings("http://127.0.0.1:9"))
    url = f"{PUBLIC}/webhook/whatsapp"
    form, headers = signed_inbound(url, AUTH, Body="Salut")
    pairs = [
        *form.items(),
        ("MediaUrl", "https://a.example/1"),
        ("MediaUrl", "https://a.example/2"),
    ]
    params = FormPairs(pairs)
    signature = RequestValidator(AUTH).compute_signature(url, params)
    assert channel.verify(url, {SIGNATURE_HEADER: signature}, params)
    # Read as a dict, the first MediaUrl is lost and the signature no longer matches.
    assert not channel.verify(url, {SIGNATURE_HEADER: signature}, dict(pairs))
    # The SharedKey scheme alone is not a signature we accept.
    shared = {"X-Twilio-Webhooks-Signature-Settings": "v1", "X-Twilio-Webhooks-Signature": "x"}
    assert not channel.verify(url, shared, params)


async def test_the_webhook_checks_repeated_names(backend: Backend) -> None:
    async with running(backend) as stack:
        url = f"{PUBLIC}/webhook/whatsapp"
        form, _ = stack.twilio.inbound(url, Body="Salut", From="whatsapp:+40722000333")
        pairs = [*form.items(), ("X-Extra", "1"), ("X-Extra", "2")]
        good = RequestValidator(AUTH).compute_signature(url, FormPairs(pairs))
        body = urlencode(pairs)
        kind = {"Content-Type": "application/x-www-form-urlencoded"}
        ok = await stack.http.post("/webhook/whatsapp", content=body,
                                   headers={**kind, SIGNATURE_HEADER: good})  # fmt: skip
        forged = urlencode([*form.items(), ("X-Extra", "1"), ("X-Extra", "3")])
        refused = await stack.http.post("/webhook/whatsapp", content=forged,
                                        headers={**kind, SIGNATURE_HEADER: good})  # fmt: skip
    assert (ok.status_code, refused.status_code) == (200, 403)
