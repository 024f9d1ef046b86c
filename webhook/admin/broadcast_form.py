"""The compose form of a broadcast, read and checked: its fields into a draft, the draft into
a broadcast (marking translations older than the base text), the chosen time in the
secretariat's zone and how it repeats, and refusals in words the secretariat can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, repeats
from bot.broadcasts import series as broadcast_series
from bot.channels.base import MEMBER_CHANNELS, ChannelName
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LANGUAGE_NAMES, LOCALES
from bot.i18n.markers import N_
from bot.messages import link_problem
from bot.storage.models import Broadcast
from bot.storage.outbox import REPLY_WINDOW_MAX_HOURS
from webhook.admin.pages import Visit

CHANNELS = MEMBER_CHANNELS
BUTTONS = 3
TEMPLATE_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")

# What a BroadcastError's code means, said to the secretariat.
REFUSALS: dict[str, str] = {
    "too_long": N_(
        "The {language} text has {length} characters; {channel} allows {limit}. "
        "Shorten it: nothing is cut off by itself."
    ),
    "no_base_text": N_("Write the {language} text first: it is what every fallback ends at."),
    "button_url": N_("A button's link must be a web address (https://…)."),
    "locale": N_("That language is not one the bot speaks."),
    "local_hour": N_("The local hour must be between 0 and 23."),
    "not_editable": N_("This broadcast is going out or has finished; it can no longer change."),
    "not_draft": N_("This broadcast is already scheduled or sent."),
    "finished": N_("This broadcast has already finished."),
    "not_waiting": N_("This broadcast is not waiting for approval."),
    "own": N_("Someone other than its author must approve it."),
    "not_admin": N_("Only an administrator can approve a broadcast."),
    "nobody": N_("Everyone who can be reached has already received it."),
    "repeat_end": N_("Choose an end date or a number of times, not both."),
    "repeat_times": N_("A series goes out between 2 and 1000 times."),
    "repeat_until": N_("The series would end before it starts: choose a later end date."),
    "in_series": N_("This is one occurrence of a series; its first broadcast says how it repeats."),
    "not_series": N_("This broadcast does not repeat."),
    "series_stopped": N_("This series has already stopped."),
    "audience_name": N_("Give the audience a name to save it under."),
    "audience_taken": N_("An audience is already saved under that name: choose another."),
}


# Why a member of the audience gets nothing, as the preview and the progress say it.
SKIPS: dict[str, str] = {
    "stopped": N_("stopped the news"),
    "unreachable": N_("cannot be reached"),
    "no_template": N_("WhatsApp, outside 24 hours, no template"),
    "excluded": N_("already received an earlier one"),
}


def refusal(exc: BroadcastError, b: Broadcast | None = None) -> tuple[str, dict[str, Any]]:
    """A refusal as a catalog text and its values, for the page to translate."""
    locale = exc.detail.get("locale") or (b.base_locale if b is not None else "en")
    values = {
        "language": LANGUAGE_NAMES.get(locale, locale),
        "channel": {ChannelName.WHATSAPP: "WhatsApp", ChannelName.TELEGRAM: "Telegram"}.get(
            exc.detail.get("channel", ""), ""
        ),
        "length": exc.detail.get("length", 0),
        "limit": exc.detail.get("limit", 0),
    }
    return REFUSALS.get(exc.code, N_("This is not possible now.")), values


@dataclass
class Draft:
    """The compose form as sent, checked; ``problems`` are (text, values) to translate."""

    title: str = ""
    base_locale: str = "en"
    texts: dict[str, str] = field(default_factory=dict)
    image_url: str | None = None
    buttons: list[dict[str, Any]] = field(default_factory=list)
    audience: Audience = field(default_factory=Audience)
    templates: dict[str, str] = field(default_factory=dict)
    repeat: str | None = None  # daily weekly monthly
    repeat_until: date | None = None
    repeat_times: int | None = None
    zone: str = "UTC"  # the secretariat's: whose clock a repeating one keeps
    collect_replies_hours: int = 0
    problems: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


# How long a broadcast collects what members write back, as the compose page offers it.
REPLY_WINDOWS: tuple[tuple[int, str], ...] = (
    (0, N_("No: the bot answers as usual")),
    (24, N_("For a day")),
    (48, N_("For 2 days")),
    (72, N_("For 3 days")),
    (168, N_("For a week")),
    (336, N_("For 2 weeks")),
)


def _web_address(value: str) -> bool:
    return link_problem(value) is None


def read_form(
    form: dict[str, str],
    topics: list[str],
    surveys: list[int],
    news_topics: list[str] | None = None,
    zone: str = "UTC",
) -> Draft:
    """Checkboxes are named per value (``country:MD``), so one field holds one value.
    ``topics`` are the knowledge's, for "tell me more"; ``news_topics`` those members
    subscribe to; ``zone`` is the secretariat's."""
    d = Draft(title=form.get("title", "").strip()[:200], zone=zone)
    d.base_locale = form.get("base_locale", "en")
    if d.base_locale not in LOCALES:
        raise HTTPException(400)
    for key, value in form.items():
        kind, _, value_of = key.partition(":")
        if kind == "text" and value_of in LOCALES:
            d.texts[value_of] = value.replace("\r\n", "\n")
        elif kind == "template" and value_of in LOCALES and value.strip():
            d.templates[value_of] = value.strip()
            if not TEMPLATE_SID.match(value.strip()):
                d.problems.append((N_("The WhatsApp template for {language} must be a content "
                                      "SID: HX and 32 letters or digits."),
                                   {"language": LANGUAGE_NAMES[value_of]}))  # fmt: skip
    image = form.get("image_url", "").strip()
    if image and not _web_address(image):
        d.problems.append((N_("The image link must be a web address (https://…)."), {}))
    d.image_url = image or None
    for n in range(BUTTONS):
        label = form.get(f"button{n}-label", "").strip()[:64]
        labels = {
            loc: words
            for loc in LOCALES
            if loc != d.base_locale
            and (words := form.get(f"button{n}-label:{loc}", "").strip()[:64])
        }
        if label:
            labels[d.base_locale] = label
        url = form.get(f"button{n}-url", "").strip()
        topic = form.get(f"button{n}-topic", "")
        survey = form.get(f"button{n}-survey", "")
        if sum(map(bool, (url, topic, survey))) > 1:
            d.problems.append((N_("Button {n}: a link, a topic or a survey, only one of them."),
                               {"n": n + 1}))  # fmt: skip
        elif url:
            if not label or not _web_address(url):
                d.problems.append((N_("Button {n}: a link needs its text and a web address "
                                      "(https://…)."), {"n": n + 1}))  # fmt: skip
            d.buttons.append({"label": labels, "url": url})
        elif topic or survey:
            if (topic and topic not in topics) or (
                survey and (not survey.isdigit() or int(survey) not in surveys)
            ):
                raise HTTPException(400)  # not one the form offered
            button: dict[str, Any] = {"payload": f"topic:{topic}" if topic else f"survey:{survey}"}
            if labels:
                button["label"] = labels
            d.buttons.append(button)
    d.audience = Audience(
        countries=[c for c in (*MEMBER_COUNTRIES, OTHER) if form.get(f"country:{c}")],
        locales=[loc for loc in LOCALES if form.get(f"locale:{loc}")],
        channels=[ch for ch in CHANNELS if form.get(f"channel:{ch}")],
        organisations=[
            o.strip()[:200] for o in re.split(r"[\n;]", form.get("organisations", "")) if o.strip()
        ][:50],
        topics=[k for k in news_topics or [] if form.get(f"news_topic:{k}")],
        exclude_broadcasts=sorted(
            int(k.partition(":")[2]) for k in form if re.fullmatch(r"exclude:\d{1,18}", k)
        ),
        contact_ids=[int(i) for i in form.get("contact_ids", "").split(",") if i.isdigit()],
    )
    _read_repeat(d, form)
    hours = form.get("collect_replies_hours", "0").strip() or "0"
    if not (hours.isdigit() and int(hours) <= REPLY_WINDOW_MAX_HOURS):
        raise HTTPException(400)  # not one the form offered
    d.collect_replies_hours = int(hours)
    return d


