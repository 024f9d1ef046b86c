"""The safeguarding review list over HTTP: alerts and possible concerns the focal point marked
"Not a concern" in the safeguarding chat. Everyone on the staff reads it, within their country
scope; nothing here changes the detector."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bot.secretariat.safeguarding_review import review_list
from webhook.api.common import Limit, Offset, errors
from webhook.auth import StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["safeguarding"])


class ReviewOut(BaseModel):
    id: int
    member_id: int
    country: str | None
    level: str = Field(description="alert or concern: what the detector raised")
    kind: str = Field(description="the detector's kind of danger, e.g. grooming, left_alone")
    words: list[str] = Field(description="the words behind it, as the member wrote them")
    danger: float = Field(description="the classifier's probability of a disclosure")
    text: str = Field(description="the member's message (empty once the retention erased it)")
    created_at: datetime
    dismissed_at: datetime
    dismissed_by: str = Field(description="who pressed Not a concern")


class ReviewPage(BaseModel):
    total: int
    offset: int
    limit: int
    reviews: list[ReviewOut]


@router.get(
    "/safeguarding/reviews",
    response_model=ReviewPage,
    summary="Read the safeguarding review list",
    responses=errors(401),
)
async def reviews(
    person: StaffDep, service: ServiceDep, offset: Offset = 0, limit: Limit = 100
) -> ReviewPage:
    """Newest first: what the focal point marked not a concern, for people to judge whether the
    detector's training corpus needs new texts."""
    async with service.db.session() as session:
        found, total = await review_list(session, person, offset=offset, limit=limit)
    return ReviewPage(
        total=total,
        offset=offset,
        limit=limit,
        reviews=[
            ReviewOut(
                id=r.flag.id, member_id=r.flag.contact_id, country=r.country, level=r.flag.level,
                kind=r.flag.kind, words=[w for w in r.flag.words.split(", ") if w],
                danger=r.flag.danger, text=r.flag.text, created_at=r.flag.created_at,
                dismissed_at=r.flag.dismissed_at or r.flag.created_at,
                dismissed_by=r.flag.dismissed_by or "",
            )
            for r in found
        ],
    )  # fmt: skip
