"""Replies to a broadcast: what a member writes back within the window a broadcast asks for
goes to the secretariat's inbox as a reply to that broadcast, unless it is plainly a command
or a question the bot answers with confidence."""

from __future__ import annotations

import logging

from bot.conversation.router import Context, Handled, Router
from bot.knowledge.answers import Answer, understand
from bot.messages import Button, Kind
from bot.secretariat import relay
from handlers.handoff import FLOW as SECRETARIAT_FLOW
from handlers.safeguarding import concern
from handlers.ui import reply_time

router = Router("replies")
log = logging.getLogger(__name__)
# A question the bot answers within a reply window: a topic it recognises in a message that
# asks ("?"), or one it recognises this surely; anything else is the member's reply.
CONFIDENT = 0.3


@router.gate
async def collect(ctx: Context) -> bool:
    """Take free text written within a broadcast's reply window for the secretariat. A member
    already writing to the secretariat is answering the broadcast too: their message goes to
    the same open conversation either way, and it must reach the broadcast's replies, where the
    secretariat gathers the answers it asked for."""
    broadcast_id = ctx.reply_to
    if broadcast_id is None or ctx.command or ctx.payload:
        return False
    if ctx.contact.flow not in (None, SECRETARIAT_FLOW):
        return False  # a survey, a setting, onboarding: the text answers that question
    if (ctx.contact.flow_data or {}).get("kind") == "safeguarding":
        return False  # a conversation with the focal point stays as it is
    if ctx.msg.kind != Kind.TEXT or not ctx.text or ctx.contact.status != "active":
        return False
    found = _understood(ctx)
    if found is not None and found.kind == "safeguarding":
        return False  # an alert: the helplines and the focal point, as for any message
    if found is not None and found.kind == "topic":
        if "?" in ctx.text or found.score >= CONFIDENT:
            return False  # a question the bot answers
    if found is not None and found.finding is not None:
        concern(ctx, found.finding)  # a possible concern: the gentle line, the focal point told
    text, contact, settings = ctx.text, ctx.contact, ctx.settings
    locale, channel = ctx.t.locale, ctx.msg.channel

    async def store(done: Handled) -> None:
        await relay.relay(
            done.session, settings, contact, text, "reply", locale=locale, channel=channel,
            inbound_id=done.inbound_id, broadcast_id=broadcast_id,
        )  # fmt: skip

    ctx.effects.append(store)
    log.info("replies: contact %s replied to broadcast %s", contact.id, broadcast_id)
    ctx.reply(
        ctx.t("Thank you. Your reply has been passed to the secretariat.") + " " + reply_time(ctx),
        [[Button(ctx.t("Menu"), "menu:main")]],
    )
    return True


def _understood(ctx: Context) -> Answer | None:
    """What the bot makes of the message, as the FAQ would."""
    services = ctx.services
    if services is None or getattr(services, "matcher", None) is None:
        return None
    country = ctx.contact.country or ctx.contact.country_hint
    return understand(services, ctx.text, ctx.t, country, alerted=False)
