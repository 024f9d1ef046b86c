"""The surveys: the list with each one's status, audience and responses, a page per survey,
importing one from a YAML file or an XLSForm, setting its reminder, moving its closing date and closing it."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts, surveys
from bot.broadcasts import Audience
from bot.coordination.keys import SURVEYS
from bot.i18n.markers import N_
from bot.secretariat.audit import record
from bot.storage.models import Broadcast, Survey, SurveyResponse
from bot.surveys import launch as surveys_launch
from bot.surveys import xlsform as surveys_xlsform
from bot.surveys.format import SurveyFormatError
from webhook.admin.broadcasts import scheduled_in_zone
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, VisitDep, render
from webhook.admin.survey_form import KIND_NAMES, condition_said, local_value
from webhook.deps import ItemId, ServiceDep

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter(route_class=AdminRoute)
PAGE = 50
YAML_LIMIT = 256 * 1024  # bytes, as the API takes
FILE_LIMIT = 2 * 1024 * 1024  # an XLSForm workbook, as the API takes


def visible(s: Survey, visit: Visit) -> bool:
    """A country coordinator works on their own country's surveys only (as the API)."""
    return visit.staff.country is None or s.country == visit.staff.country


async def load(
    session: AsyncSession, survey_id: int, visit: Visit, *, lock: bool = False
) -> Survey:
    """The survey when ``visit``'s person may see it; 404 otherwise."""
    stmt = select(Survey).where(Survey.id == survey_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt)
    if found is None or not visible(found, visit):
        raise HTTPException(404)
    return found


def title_of(s: Survey) -> str:
    return str((s.title or {}).get(s.base_locale) or s.name or f"#{s.id}")


