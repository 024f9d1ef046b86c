"""The member commands and the words that name them in every supported language."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from bot.i18n import LOCALES, Translator, fold
from bot.i18n.markers import C_

COMMANDS: tuple[str, ...] = (
    "start", "help", "menu", "language", "country", "stop", "cancel", "link", "unlink",
    "mydata", "deleteme", "about", "surveys", "settings", "secretariat",
)  # fmt: skip
# The main menu's entries: typed by name (or as their button reads) they open that entry.
MENU_COMMANDS: tuple[str, ...] = ("about", "surveys", "settings", "secretariat")
# The secretariat's own commands: Telegram slash commands only, no words to translate.
STAFF_COMMANDS: tuple[str, ...] = ("staff", "news", "results")
STAFF_FLOW = "staff_news"  # composing a broadcast in the bot


# The English words are the msgids; each catalog lists its own words, comma-separated.
# Translators: keep them short, lower case, the words a member would really type.
COMMAND_WORDS: dict[str, str] = {
    "start": C_("command", "start, restart, begin"),
    "help": C_("command", "help, info, commands"),
    "menu": C_("command", "menu, main menu, home"),
    "language": C_("command", "language, lang"),
    "country": C_("command", "country"),
    "stop": C_("command", "stop, stopall, unsubscribe, end, quit"),
    "cancel": C_("command", "cancel, exit, leave"),
    "link": C_("command", "link, connect"),
    "unlink": C_("command", "unlink, disconnect"),
    "mydata": C_("command", "my data, mydata"),
    "deleteme": C_("command", "delete me, deleteme, delete my data"),
    "about": C_("command", "about, about childpact"),
    "surveys": C_("command", "surveys, survey, polls"),
    "settings": C_("command", "settings, options, preferences"),
    # Translators: several words each; also the phrases people write to reach a person.
    "secretariat": C_(
        "command",
        "secretariat, talk to a person, talk to someone, talk to a human, speak to a person",
    ),
}
# The main menu's buttons (their msgids): their label in any language names the entry too.
MENU_LABELS: dict[str, str] = {
    "about": "About ChildPact",
    "surveys": "Surveys",
    "settings": "Settings",
    "secretariat": "Talk to the secretariat",
}

_SLASH = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s.*)?$", re.DOTALL)
# "link 123456": the command word followed by the code from the member's other chat.
_WITH_CODE = re.compile(r"^(\D+?)[\s:]*(\d[\d\s.-]*)$")


def words_in(t: Translator, command: str) -> list[str]:
    """The words for ``command`` in one locale, the first being the one to show."""
    return [
        w.strip() for w in t.pgettext("command", COMMAND_WORDS[command]).split(",") if w.strip()
    ]


@cache
def vocabulary() -> dict[str, str]:
    """Every command word of every locale, folded, mapped to its command."""
    table: dict[str, str] = {}
    for locale in LOCALES:
        t = Translator(locale)
        for command in COMMANDS:
            for word in words_in(t, command) + [command]:
                table.setdefault(fold(word), command)
        for command, label in MENU_LABELS.items():
            table.setdefault(fold(t(label)), command)
    return table


@cache
def _phrases() -> tuple[tuple[str, str], ...]:
    """The words of several words for reaching a person, in every locale: found inside a short
    message too ("I want to talk to a person please")."""
    found = {}
    for locale in LOCALES:
        for word in words_in(Translator(locale), "secretariat"):
            folded = fold(word)
            if " " in folded:
                found[folded] = "secretariat"
    return tuple(found.items())


PHRASE_LIMIT = 80  # "I want to talk to someone at the secretariat, please"


def _asks_for_a_person(text: str) -> str | None:
    padded = f" {fold(text)} "
    return next((c for phrase, c in _phrases() if f" {phrase} " in padded), None)


def recognise(text: str) -> str | None:
    """The command a message names: ``/stop``, ``STOP``, ``стоп``, ``Meniu``..."""
    stripped = text.strip()
    slash = _SLASH.match(stripped)
    if slash:
        name = slash.group(1).lower()
        return name if name in COMMANDS or name in STAFF_COMMANDS else None
    if len(stripped) > PHRASE_LIMIT:
        return None
    if len(stripped) > 40:  # a sentence: only a request to reach a person is a command
        return _asks_for_a_person(stripped)
    found = vocabulary().get(fold(stripped)) or _asks_for_a_person(stripped)
    coded = _WITH_CODE.match(stripped) if found is None else None
    if coded and vocabulary().get(fold(coded.group(1))) == "link":
        return "link"
    return found


# Telegram's command menu (shown on typing "/"), in this order, with a line on each.
MENU_LINES: dict[str, str] = {
    "menu": C_("command menu", "The main menu"),
    "settings": C_("command menu", "Language, country, topics and time zone"),
    "surveys": C_("command menu", "The surveys open to you"),
    "secretariat": C_("command menu", "Write to the secretariat"),
    "language": C_("command menu", "Change your language"),
    "help": C_("command menu", "What you can write to me"),
    "stop": C_("command menu", "Stop the news"),
    "start": C_("command menu", "Start again and resume the news"),
    "mydata": C_("command menu", "Everything kept about you"),
    "deleteme": C_("command menu", "Delete your data"),
}
# Translators: shown in the empty chat before a member writes; at most 512 characters.
DESCRIPTION = C_(
    "bot description",
    "The ChildPact chat for the coalition's members: answers about the coalition, news from "
    "the secretariat in your language and short surveys. Press Start to begin.",
)
# Translators: shown on the bot's profile and with shared links; at most 120 characters.
SHORT_DESCRIPTION = C_(
    "bot description", "Answers, news and surveys from the ChildPact secretariat, in your language."
)


def telegram_language(locale: str) -> str | None:
    """The language code Telegram takes for a locale: two letters; "" for English, which is
    everyone's whose language has no menu of its own; None for a locale it cannot name
    (Serbian in Latin letters: Serbian speakers get the Cyrillic one)."""
    if locale == "en":
        return ""
    return locale if len(locale) == 2 else None


def telegram_profile(locale: str) -> tuple[list[tuple[str, str]], str, str]:
    """The command menu, the description and the short description in one language."""
    t = Translator(locale)
    commands = [(name, t.pgettext("command menu", line)) for name, line in MENU_LINES.items()]
    return (
        commands,
        t.pgettext("bot description", DESCRIPTION),
        t.pgettext("bot description", SHORT_DESCRIPTION),
    )


async def set_telegram_profiles(channel: Any) -> list[str]:
    """Give Telegram the menu and descriptions in every language; the codes it got."""
    done = []
    for locale in LOCALES:
        code = telegram_language(locale)
        if code is None:
            continue
        await channel.set_profile(code, *telegram_profile(locale))
        done.append(code or "default")
    return done
