"""The audit log: who changed what, written in the same transaction as the change, and read
back page by page for the dashboard and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat.staff import Staff, normalise_email
from bot.storage.models import AuditEntry, Contact, StaffUser, utcnow


async def record(
    session: AsyncSession,
    actor: Staff | None,
    action: str,
    target: str | None = None,
    **detail: Any,
) -> None:
    """One line of the audit log, in the caller's transaction: the change and its record
    commit together or not at all. ``detail`` holds ids and settings, never member texts."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor_id=actor.id if actor else None,
            actor=actor.email if actor else "system",
            action=action,
            target=target,
            detail=detail,
        )
    )


async def audit_entries(
    session: AsyncSession,
    *,
    offset: int = 0,
    limit: int = 100,
    action: str | None = None,
    actor: str | None = None,
    by: Staff | None = None,
) -> tuple[list[AuditEntry], int]:
    """A page of the audit log, newest first, and how many entries match in all. ``action``
    matches exactly or as a prefix ending in a dot ("member." finds every member action);
    ``actor`` is an e-mail address. For ``by`` limited to a country, only what an account of
    that country did, or what was done to such an account or to a member of that country."""
    stmt = select(AuditEntry)
    if by is not None and by.country is not None:
        stmt = stmt.where(in_country(by.country))
    if action:
        stmt = stmt.where(
            AuditEntry.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if actor:
        stmt = stmt.where(AuditEntry.actor == normalise_email(actor))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    found = await session.scalars(
        stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset(offset).limit(limit)
    )
    return list(found), int(total or 0)


def in_country(country: str) -> Any:
    """Audit entries that belong to ``country``: by its accounts, or about its accounts or
    members."""
    accounts = select(StaffUser.id).where(StaffUser.country == country)
    account_targets = select(literal("account:") + cast(StaffUser.id, String)).where(
        StaffUser.country == country
    )
    member_targets = select(literal("member:") + cast(Contact.id, String)).where(
        Contact.country == country
    )
    return or_(
        AuditEntry.actor_id.in_(accounts),
        AuditEntry.target.in_(account_targets),
        AuditEntry.target.in_(member_targets),
    )
