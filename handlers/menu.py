"""The commands every channel knows, the main menu and the member's settings."""

from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.i18n import LANGUAGE_NAMES
from bot.messages import Button
from handlers.faq import browse
from handlers.linking import ask_unlink, offer_code, preferred_picker, show_settings
from handlers.onboarding import FLOW as ONBOARDING_FLOW
from handlers.onboarding import (
    ORGANISATION_FLOW,
    ask_organisation,
    save_organisation,
    skipped,
    welcome,
)
from handlers.survey import FLOW as SURVEY_FLOW
from handlers.survey import list_surveys, pause
from handlers.timezone import zone_label
from handlers.ui import (
    command_word,
    country_label,
    country_picker,
    language_picker,
    main_menu,
    saved,
    settings_row,
)

router = Router("menu")


@router.command("start")
async def start(ctx: Context) -> None:
    contact = ctx.contact
    if contact.status == "stopped":
        contact.status = "active"
        ctx.end_flow()
        resumed = ctx.t("Welcome back! You will receive ChildPact news again.")
        if ctx.payload == "set:news":  # from Settings: the way back there, as for stopping
            return saved(ctx, resumed)
        return main_menu(ctx, resumed)
    ctx.end_flow()
    main_menu(ctx, ctx.t("Hello again!") + " " + ctx.t("What would you like to do?"))


@router.command("help")
async def help_(ctx: Context) -> None:
    words = {
        c: command_word(ctx, c)
        for c in ("menu", "language", "country", "stop", "start", "cancel", "help")
    }
    privacy = ctx.t(
        "{mydata} — everything I keep about you\n{deleteme} — delete it all",
        mydata=command_word(ctx, "mydata"),
        deleteme=command_word(ctx, "deleteme"),
    )
    ctx.reply(
        "\n".join(
            [
                ctx.t(
                    "Here is what you can write to me:\n"
                    "{menu} — the main menu\n"
                    "{language} — change your language\n"
                    "{country} — change your country\n"
                    "{stop} — stop the news\n"
                    "{start} — start again and resume the news\n"
                    "{cancel} — leave what you are doing\n"
                    "{help} — this help",
                    **words,
                ),
                privacy,
                _help_linking(ctx),
                *_help_settings(ctx),
            ]
        ),
        [
            [Button(ctx.t("Talk to the secretariat"), "menu:secretariat")],
            [Button(ctx.t("Menu"), "menu:main")],
        ],
    )


def _help_linking(ctx: Context) -> str:
    return ctx.t(
        "{link} — link this chat with your chat on another app\n"
        "{unlink} — separate this chat from your other chats",
        link=command_word(ctx, "link"),
        unlink=command_word(ctx, "unlink"),
    )


def _help_settings(ctx: Context) -> list[str]:
    """What only Settings offers, named as its buttons are; the preferred channel only for a
    member whose chats are linked, the only ones who see it there."""
    _ = ctx.t
    lines = [
        # Translators: {settings}, {topics} and {time_zone} are the labels of those buttons.
        _(
            "In {menu} → {settings}:\n"
            "{topics} — choose which news you receive\n"
            "{time_zone} — no news at night where you are",
            menu=command_word(ctx, "menu"),
            settings=_("Settings"),
            topics=_("Topics"),
            time_zone=_("Time zone"),
        )
    ]
    if ctx.contact.person_id is not None:
        lines.append(
            # Translators: {preferred} is the label of the "Preferred channel" button.
            _(
                "{preferred} — which of your linked chats gets the news",
                preferred=_("Preferred channel"),
            )
        )
    return lines


@router.command("menu")
async def menu(ctx: Context) -> None:
    ctx.end_flow()
    main_menu(ctx)


@router.command("language")
async def language(ctx: Context) -> None:
    if ctx.contact.flow != ONBOARDING_FLOW:  # onboarding goes on once the language is chosen
        ctx.end_flow()
    language_picker(ctx)


@router.command("country")
async def country(ctx: Context) -> None:
    if ctx.contact.flow != ONBOARDING_FLOW:
        ctx.end_flow()
    country_picker(ctx)


