"""The channels the service knows: a new channel is a module and one line in each table here."""

from __future__ import annotations

import math

from bot.channels import telegram, web, whatsapp
from bot.channels.base import Capabilities, Channel, ChannelName, InboundChannel
from bot.config import Settings

CAPABILITIES: dict[ChannelName, Capabilities] = {
    ChannelName.TELEGRAM: telegram.CAPABILITIES,
    ChannelName.WHATSAPP: whatsapp.CAPABILITIES,
    ChannelName.WEB: web.CAPABILITIES,
    ChannelName.TERMINAL: web.CAPABILITIES,  # the same outbox-reading chat, in a terminal
}

# Characters in one message on each channel, for pages that count what an editor writes.
TEXT_LIMITS = {name: found.text_limit for name, found in CAPABILITIES.items()}
SHORTEST_TEXT_LIMIT = min(TEXT_LIMITS.values())  # what every channel takes in one message


def build_channels(settings: Settings) -> dict[str, Channel]:
    channels: list[Channel] = [web.WebChannel()]
    if settings.telegram_enabled:
        channels.append(telegram.TelegramChannel(settings))
    if settings.whatsapp_enabled:
        channels.append(whatsapp.WhatsAppChannel(settings))
    return {channel.name: channel for channel in channels}


def capabilities(name: str) -> Capabilities:
    """What the channel a contact is on can show; known without the channel running."""
    return CAPABILITIES[ChannelName(name)]


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
