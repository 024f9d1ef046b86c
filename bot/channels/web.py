"""The web chat (and the terminal chat): the outbox row itself is what the page reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update

from bot.channels.base import Capabilities, ChannelName, Outcome, SendResult
from bot.messages import OutboundMessage
from bot.storage.db import Database
from bot.storage.models import Delivery
from bot.storage.outbox import Rank

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
    db: Database, address: str, after: int, limit: int = 200, channel: str = ChannelName.WEB
) -> list[dict[str, Any]]:
    """The bot's messages to one web (or terminal) chat after ``after``, marked delivered."""
    async with db.session() as session, session.begin():
        rows = (
            await session.execute(
                select(Delivery.id, Delivery.message)
                .where(
                    Delivery.channel == channel,
                    Delivery.address == address,
                    Delivery.status_rank >= Rank.SENT,
                    # A reply may overtake an older broadcast: whatever was never fetched
                    # comes too, even when its id is below the page's cursor.
                    or_(Delivery.id > after, Delivery.status == "sent"),
                )
                .order_by(Delivery.sent_at, Delivery.id)
                .limit(limit)
            )
        ).all()
        ids = [row.id for row in rows if not row.message.get("ephemeral")]
        if ids:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), Delivery.status_rank < Rank.DELIVERED)
                .values(status="delivered", status_rank=Rank.DELIVERED)
            )
        # A member's own data and a goodbye leave the outbox once the page has them.
        gone = [row.id for row in rows if row.message.get("ephemeral")]
        if gone:
            await session.execute(delete(Delivery).where(Delivery.id.in_(gone)))
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
    goodbye to an erased member, after which the page forgets what it kept."""
    shown = {"id": row_id, **{k: message.get(k) for k in ("text", "buttons", "image_url")}}
    if message.get("farewell"):
        shown["farewell"] = True
    document = message.get("document") or {}
    if document.get("url"):
        link = {"label": document.get("filename") or "file", "payload": "", "url": document["url"]}
        shown["buttons"] = [*(shown["buttons"] or []), [link]]
    return shown
