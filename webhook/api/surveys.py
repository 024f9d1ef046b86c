"""Surveys over HTTP: create (JSON or a YAML file), read, change a draft, open and close,
launch to an audience now or at a time (the invitation is a broadcast), set the reminder, move
an open survey's closing date, read the results and export them as CSV or XLSX. Viewers read; editors change and send; a country coordinator works
on their own country's surveys only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import surveys
from bot.broadcasts import Audience, BroadcastError
from bot.coordination.keys import BROADCASTS, SURVEYS
from bot.i18n import LOCALES
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff
from bot.storage.models import Survey
from bot.surveys import charts as survey_charts
from bot.surveys import launch as surveys_launch
from bot.surveys import results as surveys_results
from bot.surveys import wording
from bot.surveys import xlsform as surveys_xlsform
from bot.surveys.format import SurveyFormatError, SurveyIn
from webhook.api.broadcasts import AudienceIn, saved_audience
from webhook.api.common import READ, ContentSid, Limit, Offset, errors
from webhook.auth import EditorDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["surveys"])
CHANGE = errors(401, 403, 404, 409, 422)
CREATE = errors(401, 403, 422)
SurveyId = Annotated[int, Path(ge=1, le=2**62)]
Status = Literal["draft", "open", "closed"]
YAML_LIMIT = 256 * 1024  # bytes: a survey file is a few kilobytes
FILE_LIMIT = 2 * 1024 * 1024  # an XLSForm workbook, zipped, with its styles


class SurveyOut(BaseModel):
    id: int
    status: Status
    country: str | None = Field(description="a coordinator's survey: their country only")
    definition: dict[str, Any] = Field(description="the survey, in the format it is written in")
    broadcast_id: int | None = Field(description="the invitation broadcast, once launched")
    remind_at: datetime | None
    reminder_broadcast_id: int | None
    reminded_at: datetime | None
    responses: dict[str, int] = Field(description="responses by status: started, finished")
    partly_translated: dict[str, list[str]] = Field(
        default_factory=dict,
        description="languages some of whose texts are written and others not (their members "
        "would read a mixture), each with what is still missing: `title`, `intro`, `closing`, "
        "`reminder`, a question's id, `question/option` ids, `question:hint`",
    )
    created_by: int | None
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None


class SurveyList(BaseModel):
    surveys: list[SurveyOut]
    total: int


class LaunchIn(BaseModel):
    audience: AudienceIn = Field(default_factory=AudienceIn)
    saved_audience_id: int | None = Field(
        default=None, ge=1, le=2**62,
        description="use a saved audience (/api/audiences): its filters become the "
        "invitation's audience, instead of giving one",
    )  # fmt: skip
    templates: dict[str, ContentSid] = Field(
        default_factory=dict,
        description="approved WhatsApp template (content SID, HX and 32 hex digits) per "
        "locale, for members outside the 24-hour window as the invitation goes: its variable 1 "
        "carries the invitation's first line, and the invitation follows the member's answer",
    )
    at: datetime | None = Field(default=None, description="when to invite; empty: now")


class ReminderIn(BaseModel):
    at: datetime = Field(description="when to remind those invited who have not finished")


class ClosingIn(BaseModel):
    at: datetime | None = Field(
        description="when answering stops, with its time zone, in the future; null: the "
        "survey stays open until it is closed"
    )


class ResultsOut(BaseModel):
    survey_id: int
    status: Status
    anonymous: bool
    invited: int = Field(description="members the invitation reached")
    response_rate: float | None = Field(description="invited members who started, of invited")
    started: int
    finished: int
    completion_rate: float | None = Field(description="finished, of started")
    questions: list[dict[str, Any]] = Field(
        description="per question: counts (choices, yes/no, ratings, dates), mean, median and "
        "histogram (numbers), texts (short texts)"
    )
    groups: dict[str, dict[str, Any]] = Field(
        description="the same summary per country, language, organisation or channel (`by`)"
    )


def _out(s: Survey, questions: list[Any], counts: dict[str, int]) -> SurveyOut:
    return SurveyOut(
        id=s.id, status=s.status, country=s.country,  # type: ignore[arg-type]
        definition=surveys.definition_of(s, questions), broadcast_id=s.broadcast_id,
        remind_at=s.remind_at, reminder_broadcast_id=s.reminder_broadcast_id,
        reminded_at=s.reminded_at, responses=counts, created_by=s.created_by,
        partly_translated=wording.partly_translated(s, questions),
        created_at=s.created_at, opened_at=s.opened_at, closed_at=s.closed_at,
    )  # fmt: skip


async def _full(session: AsyncSession, s: Survey) -> SurveyOut:
    questions = await surveys.questions_of(session, s.id)
    return _out(s, questions, await surveys.response_counts(session, s.id))


def _visible(s: Survey, staff: Staff) -> bool:
    """A country coordinator sees their own country's surveys only."""
    return staff.country is None or s.country == staff.country


