"""``childpact chat``: talk to the bot in a terminal through the same engine and outbox."""

from __future__ import annotations

import asyncio
import sys
import uuid

from app.service import Service
from bot.channels.base import ChannelName
from bot.channels.web import WebChannel, fetch_replies
from bot.config import Settings
from bot.coordination import MemoryCoordinator
from bot.messages import InboundMessage, Kind

CHANNEL = ChannelName.TERMINAL


async def chat(settings: Settings, *, lang: str | None, session: str) -> None:
    """Read lines, hand them to the engine, print the replies with their options numbered."""
    service = Service(
        settings, coordinator=MemoryCoordinator(), channels={CHANNEL: WebChannel(CHANNEL)}
    )
    await service.start(migrate=True, workers=False, only_process=False)
    cursor = 0
    had: list[int] = []  # the member's own data or a goodbye printed: they go
    try:
        line: str | None = "/start"
        while line is not None:
            if line.strip():
                message = InboundMessage(
                    channel=CHANNEL,
                    platform_id=uuid.uuid4().hex,
                    address=session,
                    kind=Kind.TEXT,
                    text=line,
                    lang_hint=lang,
                )
                await service.engine.accept(message)
                await service.engine.drain(CHANNEL, session)
                while await service.sender.pump():
                    await service.sender.flush()
                replies = await fetch_replies(service.db, session, cursor, channel=CHANNEL, had=had)
                for reply in replies:
                    cursor = max(cursor, reply["id"])
                    print(render(reply), end="\n\n", flush=True)
                had = [reply["id"] for reply in replies if reply.get("once")]
            line = await asyncio.to_thread(_read_line)
    finally:
        await service.stop()


def render(reply: dict) -> str:  # type: ignore[type-arg]
    lines = [f"bot> {reply['text']}"]
    number = 0
    for row in reply.get("buttons") or []:
        for button in row:
            if button.get("url"):
                lines.append(f"     {button['label']}: {button['url']}")
            else:
                number += 1
                lines.append(f"  {number}. {button['label']}")
    return "\n".join(lines)


def _read_line() -> str | None:
    try:
        return input("you> ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return None
