"""Linking a member's chats: "link" gives a code to send from the other chat, the code
links them, "unlink" (confirmed) separates this chat again, and the member picks the channel
that news and surveys reach them on. Database work runs as effects, in the message's own
transaction, and writes its replies to the outbox there, to this chat and the linked ones."""

from __future__ import annotations

import logging
import re

from bot.channels.base import MEMBER_CHANNELS, ChannelName
from bot.conversation.router import Context, Handled, Router
from bot.i18n import Translator, resolve_locale, translator_for
from bot.members import linking
from bot.messages import Button, OutboundMessage
from bot.storage import outbox
from bot.storage.models import Contact
from handlers.faq import free_text
from handlers.ui import word_for

router = Router("linking")
log = logging.getLogger(__name__)
FLOW = "link"  # the bot asked for the code from the other chat
_TRAILING_DIGITS = re.compile(r"(\d[\d\s.-]*)$")
_NAMES = {ChannelName.TELEGRAM: "Telegram", ChannelName.WHATSAPP: "WhatsApp"}


def channel_name(t: Translator, channel: str) -> str:
    return _NAMES.get(channel) or t("web chat")


def translator_of(contact: Contact) -> Translator:
    locale = resolve_locale(
        contact.locale, contact.lang_hint, contact.country or contact.country_hint
    )
    return translator_for(locale, contact.country)


def say(
    done: Handled, contact: Contact, text: str, buttons: list[list[Button]] | None = None
) -> None:
    """A reply written in an effect, to this chat or to one linked with it."""
    message = OutboundMessage(text=text, buttons=buttons or [])
    outbox.enqueue(
        done.session, contact, message, inbound_id=done.inbound_id, t=translator_of(contact)
    )


def _channels(t: Translator, contacts: list[Contact]) -> str:
    order = {name: i for i, name in enumerate(MEMBER_CHANNELS)}
    found = sorted({c.channel for c in contacts}, key=lambda ch: order.get(ch, 9))
    return ", ".join(channel_name(t, ch) for ch in found)


# ---------------------------------------------------------------- linking


@router.command("link")
async def link(ctx: Context) -> None:
    """ "link" alone gives a code; "link 123456" uses the code from the other chat."""
    typed = _TRAILING_DIGITS.search(ctx.text)
    if typed:
        return redeem_code(ctx, "".join(c for c in typed.group(1) if c.isdigit()))
    offer_code(ctx)


