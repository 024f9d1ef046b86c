"""The secretariat on the move: a staff member links their own Telegram chat to their dashboard
account (``/staff CODE``), then composes a short broadcast in the bot (``/news``): the text in
English, translations one by one, the countries by buttons, a preview, and send; and reads a
survey's results as charts (``/results 12``).

These texts are for the secretariat, in the dashboard's languages (gettext domain ``admin``,
marked with ``N_``); the member catalogs stay the members' own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from babel import Locale

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, actions
from bot.channels.base import ChannelName
from bot.channels.registry import capabilities, send_rates, shortest_text_limit
from bot.conversation.commands import STAFF_FLOW
from bot.conversation.router import Context, Handled, Router
from bot.countries import MEMBER_COUNTRIES
from bot.i18n import DASHBOARD_DOMAIN, LOCALES, load_translations
from bot.i18n.markers import N_
from bot.members import topics
from bot.messages import Button, OutboundMessage
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff
from bot.secretariat.staff_chat import link_telegram, telegram_staff
from bot.storage import outbox
from bot.storage.models import Broadcast, Delivery, Survey
from bot.surveys import charts as survey_charts
from bot.surveys import results as surveys_results
from bot.surveys.answers import label

router = Router("staff")
FLOW = STAFF_FLOW
TELEGRAM = ChannelName.TELEGRAM  # the staff chats are Telegram chats

Step = Callable[[Handled, Context, Staff], Awaitable[None]]


def _(staff: Staff, text: str, **values: Any) -> str:
    found = load_translations(staff.locale, domain=DASHBOARD_DOMAIN).ugettext(text)
    return found.format(**values) if values else found


def language_name(code: str, staff: Staff) -> str:
    return Locale.parse(code.replace("-", "_")).get_display_name(staff.locale) or code


def country_name(code: str, staff: Staff) -> str:
    return Locale.parse(staff.locale).territories.get(code, code)


def _say(
    h: Handled, ctx: Context, text: str, buttons: list[list[Button]] | None = None
) -> Delivery:
    """A reply to the staff member's chat, in the same transaction as everything else."""
    message = OutboundMessage(text=text, buttons=buttons or [])
    return outbox.enqueue(h.session, ctx.contact, message, inbound_id=h.inbound_id)


def _as_staff(step: Step, *, senders_only: bool = True) -> Callable[[Context], Awaitable[None]]:
    """Run ``step`` after the transaction finds who this chat belongs to; a chat that is not
    linked to an account gets what any member typing an unknown word gets."""

    async def handler(ctx: Context) -> None:
        if ctx.msg.channel != TELEGRAM:
            return await _not_staff(ctx)

        async def effect(h: Handled) -> None:
            staff = await telegram_staff(h.session, ctx.msg.address)
            if staff is None:
                ctx.end_flow() if ctx.contact.flow == FLOW else None
                return await _member_reply(h, ctx)
            if senders_only and not staff.can_send:
                ctx.end_flow()
                _say(h, ctx, _(staff, N_("Viewers can read but not send broadcasts.")))
                return
            await step(h, ctx, staff)

        ctx.effects.append(effect)

    return handler


async def _not_staff(ctx: Context) -> None:
    from handlers.menu import help_

    await help_(ctx)


async def _member_reply(h: Handled, ctx: Context) -> None:
    scratch = replace(ctx, replies=[], effects=[])
    await _not_staff(scratch)
    for out in scratch.replies:
        outbox.enqueue(h.session, ctx.contact, out, inbound_id=h.inbound_id)


# ---------------------------------------------------------------- linking


@router.command("staff")
async def link(ctx: Context) -> None:
    """``/staff CODE``: the code from the dashboard links this chat to that account."""
    code = ctx.text.partition(" ")[2].strip()
    if ctx.msg.channel != TELEGRAM or not code:
        return await _not_staff(ctx)

    async def effect(h: Handled) -> None:
        staff = await link_telegram(h.session, code, ctx.msg.address)
        if staff is None:
            return await _member_reply(h, ctx)
        await record(h.session, staff, "account.telegram_link", f"account:{staff.id}")
        _say(
            h, ctx,
            _(staff, N_("Hello {name}! This chat is now linked to your dashboard account. "
                        "Send /news to compose a broadcast."), name=staff.name or staff.email),
        )  # fmt: skip

    ctx.effects.append(effect)


# ---------------------------------------------------------------- composing


