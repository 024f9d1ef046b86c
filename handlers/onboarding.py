"""Onboarding: welcome and consent (recorded), language, country, organisation, then the menu;
consent asked again, at the next message, when the privacy notice changes, and answered once
for all of a member's linked chats. Its gates put a disclosure, then the notice, before every
other handler."""

from __future__ import annotations

from bot.conversation.commands import STAFF_COMMANDS, STAFF_FLOW
from bot.conversation.router import Context, Handled, Router
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LANGUAGE_NAMES, LOCALES
from bot.knowledge.safeguarding import ALERT
from bot.messages import Button, Kind
from bot.privacy import consent, erasure
from bot.storage.models import utcnow
from bot.surveys.answers import THUMBS_UP, meaning
from handlers.linking import FLOW as LINK_FLOW
from handlers.privacy import FLOW as ERASE_FLOW
from handlers.safeguarding import alert, assess, concern
from handlers.timezone import FLOW as TIMEZONE_FLOW
from handlers.ui import (
    command_word,
    country_picker,
    expired,
    language_picker,
    main_menu,
    not_understood,
    saved,
    settings_row,
)

router = Router("onboarding")
FLOW = "onboarding"
ORGANISATION_LIMIT = 200
ORGANISATION_FLOW = "organisation"  # Settings → Change organisation
# What a member may do before agreeing to the privacy notice: answer it, stop, or see and
# erase what is kept about them.
FREE_COMMANDS = ("stop", "mydata", "deleteme", "help", "language")
FREE_BUTTONS = ("consent:", "erase:", "privacy:", "lang:")
# Typed for "no organisation": marks, and the words people use across languages (the Skip
# word and "no" of each language are read by ``meaning``).
NOTHING = ("-", "–", "—", ".", "/", "x")
NONE = ("none", "n/a", "na", "nothing", "nil", "0")
# Flows that take typed text as something else (a name, a city, a code, a confirmation) and
# never read it for danger: the survey, the conversation with the secretariat and a free
# question do.
TYPED_ANSWER_FLOWS = (FLOW, ORGANISATION_FLOW, LINK_FLOW, TIMEZONE_FLOW, ERASE_FLOW)


@router.gate
async def disclosure_first(ctx: Context) -> bool:
    """A child in danger comes before any notice or question: a disclosure typed where the bot
    waits for the answer to the privacy notice (the very first message, too) or for a typed
    answer of a step is answered with the helplines and the focal point is told, as anywhere
    else; then the notice or the step is asked again. Helping a child in danger needs no
    consent (docs/privacy.md); the text is never taken as a name, a city or a code."""
    if ctx.msg.kind != Kind.TEXT or not ctx.text or ctx.command or ctx.payload:
        return False
    before_consent = needs_consent(ctx) and not _without_consent(ctx)
    if not before_consent and ctx.contact.flow not in TYPED_ANSWER_FLOWS:
        return False
    found = assess(ctx)
    if found is None:
        return False
    if found.level == ALERT:
        alert(ctx, found)
    else:  # the focal point's button waits for the member's consent
        concern(ctx, found, offer=not before_consent)
    if ctx.contact.flow == FLOW:
        reask(ctx)
    elif before_consent:
        await welcome(ctx)
    else:
        ctx.end_flow()  # a city, a code or a confirmation can wait: the member is elsewhere
    return True


@router.gate
async def consent_first(ctx: Context) -> bool:
    """Before anything else, the privacy notice, to whoever has not agreed to its current
    version; True when the member got the notice instead of an answer."""
    if not needs_consent(ctx) or _without_consent(ctx):
        return False
    if await _typed_consent(ctx):
        return True
    await welcome(ctx, held=_held(ctx))
    return True


