"""The member commands and the words that name them in every supported language."""

from __future__ import annotations

import re
from functools import cache

from bot.i18n import LOCALES, Translator, fold
from bot.i18n.markers import C_

COMMANDS: tuple[str, ...] = (
    "start", "help", "menu", "language", "country", "stop", "cancel", "link", "unlink",
    "mydata", "deleteme",
)  # fmt: skip
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
    return table


def recognise(text: str) -> str | None:
    """The command a message names: ``/stop``, ``STOP``, ``стоп``, ``Meniu``..."""
    stripped = text.strip()
    slash = _SLASH.match(stripped)
    if slash:
        name = slash.group(1).lower()
        return name if name in COMMANDS or name in STAFF_COMMANDS else None
    if len(stripped) > 40:
        return None
    found = vocabulary().get(fold(stripped))
    coded = _WITH_CODE.match(stripped) if found is None else None
    if coded and vocabulary().get(fold(coded.group(1))) == "link":
        return "link"
    return found
