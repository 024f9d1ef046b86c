"""The channels the service knows: a new channel is a module and one line in each table here."""

from __future__ import annotations

import math
from functools import cache
from importlib import import_module

from bot.channels.base import Capabilities, Channel, ChannelName, InboundChannel
from bot.config import Settings

# The module of each channel. It is imported when first asked, so that a command that sends
# nothing does not load the platforms' libraries.
ADAPTERS = {
    ChannelName.TELEGRAM: "bot.channels.telegram",
    ChannelName.WHATSAPP: "bot.channels.whatsapp",
    ChannelName.WEB: "bot.channels.web",
    ChannelName.TERMINAL: "bot.channels.web",  # the same outbox-reading chat, in a terminal
}


def build_channels(settings: Settings) -> dict[str, Channel]:
    from bot.channels.telegram import TelegramChannel
    from bot.channels.web import WebChannel
    from bot.channels.whatsapp import WhatsAppChannel

    channels: list[Channel] = [WebChannel()]
    if settings.telegram_enabled:
        channels.append(TelegramChannel(settings))
    if settings.whatsapp_enabled:
        channels.append(WhatsAppChannel(settings))
    return {channel.name: channel for channel in channels}


@cache
def capabilities(name: str) -> Capabilities:
    """What the channel a contact is on can show; known without the channel running."""
    found: Capabilities = import_module(ADAPTERS[ChannelName(name)]).CAPABILITIES
    return found


def text_limits() -> dict[ChannelName, int]:
    """Characters in one message on each channel, for pages that count what an editor writes."""
    return {name: capabilities(name).text_limit for name in ChannelName}


def shortest_text_limit() -> int:
    """What every channel takes in one message."""
    return min(text_limits().values())


def send_rates(settings: Settings) -> dict[ChannelName, float]:
    """Messages per second each channel may send, for pacing and for a broadcast's estimate;
    a chat that reads the outbox has no platform to wait for."""
    return {
        ChannelName.TELEGRAM: settings.telegram_rate,
        ChannelName.WHATSAPP: settings.twilio_rate,
        ChannelName.WEB: math.inf,
        ChannelName.TERMINAL: math.inf,
    }


def inbound(channels: dict[str, Channel], name: ChannelName) -> InboundChannel | None:
    """The running channel ``name`` when its platform calls our webhooks, else None."""
    found = channels.get(name)
    return found if isinstance(found, InboundChannel) else None