async def _typed_consent(ctx: Context) -> bool:
    """A typed answer to the notice: yes or no in any language (or 👍) answers it; anything
    else from someone who has not agreed yet gets the question again, short. A returning
    member's message is kept for later instead (False)."""
    step = (ctx.contact.flow_data or {}).get("step") if ctx.contact.flow == FLOW else None
    if step not in ("consent", "withdraw") or ctx.msg.kind != Kind.TEXT or not ctx.text:
        return False
    if step == "consent" and not asking_consent(ctx):
        return False  # the notice they saw has changed since: the new one first
    said = meaning(ctx.text) or ("yes" if ctx.text.strip() in THUMBS_UP else None)
    if said in ("yes", "no"):
        if step == "withdraw":
            _on_withdrawal(ctx, said == "yes")
        else:
            ctx.payload = f"consent:{said}"
            await on_consent(ctx)
        return True
    if ctx.contact.status in ("active", "stopped") and step == "consent":
        return False
    retry(ctx)
    reask(ctx)
    return True


def needs_consent(ctx: Context) -> bool:
    """New members, those who said no, and those who agreed to an older privacy text."""
    contact = ctx.contact
    if contact.status in ("new", "declined"):
        return True
    return contact.consent_version != ctx.settings.privacy_version


def _without_consent(ctx: Context) -> bool:
    # Secretariat staff use their own chat with the bot without becoming members.
    if ctx.command in STAFF_COMMANDS or ctx.contact.flow == STAFF_FLOW:
        return True
    if ctx.command in FREE_COMMANDS:
        return True
    return bool(ctx.payload and ctx.payload.startswith(FREE_BUTTONS))


def _held(ctx: Context) -> str | None:
    """A returning member's message, kept while they answer a new privacy notice."""
    returning = ctx.contact.status in ("active", "stopped")
    # A number picked from earlier options means nothing once the notice has been answered.
    if returning and ctx.msg.kind == Kind.TEXT and not ctx.command and not ctx.payload:
        return ctx.text[:1000] or None
    return None


def notice(ctx: Context) -> str:
    """The privacy notice a member agrees to, in their language."""
    _ = ctx.t
    return (
        _(
            "To do this I keep your chat address, language, country, organisation and our "
            "messages. You can stop the news or delete your data at any time."
        )
        + "\n\n"
        + _("Do you agree?")
    )


async def welcome(ctx: Context, held: str | None = None) -> None:
    """Ask for consent: a new member after a hello; a returning one when the notice changed,
    keeping what they just wrote (``held``) to answer it once they agree."""
    _ = ctx.t
    returning = ctx.contact.status in ("active", "stopped")
    earlier = (ctx.contact.flow_data or {}).get("held") if ctx.contact.flow == FLOW else None
    kept = held or earlier
    ctx.start_flow(FLOW, step="consent", **_shown(ctx), **({"held": kept} if kept else {}))
    if returning:
        intro = _(
            "Our privacy notice has changed, please read it again. I answer your questions, "
            "bring you the secretariat's news and send short surveys."
        )
    else:
        intro = _(
            "Hello! I am the ChildPact assistant. I answer questions about the coalition, "
            "bring you news from the secretariat in your language, and send short surveys."
        )
    ctx.reply(intro + "\n\n" + notice(ctx), _consent_buttons(ctx))


def _record(ctx: Context, agreed: bool) -> None:
    """Keep the answer: which notice, in which version and language, on which channel."""
    contact, event = ctx.contact, consent.event_for(ctx.contact, agreed)
    version, locale, channel = ctx.settings.privacy_version, ctx.t.locale, ctx.msg.channel
    shown = notice(ctx)

    async def store(done: Handled) -> None:
        await consent.record(
            done.session, contact.id, event,
            version=version, locale=locale, channel=channel, text=shown,
        )  # fmt: skip

    ctx.effects.append(store)


def _shown(ctx: Context) -> dict[str, str]:
    """Which notice the member is being asked about: an answer counts for that one only."""
    return {"version": ctx.settings.privacy_version}


def asking_consent(ctx: Context) -> bool:
    """The current notice is the question waiting for an answer here: it was shown in this
    conversation, in the version that stands now (a button of an older notice, or of one
    answered long ago, answers nothing)."""
    data = ctx.contact.flow_data or {}
    version = ctx.settings.privacy_version
    return (
        ctx.contact.flow == FLOW
        and data.get("step") == "consent"
        and data.get("version", version) == version
    )


