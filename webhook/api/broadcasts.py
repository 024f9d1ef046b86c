"""Broadcasts over HTTP: compose with translations, preview, test, approve, send or schedule
(once or repeating), cancel, stop a series, follow up, and watch the progress."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field, HttpUrl, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, actions, lifecycle
from bot.broadcasts import replies as broadcast_replies
from bot.broadcasts import saved as saved_audiences
from bot.broadcasts import series as broadcast_series
from bot.channels.registry import send_rates
from bot.i18n import LOCALES
from bot.members import topics
from bot.messages import link_problem
from bot.secretariat import members
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff
from bot.storage.models import Broadcast
from bot.storage.outbox import REPLY_WINDOW_MAX_HOURS
from webhook.api.common import READ, ContentSid, Limit, Offset, errors
from webhook.auth import AdminDep, EditorDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["broadcasts"])
CHANGE = errors(401, 403, 404, 409, 422)
BroadcastId = Annotated[int, Path(ge=1, le=2**62)]
Status = Literal["draft", "awaiting_approval", "scheduled", "sending", "sent", "cancelled"]


class ButtonIn(BaseModel):
    """A link, "tell me more" that opens a topic of the knowledge base (``topic:<id>``), or a
    survey's invitation (``survey:<id>``)."""

    label: dict[str, str] = Field(default_factory=dict, description="text per locale")
    url: HttpUrl | None = None
    payload: str | None = Field(
        default=None, pattern=r"^(topic:[a-z0-9_-]{1,40}|survey:[1-9][0-9]{0,17})$"
    )

    @field_validator("url")
    @classmethod
    def _opens_in_every_chat(cls, url: HttpUrl | None) -> HttpUrl | None:
        if url is not None and (problem := link_problem(str(url))) is not None:
            raise ValueError(problem)
        return url


class AudienceIn(BaseModel):
    countries: list[str] = Field(default_factory=list, description="ISO codes, e.g. MD")
    locales: list[str] = Field(default_factory=list)
    channels: list[Literal["telegram", "whatsapp", "web"]] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)
    exclude_broadcasts: list[int] = Field(
        default_factory=list, description="leave out who already received these broadcasts"
    )
    topics: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]] = Field(
        default_factory=list,
        description="only members who receive at least one of these topics (keys from "
        "/api/topics), by their choice or the topic's default",
    )


Repeat = Literal["daily", "weekly", "monthly"]
REPEAT = (
    "repeat the broadcast: every day, every week (on the weekday of its first sending) or "
    "every month (on the same day, the last day in a shorter month), at the same time in the "
    "secretariat's time zone, or at the same local hour when sent at each member's hour; "
    "each occurrence is a broadcast of its own, made when the one before it goes"
)
UNTIL = "the last day an occurrence may fall on, in the secretariat's time zone"
TIMES = "how many occurrences in all, the first included; at most one of until and times"


SAVED = (
    "use a saved audience (/api/audiences): its filters become the broadcast's audience, "
    "instead of giving one"
)


class BroadcastIn(BaseModel):
    title: str = Field(default="", max_length=200, description="for the secretariat only")
    base_locale: str = Field(default="en", description="the text every fallback ends at")
    texts: dict[str, str] = Field(default_factory=dict, description="the text per locale")
    image_url: HttpUrl | None = None
    buttons: list[ButtonIn] = Field(default_factory=list, max_length=3)
    audience: AudienceIn = Field(default_factory=AudienceIn)
    saved_audience_id: int | None = Field(default=None, ge=1, le=2**62, description=SAVED)
    templates: dict[str, ContentSid] = Field(
        default_factory=dict,
        description="approved WhatsApp template (content SID, HX and 32 hex digits) per "
        "locale, for members outside the 24-hour window as the message goes: its variable 1 "
        "carries the text's first line, and the full text follows the member's answer",
    )
    repeat: Repeat | None = Field(default=None, description=REPEAT)
    repeat_until: date | None = Field(default=None, description=UNTIL)
    repeat_times: int | None = Field(default=None, ge=2, le=1000, description=TIMES)
    collect_replies_hours: int = Field(
        default=0, ge=0, le=REPLY_WINDOW_MAX_HOURS,
        description="hours after a member receives it during which what they write back goes "
        "to the inbox as a reply to it (not to the bot); 0: replies are not collected",
    )


