"""Talk to the secretariat: members write, staff answer from their Telegram chat or the API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.conversation.router import Context, Handled, Router
from bot.messages import Button, InboundMessage, Kind
from bot.secretariat import inbox, relay, safeguarding_review
from handlers.safeguarding import disclosed
from handlers.ui import main_menu, reply_time

router = Router("handoff")
FLOW = "secretariat"
UNANSWERED = "unanswered"  # flow_data key: the member's last question the bot could not answer


@router.command("secretariat")
@router.button("menu:secretariat")
async def talk(ctx: Context) -> None:
    """From the menu: whatever the member writes next goes to the secretariat."""
    ctx.start_flow(FLOW, kind="secretariat")
    ctx.reply(
        ctx.t(
            "Write your message to the secretariat here, in any language. "
            "Someone from the secretariat will answer you in this chat."
        )
        + " "
        + reply_time(ctx),
        [[Button(ctx.t("Back to the menu"), "handoff:menu")]],
    )


@router.button("ask")
async def ask(ctx: Context) -> None:
    """The member forwards the question the bot could not answer."""
    question = (ctx.contact.flow_data or {}).get(UNANSWERED) if not ctx.contact.flow else None
    if not question:
        return await talk(ctx)
    ctx.start_flow(FLOW, kind="question")
    to_secretariat(ctx, question, "question")
    ctx.reply(
        ctx.t(
            "I have passed your question to the secretariat. They will answer you here. "
            "You can add details in your next messages."
        )
        + " "
        + reply_time(ctx),
        _choices(ctx),
    )


@router.flow(FLOW)
async def write(ctx: Context) -> None:
    """A message to the secretariat, kept in the conversation and posted to the staff chat."""
    if ctx.msg.kind == Kind.MEDIA:
        return ctx.reply(ctx.t("I can only read text for now. Please type your message."))
    if not ctx.text:
        return await talk(ctx)
    kind = (ctx.contact.flow_data or {}).get("kind", "secretariat")
    if disclosed(ctx, concerns=kind != "safeguarding"):
        return
    to_secretariat(ctx, ctx.text, kind)
    ctx.reply(
        ctx.t("Your message is with the secretariat. They will answer you here."), _choices(ctx)
    )


@router.button("handoff")
async def on_handoff(ctx: Context) -> None:
    action = (ctx.payload or "").partition(":")[2]
    if action == "close":
        ctx.end_flow()
        close(ctx)
        return main_menu(
            ctx,
            ctx.t(
                "The conversation is closed. Thank you! You can write to the secretariat again "
                "from the menu."
            ),
        )
    if action == "focal":
        # offered with a possible concern: what the member writes next reaches the focal point
        ctx.start_flow(FLOW, kind="safeguarding")
        return ctx.reply(
            ctx.t(
                "Write your message here, in any language. ChildPact's safeguarding focal point "
                "will read it and answer you in this chat."
            ),
            [[Button(ctx.t("Back to the menu"), "handoff:menu")]],
        )
    if action == "reply":
        ctx.start_flow(FLOW, kind="secretariat")
        return ctx.reply(
            ctx.t("Write your reply to the secretariat."),
            [[Button(ctx.t("Back to the menu"), "handoff:menu")]],
        )
    # The conversation stays open: an answer from the secretariat still reaches the member.
    ctx.end_flow()
    main_menu(ctx)


def _choices(ctx: Context) -> list[list[Button]]:
    return [
        [Button(ctx.t("Close the conversation"), "handoff:close")],
        [Button(ctx.t("Menu"), "handoff:menu")],
    ]


# ---------------------------------------------------------------- what other features call


def record_unanswered(ctx: Context) -> None:
    """The bot could not answer: count the question, and keep it in case the member forwards it."""
    question, locale = ctx.text[: inbox.QUESTION_LIMIT], ctx.t.locale
    if not question:
        return
    ctx.update_flow(**{UNANSWERED: question})

    country, contact_id = ctx.contact.country or ctx.contact.country_hint, ctx.contact.id

    async def count(done: Handled) -> None:
        await inbox.count_unanswered(done.session, locale, question, country, contact_id)

    ctx.effects.append(count)


def to_secretariat(ctx: Context, text: str, kind: str) -> None:
    """Keep ``text`` in the member's open conversation and post it to the staff chat."""

    async def store(done: Handled) -> None:
        await _relay(done, ctx, text, kind)

    ctx.effects.append(store)


def close(ctx: Context) -> None:
    contact_id, settings = ctx.contact.id, ctx.settings

    async def store(done: Handled) -> None:
        await relay.close(done.session, settings, contact_id, done.inbound_id)

    ctx.effects.append(store)


async def _relay(done: Handled, ctx: Context, text: str, kind: str) -> None:
    await relay.relay(
        done.session, ctx.settings, ctx.contact, text, kind,
        locale=ctx.t.locale, channel=ctx.msg.channel, inbound_id=done.inbound_id,
    )  # fmt: skip


async def staff_message(
    session: AsyncSession, settings: Settings, inbound_id: int, msg: InboundMessage
) -> None:
    """The secretariat answers from their chat: a reply there goes to the member it names; the
    focal point's "Not a concern" there puts an alert in the review list."""
    if safeguarding_review.is_review_button(msg):
        return await safeguarding_review.not_a_concern(session, settings, inbound_id, msg)
    if msg.callback_id:
        return  # an old button of ours: nothing to do
    await relay.staff_message(session, settings, inbound_id, msg)


router.staff_reply(staff_message)