@router.button("consent")
async def on_consent(ctx: Context) -> None:
    contact = ctx.contact
    answer = (ctx.payload or "").partition(":")[2]
    if answer in ("withdraw", "keep"):
        return _on_withdrawal(ctx, answer == "withdraw")
    if not asking_consent(ctx):  # a button of a notice answered long ago, or since changed
        expired(ctx)
        if needs_consent(ctx):  # the notice that stands now, never yet shown to them
            return await welcome(ctx)
        return current_question(ctx)
    held = (contact.flow_data or {}).get("held") if contact.flow == FLOW else None
    if answer == "no":
        if contact.status in ("active", "stopped"):
            return _confirm_withdrawal(ctx)
        return _decline(ctx)
    _record(ctx, agreed=True)
    returning = contact.status in ("active", "stopped")
    contact.consent_version = ctx.settings.privacy_version
    contact.consent_at = utcnow()
    if returning:
        ctx.end_flow()
        if held:  # what they wrote before the notice: answered now
            ctx.reply(ctx.t("Thank you!"))
            ctx.again = held
        else:
            main_menu(ctx, ctx.t("Thank you!") + " " + ctx.t("What would you like to do?"))
        return
    contact.status = "active"
    ctx.start_flow(FLOW, step="language")
    language_picker(ctx)


def _confirm_withdrawal(ctx: Context) -> None:
    """A member who had agreed says no to a changed notice: nothing happens until they confirm."""
    _ = ctx.t
    ctx.start_flow(FLOW, step="withdraw")
    ctx.reply(
        _("Do you want to withdraw your consent? I will stop all news and forget your "
          "language, country and organisation."),
        [[Button(_("Yes, withdraw my consent"), "consent:withdraw")],
         [Button(_("No, go back"), "consent:keep")]],
    )  # fmt: skip


def _on_withdrawal(ctx: Context, confirmed: bool) -> None:
    step = (ctx.contact.flow_data or {}).get("step")
    if ctx.contact.flow != FLOW or step != "withdraw":
        expired(ctx)
        return current_question(ctx)
    if confirmed:
        return _decline(ctx)
    welcome_again(ctx)


def welcome_again(ctx: Context) -> None:
    ctx.end_flow()
    if needs_consent(ctx):
        return _ask(ctx)
    main_menu(ctx)


def _ask(ctx: Context) -> None:
    ctx.start_flow(FLOW, step="consent", **_shown(ctx))
    ctx.reply(notice(ctx), _consent_buttons(ctx))


def _consent_buttons(ctx: Context) -> list[list[Button]]:
    _ = ctx.t
    return [[Button(_("Yes, I agree"), "consent:yes"), Button(_("No, thanks"), "consent:no")]]


def _decline(ctx: Context) -> None:
    """No consent: the profile is forgotten and no news goes; what stays is said plainly."""
    contact = ctx.contact
    _record(ctx, agreed=False)
    ctx.end_flow()
    contact.status = "declined"
    contact.locale = contact.country = contact.organisation = contact.time_zone = None
    contact.organisation_search = None

    async def forget(done: Handled) -> None:
        await erasure.withdrawn(done.session, [contact.id])

    ctx.effects.append(forget)
    ctx.reply(
        ctx.t(
            "All right. I send you no news and I have forgotten your language, country and "
            "organisation. I keep only this chat's address, our messages and the record of "
            "your answer; write {deleteme} to delete them as well. If you change your mind, "
            "write {start}."
        ).format(start=command_word(ctx, "start"), deleteme=command_word(ctx, "deleteme"))
    )


def current_question(ctx: Context) -> None:
    """Ask again what the member's conversation is waiting for: the onboarding step, the
    survey's question, else the menu."""
    from handlers.survey import FLOW as SURVEY_FLOW
    from handlers.survey import repeat

    if ctx.contact.flow == FLOW:
        return reask(ctx)
    if ctx.contact.flow == SURVEY_FLOW:
        return repeat(ctx)
    main_menu(ctx)


def reask(ctx: Context) -> None:
    """The onboarding step the member is at, asked again (in their language as it now is)."""
    step = (ctx.contact.flow_data or {}).get("step")
    if step == "language":
        return language_picker(ctx)
    if step == "country":
        return country_picker(ctx)
    if step == "organisation":
        return ask_organisation(ctx)
    if step == "withdraw":
        return _confirm_withdrawal(ctx)
    _ask(ctx)