async def _get(
    session: AsyncSession, survey_id: int, staff: Staff, *, lock: bool = False
) -> Survey:
    stmt = select(Survey).where(Survey.id == survey_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt)
    if found is None or not _visible(found, staff):
        raise HTTPException(404, "no such survey")
    return found


def _moment(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    if at.tzinfo is None:
        raise HTTPException(422, "give the time with its time zone, e.g. 2026-12-01T09:00+02:00")
    if not 2000 <= at.year <= 2100:
        raise HTTPException(422, "give a time between the years 2000 and 2100")
    return at.astimezone(UTC)


@router.get("/surveys", response_model=SurveyList, summary="List surveys", responses=READ)
async def list_surveys(
    service: ServiceDep, staff: StaffDep, offset: Offset = 0, limit: Limit = 50
) -> SurveyList:
    """Surveys, the newest first, with how many members started and finished each."""
    async with service.db.session() as session:
        rows = [
            s
            for s in await session.scalars(select(Survey).order_by(Survey.id.desc()))
            if _visible(s, staff)
        ]
        page = [await _full(session, s) for s in rows[offset : offset + limit]]
    return SurveyList(surveys=page, total=len(rows))


async def _create(service: Any, staff: Staff, definition: SurveyIn) -> SurveyOut:
    async with service.db.session() as session, session.begin():
        s = await surveys.create(session, definition, author=staff.id, country=staff.country)
        await record(session, staff, "survey.create", f"survey:{s.id}")
        return await _full(session, s)


@router.post(
    "/surveys", response_model=SurveyOut, status_code=201, summary="Create a survey",
    responses=CREATE,
)  # fmt: skip
async def create(body: SurveyIn, service: ServiceDep, staff: EditorDep) -> SurveyOut:
    """A new draft from its definition (the format of `docs/secretariat/surveys.md`, as JSON)."""
    return await _create(service, staff, body)


@router.post(
    "/surveys/import", response_model=SurveyOut, status_code=201,
    summary="Create a survey from a YAML file or an XLSForm", responses=CREATE,
)  # fmt: skip
async def import_file(file: UploadFile, service: ServiceDep, staff: EditorDep) -> SurveyOut:
    """A new draft from a YAML file (`surveys/example.yaml` shows the format) or an XLSForm
    (.xlsx, .xls, .csv or .md, as KoboToolbox and ODK use; `surveys/example.xlsx`), told
    apart by the file's name, its content type or its content. A file that cannot be used is
    refused with every problem listed in `detail`, an XLSForm's row by row; nothing is kept."""
    raw = await file.read(FILE_LIMIT + 1)
    name, kind = file.filename or "", file.content_type or ""
    limit = FILE_LIMIT if surveys_xlsform.is_xlsform(raw, name, kind) else YAML_LIMIT
    if len(raw) > limit:
        raise HTTPException(422, f"the file is larger than {limit // 1024} KB")
    try:
        definition = surveys_xlsform.load(raw, name, kind)
    except SurveyFormatError as exc:
        raise HTTPException(422, "; ".join(exc.problems)) from None
    return await _create(service, staff, definition)


@router.get(
    "/surveys/{survey_id}", response_model=SurveyOut, summary="Get a survey",
    responses=errors(401, 404),
)  # fmt: skip
async def get(survey_id: SurveyId, service: ServiceDep, staff: StaffDep) -> SurveyOut:
    """One survey by its id: its definition, status, invitation and reminder."""
    async with service.db.session() as session:
        return await _full(session, await _get(session, survey_id, staff))


@router.put(
    "/surveys/{survey_id}", response_model=SurveyOut, summary="Replace a draft survey",
    responses=CHANGE,
)  # fmt: skip
async def replace(
    survey_id: SurveyId, body: SurveyIn, service: ServiceDep, staff: EditorDep
) -> SurveyOut:
    """A draft's new definition. Once open, a survey's questions no longer change: the
    answers given so far must keep their meaning."""
    async with service.db.session() as session, session.begin():
        s = await _get(session, survey_id, staff, lock=True)
        if s.status != "draft":
            raise HTTPException(409, f"this survey is {s.status}; only a draft can change")
        await surveys.replace(session, s, body)
        await record(session, staff, "survey.update", f"survey:{s.id}")
        return await _full(session, s)


async def _status(
    service: Any, staff: Staff, survey_id: int, wanted: str, allowed: tuple[str, ...]
) -> SurveyOut:
    async with service.db.session() as session, session.begin():
        s = await _get(session, survey_id, staff, lock=True)
        if s.status not in allowed:
            raise HTTPException(409, f"this survey is {s.status}")
        s.status = wanted
        if wanted == "open":
            s.opened_at, s.closed_at = s.opened_at or datetime.now(UTC), None
        else:
            s.closed_at = datetime.now(UTC)
        action = "survey.open" if wanted == "open" else "survey.close"
        await record(session, staff, action, f"survey:{s.id}")
        return await _full(session, s)


@router.post(
    "/surveys/{survey_id}/open", response_model=SurveyOut, summary="Open a survey",
    responses=CHANGE,
)  # fmt: skip
async def open_(survey_id: SurveyId, service: ServiceDep, staff: EditorDep) -> SurveyOut:
    """Members may answer it from the menu now, without an invitation (or again, once closed)."""
    return await _status(service, staff, survey_id, "open", ("draft", "closed"))


@router.post(
    "/surveys/{survey_id}/close", response_model=SurveyOut, summary="Close a survey",
    responses=CHANGE,
)  # fmt: skip
async def close(survey_id: SurveyId, service: ServiceDep, staff: EditorDep) -> SurveyOut:
    """No more answers; members who tap the invitation are told it has closed."""
    return await _status(service, staff, survey_id, "closed", ("draft", "open"))


@router.post(
    "/surveys/{survey_id}/launch", response_model=SurveyOut,
    summary="Invite an audience to a survey", responses=CHANGE,
)  # fmt: skip
async def launch(
    survey_id: SurveyId, body: LaunchIn, service: ServiceDep, staff: EditorDep
) -> SurveyOut:
    """Open the survey and send the invitation as a broadcast, now or at `at` (the
    broadcasts' filters, limits, language fallbacks, WhatsApp templates and approval threshold
    apply). Its button opens the survey. `audience.exclude_broadcasts` leaves out who received
    earlier broadcasts, earlier surveys' invitations among them (`broadcast_id`);
    `saved_audience_id` invites a saved audience instead of `audience`. Once its
    invitation is cancelled (`POST /api/broadcasts/{id}/cancel`), a survey can be launched
    again."""
    at = _moment(body.at)
    async with service.db.session() as session, session.begin():
        s = await _get(session, survey_id, staff, lock=True)
        given = "audience" in body.model_fields_set
        kept = await saved_audience(session, staff, body.saved_audience_id, given)
        audience = Audience.from_json((kept or body.audience).model_dump())
        templates = {k: v[:64] for k, v in body.templates.items() if k in LOCALES and v}
        try:
            b = await surveys_launch.launch(
                session, s, staff, audience, templates=templates,
                approval_above=service.settings.broadcast_approval_above, at=at,
            )  # fmt: skip
        except BroadcastError as exc:
            code = 409 if exc.code in ("closed", "launched", "not_draft") else 422
            raise HTTPException(code, str(exc)) from None
        await record(session, staff, "survey.launch", f"survey:{s.id}", broadcast=b.id,
                     status=b.status)  # fmt: skip
        out = await _full(session, s)
    await service.coordinator.notify(BROADCASTS)
    return out


@router.post(
    "/surveys/{survey_id}/reminder", response_model=SurveyOut,
    summary="Schedule the survey's reminder", responses=CHANGE,
)  # fmt: skip
async def reminder(
    survey_id: SurveyId, body: ReminderIn, service: ServiceDep, staff: EditorDep
) -> SurveyOut:
    """Once, at `at`: a reminder to the invited members who have not finished (a broadcast
    too). It can be moved until it has gone."""
    at = _moment(body.at)
    async with service.db.session() as session, session.begin():
        s = await _get(session, survey_id, staff, lock=True)
        if s.broadcast_id is None:
            raise HTTPException(409, "launch the survey first: the reminder is for those invited")
        if s.reminded_at is not None:
            raise HTTPException(409, "the reminder has already been sent")
        s.remind_at = at
        await record(session, staff, "survey.reminder", f"survey:{s.id}",
                     at=at.isoformat() if at else None)  # fmt: skip
        out = await _full(session, s)
    await service.coordinator.notify(SURVEYS)
    return out


@router.post(
    "/surveys/{survey_id}/closing", response_model=SurveyOut,
    summary="Move an open survey's closing date", responses=CHANGE,
)  # fmt: skip
async def closing(
    survey_id: SurveyId, body: ClosingIn, service: ServiceDep, staff: EditorDep
) -> SurveyOut:
    """Move the closing date (`definition.closes_at`) of an open survey, earlier or later, or
    remove it with `null`. A time already past is refused (422); a draft's date changes with
    the draft, a closed survey's not at all (409). Members who answer after the new date are
    told the survey has closed."""
    at = _moment(body.at)
    async with service.db.session() as session, session.begin():
        s = await _get(session, survey_id, staff, lock=True)
        problem = surveys_launch.change_closing(s, at)
        if problem == "not_open":
            raise HTTPException(409, f"this survey is {s.status}; only an open survey's closing "
                                     "date moves here")  # fmt: skip
        if problem == "past":
            raise HTTPException(422, "that time has already passed")
        await record(session, staff, "survey.closing", f"survey:{s.id}",
                     at=at.isoformat() if at else None)  # fmt: skip
        return await _full(session, s)


Country = Annotated[list[str] | None, Query(description="ISO codes, e.g. MD; repeat for more")]
Locale = Annotated[list[str] | None, Query(description="the language answered in")]
Organisation = Annotated[list[str] | None, Query()]
Channel = Annotated[list[Literal["telegram", "whatsapp", "web"]] | None, Query()]


def result_filters(
    staff: StaffDep,
    country: Country = None,
    locale: Locale = None,
    organisation: Organisation = None,
    channel: Channel = None,
) -> surveys_results.Filters:
    """The results' filters from the query; a country coordinator sees their country only."""
    countries = [c.upper() for c in country or []]
    if staff.country is not None:
        countries = [staff.country]
    return surveys_results.Filters(
        countries=countries, locales=list(locale or []),
        organisations=list(organisation or []), channels=list(channel or []),
    )  # fmt: skip


FiltersDep = Annotated[surveys_results.Filters, Depends(result_filters)]


@router.get(
    "/surveys/{survey_id}/results", response_model=ResultsOut, summary="A survey's results",
    responses=errors(401, 404),
)  # fmt: skip
async def results(
    survey_id: SurveyId,
    service: ServiceDep,
    staff: StaffDep,
    filters: FiltersDep,
    by: Annotated[
        Literal["country", "locale", "organisation", "channel"] | None,
        Query(description="compare: the summary per group"),
    ] = None,
) -> ResultsOut:
    """Response and completion rates and a summary per question, as live as the answers;
    filtered, and compared across groups with `by`. Never names a member."""
    async with service.db.session() as session:
        s = await _get(session, survey_id, staff)
        found = await surveys_results.results(session, s, filters, by)
    return ResultsOut(**found)


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get(
    "/surveys/{survey_id}/export.{kind}",
    response_class=Response,
    summary="Export a survey's responses",
    responses={
        200: {
            "description": "one row per response, one column per question",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                EXPORT_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **errors(401, 404),
    },
)
async def export(
    survey_id: SurveyId,
    kind: Literal["csv", "xlsx"],
    service: ServiceDep,
    staff: StaffDep,
    filters: FiltersDep,
    values: Annotated[
        Literal["labels", "names"],
        Query(description="answers as their labels, or as the choices' names (ids)"),
    ] = "labels",
) -> Response:
    """CSV or XLSX, as a KoboToolbox export reads: one row per response with its start, end,
    channel, language, country and organisation, then one column per question named by its
    id, and for a multiple choice one 0/1 column per option (`topics/care`). An anonymous
    survey's export has no member column and gives days instead of times."""
    async with service.db.session() as session:
        s = await _get(session, survey_id, staff)
        header, rows, questions = await surveys_results.table(
            session, s, filters, labels=values == "labels"
        )
        await record(session, staff, "survey.export", f"survey:{s.id}", format=kind,
                     rows=len(rows))  # fmt: skip
        await session.commit()
    if kind == "csv":
        body = surveys_results.to_csv(header, rows)
    else:
        body = surveys_results.to_xlsx(s, header, rows, questions)
    return Response(
        body,
        media_type=EXPORT_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="survey-{s.id}.{kind}"'},
    )


@router.get(
    "/surveys/{survey_id}/xlsform.xlsx",
    response_class=Response,
    summary="A survey as an XLSForm",
    responses={
        200: {
            "description": "the survey, choices and settings sheets, as pyxform and "
            "KoboToolbox read them",
            "content": {EXPORT_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}}},
        },
        **errors(401, 404),
    },
)
async def xlsform(survey_id: SurveyId, service: ServiceDep, staff: StaffDep) -> Response:
    """The survey's questions, choices, conditions and limits in every language it has, to
    be used offline in the field with KoboToolbox or ODK Collect."""
    async with service.db.session() as session:
        s = await _get(session, survey_id, staff)
        definition = surveys.definition_of(s, await surveys.questions_of(session, s.id))
    body = surveys_xlsform.workbook(definition, form_id=f"childpact_survey_{s.id}")
    return Response(
        body,
        media_type=EXPORT_TYPES["xlsx"],
        headers={"Content-Disposition": f'attachment; filename="survey-{s.id}-xlsform.xlsx"'},
    )


