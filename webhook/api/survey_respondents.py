"""Who answered a survey that names its members: each response's member, organisation,
country, channel, times and whether it is complete, as JSON or CSV. An anonymous survey has no
such list: it is refused."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat.audit import record
from bot.secretariat.staff import Staff
from bot.storage.models import Survey
from bot.surveys import results as surveys_results
from webhook.api.common import errors
from webhook.api.surveys import FiltersDep, SurveyId, _get
from webhook.auth import StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["surveys"])
ANONYMOUS = "this survey is anonymous: it names nobody, so it has no list of respondents"


class RespondentOut(BaseModel):
    member_id: int | None = Field(description="the member's number; null once they were deleted")
    organisation: str
    country: str
    channel: Literal["telegram", "whatsapp", "web"] | str
    locale: str = Field(description="the language they answered in")
    started_at: datetime
    finished_at: datetime | None
    complete: bool = Field(description="finished; false: started and left partway")
    answered: int = Field(description="questions answered (not skipped)")


class RespondentList(BaseModel):
    respondents: list[RespondentOut] = Field(description="the latest first")
    total: int
    complete: int


async def _named(
    session: AsyncSession, survey_id: int, staff: Staff, filters: surveys_results.Filters
) -> tuple[Survey, list[surveys_results.Respondent]]:
    s = await _get(session, survey_id, staff)
    try:
        return s, await surveys_results.respondents(session, s, filters)
    except surveys_results.AnonymousSurvey:
        raise HTTPException(409, ANONYMOUS) from None


@router.get(
    "/surveys/{survey_id}/respondents", response_model=RespondentList,
    summary="Who answered a survey", responses=errors(401, 404, 409),
)  # fmt: skip
async def respondents(
    survey_id: SurveyId,
    service: ServiceDep,
    staff: StaffDep,
    filters: FiltersDep,
) -> RespondentList:
    """The members who started the survey, complete or partial, with the same filters as the
    results. Refused (409) for an anonymous survey."""
    async with service.db.session() as session:
        _, found = await _named(session, survey_id, staff, filters)
    return RespondentList(
        respondents=[
            RespondentOut(**{k: v for k, v in vars(r).items() if k != "response_id"}) for r in found
        ],  # fmt: skip
        total=len(found),
        complete=sum(r.complete for r in found),
    )


@router.get(
    "/surveys/{survey_id}/respondents.csv",
    response_class=Response,
    summary="Who answered a survey, as CSV",
    responses={
        200: {"description": "one row per respondent",
              "content": {"text/csv": {"schema": {"type": "string"}}}},
        **errors(401, 404, 409),
    },
)  # fmt: skip
async def respondents_csv(
    survey_id: SurveyId,
    service: ServiceDep,
    staff: StaffDep,
    filters: FiltersDep,
) -> Response:
    """The respondents list as a spreadsheet reads it; who exported it is in the audit log."""
    async with service.db.session() as session:
        s, found = await _named(session, survey_id, staff, filters)
        await record(session, staff, "survey.respondents_export", f"survey:{s.id}",
                     rows=len(found))  # fmt: skip
        await session.commit()
    body = surveys_results.to_csv(
        list(surveys_results.RESPONDENT_COLUMNS),
        [surveys_results.respondent_row(r) for r in found],
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="survey-{s.id}-respondents.csv"',
            "Cache-Control": "no-store",
        },
    )
