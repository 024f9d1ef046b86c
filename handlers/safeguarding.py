"""Safeguarding in the chat, at two levels (see ``bot.knowledge.safeguarding``).

An alert: the member gets the helplines at once, in their language; the focal point's chat is
alerted ahead of every other message, and a conversation is opened so that the secretariat's
answer reaches the member. A possible concern: the member gets a gentle line with the helpline
and a button to talk to the focal point, the focal point's chat gets it marked lower priority,
and the message is also answered as usual (FAQ answer, survey, message to the secretariat).
Each message to the focal point says why: the kind of danger and the words behind it.
"""

from __future__ import annotations

import logging

from bot.channels.base import ChannelName
from bot.conversation.router import Context, Handled
from bot.knowledge.safeguarding import ALERT, Finding
from bot.messages import Button, OutboundMessage
from bot.secretariat import inbox, safeguarding_review
from bot.secretariat.relay import relay
from bot.storage import outbox

log = logging.getLogger(__name__)
FOCAL_POINT = "handoff:focal"  # the button that opens a conversation with the focal point


def assess(ctx: Context, *languages: str) -> Finding | None:
    """What the detector makes of the member's message, read in the member's locale, any
    ``languages`` (the message's own) and English."""
    safeguarding = getattr(ctx.services, "safeguarding", None)
    if safeguarding is None or not ctx.text:
        return None
    return safeguarding.assess(ctx.text, [ctx.t.locale, *languages, "en"])


def disclosed(ctx: Context, *, concerns: bool = True) -> bool:
    """In a flow that reads text of its own (a survey, a message to the secretariat): an alert
    is answered with the helplines, and True is returned (the flow stops there); a possible
    concern gets its gentle line and the focal point is told (unless not ``concerns``: the
    member is already writing to the focal point), and the flow goes on (False)."""
    found = assess(ctx)
    if found is None:
        return False
    if found.level != ALERT:
        if concerns:
            concern(ctx, found)
        return False
    alert(ctx, found)
    return True


def alert(ctx: Context, found: Finding) -> None:
    """An alert found in the member's message: the helplines of their country, and the
    focal point alerted."""
    country = ctx.contact.country or ctx.contact.country_hint
    alerted = bool(ctx.settings.safeguarding_telegram_chat_id)
    safeguarding_alert(
        ctx, ctx.services.safeguarding.answer(ctx.t, country, alerted=alerted), found
    )


def safeguarding_alert(ctx: Context, reply: str, found: Finding) -> None:
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
            f"country {country or '?'}, language {ctx.t.locale}.\n"
            f"Why: {found.reason}\n\n{ctx.text[:3000]}"
        )
    open_safeguarding(ctx, chat, alert, found, urgent=True)


def concern(ctx: Context, found: Finding, *, offer: bool = True) -> None:
    """A possible disclosure: a gentle line with the helpline and (unless not ``offer``) the
    offer to talk to the focal point; the focal point's chat told, lower priority. The caller
    answers the message too."""
    t = ctx.t
    country = ctx.contact.country or ctx.contact.country_hint
    line = ctx.services.safeguarding.helpline(country)
    if line.number and line.name:
        text = t(
            "If you are worried about a child, you can call the child helpline {name}: {number}.",
            name=line.name,
            number=line.number,
        )
    elif line.number:
        text = t(
            "If you are worried about a child, you can call the child helpline: {number}.",
            number=line.number,
        )
    elif line.emergency:
        text = t(
            "If you are worried about a child, you can call {number}.", number=line.emergency[0]
        )
    else:
        text = ""
    text = f"{text} {line.when_open(t)}".strip()
    if offer:
        invitation = t(
            "If you would like to talk about it, ChildPact's safeguarding focal point is here "
            "for you: choose Talk to the focal point."
        )
        buttons = [[Button(t("Talk to the focal point"), FOCAL_POINT)]]
        ctx.reply(f"{text}\n\n{invitation}".strip(), buttons)
    elif text:
        ctx.reply(text)
    log.info(
        "safeguarding: possible concern from contact %s on %s", ctx.contact.id, ctx.msg.channel
    )
    chat = ctx.settings.safeguarding_telegram_chat_id
    note = None
    if chat:
        note = (
            f"Possible safeguarding concern (lower priority): member {ctx.contact.id} on "
            f"{ctx.msg.channel}, country {country or '?'}, language {ctx.t.locale}. The member "
            f"was answered as usual and offered the helpline and the focal point.\n"
            f"Why: {found.reason}\n\n{ctx.text[:3000]}"
        )
    open_safeguarding(ctx, chat, note, found, urgent=False)


def open_safeguarding(
    ctx: Context, chat: str | None, alert: str | None, found: Finding, *, urgent: bool
) -> None:
    """A disclosure opens (or marks) a conversation, tied to the alert so that a staff reply to
    the alert reaches the member; without an alert chat, the staff chat gets the message. A
    possible concern goes to the focal point's chat behind the replies and into the member's
    conversation as it is (a new one is an ordinary one, not urgent), so that a reply to it
    reaches the member too; without an alert chat nobody else is told of a concern. Each is
    kept with its reason; in the chat it carries a "Not a concern" button for the review list."""
    text = ctx.text

    async def link(done: Handled) -> None:
        if chat and alert:
            flag = await safeguarding_review.record(
                done.session, ctx.contact.id, level=found.level, kind=found.kind,
                words=found.words, danger=found.danger, text=text,
            )  # fmt: skip
            message = OutboundMessage(
                text=f"{alert}\n\n({found.level} #{flag.id})",
                buttons=safeguarding_review.not_a_concern_button(flag),
            )
            row = outbox.enqueue(
                done.session, outbox.Chat(ChannelName.TELEGRAM, chat), message,
                # an alert goes ahead of every reply; a concern behind them
                priority=outbox.CALLBACK if urgent else outbox.REPLY, inbound_id=done.inbound_id,
            )  # fmt: skip
            await done.session.flush()
            conversation = await inbox.open_conversation(
                done.session, ctx.contact.id, "safeguarding" if urgent else "secretariat"
            )
            await inbox.add_message(done.session, conversation, "member", text, row.id)
        elif urgent:
            await relay(
                done.session, ctx.settings, ctx.contact, text, "safeguarding",
                locale=ctx.t.locale, channel=ctx.msg.channel, inbound_id=done.inbound_id,
            )  # fmt: skip

    ctx.effects.append(link)
