"""Talk to the secretariat: members write, staff answer from their Telegram chat or the API."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.conversation.router import Context, Handled, Router
from bot.i18n import resolve_locale, translator_for
from bot.messages import Button, InboundMessage, Kind, OutboundMessage
from bot.secretariat import inbox
from bot.storage import outbox
from bot.storage.models import Contact, Conversation, Delivery
from handlers.ui import main_menu

router = Router("handoff")
log = logging.getLogger(__name__)
FLOW = "secretariat"
UNANSWERED = "unanswered"  # flow_data key: the member's last question the bot could not answer
RELAY_LIMIT = 3500  # characters of a member's message in the staff chat: one Telegram message
HEADINGS = {"secretariat": "", "question": " asks what the bot could not answer",
            "safeguarding": " (safeguarding)"}  # fmt: skip


@router.button("menu:secretariat")
async def talk(ctx: Context) -> None:
    """From the menu: whatever the member writes next goes to the secretariat."""
    ctx.start_flow(FLOW, kind="secretariat")
    ctx.reply(
        ctx.t(
            "Write your message to the secretariat here, in any language. "
            "Someone from the secretariat will answer you in this chat."
        ),
        [[Button(ctx.t("Back to the menu"), "handoff:menu")]],
    )


@router.button("ask")
async def ask(ctx: Context) -> None:
    """The member forwards the question the bot could not answer."""
    question = (ctx.contact.flow_data or {}).get(UNANSWERED) if not ctx.contact.flow else None
    if not question:
        return await talk(ctx)
    ctx.start_flow(FLOW, kind="question")
    relay(ctx, question, "question")
    ctx.reply(
        ctx.t(
            "I have passed your question to the secretariat. They will answer you here. "
            "You can add details in your next messages."
        ),
        _choices(ctx),
    )


@router.flow(FLOW)
async def write(ctx: Context) -> None:
    """A message to the secretariat, kept in the conversation and posted to the staff chat."""
    if ctx.msg.kind == Kind.MEDIA:
        return ctx.reply(ctx.t("I can only read text for now. Please type your message."))
    if not ctx.text:
        return await talk(ctx)
    safeguarding = getattr(ctx.services, "safeguarding", None)
    if safeguarding is not None and safeguarding.is_disclosure(ctx.text, [ctx.t.locale, "en"]):
        from handlers.faq import safeguarding_alert  # faq imports this module

        country = ctx.contact.country or ctx.contact.country_hint
        alerted = bool(ctx.settings.safeguarding_telegram_chat_id)
        return safeguarding_alert(ctx, safeguarding.answer(ctx.t, country, alerted=alerted))
    relay(ctx, ctx.text, (ctx.contact.flow_data or {}).get("kind", "secretariat"))
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

    async def count(done: Handled) -> None:
        await inbox.count_unanswered(done.session, locale, question)

    ctx.effects.append(count)


def open_safeguarding(ctx: Context) -> None:
    """A disclosure opens (or marks) a conversation, tied to the alert so that a staff reply to
    the alert reaches the member; without an alert chat, the staff chat gets the message."""
    text = ctx.text

    async def link(done: Handled) -> None:
        if done.alerts:
            conversation = await inbox.open_conversation(
                done.session, ctx.contact.id, "safeguarding"
            )
            await inbox.add_message(done.session, conversation, "member", text, done.alerts[-1].id)
        else:
            await _relay(done, ctx, text, "safeguarding")

    ctx.effects.append(link)


def relay(ctx: Context, text: str, kind: str) -> None:
    """Keep ``text`` in the member's open conversation and post it to the staff chat."""

    async def store(done: Handled) -> None:
        await _relay(done, ctx, text, kind)

    ctx.effects.append(store)


def close(ctx: Context) -> None:
    contact_id, chat = ctx.contact.id, _staff_chat(ctx.settings)

    async def store(done: Handled) -> None:
        for conversation_id in await inbox.close(done.session, contact_id=contact_id):
            log.info("handoff: contact %s closed conversation %s", contact_id, conversation_id)
            if chat:
                note = f"#{conversation_id}: member {contact_id} closed the conversation."
                _to_chat(done.session, chat, note, done.inbound_id)

    ctx.effects.append(store)


