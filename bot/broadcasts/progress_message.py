"""The progress message of a broadcast sent from a staff member's Telegram chat, kept up to
date as it goes. Its texts are the secretariat's (gettext domain ``admin``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts.model import DELIVERED
from bot.channels.base import ChannelName
from bot.i18n import DASHBOARD_DOMAIN, load_translations
from bot.i18n.markers import N_
from bot.messages import OutboundMessage
from bot.secretariat.staff import Staff
from bot.storage import outbox
from bot.storage.models import Broadcast, Delivery, StaffUser


async def report_progress(
    session: AsyncSession, broadcast: Broadcast, found: dict[str, Any]
) -> None:
    """Keep the progress message of a broadcast sent from Telegram up to date: an edit of it,
    queued through the outbox like any message, only when its text changes."""
    if broadcast.progress_delivery_id is None or broadcast.created_by is None:
        return
    posted = await session.get(Delivery, broadcast.progress_delivery_id)
    if posted is None or not posted.platform_id or posted.channel != ChannelName.TELEGRAM:
        return  # not sent yet: the next round edits it
    user = await session.get(StaffUser, broadcast.created_by)
    if user is None:
        return
    staff = Staff.of(user)
    text = _text(staff, broadcast, found)
    if posted.note == text:
        return
    posted.note = text
    # A reply's priority: the edit goes ahead of the broadcast's own bulk.
    chat = outbox.Chat(ChannelName.TELEGRAM, posted.address, posted.contact_id)
    outbox.enqueue(session, chat, OutboundMessage(text, edit_message_id=int(posted.platform_id)))


def _text(staff: Staff, broadcast: Broadcast, found: dict[str, Any]) -> str:
    statuses = found["statuses"]
    catalog = load_translations(staff.locale, domain=DASHBOARD_DOMAIN)
    text = catalog.ugettext(
        N_("Broadcast {id}: {percent} done. Sent {sent} of {total}, failed {failed}, "
           "skipped {skipped}.")
    ).format(
        id=broadcast.id, percent=format(found["done_share"], ".0%"),
        sent=sum(statuses.get(s, 0) for s in DELIVERED), total=found["total"],
        failed=statuses.get("failed", 0) + statuses.get("undelivered", 0),
        skipped=statuses.get("skipped", 0),
    )  # fmt: skip
    if broadcast.status == "sent":
        text += "\n" + catalog.ugettext(N_("Finished."))
    return text
