"""The overview over HTTP: members by country, language, channel and status, the last weeks'
activity, and what needs attention."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bot.secretariat import overview as numbers
from webhook.api.common import READ
from webhook.auth import StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["overview"])


class WeekOut(BaseModel):
    start: date = Field(description="the Monday the week starts on (UTC)")
    messages_in: int
    messages_out: int
    new_members: int


class AttentionOut(BaseModel):
    open_conversations: int
    open_safeguarding: int
    failed_deliveries_7d: int = Field(description="messages to members that failed, last 7 days")


class MovedChatOut(BaseModel):
    channel: str
    address: str = Field(description="the group's id in the configuration")
    moved_to: str = Field(description="the supergroup's id, where its messages go now")
    moved_at: datetime


class OverviewOut(BaseModel):
    members: int
    by_country: dict[str, int] = Field(description="'unknown' for members who did not say")
    by_locale: dict[str, int]
    by_channel: dict[str, int]
    by_status: dict[str, int] = Field(
        description="active, stopped, unreachable (the platform no longer delivers), new, declined"
    )
    activity: list[WeekOut] = Field(description=f"the last {numbers.WEEKS} weeks, oldest first")
    attention: AttentionOut
    erased_by_members: int = Field(
        0, description="members who deleted their own data (a count: nothing else is kept)"
    )
    moved_chats: list[MovedChatOut] = Field(
        default_factory=list,
        description="staff groups Telegram upgraded to supergroups: messages follow them; "
        "set their new id in the configuration",
    )


@router.get("/overview", response_model=OverviewOut, summary="Overview", responses=READ)
async def overview(person: StaffDep, service: ServiceDep) -> OverviewOut:
    """The numbers of the dashboard's first page, counted within your country scope."""
    async with service.db.session() as session:
        found = await numbers.overview(session, person)
    return OverviewOut.model_validate(asdict(found))
