"""The web chat (and the terminal chat): the outbox row itself is what the page reads."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, or_, select, update

from bot.channels.base import Capabilities, ChannelName, Outcome, SendResult
from bot.messages import OutboundMessage
from bot.storage.db import Database
from bot.storage.models import Delivery
from bot.storage.outbox import Rank, ephemeral

CAPABILITIES = Capabilities(
    buttons=True,
    text_limit=4096,  # what the page's form takes, as much as Telegram
    caption_limit=4096,
    reply_window=None,
    document_by_link=None,  # the page shows a link to any file
    typed_commands=False,
    reads_outbox=True,
)


class WebChannel:
    """Nothing to call: a message is delivered when the chat page or terminal fetches it."""

    enabled = True
    capabilities = CAPABILITIES

    def __init__(self, name: str = ChannelName.WEB) -> None:
        self.name = name

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        if message.callback_id and not message.text:
            return SendResult(Outcome.SENT, status="delivered")
        return SendResult(Outcome.SENT)


async def fetch_replies(
    db: Database,
    address: str,
    after: int,
    limit: int = 200,
    channel: str = ChannelName.WEB,
    had: Collection[int] = (),
) -> list[dict[str, Any]]:
    """The bot's messages to one web (or terminal) chat after ``after``, marked delivered. A
    member's own data and a goodbye (``once``) leave the outbox when the page says it drew
    them (``had``), not when they are fetched: the answer to a poll whose page had gone
    (closed, reloaded, a phone's dropped connection) is lost, and the next poll gets them."""
    async with db.session() as session, session.begin():
        if had:
            await session.execute(
                delete(Delivery).where(
                    Delivery.channel == channel,
                    Delivery.address == address,
                    Delivery.id.in_(had),
                    Delivery.status_rank >= Rank.DELIVERED,
                    ephemeral(),
                )
            )
        rows = (
            await session.execute(
                select(Delivery.id, Delivery.message)
                .where(
                    Delivery.channel == channel,
                    Delivery.address == address,
                    Delivery.status_rank >= Rank.SENT,
                    # A reply may overtake an older broadcast: whatever was never fetched
                    # comes too, even when its id is below the page's cursor, and so does
                    # what the page has not said it drew.
                    or_(Delivery.id > after, Delivery.status == "sent", ephemeral()),
                )
                .order_by(Delivery.sent_at, Delivery.id)
                .limit(limit)
            )
        ).all()
        ids = [row.id for row in rows]
        if ids:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), Delivery.status_rank < Rank.DELIVERED)
                .values(status="delivered", status_rank=Rank.DELIVERED)
            )
    return [_shown(row.id, row.message) for row in rows if row.message.get("text")]


async def mark_read(db: Database, address: str, seen: int, channel: str = ChannelName.WEB) -> int:
    """The bot's messages to one web chat up to ``seen`` that its page fetched (delivered) are
    read: the page says so when it was in sight with them shown. Only ever forwards; returns
    the rows changed. A page polls every half minute in sight: the write waits for a row."""
    unread = (
        Delivery.channel == channel,
        Delivery.address == address,
        Delivery.id <= seen,
        Delivery.status_rank >= Rank.DELIVERED,
        Delivery.status_rank < Rank.READ,
    )
    async with db.session() as session:
        if await session.scalar(select(Delivery.id).where(*unread).limit(1)) is None:
            return 0
    async with db.session() as session, session.begin():
        result = await session.execute(
            update(Delivery).where(*unread).values(status="read", status_rank=Rank.READ)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def _shown(row_id: int, message: dict[str, Any]) -> dict[str, Any]:
    """What the page draws; a file is a download link under the text. ``farewell`` marks the
    goodbye to an erased member, after which the page forgets what it kept; ``once``, a
    message the page says it drew so that the server keeps it no longer."""
    shown = {"id": row_id, **{k: message.get(k) for k in ("text", "buttons", "image_url")}}
    if message.get("farewell"):
        shown["farewell"] = True
    if message.get("ephemeral"):
        shown["once"] = True
    document = message.get("document") or {}
    if document.get("url"):
        link = {"label": document.get("filename") or "file", "payload": "", "url": document["url"]}
        shown["buttons"] = [*(shown["buttons"] or []), [link]]
    return shown
