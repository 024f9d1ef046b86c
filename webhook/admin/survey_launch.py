"""Launching a survey: the audience with the broadcasts' filters and their preview counts,
WhatsApp templates for those outside the 24-hour window, an optional reminder, and the
invitation sent by the launch code the API uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from babel.dates import format_timedelta
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot import broadcasts, surveys_launch
from bot import staff as accounts
from bot.broadcasts import Audience, BroadcastError
from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LOCALES
from bot.service import Service
from bot.storage.models import Survey
from webhook.admin.broadcast_form import CHANNELS, SKIPS, read_form, refusal
from webhook.admin.catalog import N_
from webhook.admin.surveys import load, reminder_time, title_of
from webhook.admin.web import AdminRoute, EditorVisit, Visit, render
from webhook.deps import ServiceDep

router = APIRouter(route_class=AdminRoute)
REFUSALS = {
    "closed": N_("This survey is closed."),
    "launched": N_("This survey's invitation has already been sent."),
}


def _written(s: Survey) -> list[str]:
    return [loc for loc in LOCALES if (s.title or {}).get(loc)]


def _page(
    request: Request, service: Service, visit: Visit, s: Survey, *,
    form: dict[str, str] | None = None, problems: list[tuple[str, dict[str, Any]]] | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    form = form or {}
    audience = read_form(form, [], []).audience if form else Audience()
    return render(
        request, "survey_launch.html", visit, title=N_("Launch a survey"), s=s,
        title_of=title_of, audience=audience, locales=LOCALES, channels=CHANNELS, earlier=[],
        countries=(visit.staff.country,) if visit.staff.country else (*MEMBER_COUNTRIES, OTHER),
        written=_written(s), form=form, problems=problems or [], status_code=status_code,
        zone=service.settings.secretariat_timezone,
    )  # fmt: skip


async def _launchable(service: Service, visit: Visit, survey_id: int) -> Survey:
    async with service.db.session() as session:
        s = await load(session, survey_id, visit)
    if s.status == "closed" or s.broadcast_id is not None:
        raise HTTPException(409)
    return s


@router.get("/surveys/{survey_id}/launch")
async def launch_page(
    request: Request, survey_id: int, service: ServiceDep, visit: EditorVisit
) -> Response:
    async with service.db.session() as session:
        s = await load(session, survey_id, visit)
    if s.status == "closed" or s.broadcast_id is not None:
        return RedirectResponse(f"/admin/surveys/{s.id}", status_code=303)
    return _page(request, service, visit, s)


def _invitation_of(s: Survey, visit: Visit, form: dict[str, str]) -> Any:
    d = read_form({**form, "base_locale": s.base_locale}, [], [])
    b = surveys_launch.invitation(s, visit.staff.id, d.templates)
    b.audience = broadcasts.scoped(d.audience, visit.staff).to_json()
    return b, d


@router.post("/surveys/{survey_id}/launch/preview")
async def preview(
    request: Request, survey_id: int, service: ServiceDep, visit: EditorVisit
) -> Response:
    """Who the invitation would reach, in which language, and who it would skip."""
    s = await _launchable(service, visit, survey_id)
    b, d = _invitation_of(s, visit, visit.form)
    async with service.db.session() as session:
        seen = await broadcasts.preview(session, b, visit.staff, broadcasts.rates(service.settings))
    return render(
        request, "survey_launch_preview.html", visit, s=s, p=seen, skips=SKIPS,
        problems=d.problems, duration=format_timedelta(
            timedelta(seconds=max(seen.estimated_seconds, 1.0)), locale=visit.locale
        ),
    )  # fmt: skip


@router.post("/surveys/{survey_id}/launch")
async def launch(
    request: Request, survey_id: int, service: ServiceDep, visit: EditorVisit
) -> Response:
    """Open the survey and send its invitation; the reminder, if chosen, is set with it."""
    s = await _launchable(service, visit, survey_id)
    _, d = _invitation_of(s, visit, visit.form)
    zone = service.settings.secretariat_timezone
    remind_at, wrong = reminder_time(visit.form.get("remind_at", ""), zone)
    problems = d.problems + ([(wrong, {})] if wrong else [])
    if problems:
        return _page(request, service, visit, s, form=visit.form, problems=problems,
                     status_code=400)  # fmt: skip
    try:
        async with service.db.session() as session, session.begin():
            s = await load(session, survey_id, visit, lock=True)
            b = await surveys_launch.launch(
                session, s, visit.staff, broadcasts.scoped(d.audience, visit.staff),
                templates=d.templates, approval_above=service.settings.broadcast_approval_above,
            )  # fmt: skip
            s.remind_at = remind_at
            await accounts.record(session, visit.staff, "survey.launch", f"survey:{s.id}",
                                  broadcast=b.id, status=b.status,
                                  remind_at=remind_at.isoformat() if remind_at else None)  # fmt: skip
            waiting = b.status == "awaiting_approval"
    except BroadcastError as exc:
        said = REFUSALS.get(exc.code)
        found = (said, {}) if said else refusal(exc)
        async with service.db.session() as session:  # as it is after the rollback
            s = await load(session, survey_id, visit)
        return _page(request, service, visit, s, form=visit.form, problems=[found], status_code=409)
    await service.coordinator.notify("broadcasts")
    if remind_at is not None:
        await service.coordinator.notify(surveys_launch.TOPIC)
    done = "survey-awaiting" if waiting else "survey-launched"
    return RedirectResponse(f"/admin/surveys/{survey_id}?done={done}", status_code=303)