@router.button("lang")
async def on_language(ctx: Context) -> None:
    code = (ctx.payload or "").partition(":")[2]
    if code not in LOCALES:
        return not_understood(ctx)
    set_language(ctx, code)


def set_language(ctx: Context, code: str) -> None:
    """The member's language; during onboarding, the next question (or the one they were at
    when they asked to change it) in the new language."""
    ctx.contact.locale = code
    ctx.retranslate(code)
    if ctx.contact.flow == FLOW:
        if (ctx.contact.flow_data or {}).get("step") == "language":
            ctx.update_flow(step="country")
        return reask(ctx)
    if needs_consent(ctx):  # chosen before agreeing: the notice again, in that language
        return _ask(ctx)
    saved(ctx, ctx.t("Done, I will write to you in {language}.", language=LANGUAGE_NAMES[code]))


@router.button("country")
async def on_country(ctx: Context) -> None:
    code = (ctx.payload or "").partition(":")[2]
    if code not in MEMBER_COUNTRIES and code != OTHER:
        return not_understood(ctx)
    set_country(ctx, code)


def set_country(ctx: Context, code: str) -> None:
    ctx.contact.country = code
    if ctx.contact.flow == FLOW:
        ctx.update_flow(step="organisation")
        ask_organisation(ctx)
    else:
        label = ctx.t("Another country") if code == OTHER else ctx.t.country_name(code)
        saved(ctx, ctx.t("Saved: {value}.", value=label))


def ask_organisation(ctx: Context) -> None:
    _ = ctx.t
    ctx.reply(
        _("Which organisation do you work for? Type its name, or choose Skip."),
        [[Button(_("Skip"), "org:skip")]],
    )


@router.button("org")
async def on_skip_organisation(ctx: Context) -> None:
    step = (ctx.contact.flow_data or {}).get("step")
    if ctx.contact.flow == FLOW and step == "organisation":
        return finish(ctx)
    if ctx.contact.flow == ORGANISATION_FLOW:  # Settings → Change organisation, left as it was
        ctx.end_flow()
        return ctx.reply(ctx.t("What would you like to do?"), [settings_row(ctx)])
    expired(ctx)
    current_question(ctx)


def finish(ctx: Context) -> None:
    ctx.end_flow()
    main_menu(ctx, ctx.t("Thank you, you are all set!") + " " + ctx.t("What would you like to do?"))


@router.flow(FLOW)
async def in_onboarding(ctx: Context) -> None:
    """Typed answers during onboarding: a language or country name, or the organisation."""
    step = (ctx.contact.flow_data or {}).get("step")
    if step in ("language", "country"):
        # What the options' words did not name (the engine reads those): the options again.
        retry(ctx)
        return reask(ctx)
    if step == "organisation":
        if skipped(ctx.text):
            return finish(ctx)
        if not save_organisation(ctx):
            return
        return finish(ctx)
    if step == "consent" and not needs_consent(ctx):
        return answered_elsewhere(ctx)
    await welcome(ctx)


def retry(ctx: Context) -> None:
    ctx.reply(ctx.t("Sorry, I did not understand. Please choose one of the options."))


def skipped(text: str) -> bool:
    """The Skip word in any language, or what people type for "none": never an organisation."""
    typed = text.strip()
    return typed in NOTHING or typed.casefold() in NONE or meaning(text) in ("skip", "no")


def answered_elsewhere(ctx: Context) -> None:
    """The question is still open here, but the member has agreed in one of their linked
    chats: this message goes through as if the question had never been asked. What was held
    here is dropped; the member has carried on in the other chat meanwhile."""
    ctx.end_flow()
    if ctx.text:
        ctx.again = ctx.text
    else:
        main_menu(ctx)


def save_organisation(ctx: Context) -> bool:
    name = " ".join(ctx.text.split())
    if not name:
        ask_organisation(ctx)
        return False
    if len(name) > ORGANISATION_LIMIT:
        ctx.reply(
            ctx.t.ngettext(
                "That is too long. Please keep it to {n} character.",
                "That is too long. Please keep it to {n} characters.",
                ORGANISATION_LIMIT,
            )
        )
        return False
    ctx.contact.organisation = name
    return True
