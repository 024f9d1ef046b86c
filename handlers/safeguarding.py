"""Safeguarding in the chat: a member who discloses harm gets the helplines at once, in their
language; the focal point is alerted, and a conversation is opened so that the secretariat's
answer reaches the member."""

from __future__ import annotations

import logging

from bot.channels.base import ChannelName
from bot.conversation.router import Context, Handled
from bot.messages import OutboundMessage
from bot.secretariat import inbox
from bot.secretariat.relay import relay
from bot.storage import outbox

log = logging.getLogger(__name__)


def disclosed(ctx: Context) -> bool:
    """In a flow that reads text of its own (a survey, a message to the secretariat): a
    disclosure is answered with the helplines; True when it was."""
    safeguarding = getattr(ctx.services, "safeguarding", None)
    if safeguarding is None or not safeguarding.is_disclosure(ctx.text, [ctx.t.locale, "en"]):
        return False
    country = ctx.contact.country or ctx.contact.country_hint
    alerted = bool(ctx.settings.safeguarding_telegram_chat_id)
    safeguarding_alert(ctx, safeguarding.answer(ctx.t, country, alerted=alerted))
    return True


def safeguarding_alert(ctx: Context, reply: str) -> None:
    """The helplines at once, in the member's language; the focal point alerted."""
    chat = ctx.settings.safeguarding_telegram_chat_id
    country = ctx.contact.country or ctx.contact.country_hint
    ctx.reply(reply)
    log.warning("safeguarding: disclosure from contact %s on %s", ctx.contact.id, ctx.msg.channel)
    alert = None
    if chat:
        # For the secretariat's staff, in the coalition's working language.
        alert = (
            f"Safeguarding alert: member {ctx.contact.id} on {ctx.msg.channel}, "
            f"country {country or '?'}, language {ctx.t.locale}, wrote:\n\n{ctx.text[:3000]}"
        )
    open_safeguarding(ctx, chat, alert)


def open_safeguarding(ctx: Context, chat: str | None, alert: str | None) -> None:
    """A disclosure opens (or marks) a conversation, tied to the alert so that a staff reply to
    the alert reaches the member; without an alert chat, the staff chat gets the message."""
    text = ctx.text

    async def link(done: Handled) -> None:
        if chat and alert:
            # The alert goes ahead of every reply.
            row = outbox.enqueue(
                done.session, outbox.Chat(ChannelName.TELEGRAM, chat), OutboundMessage(text=alert),
                priority=outbox.CALLBACK, inbound_id=done.inbound_id,
            )  # fmt: skip
            await done.session.flush()
            conversation = await inbox.open_conversation(
                done.session, ctx.contact.id, "safeguarding"
            )
            await inbox.add_message(done.session, conversation, "member", text, row.id)
        else:
            await relay(
                done.session, ctx.settings, ctx.contact, text, "safeguarding",
                locale=ctx.t.locale, channel=ctx.msg.channel, inbound_id=done.inbound_id,
            )  # fmt: skip

    ctx.effects.append(link)