def _read_repeat(d: Draft, form: dict[str, str]) -> None:
    """How it repeats. The end fields count only when it repeats; the page keeps them filled
    while "never" is chosen, so that a change of mind loses nothing."""
    every = form.get("repeat", "")
    if every and every not in repeats.REPEATS:
        raise HTTPException(400)  # not one the form offered
    if not every:
        return
    until, times = form.get("repeat_until", "").strip(), form.get("repeat_times", "").strip()
    day = _date(until)
    if until and day is None:
        d.problems.append((N_("Choose the day the series ends."), {}))
        return
    if times and not (times.isdigit() and len(times) <= 4):
        d.problems.append((REFUSALS["repeat_times"], {}))
        return
    count = int(times) if times else None
    problem = repeats.rule_problem(every, day, count)
    if problem is not None:
        d.problems.append((REFUSALS[problem], {}))
        return
    d.repeat, d.repeat_until, d.repeat_times = every, day, count


def apply(b: Broadcast, d: Draft, visit: Visit) -> None:
    """Write the form into the broadcast. The base text goes first, so that a translation
    changed in the same save counts as made from the new base; an unchanged translation keeps
    the base it was made from, and so is flagged when the base has moved on."""
    if (b.status or "draft") not in broadcasts.EDITABLE:
        # Checked here, not only by set_text: a change of audience alone must be refused too.
        raise BroadcastError("not_editable", "a broadcast that is sending or sent cannot change")
    b.title, b.base_locale = d.title, d.base_locale
    written = {loc: broadcasts.text_of(b, loc) for loc in b.texts or {}}
    order = [d.base_locale] + sorted(loc for loc in d.texts if loc != d.base_locale)
    for locale in order:
        text = d.texts.get(locale, "").strip()
        if text != written.get(locale, ""):
            broadcasts.set_text(b, locale, text)
    b.image_url = d.image_url
    b.buttons = d.buttons
    b.audience = broadcasts.scoped(d.audience, visit.staff).to_json()
    b.templates = d.templates
    b.collect_replies_hours = d.collect_replies_hours
    if b.repeat_of is None:  # an occurrence follows its series' rule; its page offers none
        broadcast_series.set_rule(b, d.repeat, until=d.repeat_until, times=d.repeat_times,
                                  zone=d.zone)  # fmt: skip