class BroadcastPatch(BaseModel):
    title: str | None = Field(default=None, max_length=200)
    texts: dict[str, str] | None = Field(
        default=None, description="locales to change; an empty text removes that locale"
    )
    image_url: HttpUrl | None = None
    buttons: list[ButtonIn] | None = Field(default=None, max_length=3)
    audience: AudienceIn | None = None
    saved_audience_id: int | None = Field(default=None, ge=1, le=2**62, description=SAVED)
    templates: dict[str, ContentSid] | None = None
    repeat: Repeat | None = Field(default=None, description=REPEAT + "; null: once")
    repeat_until: date | None = Field(default=None, description=UNTIL)
    repeat_times: int | None = Field(default=None, ge=2, le=1000, description=TIMES)
    collect_replies_hours: int | None = Field(
        default=None, ge=0, le=REPLY_WINDOW_MAX_HOURS,
        description="hours after a member receives it during which what they write back goes "
        "to the inbox as a reply to it (not to the bot); 0: replies are not collected",
    )


UNTRANSLATED = (
    "buttons whose own text has no translation for languages whose body is translated: "
    "members reading those get the button in the base language"
)


class ReadersOut(BaseModel):
    language: str = Field(description="the members' own language")
    reads: str = Field(description="the text they get")
    how: Literal["own", "country", "base"] = Field(
        description="own language, a fallback to their country's usual language, or to the "
        "base text"
    )
    members: int
    by_channel: dict[str, int]


class UntranslatedButtonOut(BaseModel):
    button: int = Field(description="its place among the buttons, from 1")
    label: str = Field(description="the text those members get instead")
    locales: list[str] = Field(description="translated languages its text lacks")
    members: int = Field(0, description="recipients reading those languages")


class BroadcastOut(BaseModel):
    id: int
    title: str
    status: Status
    base_locale: str
    texts: dict[str, str]
    stale_locales: list[str] = Field(description="translations older than the base text")
    image_url: str | None
    buttons: list[dict[str, Any]]
    audience: dict[str, Any]
    templates: dict[str, str]
    parent_id: int | None
    created_by: int | None
    approved_by: int | None
    scheduled_at: datetime | None
    local_hour: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    repeat: Repeat | None = Field(description="how its series repeats (on the first only)")
    repeat_until: date | None
    repeat_times: int | None
    repeat_of: int | None = Field(description="the first broadcast of the series this repeats")
    occurrence: int | None = Field(description="its number in its series, 1 for the first")
    series_stopped_at: datetime | None = Field(description="when its series was stopped")
    next_occurrence_at: datetime | None = Field(
        description="when its series' next occurrence goes; null when none will"
    )
    next_occurrence_id: int | None = Field(
        description="that occurrence, once made (it is made when the one before it goes)"
    )
    collect_replies_hours: int = Field(
        0, description="hours during which members' replies go to the inbox; 0: none"
    )
    untranslated_buttons: list[UntranslatedButtonOut] = Field(
        default_factory=list, description=UNTRANSLATED
    )


class ReplyOut(BaseModel):
    member_id: int
    channel: str
    text: str
    at: datetime
    # the secretariat's first answer in the member's conversation after the reply (none yet: null)
    answer: str | None = None
    answered_at: datetime | None = None


class RepliesOut(BaseModel):
    replies: list[ReplyOut]


class BroadcastList(BaseModel):
    broadcasts: list[BroadcastOut]
    total: int


