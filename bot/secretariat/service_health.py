"""The service's own health for the overview page: the outbox backlog, WhatsApp failures by
Twilio's error code, and the last backup (``childpact backup`` records it in the audit log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditEntry, Delivery, utcnow

BACKUP_ACTION = "service.backup"
FAILURE_DAYS = 7
WAITING = ("queued", "sending")
FAILED = ("failed", "undelivered")


@dataclass(frozen=True, slots=True)
class LastBackup:
    at: datetime
    file: str
    size: int


@dataclass(slots=True)
class ServiceHealth:
    backlog: int = 0  # outbox messages waiting to be sent, due now
    oldest_waiting: datetime | None = None
    whatsapp_failures: list[tuple[str, int]] = field(default_factory=list)  # code, count
    last_backup: LastBackup | None = None


async def last_backup(session: AsyncSession) -> LastBackup | None:
    """The newest backup recorded in the audit log."""
    entry = await session.scalar(
        select(AuditEntry)
        .where(AuditEntry.action == BACKUP_ACTION)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    if entry is None:
        return None
    detail: dict[str, Any] = entry.detail or {}
    return LastBackup(entry.at, str(detail.get("file", "")), int(detail.get("bytes", 0)))


async def service_health(session: AsyncSession, now: datetime | None = None) -> ServiceHealth:
    now = now or utcnow()
    waiting = (Delivery.status.in_(WAITING), Delivery.due_at <= now.timestamp())
    backlog, oldest = (
        await session.execute(select(func.count(), func.min(Delivery.created_at)).where(*waiting))
    ).one()
    failures = await session.execute(
        select(Delivery.error_code, func.count())
        .where(
            Delivery.channel == "whatsapp",
            Delivery.status.in_(FAILED),
            Delivery.updated_at >= now - timedelta(days=FAILURE_DAYS),
        )
        .group_by(Delivery.error_code)
        .order_by(func.count().desc(), Delivery.error_code)
    )
    return ServiceHealth(
        backlog=int(backlog or 0),
        oldest_waiting=oldest,
        whatsapp_failures=[(code or "?", int(n)) for code, n in failures],
        last_backup=await last_backup(session),
    )