@router.command("stop")
async def stop(ctx: Context) -> None:
    if ctx.contact.flow == SURVEY_FLOW:
        return pause(ctx, stopping=True)  # in a survey, "stop" pauses it; again, the news
    ctx.end_flow()
    ctx.contact.status = "stopped"
    ctx.reply(
        ctx.t(
            "Done: you will get no more news from ChildPact. You can still ask me questions. "
            "To get the news again, write {start}.",
            start=command_word(ctx, "start"),
        ),
        # From Settings, the way back there; a typed "stop" gets no buttons, only quiet.
        [settings_row(ctx)] if ctx.payload == "set:news" else None,
    )


@router.command("cancel")
async def cancel(ctx: Context) -> None:
    if ctx.contact.flow == SURVEY_FLOW:
        return pause(ctx, stopping=False)
    had_flow = ctx.contact.flow is not None
    ctx.end_flow()
    main_menu(ctx, ctx.t("Okay, cancelled.") if had_flow else ctx.t("There is nothing to cancel."))


@router.command("about", "surveys", "settings")
async def menu_entry(ctx: Context) -> None:
    """A menu entry typed by name ("setări", "настройки", "Sondaje"), wherever the member is."""
    ctx.end_flow()
    ctx.payload = f"menu:{ctx.command}"
    await on_menu(ctx)


@router.button("menu")
async def on_menu(ctx: Context) -> None:
    _ = ctx.t
    entry = (ctx.payload or "").partition(":")[2]
    if entry == "about":
        ctx.payload = "about:0"
        await browse(ctx)
    elif entry == "surveys":
        list_surveys(ctx)
    elif entry == "settings":
        settings(ctx)
    else:
        main_menu(ctx)


def settings(ctx: Context) -> None:
    _ = ctx.t
    contact = ctx.contact
    stopped = contact.status == "stopped"
    news = _("off") if stopped else _("on")
    show_settings(
        ctx,
        _(
            "Your settings:\nLanguage: {language}\nCountry: {country}\n"
            "Organisation: {organisation}\nNews: {news}",
            language=LANGUAGE_NAMES[ctx.t.locale],
            country=country_label(ctx, contact.country),
            organisation=contact.organisation or _.pgettext("organisation", "not given"),
            news=news,
        )
        + "\n"
        + _("Time zone: {zone}", zone=zone_label(ctx)),
        [
            [Button(_("Change language"), "set:language")],
            [Button(_("Change country"), "set:country")],
            [Button(_("Change organisation"), "set:organisation")],
            [Button(_("Topics"), "set:topics")],
            [Button(_("Time zone"), "set:timezone")],
            [Button(_("Resume the news") if stopped else _("Stop the news"), "set:news")],
            [Button(_("My data"), "privacy:data")],
            [Button(_("Delete me"), "privacy:erase")],
        ],
        [Button(_("Back to the menu"), "menu:main")],
    )


@router.button("set")
async def on_setting(ctx: Context) -> None:
    choice = (ctx.payload or "").partition(":")[2]
    if choice == "language":
        return language_picker(ctx)
    if choice == "country":
        return country_picker(ctx)
    if choice == "organisation":
        ctx.start_flow(ORGANISATION_FLOW)
        return ask_organisation(ctx)
    if choice == "news":
        return await (start(ctx) if ctx.contact.status == "stopped" else stop(ctx))
    if choice == "link":
        return offer_code(ctx)
    if choice == "unlink":
        return ask_unlink(ctx)
    if choice == "preferred":
        return preferred_picker(ctx)
    settings(ctx)


@router.flow(ORGANISATION_FLOW)
async def typed_organisation(ctx: Context) -> None:
    if skipped(ctx.text):
        ctx.end_flow()
        return saved(ctx, ctx.t("What would you like to do?"))
    if save_organisation(ctx):
        ctx.end_flow()
        saved(ctx, ctx.t("Saved: {value}.", value=ctx.contact.organisation))


__all__ = ["router", "welcome"]
