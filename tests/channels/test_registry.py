"""The channels by name: what each can show, known without running it, and what the running
channel then does with a long text; the send rates the operator set; which ones read webhooks."""

from __future__ import annotations

import math

import pytest

from bot.channels.base import ChannelName, Outcome
from bot.channels.registry import build_channels, capabilities, inbound, send_rates
from bot.messages import OutboundMessage
from tests.channels.test_whatsapp import AUTH, SID, make_settings
from tests.fakes.server import refuse_internet
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio

TOKEN = "123456789:AA" + "x" * 33
PARAGRAPH = ("Protecția copilului începe în comunitate. " * 12).strip()


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


def long_text(limit: int) -> str:
    paragraphs = [f"{n:02d} {PARAGRAPH}" for n in range(3 * limit // len(PARAGRAPH) + 1)]
    return "\n\n".join(paragraphs)


async def test_a_long_text_reaches_telegram_in_pieces_within_its_limit() -> None:
    limit = capabilities(ChannelName.TELEGRAM).text_limit
    text = long_text(limit)
    async with FakeTelegram(token=TOKEN) as fake:
        fake.chat_burst = 20
        channel = build_channels(make_settings(fake.url, telegram_bot_token=TOKEN))["telegram"]
        result = await channel.send("412345678", OutboundMessage(text))
        await channel.stop()
    sent = [m.text or "" for m in fake.messages]
    assert result.outcome == Outcome.SENT
    assert len(sent) > 1 and all(len(piece) <= limit for piece in sent)
    assert "\n\n".join(sent) == text


async def test_a_long_text_reaches_whatsapp_in_pieces_within_its_limit() -> None:
    limit = capabilities(ChannelName.WHATSAPP).text_limit
    text = long_text(limit)
    async with FakeTwilio(account_sid=SID, auth_token=AUTH, sender="whatsapp:+40700000000") as fake:
        channel = build_channels(make_settings(fake.url))["whatsapp"]
        result = await channel.send("whatsapp:+40722111222", OutboundMessage(text))
        await channel.stop()
    sent = [m.body for m in fake.messages]
    assert result.outcome == Outcome.SENT
    assert len(sent) > 1 and all(len(piece) <= limit for piece in sent)
    assert "\n\n".join(sent) == text


def test_every_running_channel_can_what_its_name_says() -> None:
    for name, channel in build_channels(make_settings()).items():
        assert capabilities(name) is channel.capabilities


def test_every_channel_name_has_capabilities() -> None:
    assert all(capabilities(name).text_limit > 0 for name in ChannelName)
    with pytest.raises(ValueError):
        capabilities("signal")


def test_send_rates_are_the_operators() -> None:
    rates = send_rates(make_settings(telegram_rate=3.0, twilio_rate=7.0))
    assert rates[ChannelName.TELEGRAM] == 3.0 and rates[ChannelName.WHATSAPP] == 7.0
    assert math.isinf(rates[ChannelName.WEB])  # the page fetches what waits: nothing to pace


def test_only_channels_whose_platform_calls_us_read_webhooks() -> None:
    channels = build_channels(make_settings())
    assert inbound(channels, ChannelName.TELEGRAM) is channels["telegram"]
    assert inbound(channels, ChannelName.WHATSAPP) is channels["whatsapp"]
    assert inbound(channels, ChannelName.WEB) is None
    assert inbound({}, ChannelName.TELEGRAM) is None
