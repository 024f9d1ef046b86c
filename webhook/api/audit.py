"""The audit log over HTTP, for administrators: who signed in, changed or sent what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bot.secretariat.audit import audit_entries
from webhook.api.common import Limit, Offset, errors
from webhook.auth import AdminDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor: str = Field(description="the e-mail address of who acted, or 'system'")
    action: str = Field(description="e.g. login, member.delete, inbox.reply")
    target: str | None = Field(description="what it was done to, e.g. member:12")
    detail: dict[str, Any]


class AuditPage(BaseModel):
    total: int
    offset: int
    limit: int
    entries: list[AuditEntryOut]


@router.get(
    "/audit", response_model=AuditPage, summary="Read the audit log", responses=errors(401, 403)
)
async def audit(
    person: AdminDep,
    service: ServiceDep,
    action: Annotated[
        str | None,
        Query(max_length=64, description="exactly, or a prefix ending in a dot: `member.`"),
    ] = None,
    actor: Annotated[str | None, Query(max_length=254, description="an e-mail address")] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> AuditPage:
    """Administrators: newest first. The log cannot be changed, by anyone. An administrator
    limited to a country reads what that country's accounts did, and what was done to them
    or to that country's members."""
    async with service.db.session() as session:
        found, total = await audit_entries(
            session, offset=offset, limit=limit, action=action, actor=actor, by=person
        )
    return AuditPage(
        total=total,
        offset=offset,
        limit=limit,
        entries=[AuditEntryOut.model_validate(e, from_attributes=True) for e in found],
    )