async def _relay(done: Handled, ctx: Context, text: str, kind: str) -> None:
    session, contact = done.session, ctx.contact
    conversation = await inbox.open_conversation(session, contact.id, kind)
    first = not await inbox.message_count(session, conversation.id)
    chat = _staff_chat(ctx.settings)
    delivery_id = None
    if chat:
        # For the secretariat's staff, in the coalition's working language; never the
        # member's phone number or chat address.
        country = contact.country or contact.country_hint or "?"
        heading = (
            f"#{conversation.id} member {contact.id} ({ctx.t.locale}, {country}, "
            f"{ctx.msg.channel}){HEADINGS.get(kind, '')}:"
        )
        body = text if len(text) <= RELAY_LIMIT else text[:RELAY_LIMIT] + "…"
        hint = "\n\n(Reply to this message to answer the member.)" if first else ""
        row = _to_chat(session, chat, f"{heading}\n{body}{hint}", done.inbound_id)
        await session.flush()
        delivery_id = row.id
    await inbox.add_message(session, conversation, "member", text, delivery_id)
    log.info("handoff: contact %s wrote in conversation %s", contact.id, conversation.id)


def _to_chat(session: AsyncSession, chat: str, text: str, inbound_id: int | None) -> Delivery:
    """A message to a staff chat of the secretariat."""
    to = outbox.Chat("telegram", chat)
    return outbox.enqueue(session, to, OutboundMessage(text=text), inbound_id=inbound_id)


def _staff_chat(settings: Settings) -> str | None:
    return (settings.admin_telegram_chat_id or "").strip() or None


# ---------------------------------------------------------------- the secretariat answers


async def staff_message(
    session: AsyncSession, settings: Settings, inbound_id: int, msg: InboundMessage
) -> None:
    """A staff member replied in their chat to one of our messages: answer that member."""
    if msg.channel != "telegram" or msg.address not in settings.staff_chats:
        return
    conversation = await inbox.thread_of(session, msg.address, msg.payload or "")
    if conversation is None:
        note = (
            "This reply reaches no member: reply to a member's message "
            "(the ones that start with #) to answer them."
        )
        _to_chat(session, msg.address, note, inbound_id)
        return
    if msg.text.strip():
        await answer_member(session, settings, conversation, msg.text, inbound_id=inbound_id)


async def answer_member(
    session: AsyncSession,
    settings: Settings,
    conversation: Conversation,
    text: str,
    *,
    inbound_id: int | None = None,
    echo: bool = False,
) -> None:
    """Send the secretariat's answer to the member, on their channel and in their language.

    ``echo`` also shows the answer in the staff chat (when it was written elsewhere, in the API).
    """
    contact = await session.get(Contact, conversation.contact_id)
    if contact is None:
        return
    text = text.strip()
    t = translator_for(
        resolve_locale(contact.locale, contact.lang_hint, contact.country or contact.country_hint),
        contact.country,
    )
    answer = OutboundMessage(
        text=t("Reply from the ChildPact secretariat:") + "\n\n" + text,
        buttons=[
            [Button(t("Reply"), "handoff:reply")],
            [Button(t("Close the conversation"), "handoff:close")],
        ],
    )
    # On WhatsApp the member answers "1" or "2": these are now the options they see.
    outbox.enqueue(session, contact, answer, inbound_id=inbound_id, t=t)
    delivery_id = None
    chat = _staff_chat(settings)
    if echo and chat:
        row = _to_chat(
            session, chat, f"#{conversation.id} answered in the inbox:\n{text}", inbound_id
        )
        await session.flush()
        delivery_id = row.id
    await inbox.add_message(session, conversation, "secretariat", text, delivery_id)
    log.info("handoff: the secretariat answered conversation %s", conversation.id)