def _menu(staff: Staff, data: dict[str, Any]) -> list[list[Button]]:
    countries = data.get("countries") or []
    who = (
        ", ".join(country_name(c, staff) for c in countries)
        if countries
        else _(staff, N_("all members"))
    )
    which = ", ".join(data.get("topics") or []) or _(staff, N_("any"))
    return [
        [Button(_(staff, N_("Add a translation")), "staffnews:translate")],
        [Button(_(staff, N_("Who gets it: {who}"), who=who), "staffnews:audience")],
        [Button(_(staff, N_("Topics: {which}"), which=which), "staffnews:topics")],
        [Button(_(staff, N_("Preview")), "staffnews:preview")],
        [Button(_(staff, N_("Cancel")), "staffnews:cancel")],
    ]


def _summary(staff: Staff, data: dict[str, Any]) -> str:
    written = ", ".join(language_name(loc, staff) for loc in sorted(data.get("texts") or {}))
    return _(staff, N_("Written in: {languages}."), languages=written)


async def _begin(h: Handled, ctx: Context, staff: Staff) -> None:
    ctx.start_flow(FLOW, step="text:en", texts={}, countries=[])
    _say(
        h, ctx,
        _(staff, N_("Write the news in English. Every member whose language has no "
                    "translation reads this text.")),
        [[Button(_(staff, N_("Cancel")), "staffnews:cancel")]],
    )  # fmt: skip


router.command("news")(_as_staff(_begin))


async def _write(h: Handled, ctx: Context, staff: Staff) -> None:
    data = dict(ctx.contact.flow_data or {})
    step = str(data.get("step", ""))
    if not step.startswith("text:"):
        _say(h, ctx, _summary(staff, data), _menu(staff, data))
        return
    text = ctx.text
    if not text:
        _say(h, ctx, _(staff, N_("Send the text as a message.")))
        return
    if len(text) > (limit := shortest_text_limit()):
        _say(h, ctx, _(staff, N_("That is {length} characters; WhatsApp takes at most {limit}. "
                                 "Send a shorter text."), length=len(text), limit=limit))  # fmt: skip
        return
    data["texts"] = {**(data.get("texts") or {}), step.removeprefix("text:"): text}
    data["step"] = "menu"
    ctx.contact.flow_data = data
    _say(h, ctx, _summary(staff, data), _menu(staff, data))


router.flow(FLOW)(_as_staff(_write))


async def _button(h: Handled, ctx: Context, staff: Staff) -> None:
    action, _sep, argument = (ctx.payload or "").removeprefix("staffnews:").partition(":")
    data = dict(ctx.contact.flow_data or {})
    if action == "cancel" or ctx.contact.flow != FLOW:
        ctx.end_flow()
        _say(h, ctx, _(staff, N_("Nothing was sent.")))
        return
    if action == "translate":
        written = set(data.get("texts") or {})
        options = [loc for loc in LOCALES if loc not in written]
        rows = [
            [
                Button(language_name(loc, staff), f"staffnews:lang:{loc}")
                for loc in options[i : i + 3]
            ]
            for i in range(0, len(options), 3)
        ]
        _say(h, ctx, _(staff, N_("Which language?")), rows)
        return
    if action == "lang" and argument in LOCALES:
        ctx.update_flow(step=f"text:{argument}")
        _say(h, ctx, _(staff, N_("Write the text in {language}."),
                       language=language_name(argument, staff)))  # fmt: skip
        return
    if action == "audience":
        await _countries(h, ctx, staff, data)
        return
    if action == "country":
        chosen = list(data.get("countries") or [])
        if argument == "all":
            chosen = []
        elif argument in MEMBER_COUNTRIES:
            chosen = (
                [c for c in chosen if c != argument] if argument in chosen else [*chosen, argument]
            )
        ctx.update_flow(countries=chosen)
        await _countries(h, ctx, staff, {**data, "countries": chosen})
        return
    if action == "topics":
        await _topics(h, ctx, staff, data)
        return
    if action == "topic":
        chosen = list(data.get("topics") or [])
        if argument == "any":
            chosen = []
        elif topics.KEY.match(argument):
            chosen = (
                [k for k in chosen if k != argument] if argument in chosen else [*chosen, argument]
            )
        ctx.update_flow(topics=chosen)
        await _topics(h, ctx, staff, {**data, "topics": chosen})
        return
    if action == "preview":
        await _preview(h, ctx, staff, data)
        return
    if action == "send":
        await _send(h, ctx, staff, data)
        return
    _say(h, ctx, _summary(staff, data), _menu(staff, data))


