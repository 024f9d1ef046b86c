"""While a broadcast of photos with long texts goes out at Telegram's limits, members' replies
and safeguarding alerts still go first, and nothing meets a chat's or a group's limit."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.messages import OutboundMessage
from bot.storage.models import Broadcast, Delivery
from bot.storage.outbox import BULK
from tests.dialog import Member
from tests.handlers.test_menu import onboard
from tests.harness import eventually, running

ALERTS = "-1001234567890"
PHOTO = "https://childpact.org/report.jpg"
TEXT = ("The coalition's annual report is out: what changed for children this year. " * 20).strip()


async def bulk_left(stack) -> int:  # type: ignore[no-untyped-def]
    async with stack.service.db.session() as session:
        found = await session.scalar(
            select(func.count()).select_from(Delivery)
            .where(Delivery.priority == BULK, Delivery.status.in_(("queued", "sending")))
        )  # fmt: skip
    return int(found or 0)


async def test_replies_and_alerts_keep_flowing_while_a_broadcast_of_photos_goes(backend):
    # Would catch a reply or an alert stuck behind the broadcast, a photo and its long text
    # sent on one slot (429s from Telegram), or a staff group paced like a member's chat.
    async with running(
        backend, fast_chats=False, telegram_rate=20, safeguarding_telegram_chat_id=ALERTS
    ) as stack:
        asking = Member(stack, "telegram", lang="en")
        await onboard(asking, "en")
        disclosing = Member(stack, "whatsapp")
        await onboard(disclosing, "ro", "RO")
        assert len(TEXT) > 1024  # a photo, then the text: two messages each
        stack.telegram.host_photo(PHOTO)
        async with stack.service.db.session() as session, session.begin():
            # Its rows are written here: the broadcast itself is done with, for the worker.
            news = Broadcast(title="Annual report", texts={}, image_url=PHOTO, status="sent")
            session.add(news)
            await session.flush()
            for n in range(120):
                message = OutboundMessage(text=TEXT, image_url=PHOTO)
                session.add(Delivery(channel="telegram", address=str(640000000 + n),
                                     priority=BULK, message=message.to_json(),
                                     broadcast_id=news.id))  # fmt: skip
        await stack.service.coordinator.notify("outbox")
        await eventually(lambda: len(stack.telegram.messages) >= 10)  # the broadcast is going

        menu = await asking.say("/menu")
        assert menu and menu[-1].payloads, "the menu came"
        assert await bulk_left(stack) > 0, "the reply waited for the whole broadcast"
        await disclosing.say("Vecinul își bate copilul în fiecare seară, aud cum plânge")
        await eventually(lambda: stack.telegram.messages_to(ALERTS))
        assert await bulk_left(stack) > 0, "the alert waited for the whole broadcast"

        await eventually(lambda: _done(stack), timeout=120)
        photos = [m for m in stack.telegram.messages if m.method == "sendPhoto"]
        assert len(photos) == 120
        assert stack.telegram.limited_by["chat"] == 0 and stack.telegram.limited_by["group"] == 0
        assert stack.telegram.refused == []
        assert stack.telegram.photo_fetches == [PHOTO]  # then by its file_id


async def _done(stack) -> bool:  # type: ignore[no-untyped-def]
    return await bulk_left(stack) == 0
