"""Saved audiences over HTTP: a broadcast's filters kept under a name, listed, renamed,
changed and deleted; a broadcast or a survey launch uses one by its id
(``saved_audience_id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import Audience, BroadcastError
from bot.broadcasts import saved as saved_audiences
from bot.members import topics
from bot.storage.models import SavedAudience
from webhook.api.broadcasts import AudienceIn
from webhook.api.common import READ, errors
from webhook.auth import EditorDep, StaffDep
from webhook.deps import ServiceDep, storable

router = APIRouter(prefix="/api", tags=["audiences"])
AudienceId = Annotated[int, Path(ge=1, le=2**62)]
NAME = "how the secretariat calls it; unique, whatever the letter case"


class SavedAudienceIn(BaseModel):
    name: str = Field(min_length=1, max_length=saved_audiences.NAME_LIMIT, description=NAME)
    audience: AudienceIn = Field(default_factory=AudienceIn)


class SavedAudiencePatch(BaseModel):
    name: str | None = Field(
        default=None, min_length=1, max_length=saved_audiences.NAME_LIMIT, description=NAME
    )
    audience: AudienceIn | None = Field(
        default=None, description="new filters; broadcasts that used the old ones keep them"
    )


class SavedAudienceOut(BaseModel):
    id: int
    name: str
    audience: dict[str, Any] = Field(description="the filters, as a broadcast's audience")
    country: str | None = Field(description="the country whose staff may use it; null: all")
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class SavedAudienceList(BaseModel):
    audiences: list[SavedAudienceOut]


def _out(row: SavedAudience) -> SavedAudienceOut:
    return SavedAudienceOut(
        id=row.id, name=row.name, audience=dict(row.audience or {}), country=row.country,
        created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def _refuse(exc: BroadcastError) -> HTTPException:
    return HTTPException(409 if exc.code == "audience_taken" else 422, str(exc))


async def _filters(session: AsyncSession, given: AudienceIn) -> Audience:
    """The filters as kept: topics that exist and are offered, text both databases store."""
    missing = await topics.not_offered(session, given.topics)
    if missing:
        raise HTTPException(422, f"no such topic: {', '.join(missing)}")
    return Audience.from_json(storable(given.model_dump()))


@router.get("/audiences", response_model=SavedAudienceList, responses=READ)
async def list_audiences(service: ServiceDep, staff: StaffDep) -> SavedAudienceList:
    """The saved audiences you may use, by name."""
    async with service.db.session() as session:
        found = await saved_audiences.listed(session, staff)
    return SavedAudienceList(audiences=[_out(row) for row in found])


@router.post(
    "/audiences", response_model=SavedAudienceOut, status_code=201,
    responses=errors(401, 403, 409, 422),
)  # fmt: skip
async def save(body: SavedAudienceIn, service: ServiceDep, staff: EditorDep) -> SavedAudienceOut:
    """Keep an audience's filters under a name (409 when the name is taken); a coordinator's
    stays within their country."""
    try:
        async with service.db.session() as session, session.begin():
            kept = await _filters(session, body.audience)
            row = await saved_audiences.save(session, staff, storable(body.name), kept)
            return _out(row)
    except BroadcastError as exc:
        raise _refuse(exc) from exc


@router.get("/audiences/{audience_id}", response_model=SavedAudienceOut, responses=errors(401, 404))
async def get(audience_id: AudienceId, service: ServiceDep, staff: StaffDep) -> SavedAudienceOut:
    """One saved audience by its id; 404 when there is none you may use."""
    async with service.db.session() as session:
        row = await saved_audiences.get(session, staff, audience_id)
    if row is None:
        raise HTTPException(404, "no such saved audience")
    return _out(row)


@router.patch(
    "/audiences/{audience_id}", response_model=SavedAudienceOut,
    responses=errors(401, 403, 404, 409, 422),
)  # fmt: skip
async def change(
    audience_id: AudienceId, body: SavedAudiencePatch, service: ServiceDep, staff: EditorDep
) -> SavedAudienceOut:
    """Rename it, or keep other filters under its name."""
    try:
        async with service.db.session() as session, session.begin():
            row = await saved_audiences.get(session, staff, audience_id)
            if row is None:
                raise HTTPException(404, "no such saved audience")
            await saved_audiences.change(
                session, staff, row, name=storable(body.name) if body.name is not None else None,
                audience=await _filters(session, body.audience) if body.audience else None,
            )  # fmt: skip
            return _out(row)
    except BroadcastError as exc:
        raise _refuse(exc) from exc


@router.delete("/audiences/{audience_id}", status_code=204, responses=errors(401, 403, 404))
async def delete(audience_id: AudienceId, service: ServiceDep, staff: EditorDep) -> Response:
    """Forget it; broadcasts that used it keep their audience."""
    async with service.db.session() as session, session.begin():
        row = await saved_audiences.get(session, staff, audience_id)
        if row is None:
            raise HTTPException(404, "no such saved audience")
        await saved_audiences.remove(session, staff, row)
    return Response(status_code=204)