router.button("staffnews")(_as_staff(_button))


async def _countries(h: Handled, ctx: Context, staff: Staff, data: dict[str, Any]) -> None:
    chosen = set(data.get("countries") or [])
    if staff.country is not None:
        ctx.update_flow(countries=[staff.country])
        _say(h, ctx, _(staff, N_("Your broadcasts go to {country}."),
                       country=country_name(staff.country, staff)), _menu(staff, data))  # fmt: skip
        return
    ticks = [
        Button(("✓ " if c in chosen else "") + country_name(c, staff), f"staffnews:country:{c}")
        for c in MEMBER_COUNTRIES
    ]
    rows = [ticks[i : i + 2] for i in range(0, len(ticks), 2)]
    rows.append([Button(("✓ " if not chosen else "") + _(staff, N_("All members")),
                        "staffnews:country:all")])  # fmt: skip
    rows.append([Button(_(staff, N_("Done")), "staffnews:menu")])
    _say(h, ctx, _(staff, N_("Tap the countries that should get it.")), rows)


async def _topics(h: Handled, ctx: Context, staff: Staff, data: dict[str, Any]) -> None:
    chosen = set(data.get("topics") or [])
    offered = await topics.listed(h.session)
    rows = [
        [Button(("✓ " if t.key in chosen else "") + topics.name_of(t, staff.locale),
                f"staffnews:topic:{t.key}")]
        for t in offered
    ]  # fmt: skip
    rows.append([Button(("✓ " if not chosen else "") + _(staff, N_("Any topic")),
                        "staffnews:topic:any")])  # fmt: skip
    rows.append([Button(_(staff, N_("Done")), "staffnews:menu")])
    _say(h, ctx, _(staff, N_("Tap the topics it is about: it goes to members who receive any "
                             "of them.")), rows)  # fmt: skip


async def _draft(h: Handled, staff: Staff, data: dict[str, Any]) -> Broadcast:
    """The broadcast row behind the conversation, created at the first preview."""
    found = None
    if data.get("broadcast_id"):
        found = await h.session.get(Broadcast, int(data["broadcast_id"]))
    if found is None or found.status != "draft":
        found = Broadcast(
            title="Telegram", base_locale="en", status="draft", texts={}, buttons=[],
            audience={}, templates={}, created_by=staff.id, expanded_to=0,
        )  # fmt: skip
        h.session.add(found)
    for locale, text in (data.get("texts") or {}).items():
        broadcasts.set_text(found, locale, text)
    countries = [staff.country] if staff.country else list(data.get("countries") or [])
    wanted = list(data.get("topics") or [])
    gone = set(await topics.not_offered(h.session, wanted))  # archived while composing
    aimed = [k for k in wanted if k not in gone]
    found.audience = Audience(countries=countries, topics=aimed).to_json()
    await h.session.flush()
    return found


async def _preview(h: Handled, ctx: Context, staff: Staff, data: dict[str, Any]) -> None:
    if not (data.get("texts") or {}).get("en"):
        ctx.update_flow(step="text:en")
        _say(h, ctx, _(staff, N_("Write the news in English first.")))
        return
    draft = await _draft(h, staff, data)
    ctx.update_flow(broadcast_id=draft.id)
    seen = await broadcasts.preview(h.session, draft, staff, send_rates(ctx.settings))
    lines = [
        _(staff, N_("{count} members will get it."), count=seen.recipients),
        ", ".join(f"{language_name(k, staff)} {v}" for k, v in sorted(seen.by_locale.items())),
    ]
    if seen.skipped:
        lines.append(_(staff, N_("Skipped: {count} (stopped, unreachable or no template)."),
                       count=sum(seen.skipped.values())))  # fmt: skip
    if seen.missing_locales:
        lines.append(_(staff, N_("No text yet in: {languages}."), languages=", ".join(
            language_name(k, staff) for k in sorted(seen.missing_locales))))  # fmt: skip
    lines.extend(seen.problems)
    buttons = [[Button(_(staff, N_("Back")), "staffnews:menu")]]
    if not seen.problems and seen.recipients:
        buttons.insert(0, [Button(_(staff, N_("Send now")), "staffnews:send")])
    _say(h, ctx, "\n".join(line for line in lines if line), buttons)


