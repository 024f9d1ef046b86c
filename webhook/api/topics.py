"""Topics over HTTP: what broadcasts are about and members choose to receive. Everyone reads;
administrators and editors of the whole coalition create, change and archive them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.members import topics
from bot.members.topics import TopicError
from bot.secretariat.audit import record
from bot.secretariat.staff import Staff
from bot.storage.models import Topic
from webhook.api.common import READ, errors
from webhook.auth import EditorDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["topics"])
CHANGE = errors(401, 403, 404, 409, 422)
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
TopicKey = Annotated[str, Path(pattern=KEY_PATTERN, description="the topic's key, e.g. events")]
NAMES = "the name per locale, as members read it on a button (at most 60 characters)"


class TopicOut(BaseModel):
    key: str = Field(description="names the topic in a broadcast's audience; never changes")
    names: dict[str, str] = Field(description=NAMES)
    default_on: bool = Field(description="what a member who has not chosen receives")
    position: int = Field(description="order in the members' list")
    archived: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TopicList(BaseModel):
    topics: list[TopicOut]


class TopicIn(BaseModel):
    key: str = Field(pattern=KEY_PATTERN, description="lower-case letters, digits and _")
    names: dict[str, str] = Field(description=NAMES + "; English is required")
    default_on: bool = Field(
        default=True, description="on for members who have not chosen, new and existing"
    )
    position: int | None = Field(default=None, ge=0, le=10_000, description="default: last")


class TopicPatch(BaseModel):
    """Only the fields given change. ``names`` merges per locale; an empty name removes it."""

    names: dict[str, str] | None = Field(default=None, description=NAMES)
    default_on: bool | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    archived: bool | None = Field(
        default=None,
        description="archived: gone from the members' list and the composer; choices are kept",
    )


def _out(topic: Topic) -> TopicOut:
    return TopicOut(
        key=topic.key, names=dict(topic.names or {}), default_on=topic.default_on,
        position=topic.position, archived=topic.archived_at is not None,
        archived_at=topic.archived_at, created_at=topic.created_at, updated_at=topic.updated_at,
    )  # fmt: skip


def _coalition(staff: Staff) -> None:
    """Topics are the whole coalition's: a country coordinator reads them but does not change
    them."""
    if staff.country is not None:
        raise HTTPException(403, "topics are the whole coalition's; ask the secretariat")


def _refuse(exc: TopicError) -> HTTPException:
    return HTTPException(409 if exc.code == "exists" else 422, str(exc))


async def _get(session: AsyncSession, key: str) -> Topic:
    found = await topics.by_key(session, key)
    if found is None:
        raise HTTPException(404, "no such topic")
    return found


@router.get("/topics", response_model=TopicList, responses=READ)
async def list_topics(
    service: ServiceDep,
    staff: StaffDep,
    archived: Annotated[bool, Query(description="include archived topics")] = False,
) -> TopicList:
    """The topics, in the order members see them."""
    async with service.db.session() as session:
        return TopicList(topics=[_out(t) for t in await topics.listed(session, archived=archived)])


@router.post("/topics", response_model=TopicOut, status_code=201, responses=CHANGE)
async def create(body: TopicIn, service: ServiceDep, staff: EditorDep) -> TopicOut:
    """A new topic. Members who have not chosen receive it when ``default_on``: no one's
    settings need changing."""
    _coalition(staff)
    async with service.db.session() as session, session.begin():
        try:
            topic = await topics.create(session, body.key, body.names,
                                        default_on=body.default_on, position=body.position)  # fmt: skip
        except TopicError as exc:
            raise _refuse(exc) from None
        await record(session, staff, "topic.create", f"topic:{topic.id}", key=topic.key)
        return _out(topic)


@router.get("/topics/{key}", response_model=TopicOut, responses=errors(401, 404))
async def get(key: TopicKey, service: ServiceDep, staff: StaffDep) -> TopicOut:
    """One topic by its key, archived or not."""
    async with service.db.session() as session:
        return _out(await _get(session, key))


@router.patch("/topics/{key}", response_model=TopicOut, responses=CHANGE)
async def change(
    key: TopicKey, body: TopicPatch, service: ServiceDep, staff: EditorDep
) -> TopicOut:
    """Change names, the default, the order, or archive and restore."""
    _coalition(staff)
    async with service.db.session() as session, session.begin():
        topic = await _get(session, key)
        try:
            topics.update(topic, body.model_dump(exclude_unset=True))
        except TopicError as exc:
            raise _refuse(exc) from None
        await record(session, staff, "topic.update", f"topic:{topic.id}",
                     fields=sorted(body.model_fields_set))  # fmt: skip
        await session.flush()
        return _out(topic)


@router.post("/topics/{key}/archive", response_model=TopicOut, responses=CHANGE)
async def archive(key: TopicKey, service: ServiceDep, staff: EditorDep) -> TopicOut:
    """Take a topic out of the members' list and the composer. Members' choices are kept, and
    a broadcast already aimed at it still reaches who receives it; PATCH ``archived: false``
    brings it back."""
    _coalition(staff)
    async with service.db.session() as session, session.begin():
        topic = await _get(session, key)
        topics.archive(topic)
        await record(session, staff, "topic.archive", f"topic:{topic.id}")
        await session.flush()
        return _out(topic)
