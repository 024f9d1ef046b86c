"""The channels the service knows: a new channel is a module and one line here."""

from __future__ import annotations

from bot.channels.base import Channel
from bot.config import Settings


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