async def _send(h: Handled, ctx: Context, staff: Staff, data: dict[str, Any]) -> None:
    draft = await _draft(h, staff, data)
    try:
        sent = await actions.send(
            h.session, draft, staff, approval_above=ctx.settings.broadcast_approval_above,
            via=TELEGRAM,
        )  # fmt: skip
    except BroadcastError as exc:
        _say(h, ctx, str(exc), _menu(staff, data))
        return
    ctx.end_flow()
    if sent.status == "awaiting_approval":
        _say(h, ctx, _(staff, N_("It goes to more members than one person may send to: an "
                                 "administrator approves it on the dashboard first.")))  # fmt: skip
        return
    progress = _say(h, ctx, _(staff, N_("Sending to {count} members…"), count=sent.recipients))
    await h.session.flush()
    draft.progress_delivery_id = progress.id


# ---------------------------------------------------------------- results

KEEP = 2  # characters kept back for the "…" of a caption that had to be cut


async def _results(h: Handled, ctx: Context, staff: Staff) -> None:
    """``/results <survey>``: a photo per question with a chart, its numbers in the caption,
    within the staff member's country scope. Telegram fetches each chart from a signed link
    under PUBLIC_URL; without one, the numbers come as text."""
    raw = ctx.text.partition(" ")[2].strip().lstrip("#")
    survey = await h.session.get(Survey, int(raw)) if raw.isdigit() and len(raw) < 19 else None
    if survey is None or (staff.country is not None and survey.country != staff.country):
        _say(h, ctx, _(staff, N_("Send /results and the number of one of your surveys, "
                                 "for example /results 12.")))  # fmt: skip
        return
    filters = surveys_results.Filters(countries=[staff.country] if staff.country else [])
    found = await surveys_results.results(h.session, survey, filters)
    base = survey.base_locale
    title = label(survey.title or {}, base, base)
    head = _(staff, N_("{title}: {started} started, {finished} finished."), title=title,
             started=found["started"], finished=found["finished"])  # fmt: skip
    secret, public = survey_charts.link_secret(ctx.settings), ctx.settings.public_url
    charts = [q for q in found["questions"] if survey_charts.chartable(q)]
    if not charts:
        head += "\n" + _(staff, N_("None of its questions has a chart."))
    elif not (secret and public):
        head += "\n" + _(staff, N_("Charts need the service's public address (PUBLIC_URL); "
                                   "here are the numbers."))  # fmt: skip
    _say(h, ctx, head)
    for q in charts:
        url = None
        if secret and public:
            token = survey_charts.sign(secret, survey.id, q["id"], staff.country)
            url = f"{public.rstrip('/')}/api/charts/{token}.png"
        chart = OutboundMessage(text=caption(staff, q), image_url=url)
        outbox.enqueue(h.session, ctx.contact, chart, inbound_id=h.inbound_id)


router.command("results")(_as_staff(_results, senders_only=False))


def caption(staff: Staff, q: dict[str, Any]) -> str:
    """A chart's numbers: the question, each bar's count and share of those who answered, and
    how many answered; cut to fit Telegram's caption."""
    answered = int(q.get("answered") or 0)
    names = {"yes": _(staff, N_("Yes")), "no": _(staff, N_("No"))} if q["type"] == "yes_no" else {}
    lines = []
    if "histogram" in q and q.get("mean") is not None:
        lines.append(_(staff, N_("Mean {mean}, median {median}, from {low} to {high}."),
                       mean=_figure(q["mean"]), median=_figure(q["median"]),
                       low=_figure(q["min"]), high=_figure(q["max"])))  # fmt: skip
    for name, count in survey_charts.bars(q):
        share = f"{count / answered:.0%}" if answered else "–"
        lines.append(f"{names.get(name, name)[:80]}: {count} ({share})")
    tail = _(staff, N_("n = {answered} answered, {skipped} skipped"), answered=answered,
             skipped=q.get("skipped", 0))  # fmt: skip
    head = str(q.get("text") or q["id"])[:300]
    cut = False
    limit = capabilities(TELEGRAM).caption_limit
    while lines and len("\n".join([head, *lines, tail])) > limit - KEEP:
        lines.pop()
        cut = True
    return "\n".join([head, *lines, *(["…"] if cut else []), tail])


def _figure(value: float) -> str:
    return f"{float(value):g}"