class PreviewOut(BaseModel):
    recipients: int = Field(description="people who will get it, each once")
    people: int = Field(0, description="people in the audience, reached or skipped")
    addresses: int = Field(0, description="their chat addresses: more when chats are linked")
    by_channel: dict[str, int]
    by_locale: dict[str, int]
    by_fallback: dict[str, int] = Field(description="own language, country's, or base text")
    skipped: dict[str, int] = Field(description="stopped, unreachable, no_template, excluded")
    templated: int = Field(description="WhatsApp members reached with the template")
    missing_locales: dict[str, int] = Field(
        description="members' languages with no text (other than the base language)"
    )
    readers: list[ReadersOut] = Field(
        default_factory=list,
        description="who reads which text: per member language, the text they get and how it "
        "was chosen (own; country: their country's usual language; base: the base text)",
    )
    untranslated_buttons: list[UntranslatedButtonOut] = Field(
        default_factory=list, description=UNTRANSLATED
    )
    stale_locales: list[str]
    problems: list[str] = Field(description="what stops the broadcast from being sent")
    estimated_seconds: float


class SendIn(BaseModel):
    at: datetime | None = Field(default=None, description="when; empty: now")
    local_hour: int | None = Field(
        default=None, ge=0, le=23, description="send at this hour of each member's own day"
    )


class TestIn(BaseModel):
    member_id: int = Field(ge=1, le=2**62, description="your own chat, as a member")
    locale: str | None = Field(default=None, description="which text; default: all written")


class ProgressOut(BaseModel):
    status: Status
    total: int
    statuses: dict[str, int]
    by_channel: dict[str, dict[str, int]]
    by_locale: dict[str, dict[str, int]]
    done_share: float


def _out(b: Broadcast, series: broadcast_series.Series | None = None) -> BroadcastOut:
    texts = {loc: entry.get("text", "") for loc, entry in (b.texts or {}).items()}
    return BroadcastOut(
        id=b.id, title=b.title, status=b.status, base_locale=b.base_locale,  # type: ignore[arg-type]
        texts=texts, stale_locales=broadcasts.stale_locales(b), image_url=b.image_url,
        buttons=list(b.buttons or []), audience=dict(b.audience or {}),
        templates=dict(b.templates or {}), parent_id=b.parent_id, created_by=b.created_by,
        approved_by=b.approved_by, scheduled_at=b.scheduled_at, local_hour=b.local_hour,
        created_at=b.created_at, started_at=b.started_at, finished_at=b.finished_at,
        cancelled_at=b.cancelled_at, repeat=b.repeat, repeat_until=b.repeat_until,  # type: ignore[arg-type]
        repeat_times=b.repeat_times, repeat_of=b.repeat_of, occurrence=b.occurrence,
        series_stopped_at=series.head.repeat_stopped_at if series else None,
        next_occurrence_at=series.next_at if series else None,
        next_occurrence_id=series.next_id if series else None,
        collect_replies_hours=b.collect_replies_hours or 0,
        untranslated_buttons=[
            UntranslatedButtonOut(button=n, label=label, locales=locales)
            for n, label, locales in broadcasts.untranslated_buttons(b)
        ],
    )  # fmt: skip


async def _shown(session: AsyncSession, b: Broadcast) -> BroadcastOut:
    """The broadcast with where its series stands, when it is in one."""
    await session.flush()
    return _out(b, (await broadcast_series.series_of(session, [b])).get(b.id))


def _refuse(exc: BroadcastError) -> HTTPException:
    return HTTPException(409 if exc.code in ("not_editable", "not_draft", "finished",
                                             "not_finished", "not_waiting", "not_series",
                                             "series_stopped") else 422, str(exc))  # fmt: skip


def _apply(b: Broadcast, body: BroadcastIn | BroadcastPatch, staff: Staff, zone: str) -> None:
    try:
        for locale, text in (body.texts or {}).items():
            broadcasts.set_text(b, locale, text)
        _repeat(b, body, zone)
    except BroadcastError as exc:
        raise _refuse(exc) from exc
    if body.title is not None:
        b.title = body.title
    if "image_url" in body.model_fields_set or isinstance(body, BroadcastIn):
        b.image_url = str(body.image_url) if body.image_url else None
    if body.buttons is not None:
        b.buttons = [
            {
                k: v
                for k, v in {
                    "label": x.label,
                    "url": str(x.url) if x.url else None,
                    "payload": x.payload,
                }.items()
                if v
            }  # fmt: skip
            for x in body.buttons
        ]
    if body.audience is not None or staff.country is not None:
        audience = Audience.from_json(body.audience.model_dump() if body.audience else b.audience)
        b.audience = broadcasts.scoped(audience, staff).to_json()
    if body.templates is not None:
        b.templates = {k: v for k, v in body.templates.items() if k in LOCALES and v}
    if body.collect_replies_hours is not None:
        b.collect_replies_hours = body.collect_replies_hours


