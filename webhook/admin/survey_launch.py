"""Launching a survey: the audience with the broadcasts' filters and their preview counts
(leaving out who received an earlier broadcast or survey invitation; a saved audience picked,
or the filters saved under a name, as on the compose page), WhatsApp templates for
those outside the 24-hour window, an optional reminder, and the invitation sent now or at a
chosen time by the launch code the API uses; cancelling an invitation that has not gone."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from babel.dates import format_timedelta
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts, surveys
from bot.broadcasts import Audience, BroadcastError, actions
from bot.broadcasts import saved as saved_audiences
from bot.channels.registry import send_rates
from bot.coordination.keys import BROADCASTS, SURVEYS
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LOCALES
from bot.i18n.markers import N_
from bot.secretariat.audit import record
from bot.storage.models import Survey
from bot.surveys import launch as surveys_launch
from bot.surveys import wording
from webhook.admin import audience_form
from webhook.admin.broadcast_form import (
    CHANNELS,
    SKIPS,
    Draft,
    chosen_time,
    earlier,
    read_form,
    refusal,
)
from webhook.admin.broadcast_form import load as load_broadcast
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, render
from webhook.admin.surveys import load, reminder_time, survey_page, title_of
from webhook.deps import ItemId, ServiceDep

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter(route_class=AdminRoute)
REFUSALS = {
    "closed": N_("This survey is closed."),
    "launched": N_("This survey's invitation has already been sent."),
}


def _written(s: Survey) -> list[str]:
    return [loc for loc in LOCALES if (s.title or {}).get(loc)]


async def _page(
    request: Request, service: Service, visit: Visit, s: Survey, *,
    form: dict[str, str] | None = None, problems: list[tuple[str, dict[str, Any]]] | None = None,
    audience: Audience | None = None, notice: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    """The launch page: empty, or as sent with ``audience`` (a saved one's) ticked instead."""
    form = form or {}
    async with service.db.session() as session:
        if audience is None:
            aimed = await audience_form.aimed(session)
            audience = read_form(form, [], [], aimed).audience if form else Audience()
        gone = await earlier(session, visit, None)
        partial = await _partial(session, s)
        offered = await audience_form.news_topics_of(session, visit, audience.topics)
        kept = await saved_audiences.listed(session, visit.staff)
    return render(
        request, "survey_launch.html", visit, title=N_("Launch a survey"), s=s,
        title_of=title_of, audience=audience, locales=LOCALES, channels=CHANNELS, earlier=gone,
        countries=(visit.staff.country,) if visit.staff.country else (*MEMBER_COUNTRIES, OTHER),
        written=_written(s), form=form, problems=problems or [], status_code=status_code,
        zone=service.settings.secretariat_timezone, partial=partial, news_topics=offered,
        saved_audiences=kept, notice=notice,
    )  # fmt: skip


async def _partial(session: AsyncSession, s: Survey) -> list[wording.Gap]:
    """The languages only partly written: their members would read a mixture."""
    found = wording.gaps(s, await surveys.questions_of(session, s.id))
    return [gap for gap in found.values() if gap.partial]


async def _launchable(service: Service, visit: Visit, survey_id: int) -> Survey | None:
    """The survey, when it can be launched: not closed, and no invitation standing."""
    async with service.db.session() as session:
        s = await load(session, survey_id, visit)
        invited = await surveys_launch.invitation_stands(session, s)
    return None if s.status == "closed" or invited else s


@router.get("/surveys/{survey_id}/launch")
async def launch_page(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    s = await _launchable(service, visit, survey_id)
    if s is None:
        return RedirectResponse(f"/admin/surveys/{survey_id}", status_code=303)
    return await _page(request, service, visit, s)


async def _read(service: Service, s: Survey, form: dict[str, str]) -> Draft:
    """The form as sent, its topics checked against those there are."""
    async with service.db.session() as session:
        aimed = await audience_form.aimed(session)
    return read_form({**form, "base_locale": s.base_locale}, [], [], aimed)


def _invitation_of(s: Survey, visit: Visit, d: Draft) -> Any:
    b = surveys_launch.invitation(s, visit.staff.id, d.templates)
    b.audience = broadcasts.scoped(d.audience, visit.staff).to_json()
    return b


@router.post("/surveys/{survey_id}/launch/preview")
async def preview(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """Who the invitation would reach, in which language, and who it would skip."""
    s = await _launchable(service, visit, survey_id)
    if s is None:
        raise HTTPException(409)
    d = await _read(service, s, visit.form)
    b = _invitation_of(s, visit, d)
    async with service.db.session() as session:
        seen = await broadcasts.preview(session, b, visit.staff, send_rates(service.settings))
        partial = await _partial(session, s)
    return render(
        request, "survey_launch_preview.html", visit, s=s, p=seen, skips=SKIPS, partial=partial,
        problems=d.problems, duration=format_timedelta(
            timedelta(seconds=max(seen.estimated_seconds, 1.0)), locale=visit.locale
        ),
    )  # fmt: skip


def _when(form: dict[str, str], zone: str) -> tuple[Any, Any, list[tuple[str, dict[str, Any]]]]:
    """The invitation's time (None: now) and the reminder's, in the secretariat's zone, as
    UTC; or what is wrong with them."""
    problems: list[tuple[str, dict[str, Any]]] = []
    at = None
    if form.get("action") == "schedule":  # a date and time: members' own hours are not offered
        at, _, wrong = chosen_time({**form, "when": "at"}, zone)
        problems += [(wrong, {})] if wrong else []
    remind_at, wrong = reminder_time(form.get("remind_at", ""), zone)
    problems += [(wrong, {})] if wrong else []
    if at is not None and remind_at is not None and remind_at <= at:
        problems.append((N_("The reminder must come after the invitation."), {}))
    return at, remind_at, problems


@router.post("/surveys/{survey_id}/launch")
async def launch(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """Open the survey and send its invitation, now or at the chosen time; the reminder, if
    chosen, is set with it. Or pick a saved audience, or save the ticked one."""
    s = await _launchable(service, visit, survey_id)
    if s is None:
        raise HTTPException(409)
    d = await _read(service, s, visit.form)
    if visit.form.get("action") in audience_form.ACTIONS:
        return await _audience(request, service, visit, s, d)
    at, remind_at, problems = _when(visit.form, service.settings.secretariat_timezone)
    problems = d.problems + problems
    if problems:
        return await _page(request, service, visit, s, form=visit.form, problems=problems,
                           status_code=400)  # fmt: skip
    try:
        async with service.db.session() as session, session.begin():
            s = await load(session, survey_id, visit, lock=True)
            b = await surveys_launch.launch(
                session, s, visit.staff, broadcasts.scoped(d.audience, visit.staff),
                templates=d.templates, approval_above=service.settings.broadcast_approval_above,
                at=at,
            )  # fmt: skip
            s.remind_at = remind_at
            await record(session, visit.staff, "survey.launch", f"survey:{s.id}",
                         broadcast=b.id, status=b.status,
                         at=at.isoformat() if at else None,
                         remind_at=remind_at.isoformat() if remind_at else None)  # fmt: skip
            waiting = b.status == "awaiting_approval"
    except BroadcastError as exc:
        said = REFUSALS.get(exc.code)
        found = (said, {}) if said else refusal(exc)
        async with service.db.session() as session:  # as it is after the rollback
            s = await load(session, survey_id, visit)
        return await _page(request, service, visit, s, form=visit.form, problems=[found],
                           status_code=409)  # fmt: skip
    await service.coordinator.notify(BROADCASTS)
    if remind_at is not None:
        await service.coordinator.notify(SURVEYS)
    done = "survey-awaiting" if waiting else "survey-scheduled" if at else "survey-launched"
    return RedirectResponse(f"/admin/surveys/{survey_id}?done={done}", status_code=303)


async def _audience(
    request: Request, service: Service, visit: Visit, s: Survey, d: Draft
) -> Response:
    """The page again with what was typed, nothing launched: a saved audience's filters ticked
    instead, or the ticked ones kept under a name."""
    if visit.form.get("action") == "use_audience":
        picked = await audience_form.use_saved(service, visit)
        return await _page(request, service, visit, s, form=visit.form, audience=picked,
                           problems=d.problems, notice="audience-picked")  # fmt: skip
    try:
        await audience_form.keep(service, visit, d.audience)
    except BroadcastError as exc:
        return await _page(request, service, visit, s, form=visit.form, problems=[refusal(exc)],
                           status_code=409)  # fmt: skip
    return await _page(request, service, visit, s, form=visit.form, problems=d.problems,
                       notice="audience-saved")  # fmt: skip


@router.post("/surveys/{survey_id}/invitation/cancel")
async def cancel_invitation(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """Stop the invitation as a broadcast is stopped: what has not gone stays unsent. The
    survey stays open, and can be launched again."""
    try:
        async with service.db.session() as session, session.begin():
            s = await load(session, survey_id, visit, lock=True)
            if s.broadcast_id is None:
                raise HTTPException(409)
            b = await load_broadcast(session, s.broadcast_id, visit, lock=True)
            cancelled = await actions.cancel(session, b, visit.staff, survey=s.id)
    except BroadcastError as exc:
        return await survey_page(request, service, visit, survey_id, problem=refusal(exc)[0],
                                 status_code=409)  # fmt: skip
    await service.coordinator.notify(cancelled.wake)
    return RedirectResponse(f"/admin/surveys/{survey_id}?done=invitation-cancelled",
                            status_code=303)  # fmt: skip
