"""A broadcast's words: the text per locale, the one a member reads, the message made of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.broadcasts.model import EDITABLE, BroadcastError, digest
from bot.channels.base import ChannelName, pieces
from bot.channels.registry import capabilities
from bot.countries import COUNTRY_LOCALE
from bot.i18n import LOCALES, normalize_locale, resolve_locale
from bot.messages import Button, OutboundMessage, link_problem
from bot.storage.models import Broadcast, Contact


def member_locale(contact: Contact) -> str:
    return resolve_locale(
        contact.locale, contact.lang_hint, contact.country or contact.country_hint
    )


def pick_text(broadcast: Broadcast, contact: Contact) -> tuple[str, str]:
    """The locale a member reads this broadcast in, and how it was chosen: their own
    language, their country's usual one, or the base text."""
    texts = broadcast.texts or {}
    own = member_locale(contact)
    if _text(texts, own):
        return own, "own"
    usual = COUNTRY_LOCALE.get(contact.country or contact.country_hint or "")
    if usual and _text(texts, usual):
        return usual, "country"
    return broadcast.base_locale, "base"


def _text(texts: dict[str, Any], locale: str) -> str:
    entry = texts.get(locale)
    return (entry or {}).get("text", "").strip() if isinstance(entry, dict) else ""


def set_text(broadcast: Broadcast, locale: str, text: str) -> None:
    """Write one locale's text. A translation remembers which base text it was made from,
    so the composer can warn when the base changes after it."""
    if (broadcast.status or "draft") not in EDITABLE:
        raise BroadcastError("not_editable", "a broadcast that is sending or sent cannot change")
    locale = normalize_locale(locale) or ""
    if locale not in LOCALES:
        raise BroadcastError("locale", f"unknown locale {locale!r}", locale=locale)
    texts = dict(broadcast.texts or {})
    text = text.strip()
    if not text:
        texts.pop(locale, None)
    elif locale == broadcast.base_locale:
        texts[locale] = {"text": text}
    else:
        texts[locale] = {"text": text, "base": digest(_text(texts, broadcast.base_locale))}
    broadcast.texts = texts


def stale_locales(broadcast: Broadcast) -> list[str]:
    """Translations written for a base text that has changed since."""
    texts = broadcast.texts or {}
    base = digest(_text(texts, broadcast.base_locale))
    return sorted(
        loc
        for loc, entry in texts.items()
        if loc != broadcast.base_locale and isinstance(entry, dict) and entry.get("base") != base
    )


def check(broadcast: Broadcast) -> list[BroadcastError]:
    """Everything that stops this broadcast from going out as written; empty when it can."""
    problems: list[BroadcastError] = []
    texts = broadcast.texts or {}
    if not _text(texts, broadcast.base_locale):
        problems.append(
            BroadcastError("no_base_text", f"write the {broadcast.base_locale} text first")
        )
    for locale in sorted(texts):
        body = _text(texts, locale)
        for channel in ChannelName:
            limit = capabilities(channel).text_limit
            if capabilities(channel).reads_outbox:  # the chat page shows any length
                continue
            if len(body) > limit:
                problems.append(
                    BroadcastError(
                        "too_long",
                        f"the {locale} text has {len(body)} characters; {channel} allows {limit}",
                        locale=locale,
                        channel=channel,
                        limit=limit,
                        length=len(body),
                    )  # fmt: skip
                )
    for button in broadcast.buttons or []:
        url = button.get("url")
        if url is not None and (problem := link_problem(str(url))) is not None:
            problems.append(BroadcastError("button_url", f"{url!r}: {problem}"))
    return problems


def message_for(
    broadcast: Broadcast, locale: str, tell_me_more: str | None, hint: str | None = None
) -> OutboundMessage:
    """The message a member reading ``locale`` gets."""
    rows: list[list[Button]] = []
    for button in broadcast.buttons or []:
        labels = button.get("label") or {}
        label = labels.get(locale) or labels.get(broadcast.base_locale) or tell_me_more or ""
        if button.get("url"):
            rows.append([Button(label=label, payload="", url=button["url"])])
        elif button.get("payload"):
            rows.append([Button(label=label, payload=str(button["payload"]))])
    message = OutboundMessage(
        text=_text(broadcast.texts or {}, locale), buttons=rows, image_url=broadcast.image_url
    )
    if message.choices():
        message.remember_choices = True
        message.choice_hint = hint
    return message


def untranslated_buttons(broadcast: Broadcast) -> list[tuple[int, str, list[str]]]:
    """Buttons whose own text stays in the base language for languages whose body is
    translated: ``(button number from 1, its base text, those locales)``. A button with no
    text of its own ("tell me more") is the bot's, in every language, and is never listed."""
    translated = [loc for loc in locales_written(broadcast) if loc != broadcast.base_locale]
    found = []
    for number, button in enumerate(broadcast.buttons or [], start=1):
        labels = {k: v for k, v in (button.get("label") or {}).items() if str(v).strip()}
        if not labels:
            continue
        lacking = [loc for loc in translated if loc not in labels]
        if lacking:
            shown = labels.get(broadcast.base_locale) or next(iter(labels.values()))
            found.append((number, str(shown), lacking))
    return found


def locales_written(broadcast: Broadcast) -> list[str]:
    return sorted(loc for loc in (broadcast.texts or {}) if _text(broadcast.texts, loc))


def test_message(broadcast: Broadcast, locale: str, tell_me_more: str | None) -> OutboundMessage:
    """What the author's own chat gets before the real send, marked as a test."""
    if not _text(broadcast.texts or {}, locale):
        locale = broadcast.base_locale
    message = message_for(broadcast, locale, tell_me_more)
    message.text = f"[TEST {locale}]\n{message.text}"
    return message


def text_of(broadcast: Broadcast, locale: str) -> str:
    """The text written for ``locale``, or an empty string."""
    return _text(broadcast.texts or {}, locale)


@dataclass(frozen=True)
class Seen:
    """A broadcast in one language as members on ``channels`` see it: the messages' texts in
    order, and the buttons under the last (none where a channel turns them into lines of
    text)."""

    channels: tuple[str, ...]
    texts: tuple[str, ...]
    buttons: tuple[tuple[str, str | None], ...]  # label, link (None: a choice)
    image_url: str | None


def as_seen(
    broadcast: Broadcast,
    locale: str,
    channels: list[str],
    tell_me_more: str | None,
    hint: str | None,
) -> list[Seen]:
    """What members reading ``locale`` see on each of ``channels``, channels that show it
    alike together."""
    message = message_for(broadcast, locale, tell_me_more, hint)
    alike: dict[tuple[Any, ...], list[str]] = {}
    for channel in channels:
        shown = capabilities(channel)
        texts = tuple(pieces(message, shown))
        buttons = (
            tuple((b.label, b.url) for row in message.buttons for b in row) if shown.buttons else ()
        )
        alike.setdefault((texts, buttons), []).append(channel)
    return [
        Seen(tuple(chs), texts, buttons, broadcast.image_url)
        for (texts, buttons), chs in alike.items()
    ]