def _repeat(b: Broadcast, body: BroadcastIn | BroadcastPatch, zone: str) -> None:
    """The repeat rule: a new broadcast's as given; a change keeps what it does not name,
    except that a broadcast made to repeat no more keeps no end either."""
    given = body.model_fields_set & {"repeat", "repeat_until", "repeat_times"}
    if isinstance(body, BroadcastPatch) and not given:
        return
    every = body.repeat if "repeat" in given or isinstance(body, BroadcastIn) else b.repeat
    kept = every is not None and isinstance(body, BroadcastPatch)
    until = body.repeat_until if "repeat_until" in given or not kept else b.repeat_until
    times = body.repeat_times if "repeat_times" in given or not kept else b.repeat_times
    broadcast_series.set_rule(b, every, until=until, times=times, zone=zone)


async def saved_audience(
    session: AsyncSession, staff: Staff, saved_id: int | None, audience_given: bool
) -> AudienceIn | None:
    """The audience a saved audience named by its id keeps (None when none is named); a
    broadcast's or a survey launch's, which give one or the other."""
    if saved_id is None:
        return None
    if audience_given:
        raise HTTPException(422, "give an audience or a saved audience, not both")
    found = await saved_audiences.get(session, staff, saved_id)
    if found is None:
        raise HTTPException(422, "no such saved audience")
    return AudienceIn.model_validate(found.audience)


async def _saved_audience(
    session: AsyncSession, body: BroadcastIn | BroadcastPatch, staff: Staff
) -> None:
    """A saved audience named by its id stands for the audience it keeps."""
    given = "audience" in body.model_fields_set
    kept = await saved_audience(session, staff, body.saved_audience_id, given)
    if kept is not None:
        body.audience = kept


async def _offered(session: AsyncSession, audience: AudienceIn | None) -> None:
    """A broadcast names topics that exist and are not archived."""
    missing = await topics.not_offered(session, audience.topics if audience else [])
    if missing:
        raise HTTPException(422, f"no such topic: {', '.join(missing)}")


async def _get(
    session: AsyncSession, broadcast_id: int, staff: Staff, *, lock: bool = False
) -> Broadcast:
    stmt = select(Broadcast).where(Broadcast.id == broadcast_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt)
    if found is None or not broadcasts.visible(found, staff):
        raise HTTPException(404, "no such broadcast")
    return found


def _editable(b: Broadcast) -> None:
    if b.status not in broadcasts.EDITABLE:
        raise HTTPException(409, f"this broadcast is {b.status}; it can no longer change")


@router.get("/broadcasts", response_model=BroadcastList, responses=READ)
async def list_broadcasts(
    service: ServiceDep, staff: StaffDep, offset: Offset = 0, limit: Limit = 50
) -> BroadcastList:
    """Broadcasts, the newest first."""
    async with service.db.session() as session:
        rows = [
            b
            for b in await session.scalars(select(Broadcast).order_by(Broadcast.id.desc()))
            if broadcasts.visible(b, staff)
        ]
        shown = rows[offset : offset + limit]
        series = await broadcast_series.series_of(session, shown)
    return BroadcastList(broadcasts=[_out(b, series.get(b.id)) for b in shown],
                         total=len(rows))  # fmt: skip


@router.post("/broadcasts", response_model=BroadcastOut, status_code=201, responses=CHANGE)
async def create(body: BroadcastIn, service: ServiceDep, staff: EditorDep) -> BroadcastOut:
    """A new draft. Nothing is sent until it is sent or scheduled."""
    if body.base_locale not in LOCALES:
        raise HTTPException(422, f"unknown base locale {body.base_locale!r}")
    async with service.db.session() as session, session.begin():
        b = Broadcast(
            title="", base_locale=body.base_locale, status="draft", texts={}, buttons=[],
            audience={}, templates={}, created_by=staff.id, expanded_to=0,
        )  # fmt: skip
        await _saved_audience(session, body, staff)
        await _offered(session, body.audience)
        _apply(b, body, staff, service.settings.secretariat_timezone)
        session.add(b)
        await session.flush()
        await record(session, staff, "broadcast.create", f"broadcast:{b.id}", repeat=b.repeat)
        return await _shown(session, b)


