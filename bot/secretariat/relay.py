"""Between members and the secretariat's staff chat: a member's message relayed to the chat,
a staff reply there (or an answer from the inbox) sent to the member, a closed conversation
noted; each kept in the member's conversation."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import ChannelName
from bot.config import Settings
from bot.i18n import Translator, resolve_locale, translator_for
from bot.messages import Button, InboundMessage, OutboundMessage
from bot.secretariat import inbox
from bot.storage import outbox
from bot.storage.models import Contact, Conversation, Delivery

log = logging.getLogger(__name__)
RELAY_LIMIT = 3500  # characters of a member's message in the staff chat: one Telegram message
HEADINGS = {"secretariat": "", "question": " asks what the bot could not answer",
            "safeguarding": " (safeguarding)", "reply": " replies to a broadcast"}  # fmt: skip


async def relay(
    session: AsyncSession,
    settings: Settings,
    contact: Contact,
    text: str,
    kind: str,
    *,
    locale: str,
    channel: str,
    inbound_id: int | None,
    broadcast_id: int | None = None,
) -> None:
    """Keep ``text`` in the member's open conversation and post it to the staff chat; with
    ``broadcast_id``, as the member's reply to that broadcast."""
    conversation = await inbox.open_conversation(session, contact.id, kind)
    first = not await inbox.message_count(session, conversation.id)
    chat = staff_chat(settings)
    delivery_id = None
    if chat:
        # For the secretariat's staff, in the coalition's working language; never the
        # member's phone number or chat address.
        country = contact.country or contact.country_hint or "?"
        heading = (
            f"#{conversation.id} member {contact.id} ({locale}, {country}, "
            f"{channel}){HEADINGS.get(kind, '')}"
            + (f" #{broadcast_id}" if broadcast_id else "") + ":"
        )
        body = text if len(text) <= RELAY_LIMIT else text[:RELAY_LIMIT] + "…"
        hint = "\n\n(Reply to this message to answer the member.)" if first else ""
        row = to_chat(session, chat, f"{heading}\n{body}{hint}", inbound_id)
        await session.flush()
        delivery_id = row.id
    await inbox.add_message(session, conversation, "member", text, delivery_id, broadcast_id)
    log.info("handoff: contact %s wrote in conversation %s", contact.id, conversation.id)


async def close(
    session: AsyncSession, settings: Settings, contact_id: int, inbound_id: int | None
) -> None:
    """The member closed their conversations: the staff chat is told which."""
    chat = staff_chat(settings)
    for conversation_id in await inbox.close(session, contact_id=contact_id):
        log.info("handoff: contact %s closed conversation %s", contact_id, conversation_id)
        if chat:
            note = f"#{conversation_id}: member {contact_id} closed the conversation."
            to_chat(session, chat, note, inbound_id)


async def staff_message(
    session: AsyncSession, settings: Settings, inbound_id: int, msg: InboundMessage
) -> None:
    """A staff member replied in their chat to one of our messages: answer that member."""
    if msg.channel != ChannelName.TELEGRAM or msg.address not in settings.staff_chats:
        return
    conversation = await inbox.thread_of(session, msg.address, msg.payload or "")
    if conversation is None:
        note = (
            "This reply reaches no member: reply to a member's message "
            "(the ones that start with #) to answer them."
        )
        to_chat(session, msg.address, note, inbound_id)
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
    if contact is None or contact.status == "erased":  # kept for its safeguarding records only
        return
    text = text.strip()
    t = member_translator(contact)
    answer = OutboundMessage(
        text=t("Reply from the ChildPact secretariat:") + "\n\n" + text,
        buttons=[
            [Button(t("Reply"), "handoff:reply")],
            [Button(t("Close the conversation"), "handoff:close")],
        ],
    )
    noticed(answer, settings, t, t("The secretariat answered you: reply to read."))
    # On WhatsApp the member answers "1" or "2": these are now the options they see.
    outbox.enqueue(session, contact, answer, inbound_id=inbound_id, t=t)
    delivery_id = None
    chat = staff_chat(settings)
    if echo and chat:
        row = to_chat(
            session, chat, f"#{conversation.id} answered in the inbox:\n{text}", inbound_id
        )
        await session.flush()
        delivery_id = row.id
    await inbox.add_message(session, conversation, "secretariat", text, delivery_id)
    log.info("handoff: the secretariat answered conversation %s", conversation.id)


def member_translator(contact: Contact) -> Translator:
    return translator_for(
        resolve_locale(contact.locale, contact.lang_hint, contact.country or contact.country_hint),
        contact.country,
    )


def noticed(message: OutboundMessage, settings: Settings, t: Translator, teaser: str) -> None:
    """Outside WhatsApp's 24-hour window the approved notice template goes instead, saying
    ``teaser``; the message itself follows once the member replies (the sender judges the
    window as it sends, and holds the message when there is no template)."""
    templates = settings.notice_templates
    message.template = templates.get(t.locale) or templates.get("en")
    message.teaser = teaser


def tell_answer(
    session: AsyncSession, settings: Settings, contact: Contact, question: str,
    answers: dict[str, str],
) -> bool:  # fmt: skip
    """A member who asked what the bot could not answer gets the answer the secretariat has
    taught it since, in their language (or English), on the chat they asked from."""
    t = member_translator(contact)
    answer = answers.get(t.locale) or answers.get("en")
    if contact.status not in inbox.TOLD or not answer:
        return False
    text = "\n\n".join(
        [t("You asked: “{question}”", question=question), t("Here is the answer:"), answer]
    )
    message = OutboundMessage(text=text)
    teaser = t("We have an answer to the question you asked: reply to read it.")
    noticed(message, settings, t, teaser)
    outbox.enqueue(session, contact, message, t=t)
    log.info("knowledge: contact %s told the answer to their question", contact.id)
    return True


def to_chat(session: AsyncSession, chat: str, text: str, inbound_id: int | None) -> Delivery:
    """A message to a staff chat of the secretariat."""
    to = outbox.Chat(ChannelName.TELEGRAM, chat)
    return outbox.enqueue(session, to, OutboundMessage(text=text), inbound_id=inbound_id)


def staff_chat(settings: Settings) -> str | None:
    """The staff chat's id, or None when the secretariat has none."""
    return (settings.admin_telegram_chat_id or "").strip() or None
