"""The staff chat's progress message, on both databases: an edit of the message the author
got, in their dashboard language, queued only when its text changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts.progress_message import report_progress
from bot.storage.models import Broadcast, Contact, Delivery, StaffUser

HALFWAY = {"total": 4, "done_share": 0.5, "statuses": {"delivered": 1, "failed": 1, "queued": 2}}
DONE = {"total": 4, "done_share": 1.0, "statuses": {"delivered": 3, "skipped": 1}}


async def sent_from_telegram(session: AsyncSession, platform_id: str | None) -> Broadcast:
    """A broadcast sent from the staff chat, with the "Sending to ..." message it answered."""
    author = StaffUser(email="ana@childpact.org", name="Ana", role="admin", locale="en")
    chat = Contact(channel="telegram", address="42", status="active", flow_data={}, choices=[])
    session.add_all([author, chat])
    await session.flush()
    posted = Delivery(contact_id=chat.id, channel="telegram", address="42", priority=1,
                      message={"text": "Sending to 4 members…"}, platform_id=platform_id)  # fmt: skip
    session.add(posted)
    await session.flush()
    found = Broadcast(title="Telegram", base_locale="en", status="sending", texts={},
                      buttons=[], audience={}, templates={}, created_by=author.id,
                      expanded_to=0, progress_delivery_id=posted.id)  # fmt: skip
    session.add(found)
    await session.flush()
    return found


async def edits(session: AsyncSession) -> list[dict[str, Any]]:
    await session.flush()
    found = await session.scalars(select(Delivery.message).order_by(Delivery.id))
    return [m for m in found if m.get("edit_message_id")]


async def test_the_message_is_edited_as_the_broadcast_goes_and_once_per_change(db):
    async with db.session() as session, session.begin():
        broadcast = await sent_from_telegram(session, platform_id="777")
        await report_progress(session, broadcast, HALFWAY)
        await report_progress(session, broadcast, HALFWAY)
        (halfway,) = await edits(session)
        assert halfway["edit_message_id"] == 777
        assert halfway["text"] == (
            f"Broadcast {broadcast.id}: 50% done. Sent 1 of 4, failed 1, skipped 0."
        )
        broadcast.status = "sent"
        await report_progress(session, broadcast, DONE)
        done = (await edits(session))[-1]["text"]
        assert (
            done
            == f"Broadcast {broadcast.id}: 100% done. Sent 3 of 4, failed 0, skipped 1.\nFinished."
        )


async def test_nothing_is_edited_before_the_message_itself_has_gone(db):
    async with db.session() as session, session.begin():
        broadcast = await sent_from_telegram(session, platform_id=None)
        await report_progress(session, broadcast, HALFWAY)
        assert await edits(session) == []
