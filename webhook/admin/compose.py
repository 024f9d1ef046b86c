"""Composing a broadcast: its texts per language, image, buttons, audience and WhatsApp
templates, with the preview beside it (refreshed as the author types), a test to the author's
own chat, and sending now or at a chosen time, once or repeating."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts, surveys
from bot.broadcasts import Audience, BroadcastError, actions, lifecycle
from bot.broadcasts import saved as saved_audiences
from bot.broadcasts import series as broadcast_series
from bot.channels.base import ChannelName
from bot.channels.registry import send_rates, text_limits
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LOCALES
from bot.i18n.markers import N_
from bot.secretariat import members
from bot.secretariat.audit import record
from bot.secretariat.members import MemberFilter
from bot.storage.models import Broadcast, Contact, StaffUser, Survey
from webhook.admin import audience_form
from webhook.admin.broadcast_form import (
    CHANNELS,
    REPLY_WINDOWS,
    SKIPS,
    Draft,
    apply,
    blank,
    button_rows,
    chosen_time,
    copy_of,
    earlier,
    load,
    read_form,
    refusal,
)
from webhook.admin.broadcast_views import language_views
from webhook.admin.broadcasts import scheduled_in_zone
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, render
from webhook.deps import ItemId, ServiceDep

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter(route_class=AdminRoute)
ACTIONS = ("save", "add", "test", "send", "schedule", *audience_form.ACTIONS)


def topics_of(service: Service, locale: str) -> dict[str, str]:
    """The knowledge's topics a "tell me more" button can open, by their title."""
    knowledge = service.features.knowledge
    return {i: knowledge.topic(locale, i).title for i in knowledge.topic_ids}


async def surveys_of(session: AsyncSession, visit: Visit) -> dict[int, str]:
    """Open surveys a button can invite to: the coalition's, and one's own country's."""
    found = await session.scalars(
        select(Survey).where(Survey.status == "open").order_by(Survey.id.desc()).limit(50)
    )
    return {
        s.id: s.name or (s.title or {}).get(s.base_locale) or f"#{s.id}"
        for s in found
        if surveys.is_open(s) and s.country in (None, visit.staff.country or s.country)
    }


async def _read(service: Service, visit: Visit) -> Draft:
    """The form as sent, checked against the topics and surveys it offered."""
    async with service.db.session() as session:
        offered = await surveys_of(session, visit)
        aimed = await audience_form.aimed(session)
    return read_form(visit.form, list(topics_of(service, visit.locale)), list(offered), aimed,
                     service.settings.secretariat_timezone)  # fmt: skip


async def _own_chat(session: AsyncSession, visit: Visit) -> Contact | None:
    """The member record of the person's own Telegram chat, when they have linked it."""
    user = await session.get(StaffUser, visit.staff.id)
    if user is None or not user.telegram_chat_id:
        return None
    found = await members.search(session, visit.staff, MemberFilter(q=user.telegram_chat_id))
    return next((c for c in found[0] if c.channel == ChannelName.TELEGRAM), None)


async def page(
    request: Request,
    service: Service,
    visit: Visit,
    b: Broadcast,
    *,
    form: dict[str, str] | None = None,
    problems: list[tuple[str, dict[str, Any]]] | None = None,
    status_code: int = 200,
) -> Response:
    """The compose page: the stored broadcast, or what the author sent when it was refused."""
    shown = [loc for loc in LOCALES if broadcasts.text_of(b, loc)]
    for wanted in [b.base_locale, *request.query_params.getlist("add")]:
        if wanted in LOCALES and wanted not in shown:
            shown.append(wanted)
    async with service.db.session() as session:
        own = await _own_chat(session, visit)
        gone = await earlier(session, visit, b.id)
        offered = await surveys_of(session, visit)
        chosen = Audience.from_json(b.audience).topics
        aimed = await audience_form.news_topics_of(session, visit, chosen)
        series = (await broadcast_series.series_of(session, [b])).get(b.id) if b.id else None
        kept = await saved_audiences.listed(session, visit.staff)
    zone = service.settings.secretariat_timezone
    return render(
        request, "broadcast_compose.html", visit, title=N_("Compose a broadcast"), b=b,
        shown=sorted(shown, key=lambda loc: (loc != b.base_locale, LOCALES.index(loc))),
        texts_of={loc: broadcasts.text_of(b, loc) for loc in LOCALES}, form=form or {},
        audience=Audience.from_json(b.audience), locales=LOCALES, channels=CHANNELS,
        countries=(visit.staff.country,) if visit.staff.country else (*MEMBER_COUNTRIES, OTHER),
        topics=topics_of(service, visit.locale), news_topics=aimed, surveys=offered, buttons=button_rows(b), own=own, earlier=gone,
        problems=problems or [], zone=zone, today=datetime.now(ZoneInfo(zone)).date(),
        limits=text_limits(), stale=broadcasts.stale_locales(b), status_code=status_code,
        series=series, reply_windows=REPLY_WINDOWS, saved_audiences=kept,
    )  # fmt: skip