async def _counts(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {i: {} for i in ids}
    rows = await session.execute(
        select(SurveyResponse.survey_id, SurveyResponse.status, func.count())
        .where(SurveyResponse.survey_id.in_(ids))
        .group_by(SurveyResponse.survey_id, SurveyResponse.status)
    )
    for survey_id, status, count in rows.all():
        found[survey_id][status] = count
    return found


async def _audiences(session: AsyncSession, shown: list[Survey]) -> dict[int, Audience]:
    ids = [s.broadcast_id for s in shown if s.broadcast_id]
    found = await session.scalars(select(Broadcast).where(Broadcast.id.in_(ids or [0])))
    by_id = {b.id: Audience.from_json(b.audience) for b in found}
    return {s.id: by_id[s.broadcast_id] for s in shown if s.broadcast_id in by_id}


async def list_page(
    request: Request, service: Service, visit: Visit, page: int = 1,
    problems: list[str] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    async with service.db.session() as session:
        found = [
            s
            for s in await session.scalars(select(Survey).order_by(Survey.id.desc()))
            if visible(s, visit)
        ]
        shown = found[(page - 1) * PAGE : page * PAGE]
        counts = await _counts(session, [s.id for s in shown])
        audiences = await _audiences(session, shown)
    return render(
        request, "surveys.html", visit, title=N_("Surveys"), found=shown, counts=counts,
        audiences=audiences, page=page, pages=max(1, -(-len(found) // PAGE)), title_of=title_of,
        problems=problems or [], status_code=status_code,
    )  # fmt: skip


@router.get("/surveys")
async def survey_list(
    request: Request,
    service: ServiceDep,
    visit: VisitDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    return await list_page(request, service, visit, page)


@router.post("/surveys/import")
async def import_file(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    """A new draft from a YAML file or an XLSForm; a file that cannot be used is refused with
    every problem the importer found, and where (an XLSForm's row by row); nothing is kept."""
    upload = (await request.form()).get("file")
    raw = await upload.read(FILE_LIMIT + 1) if upload is not None and not isinstance(
        upload, str) else b""  # fmt: skip
    name = getattr(upload, "filename", "") or ""
    kind = getattr(upload, "content_type", "") or ""
    problems: list[str] = []
    source = "xlsform" if raw and surveys_xlsform.is_xlsform(raw, name, kind) else "yaml"
    if not raw:
        problems = [N_("Choose a survey file (YAML or XLSForm) first.")]
    elif source == "yaml" and len(raw) > YAML_LIMIT:
        problems = [N_("The file is larger than 256 KB: a survey file is a few kilobytes.")]
    elif len(raw) > FILE_LIMIT:
        problems = [N_("The file is larger than 2 MB.")]
    else:
        try:
            definition = surveys_xlsform.load(raw, name, kind)
        except SurveyFormatError as exc:
            problems = exc.problems
    if problems:
        return await list_page(request, service, visit, problems=problems, status_code=422)
    async with service.db.session() as session, session.begin():
        s = await surveys.create(session, definition, author=visit.staff.id,
                                 country=visit.staff.country)  # fmt: skip
        await record(session, visit.staff, "survey.create", f"survey:{s.id}", source=source)
        survey_id = s.id
    return RedirectResponse(
        f"/admin/surveys/{survey_id}/edit?done=survey-imported", status_code=303
    )


async def survey_page(
    request: Request, service: Service, visit: Visit, survey_id: int,
    problem: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    async with service.db.session() as session:
        s = await load(session, survey_id, visit)
        questions = await surveys.questions_of(session, s.id)
        counts = await surveys.response_counts(session, s.id)
        invitation = await session.get(Broadcast, s.broadcast_id) if s.broadcast_id else None
    zone = service.settings.secretariat_timezone
    return render(
        request, "survey.html", visit, title=N_("Survey"), s=s, questions=questions,
        counts=counts, invitation=invitation, kinds=KIND_NAMES, title_of=title_of,
        condition=partial(condition_said, questions=questions, base=s.base_locale),
        audience=Audience.from_json(invitation.audience) if invitation else None, zone=zone,
        invited=invitation is not None and invitation.status != "cancelled",
        may_cancel=invitation is not None and broadcasts.visible(invitation, visit.staff)
        and invitation.status in ("awaiting_approval", "scheduled", "sending"),
        when_in_zone=scheduled_in_zone, closes=local_value(s.closes_at, zone),
        problem=problem, status_code=status_code,
        now=datetime.now(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M"),
    )  # fmt: skip


@router.get("/surveys/{survey_id}")
async def survey(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: VisitDep
) -> Response:
    return await survey_page(request, service, visit, survey_id)


@router.post("/surveys/{survey_id}/close")
async def close(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """No more answers; members who tap the invitation are told it has closed."""
    async with service.db.session() as session, session.begin():
        s = await load(session, survey_id, visit, lock=True)
        if s.status not in ("draft", "open"):
            raise HTTPException(409)
        s.status, s.closed_at = "closed", datetime.now(UTC)
        await record(session, visit.staff, "survey.close", f"survey:{s.id}")
    return RedirectResponse(f"/admin/surveys/{survey_id}?done=survey-closed", status_code=303)


def time_in_zone(raw: str, zone: str, unreadable: str) -> tuple[datetime | None, str | None]:
    """A time from the form, in the secretariat's zone, as UTC (None when left empty); or
    what is wrong: ``unreadable``, or that the time has passed."""
    if not raw.strip():
        return None, None
    try:
        at = datetime.fromisoformat(raw.strip()).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        return None, unreadable
    if at <= datetime.now(ZoneInfo(zone)):
        return None, N_("That time has already passed.")
    return at.astimezone(UTC), None


def reminder_time(raw: str, zone: str) -> tuple[datetime | None, str | None]:
    """A reminder's time from the form, in the secretariat's zone, as UTC; or what is wrong."""
    return time_in_zone(raw, zone, N_("Choose the date and time of the reminder."))


@router.post("/surveys/{survey_id}/reminder")
async def reminder(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """Once, at the chosen time, a reminder to those invited who have not finished."""
    at, wrong = reminder_time(
        visit.form.get("remind_at", ""), service.settings.secretariat_timezone
    )
    if wrong is None and at is None:
        wrong = N_("Choose the date and time of the reminder.")
    async with service.db.session() as session, session.begin():
        s = await load(session, survey_id, visit, lock=True)
        if wrong is None and (s.broadcast_id is None or s.reminded_at is not None):
            raise HTTPException(409)
        if wrong is None:
            s.remind_at = at
            await record(session, visit.staff, "survey.reminder", f"survey:{s.id}",
                         at=at.isoformat() if at else None)  # fmt: skip
    if wrong:
        return await survey_page(request, service, visit, survey_id, problem=wrong, status_code=400)
    await service.coordinator.notify(SURVEYS)
    return RedirectResponse(f"/admin/surveys/{survey_id}?done=reminder-set", status_code=303)


@router.post("/surveys/{survey_id}/closing")
async def closing(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    """Move an open survey's closing date, earlier or later, or remove it. Who answers after
    the new date is told the survey has closed."""
    removing = visit.form.get("action") == "remove"
    unreadable = N_("Choose the new closing date and time.")
    at, wrong = (None, None) if removing else time_in_zone(
        visit.form.get("closes_at", ""), service.settings.secretariat_timezone, unreadable
    )  # fmt: skip
    if not removing and wrong is None and at is None:
        wrong = unreadable
    if wrong is None:
        async with service.db.session() as session, session.begin():
            s = await load(session, survey_id, visit, lock=True)
            problem = surveys_launch.change_closing(s, at)
            if problem == "not_open":
                raise HTTPException(409)
            if problem == "past":  # it passed between the check above and now
                wrong = N_("That time has already passed.")
            else:
                await record(session, visit.staff, "survey.closing", f"survey:{s.id}",
                             at=at.isoformat() if at else None)  # fmt: skip
    if wrong:
        return await survey_page(request, service, visit, survey_id, problem=wrong, status_code=400)
    done = "closing-removed" if at is None else "closing-set"
    return RedirectResponse(f"/admin/surveys/{survey_id}?done={done}", status_code=303)