def copy_of(b: Broadcast) -> Broadcast:
    """A broadcast that is never stored: what the preview counts while the author types."""
    return Broadcast(
        id=b.id, title=b.title, status=b.status or "draft", base_locale=b.base_locale,
        texts=dict(b.texts or {}), image_url=b.image_url, buttons=list(b.buttons or []),
        audience=dict(b.audience or {}), templates=dict(b.templates or {}),
        created_by=b.created_by, scheduled_at=b.scheduled_at, local_hour=b.local_hour,
        repeat=b.repeat, repeat_until=b.repeat_until, repeat_times=b.repeat_times,
        repeat_zone=b.repeat_zone, repeat_of=b.repeat_of, occurrence=b.occurrence,
        collect_replies_hours=b.collect_replies_hours or 0,
    )  # fmt: skip


def blank(visit: Visit) -> Broadcast:
    return Broadcast(
        title="", status="draft", base_locale="en", texts={}, buttons=[],
        audience=broadcasts.scoped(Audience(), visit.staff).to_json(), templates={},
        created_by=visit.staff.id, expanded_to=0, collect_replies_hours=0,
    )  # fmt: skip


async def load(
    session: AsyncSession, broadcast_id: int, visit: Visit, *, lock: bool = False
) -> Broadcast:
    """The broadcast, when ``visit``'s person may see it; 404 otherwise. ``lock`` holds it
    until the transaction ends, so that two people's changes do not cross."""
    stmt = select(Broadcast).where(Broadcast.id == broadcast_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt)
    if found is None or not broadcasts.visible(found, visit.staff):
        raise HTTPException(404)
    return found


async def earlier(session: AsyncSession, visit: Visit, own_id: int | None) -> list[Broadcast]:
    """Broadcasts that went out, survey invitations among them, for "leave out who already
    received these"; a cancelled one too once it had begun, as some received it."""
    went = Broadcast.status.in_(("sending", "sent")) | (
        (Broadcast.status == "cancelled") & Broadcast.started_at.is_not(None)
    )
    found = await session.scalars(
        select(Broadcast)
        .where(went, Broadcast.id != (own_id or 0))
        .order_by(Broadcast.id.desc())
        .limit(100)
    )
    return [b for b in found if broadcasts.visible(b, visit.staff)][:20]


def button_rows(b: Broadcast) -> list[dict[str, Any]]:
    rows = []
    for button in (b.buttons or [])[:BUTTONS]:
        payload = str(button.get("payload") or "")
        labels = dict(button.get("label") or {})
        rows.append({
            "label": labels.pop(b.base_locale, ""),
            "labels": labels,
            "url": button.get("url") or "",
            "topic": payload.removeprefix("topic:") if payload.startswith("topic:") else "",
            "survey": payload.removeprefix("survey:") if payload.startswith("survey:") else "",
        })  # fmt: skip
    blank = {"label": "", "labels": {}, "url": "", "topic": "", "survey": ""}
    return rows + [blank] * (BUTTONS - len(rows))


def chosen_time(form: dict[str, str], zone: str) -> tuple[datetime | None, int | None, str | None]:
    """The time chosen on the form, in the secretariat's zone, as UTC; or what is wrong."""
    tz = ZoneInfo(zone)
    if form.get("when") == "local":
        hour = form.get("local_hour", "")
        if not hour.isdigit() or not 0 <= int(hour) <= 23:
            return None, None, N_("Choose the hour of the members' own day.")
        day = _date(form.get("day", ""))
        today = datetime.now(tz).date()
        if day is not None and day < today:
            return None, None, N_("That time has already passed.")
        at = datetime.combine(day, time(0), tz).astimezone(UTC) if day and day > today else None
        return at, int(hour), None
    try:
        at = datetime.fromisoformat(form.get("at", "")).replace(tzinfo=tz)
    except ValueError:
        return None, None, N_("Choose the date and time to send it.")
    if at <= datetime.now(tz):
        return None, None, N_("That time has already passed.")
    return at.astimezone(UTC), None, None


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
