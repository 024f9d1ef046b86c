"""Settings → Topics: the member sees each topic with ✓ or ✗ and switches it by a tap (or its
number on WhatsApp). "stop" still stops everything; the choices wait for "start"."""

from __future__ import annotations

from bot.conversation.router import Context, Handled, Router
from bot.members import linking, topics
from bot.messages import Button, OutboundMessage
from bot.storage import outbox
from bot.storage.models import Topic
from handlers.ui import command_word, settings_row

router = Router("topics")
ON, OFF = "✓", "✗"


@router.button("set:topics")
async def show(ctx: Context) -> None:
    async def effect(done: Handled) -> None:
        await _list(ctx, done)

    ctx.effects.append(effect)


@router.button("sub")
async def toggle(ctx: Context) -> None:
    key = (ctx.payload or "").partition(":")[2]

    async def effect(done: Handled) -> None:
        topic = await topics.by_key(done.session, key) if topics.KEY.match(key) else None
        if topic is None or topic.archived_at is not None:
            return await _list(ctx, done, ctx.t("This topic is no longer offered."))
        chosen = await topics.choices(done.session, ctx.contact.id)
        now_on = not topics.receives(topic, chosen)
        for contact_id in await linking.person_contact_ids(done.session, ctx.contact):
            await topics.choose(
                done.session, contact_id, topic.id, now_on
            )  # one person, one choice
        name = _name(ctx, topic)
        said = (
            ctx.t("You will receive: {topic}.", topic=name)
            if now_on
            else ctx.t("You will no longer receive: {topic}.", topic=name)
        )
        await _list(ctx, done, said)

    ctx.effects.append(effect)


def _name(ctx: Context, topic: Topic) -> str:
    return topics.name_of(topic, ctx.t.locale, ctx.contact.country or ctx.contact.country_hint)


async def _list(ctx: Context, done: Handled, first: str | None = None) -> None:
    """The topics with the member's choices, as buttons that switch them."""
    t = ctx.t
    offered = await topics.listed(done.session)
    chosen = await topics.choices(done.session, ctx.contact.id)
    lines = [first] if first else []
    if ctx.contact.status == "stopped":
        lines.append(
            t("The news is stopped: you receive none until you write {start}.",
              start=command_word(ctx, "start"))
        )  # fmt: skip
    if offered:
        lines.append(
            t("Which topics would you like to receive? Choose one to switch it on or off.")
        )
    else:
        lines.append(t("There are no topics to choose from yet."))
    rows = [
        [Button(f"{ON if topics.receives(x, chosen) else OFF} {_name(ctx, x)}", f"sub:{x.key}")]
        for x in offered
    ]
    rows.append(settings_row(ctx))
    message = OutboundMessage(text="\n\n".join(lines), buttons=rows)
    outbox.enqueue(done.session, ctx.contact, message, inbound_id=done.inbound_id, t=t)