@router.get("/broadcasts/{broadcast_id}", response_model=BroadcastOut, responses=errors(401, 404))
async def get(broadcast_id: BroadcastId, service: ServiceDep, staff: StaffDep) -> BroadcastOut:
    """One broadcast by its id; 404 when there is none you may see."""
    async with service.db.session() as session:
        return await _shown(session, await _get(session, broadcast_id, staff))


@router.patch("/broadcasts/{broadcast_id}", response_model=BroadcastOut, responses=CHANGE)
async def change(
    broadcast_id: BroadcastId, body: BroadcastPatch, service: ServiceDep, staff: EditorDep
) -> BroadcastOut:
    """Change a draft (or a scheduled one, before it starts)."""
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff, lock=True)
        _editable(b)
        await _saved_audience(session, body, staff)
        await _offered(session, body.audience)
        before = lifecycle.content(b)
        _apply(b, body, staff, service.settings.secretariat_timezone)
        await actions.edited(session, b, staff, before,
                             approval_above=service.settings.broadcast_approval_above)  # fmt: skip
        await record(session, staff, "broadcast.update", f"broadcast:{b.id}", repeat=b.repeat)
        return await _shown(session, b)


@router.get(
    "/broadcasts/{broadcast_id}/preview", response_model=PreviewOut, responses=errors(401, 404)
)
async def preview(broadcast_id: BroadcastId, service: ServiceDep, staff: StaffDep) -> PreviewOut:
    """Who will get it, in which language, who will not and why, and how long it will take."""
    async with service.db.session() as session:
        b = await _get(session, broadcast_id, staff)
        found = await broadcasts.preview(session, b, staff, send_rates(service.settings))
    return PreviewOut.model_validate(asdict(found))


@router.post("/broadcasts/{broadcast_id}/test", status_code=202, responses=CHANGE)
async def test_send(
    broadcast_id: BroadcastId, body: TestIn, service: ServiceDep, staff: EditorDep
) -> dict[str, int]:
    """Send the broadcast, marked as a test, to one chat before the real send: your own
    (the Telegram chat linked to your account, or one linked with it) or a colleague's; 422
    for a member's."""
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff)
        member = await members.get(session, staff, body.member_id)
        if member is None:
            raise HTTPException(404, "no such member")
        try:
            tested = await actions.send_test(
                session, b, staff, member, service.broadcaster.labels, body.locale
            )
        except BroadcastError as exc:
            raise _refuse(exc) from exc
    await service.coordinator.notify(tested.wake)
    return {"queued": tested.queued}


@router.post("/broadcasts/{broadcast_id}/send", response_model=BroadcastOut, responses=CHANGE)
async def send(
    broadcast_id: BroadcastId, body: SendIn, service: ServiceDep, staff: EditorDep
) -> BroadcastOut:
    """Send now, or schedule. Above the approval threshold it waits for an administrator."""
    at = body.at
    if at is not None and at.tzinfo is None:
        raise HTTPException(422, "give the time with its time zone, e.g. 2026-12-01T09:00+02:00")
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff, lock=True)
        try:
            sent = await actions.send(
                session, b, staff, approval_above=service.settings.broadcast_approval_above,
                at=at, local_hour=body.local_hour,
            )  # fmt: skip
        except BroadcastError as exc:
            raise _refuse(exc) from exc
        out = await _shown(session, b)
    await service.coordinator.notify(sent.wake)
    return out


