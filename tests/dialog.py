"""Members who talk to the running service on one channel, for tests written as dialogs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.messages import OutboundMessage
from bot.storage.models import Delivery, Inbound
from tests.harness import PUBLIC, Stack, eventually, telegram_member, whatsapp_number


@dataclass
class Reply:
    text: str
    options: list[str]  # button labels, in order
    payloads: list[str]


class Member:
    """One member on one channel. ``say`` and ``tap`` return the bot's replies to that message."""

    def __init__(
        self,
        stack: Stack,
        channel: str,
        *,
        lang: str | None = "en",
        country_code: str = "40",
        taps_only: bool = False,
    ) -> None:
        self.stack = stack
        # WhatsApp: every choice must come as buttons or a list, never as numbered text.
        self.taps_only = taps_only
        self.channel = channel
        self.cursor = 0
        self.last: list[Reply] = []
        self.builder = telegram_member(lang) if channel == "telegram" else None
        if channel == "telegram":
            self.address = str(self.builder.chat_id)  # type: ignore[union-attr]
        elif channel == "whatsapp":
            self.address = whatsapp_number(country_code)
        else:
            self.address = "web" + uuid.uuid4().hex
        self.lang = lang

    async def say(self, text: str) -> list[Reply]:
        if self.channel == "telegram":
            response = await self.stack.post_telegram(self.builder.message(text))  # type: ignore[union-attr]
        elif self.channel == "whatsapp":
            response = await self.stack.post_whatsapp(Body=text, From=self.address)
        else:
            response = await self.stack.http.post(
                "/chat/api/messages",
                json={
                    "session": self.address,
                    "id": uuid.uuid4().hex,
                    "text": text,
                    "lang": self.lang,
                },
            )
        assert response.status_code in (200, 202), response.text
        return await self.replies()

    async def tap(self, payload: str, *, old: bool = False) -> list[Reply]:
        """Press the button with ``payload``; on WhatsApp, the quick reply or list row the fake
        Twilio sent, or, where the choices went as numbered text, answer with its number.
        ``old``: a button of an earlier message, still on the screen."""
        offered = [p for reply in self.last for p in reply.payloads]
        assert old or payload in offered, f"{payload} was not offered: {offered}"
        if self.channel == "whatsapp" and (old or self._tappable(payload)):
            path = "/webhook/whatsapp"
            form, headers = self.stack.twilio.tap(PUBLIC + path, self.address, payload, old=old)
            response = await self.stack.http.post(path, data=form, headers=headers)
            assert response.status_code in (200, 202), response.text
            return await self.replies()
        assert not (self.taps_only and self.channel == "whatsapp"), (
            f"the choices of {texts(self.last)!r} went as numbered text"
        )
        if self.channel == "telegram":
            update = self.builder.callback_query(payload)  # type: ignore[union-attr]
            response = await self.stack.post_telegram(update)
            assert response.status_code in (200, 202), response.text
            replies = await self.replies()
            # Every press is answered (answerCallbackQuery), or the button keeps spinning.
            query = str(update["callback_query"]["id"])
            await eventually(lambda: query not in self.stack.telegram.unanswered, timeout=10)
            return replies
        elif self.channel == "whatsapp":
            options = next(r.payloads for r in reversed(self.last) if payload in r.payloads)
            return await self.say(str(options.index(payload) + 1))
        else:
            response = await self.stack.http.post(
                "/chat/api/messages",
                json={"session": self.address, "id": uuid.uuid4().hex, "payload": payload},
            )
        assert response.status_code in (200, 202), response.text
        return await self.replies()

    def _tappable(self, payload: str) -> bool:
        """The last choices went as buttons or a list, and one of them offered ``payload``
        (where its content item could not be made in time, it went as numbered text)."""
        twilio = self.stack.twilio
        return bool(twilio.offered(self.address)) and twilio.offers(self.address, payload)

    async def replies(self) -> list[Reply]:
        """Wait until every message of this member is handled and every reply sent."""
        db = self.stack.service.db

        async def settled() -> bool:
            async with db.session() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(Inbound)
                    .where(
                        Inbound.channel == self.channel,
                        Inbound.address == self.address,
                        Inbound.status == "pending",
                    )
                )
                unsent = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(
                        Delivery.channel == self.channel,
                        Delivery.address == self.address,
                        Delivery.status.in_(("queued", "sending")),
                    )
                )
            return pending == 0 and unsent == 0

        await eventually(settled)
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(Delivery.id, Delivery.message)
                    .where(
                        Delivery.channel == self.channel,
                        Delivery.address == self.address,
                        Delivery.id > self.cursor,
                    )
                    .order_by(Delivery.id)
                )
            ).all()
        replies = []
        for row in rows:
            self.cursor = max(self.cursor, row.id)
            message = OutboundMessage.from_json(row.message)
            if message.callback_id and not message.text:
                continue
            choices = [b for line in message.buttons for b in line]
            replies.append(
                Reply(message.text, [b.label for b in choices], [b.payload for b in choices])
            )
        self.last = replies or self.last
        return replies


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)