@router.get("/broadcasts/new")
async def new(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    return await page(request, service, visit, blank(visit))


@router.get("/broadcasts/{broadcast_id}/edit")
async def edit(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    async with service.db.session() as session:
        b = await load(session, broadcast_id, visit)
    if b.status not in broadcasts.EDITABLE:
        return RedirectResponse(f"/admin/broadcasts/{b.id}", status_code=303)
    return await page(request, service, visit, b)


@router.post("/broadcasts/preview")
async def preview(
    request: Request,
    service: ServiceDep,
    visit: EditorVisit,
    broadcast_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """The preview of the form as it stands, stored or not; nothing is saved."""
    draft = await _read(service, visit)
    async with service.db.session() as session:
        b = copy_of(await load(session, broadcast_id, visit)) if broadcast_id else blank(visit)
        try:
            apply(b, draft, visit)
        except BroadcastError as exc:
            raise HTTPException(409) from exc
        seen = await broadcasts.preview(session, b, visit.staff, send_rates(service.settings))
    problems = draft.problems + [refusal(p, b) for p in broadcasts.check(b)]
    return render(
        request, "broadcast_preview.html", visit, b=b, p=seen, problems=problems, limits=text_limits(),
        lengths={loc: len(text.strip()) for loc, text in draft.texts.items()}, skips=SKIPS,
        text_of=broadcasts.text_of, duration=format_timedelta(
            timedelta(seconds=max(seen.estimated_seconds, 1.0)), locale=visit.locale
        ), views=language_views(b, seen, service.broadcaster.labels, service.broadcaster.hints),
    )  # fmt: skip


@router.get("/broadcasts/test-members")
async def test_members(
    request: Request,
    service: ServiceDep,
    visit: EditorVisit,
    test_q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The members a test can go to, found by number or organisation within one's scope."""
    found: list[Contact] = []
    if test_q.strip():
        async with service.db.session() as session:
            found = list(
                (await members.search(session, visit.staff, MemberFilter(q=test_q.strip()),
                                      limit=20))[0]
            )  # fmt: skip
    return render(request, "broadcast_test_members.html", visit, found=found, chosen=None)


async def _save(service: Service, visit: Visit, broadcast_id: int | None, d: Draft) -> int:
    async with service.db.session() as session, session.begin():
        if broadcast_id is None:
            b = blank(visit)
            session.add(b)
        else:
            b = await load(session, broadcast_id, visit, lock=True)
        before = lifecycle.content(b) if broadcast_id is not None else None
        apply(b, d, visit)
        await actions.edited(session, b, visit.staff, before,
                             approval_above=service.settings.broadcast_approval_above)  # fmt: skip
        await session.flush()
        action = "broadcast.create" if broadcast_id is None else "broadcast.update"
        await record(session, visit.staff, action, f"broadcast:{b.id}")
        return b.id


async def _refused(
    request: Request, service: Service, visit: Visit, broadcast_id: int | None,
    problems: list[tuple[str, dict[str, Any]]], status_code: int,
) -> Response:  # fmt: skip
    """The compose page again, showing what the author sent (stored or not) and why not."""
    async with service.db.session() as session:
        b = copy_of(await load(session, broadcast_id, visit)) if broadcast_id else blank(visit)
    shown = copy_of(b)
    try:
        apply(shown, await _read(service, visit), visit)
    except BroadcastError:
        shown = b  # it can no longer change: show it as it is
    return await page(request, service, visit, shown, form=visit.form, problems=problems,
                      status_code=status_code)  # fmt: skip


@router.post("/broadcasts/new")
async def create(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    return await _act(request, service, visit, None)


@router.post("/broadcasts/{broadcast_id}/edit")
async def save(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    return await _act(request, service, visit, broadcast_id)


async def _act(
    request: Request, service: Service, visit: Visit, broadcast_id: int | None
) -> Response:
    """Save the form, then do what the button asked: add a language, test, send, schedule.
    What was written is saved even when sending is refused, so nothing typed is lost."""
    action = visit.form.get("action", "save")
    action, _, add = action.partition(":")  # "add:ru" from the preview's missing languages
    if action not in ACTIONS:
        raise HTTPException(400)
    d = await _read(service, visit)
    if d.problems:
        return await _refused(request, service, visit, broadcast_id, d.problems, 400)
    if action == "use_audience":
        d.audience = await audience_form.use_saved(service, visit)

    try:
        broadcast_id = await _save(service, visit, broadcast_id, d)
        if action == "save_audience":
            await audience_form.keep(service, visit, d.audience)
    except BroadcastError as exc:
        return await _refused(request, service, visit, broadcast_id, [refusal(exc)], 409)
    edit_url = f"/admin/broadcasts/{broadcast_id}/edit"
    if action in ("use_audience", "save_audience"):
        done = "audience-used" if action == "use_audience" else "audience-saved"
        return RedirectResponse(f"{edit_url}?done={done}#audience", status_code=303)
    if action == "add":
        wanted = add or visit.form.get("add_locale", "")
        extra = f"?add={wanted}" if wanted in LOCALES else ""
        return RedirectResponse(f"{edit_url}{extra}#texts", status_code=303)
    if action == "save":
        return RedirectResponse(f"{edit_url}?done=draft-saved", status_code=303)
    if action == "test":
        return await _test(request, service, visit, broadcast_id, edit_url)
    at, hour, wrong = (None, None, None)
    if action == "schedule":
        at, hour, wrong = chosen_time(visit.form, service.settings.secretariat_timezone)
    if wrong:
        return await _refused(request, service, visit, broadcast_id, [(wrong, {})], 400)
    # Nothing goes before the author has seen the numbers and confirmed them (a second step,
    # on its own page, that names what they confirm).
    return await _confirm(request, service, visit, broadcast_id, action, at, hour)


TIME_FIELDS = ("when", "at", "day", "local_hour")  # what the confirmation carries over


def confirmation(b: Broadcast, recipients: int, at: datetime | None, hour: int | None) -> str:
    """What the author confirms: this content, to this many people, at this time. A change to
    any of them between the confirmation page and the click asks again."""
    seen = repr((lifecycle.content(b), b.id, recipients, at and at.isoformat(), hour))
    return hashlib.sha256(seen.encode()).hexdigest()[:32]


async def _confirm(
    request: Request, service: Service, visit: Visit, broadcast_id: int, action: str,
    at: datetime | None, hour: int | None, *, changed: bool = False,
) -> Response:  # fmt: skip
    """The confirmation page: people, channels, languages, fallbacks, skipped, and when; or
    straight on to the refusal when it cannot go at all."""
    async with service.db.session() as session:
        b = await load(session, broadcast_id, visit)
        seen = await broadcasts.preview(session, b, visit.staff, send_rates(service.settings))
    if seen.recipients == 0 or broadcasts.check(b):
        return await _launch(request, service, visit, broadcast_id, at, hour)
    zone = service.settings.secretariat_timezone
    waits = lifecycle.lacks_approval(b, seen.recipients,
                                     service.settings.broadcast_approval_above)  # fmt: skip
    return render(
        request, "broadcast_confirm.html", visit, title=N_("Check before sending"), b=b, p=seen,
        action=action, at=at, hour=hour, zone=zone, when_in_zone=scheduled_in_zone,
        token=confirmation(b, seen.recipients, at, hour), skips=SKIPS, changed=changed,
        carried={k: visit.form.get(k, "") for k in TIME_FIELDS if visit.form.get(k)},
        waits=waits, duration=format_timedelta(
            timedelta(seconds=max(seen.estimated_seconds, 1.0)), locale=visit.locale
        ), status_code=409 if changed else 200,
    )  # fmt: skip


@router.post("/broadcasts/{broadcast_id}/confirm")
async def confirm(
    request: Request, broadcast_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """The author confirmed the numbers they saw: send, or schedule, unless something changed
    since (the page is then shown again with the new numbers)."""
    action = visit.form.get("action", "")
    if action not in ("send", "schedule"):
        raise HTTPException(400)
    at, hour, wrong = (None, None, None)
    if action == "schedule":
        at, hour, wrong = chosen_time(visit.form, service.settings.secretariat_timezone)
    if wrong:
        return await _refused(request, service, visit, broadcast_id, [(wrong, {})], 400)
    async with service.db.session() as session:
        b = await load(session, broadcast_id, visit)
        seen = await broadcasts.preview(session, b, visit.staff, {})
    if not hmac.compare_digest(visit.form.get("confirm", ""),
                               confirmation(b, seen.recipients, at, hour)):  # fmt: skip
        return await _confirm(request, service, visit, broadcast_id, action, at, hour,
                              changed=True)  # fmt: skip
    return await _launch(request, service, visit, broadcast_id, at, hour)


async def _test(
    request: Request, service: Service, visit: Visit, broadcast_id: int, edit_url: str
) -> Response:
    chosen = visit.form.get("test_member", "")
    async with service.db.session() as session, session.begin():
        b = await load(session, broadcast_id, visit, lock=True)
        wanted = int(chosen) if chosen.isdigit() and len(chosen) <= 18 else None
        member = await members.get(session, visit.staff, wanted) if wanted else None
        problems = [refusal(p, b) for p in broadcasts.check(b)]
        if member is None:
            problems.append((N_("Choose the chat that gets the test: your own."), {}))
        if not problems and member is not None:
            try:
                tested = await actions.send_test(
                    session, b, visit.staff, member, service.broadcaster.labels
                )
            except BroadcastError:
                problems.append((N_("Choose the chat that gets the test: your own."), {}))
    if problems:
        return await _refused(request, service, visit, broadcast_id, problems, 422)
    await service.coordinator.notify(tested.wake)
    return RedirectResponse(f"{edit_url}?done=test-sent", status_code=303)


async def _launch(
    request: Request, service: Service, visit: Visit, broadcast_id: int,
    at: datetime | None, hour: int | None,
) -> Response:  # fmt: skip
    problems: list[tuple[str, dict[str, Any]]] = []
    async with service.db.session() as session, session.begin():
        b = await load(session, broadcast_id, visit, lock=True)
        seen = await broadcasts.preview(session, b, visit.staff, {})
        try:
            if seen.recipients == 0 and not broadcasts.check(b):
                problems.append((N_("Nobody in this audience can receive it."), {}))
            else:
                sent = await actions.send(
                    session, b, visit.staff, at=at, local_hour=hour, counted=seen,
                    approval_above=service.settings.broadcast_approval_above,
                )  # fmt: skip
        except BroadcastError as exc:
            problems.append(refusal(exc, b))
        status, scheduled = b.status, at is not None or hour is not None
    if problems:
        return await _refused(request, service, visit, broadcast_id, problems, 422)
    await service.coordinator.notify(sent.wake)
    done = "awaiting" if status == "awaiting_approval" else "scheduled" if scheduled else "going"
    return RedirectResponse(f"/admin/broadcasts/{broadcast_id}?done=broadcast-{done}",
                            status_code=303)  # fmt: skip