PNG = "image/png"
QuestionKey = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="the question's id")
]
CHART_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the chart, 800 × 450 pixels",
        "content": {PNG: {"schema": {"type": "string", "format": "binary"}}},
    },
}


async def _chart(
    session: AsyncSession, s: Survey, key: str, filters: surveys_results.Filters
) -> Response:
    found = await survey_charts.summary(session, s, key, filters)
    if found is None or not survey_charts.chartable(found):
        raise HTTPException(404, "no such question, or a question without a chart (short text)")
    png = await survey_charts.chart(found)
    return Response(png, media_type=PNG, headers={"Cache-Control": "private, max-age=60"})


@router.get(
    "/surveys/{survey_id}/charts/{question_key}.png",
    response_class=Response,
    summary="A question's results as a chart",
    responses={**CHART_RESPONSE, **errors(401, 404)},
)
async def chart(
    survey_id: SurveyId,
    question_key: QuestionKey,
    service: ServiceDep,
    staff: StaffDep,
    filters: FiltersDep,
) -> Response:
    """A PNG of one question's results, with the filters of the results: bars for choices,
    yes/no, ratings and dates, a histogram for numbers. Short texts have no chart (404): read
    them in the results."""
    async with service.db.session() as session:
        s = await _get(session, survey_id, staff)
        return await _chart(session, s, question_key, filters)


# Not part of the described API: a link the bot makes for Telegram to fetch, with no account
# (the API's operations all take a bearer token).
@router.get("/charts/{token}.png", response_class=Response, include_in_schema=False)
async def signed_chart(
    token: Annotated[str, Path(max_length=400, description="from a chart link the bot sent")],
    service: ServiceDep,
) -> Response:
    """The chart a link in a staff member's Telegram chat names, within their country scope,
    for an hour after it was sent: Telegram fetches the picture from here, without an account.
    Any other token: 404."""
    named = survey_charts.verify_link(service.settings, token)
    if named is None:
        raise HTTPException(404, "no such chart")
    survey_id, key, country = named
    filters = surveys_results.Filters(countries=[country] if country else [])
    async with service.db.session() as session:
        s = await session.get(Survey, survey_id)
        if s is None or (country is not None and s.country != country):
            raise HTTPException(404, "no such chart")
        return await _chart(session, s, key, filters)