def offer_code(ctx: Context) -> None:
    minutes = int(linking.CODE_TTL.total_seconds() // 60)

    async def effect(done: Handled) -> None:
        t = ctx.t
        code = await linking.issue(done.session, ctx.contact)
        word = word_for(t, "link")
        text = t.ngettext(
            "Your link code: {code}\nSend it from your other chat (Telegram, WhatsApp or "
            "the web chat) within {n} minute: write “{word} {code}” there.",
            "Your link code: {code}\nSend it from your other chat (Telegram, WhatsApp or "
            "the web chat) within {n} minutes: write “{word} {code}” there.",
            minutes,
            code=code,
            word=word,
        )
        hint = t("Do you already have a code from your other chat? Send it here.")
        say(done, ctx.contact, f"{text}\n\n{hint}")

    ctx.start_flow(FLOW)
    ctx.effects.append(effect)


@router.flow(FLOW)
async def typed_code(ctx: Context) -> None:
    """The code alone, after the bot asked for it; anything else is not about linking."""
    code = linking.normalise_code(ctx.text)
    if code is None:
        ctx.end_flow()
        return await free_text(ctx)
    redeem_code(ctx, code)


def redeem_code(ctx: Context, code: str) -> None:
    async def effect(done: Handled) -> None:
        found = await linking.redeem(done.session, ctx.contact, code)
        if found.result == "linked":
            return _linked(done, ctx, found.contacts)
        t = ctx.t
        if found.result == "locked":
            text = t.ngettext(
                "Too many wrong codes. Please try again in {n} minute.",
                "Too many wrong codes. Please try again in {n} minutes.",
                found.minutes,
            )
        elif found.result == "expired":
            text = t(
                "That code has expired or was already used. Write {word} in your other chat "
                "to get a new one.",
                word=word_for(t, "link"),
            )
        elif found.result == "own":
            text = t("This code was made in this chat. Send it from your other chat.")
        elif found.result == "already":
            text = t("These chats are already linked.")
        elif found.result == "same_channel":
            text = t(
                "One of your linked chats is already on {channel}. To link another one there, "
                "first write {word} in it.",
                channel=channel_name(t, found.channel or ""),
                word=word_for(t, "unlink"),
            )
        else:
            text = t("That code is not right. Please check it and try again.")
        if found.result in ("locked", "already", "same_channel") and ctx.contact.flow == FLOW:
            ctx.end_flow()
        say(done, ctx.contact, text)

    ctx.effects.append(effect)


def _linked(done: Handled, ctx: Context, contacts: list[Contact]) -> None:
    for contact in contacts:
        if contact.flow == FLOW:
            contact.flow, contact.flow_data = None, {}
        t = translator_of(contact)  # the newest settings may have changed the language
        say(
            done,
            contact,
            t(
                "Done! Your chats on {channels} are now linked. You will get our news and "
                "surveys only once.",
                channels=_channels(t, contacts),
            ),
        )
    log.info("linked %d chats into person %s", len(contacts), ctx.contact.person_id)


# ---------------------------------------------------------------- unlinking


@router.command("unlink")
async def unlink_asked(ctx: Context) -> None:
    ask_unlink(ctx)


def ask_unlink(ctx: Context) -> None:
    t = ctx.t
    if ctx.contact.person_id is None:
        return not_linked(ctx)
    ctx.reply(
        t("Unlink this chat from your other chats? Each chat will then get the news separately."),
        [
            [Button(t("Yes, unlink"), "unlink:yes")],
            [Button(t("No, keep them linked"), "unlink:no")],
        ],
    )


def not_linked(ctx: Context) -> None:
    ctx.reply(_not_linked_text(ctx.t))


@router.button("unlink")
async def on_unlink(ctx: Context) -> None:
    if ctx.payload != "unlink:yes":
        return ctx.reply(ctx.t("Okay, cancelled."))
    if ctx.contact.person_id is None:
        return not_linked(ctx)
    person_id = ctx.contact.person_id

    async def effect(done: Handled) -> None:
        rest = await linking.unlink(done.session, ctx.contact)
        say(done, ctx.contact, ctx.t("Done: this chat is no longer linked with your other chats."))
        for other in rest:
            t = translator_of(other)
            say(
                done,
                other,
                t(
                    "Your chat on {channel} is no longer linked with this one.",
                    channel=channel_name(t, ctx.contact.channel),
                ),
            )
        log.info("a chat left person %s", person_id)

    ctx.effects.append(effect)


# ---------------------------------------------------------------- preferred channel and settings


def preferred_picker(ctx: Context) -> None:
    async def effect(done: Handled) -> None:
        contacts = await linking.person_contacts(done.session, ctx.contact)
        t = ctx.t
        if len(contacts) < 2:
            return say(done, ctx.contact, _not_linked_text(t))
        preferred = await linking.preferred_channel(done.session, ctx.contact)
        rows = [
            [Button(channel_name(t, c.channel), f"pref:{c.channel}")]
            for c in linking.ordered(contacts, preferred)
        ]
        say(done, ctx.contact, t("Where should our news and surveys reach you?"), rows)

    ctx.effects.append(effect)


def _not_linked_text(t: Translator) -> str:
    return t(
        "This chat is not linked with any other chat. To link one, write {word}.",
        word=word_for(t, "link"),
    )


@router.button("pref")
async def on_preferred(ctx: Context) -> None:
    channel = (ctx.payload or "").partition(":")[2]

    async def effect(done: Handled) -> None:
        t = ctx.t
        if not await linking.set_preferred(done.session, ctx.contact, channel):
            return say(done, ctx.contact, _not_linked_text(t))
        say(
            done,
            ctx.contact,
            t(
                "Saved: news and surveys will reach you on {channel}.",
                channel=channel_name(t, channel),
            ),
        )

    ctx.effects.append(effect)


def show_settings(ctx: Context, text: str, rows: list[list[Button]], back: list[Button]) -> None:
    """The settings with what linking adds: the linked chats and where news reaches the
    member, and the buttons to link, choose the channel or unlink."""
    t = ctx.t
    link_row = [Button(t("Link another chat"), "set:link")]
    if ctx.contact.person_id is None:
        return ctx.reply(text, [*rows, link_row, back])

    async def effect(done: Handled) -> None:
        contacts = await linking.person_contacts(done.session, ctx.contact)
        preferred = await linking.preferred_channel(done.session, ctx.contact)
        line = t(
            "Linked chats: {channels}\nNews and surveys come on: {channel}",
            channels=_channels(t, contacts),
            channel=channel_name(t, preferred) if preferred else t("the chat you used last"),
        )
        extra = [
            [Button(t("Preferred channel"), "set:preferred")],
            link_row,
            [Button(t("Unlink this chat"), "set:unlink")],
        ]
        say(done, ctx.contact, f"{text}\n{line}", [*rows, *extra, back])

    ctx.effects.append(effect)
