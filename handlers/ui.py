"""Pieces of conversation several features share: the menu, pickers, command names."""

from __future__ import annotations

from bot.channels.registry import capabilities
from bot.conversation.commands import words_in
from bot.conversation.router import Context
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LANGUAGE_NAMES, LOCALES, Translator
from bot.messages import Button


def command_word(ctx: Context, command: str) -> str:
    """How the member should type a command here: ``/stop`` on Telegram, a word elsewhere."""
    if capabilities(ctx.msg.channel).typed_commands:
        return f"/{command}"
    return word_for(ctx.t, command)


def word_for(t: Translator, command: str) -> str:
    """The word for a command in one language, which works on every channel."""
    words = words_in(t, command)
    return words[0] if words else command


def reply_time(ctx: Context) -> str:
    """What a member writing to the secretariat may expect: its usual first-answer time
    (REPLY_TIME), in their language."""
    t = ctx.t
    return {
        "hours": t("The secretariat usually answers within a few hours."),
        "working_day": t("The secretariat usually answers within a working day."),
        "two_working_days": t("The secretariat usually answers within two working days."),
        "three_working_days": t("The secretariat usually answers within three working days."),
        "week": t("The secretariat usually answers within a week."),
    }[ctx.settings.reply_time]


def main_menu(ctx: Context, text: str | None = None) -> None:
    _ = ctx.t
    ctx.reply(
        text or _("What would you like to do?"),
        [
            [Button(_("About ChildPact"), "menu:about")],
            [Button(_("Surveys"), "menu:surveys")],
            [Button(_("Settings"), "menu:settings")],
            [Button(_("Talk to the secretariat"), "menu:secretariat")],
        ],
    )


def language_picker(ctx: Context) -> None:
    current = ctx.contact.locale or ctx.t.locale
    # The likely language first, so that most members tap the top button.
    ordered = [current] + [code for code in LOCALES if code != current]
    rows = [[Button(LANGUAGE_NAMES[code], f"lang:{code}")] for code in ordered]
    ctx.reply(ctx.t("Which language do you prefer?"), rows)


def country_picker(ctx: Context) -> None:
    _ = ctx.t
    hint = ctx.contact.country or ctx.contact.country_hint
    codes = list(MEMBER_COUNTRIES)
    if hint in codes:
        codes.remove(hint)
        codes.insert(0, hint)
    rows = [[Button(_.country_name(code), f"country:{code}")] for code in codes]
    rows.append([Button(_("Another country"), f"country:{OTHER}")])
    ctx.reply(_("Which country do you work in?"), rows)


def country_label(ctx: Context, code: str | None) -> str:
    if not code:
        return ctx.t.pgettext("country", "not given")
    return ctx.t("Another country") if code == OTHER else ctx.t.country_name(code)


def not_understood(ctx: Context) -> None:
    ctx.reply(ctx.t("Sorry, I did not understand. Please choose one of the options."))


def settings_row(ctx: Context) -> list[Button]:
    """Where a member goes after changing a setting: back to Settings, or the menu."""
    return [Button(ctx.t("Back to settings"), "set:back"), Button(ctx.t("Menu"), "menu:main")]


def saved(ctx: Context, text: str) -> None:
    """A setting's answer, with the next useful buttons under it."""
    ctx.reply(text, [settings_row(ctx)])


def expired(ctx: Context) -> None:
    """A button from a message that no longer stands (an old notice, a closed question): it is
    not acted on; the member is told, and the current question follows."""
    ctx.reply(ctx.t("That choice has expired."))