@router.post("/broadcasts/{broadcast_id}/approve", response_model=BroadcastOut, responses=CHANGE)
async def approve(broadcast_id: BroadcastId, service: ServiceDep, staff: AdminDep) -> BroadcastOut:
    """A second person, an administrator, lets a large broadcast go."""
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff, lock=True)
        try:
            wake = await actions.approve(session, b, staff)
        except BroadcastError as exc:
            raise _refuse(exc) from exc
        out = await _shown(session, b)
    await service.coordinator.notify(wake)
    return out


@router.post("/broadcasts/{broadcast_id}/cancel", response_model=BroadcastOut, responses=CHANGE)
async def cancel(broadcast_id: BroadcastId, service: ServiceDep, staff: EditorDep) -> BroadcastOut:
    """Stop what has not gone yet; messages already in flight still arrive."""
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff, lock=True)
        try:
            cancelled = await actions.cancel(session, b, staff)
        except BroadcastError as exc:
            raise _refuse(exc) from exc
        out = await _shown(session, b)
    await service.coordinator.notify(cancelled.wake)
    return out


@router.post(
    "/broadcasts/{broadcast_id}/stop-series", response_model=BroadcastOut, responses=CHANGE
)
async def stop_series(
    broadcast_id: BroadcastId, service: ServiceDep, staff: EditorDep
) -> BroadcastOut:
    """No further occurrence of this broadcast's series: none is made any more, and one made
    that has not started is cancelled. An occurrence already sending goes on (cancel it to
    hold back the rest of it). 409 when it does not repeat or has already stopped."""
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff, lock=True)
        try:
            stopped = await actions.stop_series(session, b, staff)
        except BroadcastError as exc:
            raise _refuse(exc) from exc
        out = await _shown(session, b)
    await service.coordinator.notify(stopped.wake)
    return out


@router.post(
    "/broadcasts/{broadcast_id}/follow-up",
    response_model=BroadcastOut,
    status_code=201,
    responses=CHANGE,
)
async def follow_up(
    broadcast_id: BroadcastId, service: ServiceDep, staff: EditorDep
) -> BroadcastOut:
    """A new draft for those who did not receive it and can be reached now."""
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff)
        try:
            again = await actions.follow_up(session, b, staff)
        except BroadcastError as exc:
            raise _refuse(exc) from exc
        return await _shown(session, again)


@router.post(
    "/broadcasts/{broadcast_id}/duplicate",
    response_model=BroadcastOut,
    status_code=201,
    responses=errors(401, 403, 404),
)
async def duplicate(
    broadcast_id: BroadcastId, service: ServiceDep, staff: EditorDep
) -> BroadcastOut:
    """A new draft with the same texts, translations, buttons, audience and settings, from any
    broadcast (sent ones too); not approved and not scheduled: check it, then send it."""
    async with service.db.session() as session, session.begin():
        b = await _get(session, broadcast_id, staff)
        copy = await actions.duplicate(session, b, staff)
        return await _shown(session, copy)


@router.get(
    "/broadcasts/{broadcast_id}/progress", response_model=ProgressOut, responses=errors(401, 404)
)
async def progress(broadcast_id: BroadcastId, service: ServiceDep, staff: StaffDep) -> ProgressOut:
    """Queued, sent, delivered, read, failed, skipped: by channel and locale."""
    async with service.db.session() as session:
        b = await _get(session, broadcast_id, staff)
        found = await broadcasts.progress(session, broadcast_id)
    return ProgressOut(status=b.status, **found)  # type: ignore[arg-type]


@router.get(
    "/broadcasts/{broadcast_id}/replies", response_model=RepliesOut, responses=errors(401, 404)
)
async def replies(broadcast_id: BroadcastId, service: ServiceDep, staff: StaffDep) -> RepliesOut:
    """What members wrote back to it within its reply window, the oldest first, each with the
    secretariat's answer when there is one; for staff of one country, their country's members
    only."""
    async with service.db.session() as session:
        await _get(session, broadcast_id, staff)
        found = await broadcast_replies.of(session, broadcast_id, staff)
    return RepliesOut(
        replies=[
            ReplyOut(member_id=r.member_id, channel=r.channel, text=r.text, at=r.at,
                     answer=r.answer, answered_at=r.answered_at)
            for r in found
        ]
    )
