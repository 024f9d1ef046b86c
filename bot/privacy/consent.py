"""Consent records: which privacy text a member answered, in which version and language, on
which channel and when, and what they answered."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Consent, Contact, utcnow

GIVEN, DECLINED, WITHDRAWN = "given", "declined", "withdrawn"


def digest(text: str) -> str:
    """What identifies the exact text shown: its SHA-256, kept with the version."""
    return hashlib.sha256(text.encode()).hexdigest()


def event_for(contact: Contact, agreed: bool) -> str:
    """``given``; or, for a no, ``withdrawn`` when they had agreed before, else ``declined``."""
    if agreed:
        return GIVEN
    agreed_before = contact.status in ("active", "stopped") and contact.consent_version is not None
    return WITHDRAWN if agreed_before else DECLINED


async def record(
    session: AsyncSession,
    contact_id: int,
    event: str,
    *,
    version: str,
    locale: str,
    channel: str,
    text: str,
) -> Consent:
    """Add one answer to the member's consent history, in the caller's transaction."""
    row = Consent(
        contact_id=contact_id,
        event=event,
        version=version,
        locale=locale,
        channel=channel,
        text_digest=digest(text),
        at=utcnow(),
    )
    session.add(row)
    return row


async def history(session: AsyncSession, contact_ids: list[int]) -> list[Consent]:
    """Every answer of these contacts, oldest first."""
    found = await session.scalars(
        select(Consent).where(Consent.contact_id.in_(contact_ids)).order_by(Consent.at, Consent.id)
    )
    return list(found)
