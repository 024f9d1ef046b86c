"""Personal API tokens: made once and shown once, stored as a digest, revoked by their owner."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat.staff import AccountError, Staff, digest
from bot.storage.models import ApiToken, StaffUser, utcnow

TOKEN_PREFIX = "cpm_"  # lets secret scanners and people recognise our tokens


async def create_api_token(session: AsyncSession, staff: Staff, name: str) -> tuple[ApiToken, str]:
    """A personal API token; the plain token is returned once and never stored."""
    name = name.strip()[:100]
    if not name:
        raise AccountError("give the token a name, so you know later what uses it")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=staff.id, name=name, prefix=token[:12], token_hash=digest(token))
    session.add(row)
    await session.flush()
    return row, token


async def token_staff(session: AsyncSession, token: str) -> Staff | None:
    """Whose token this is, when it is valid and its owner active."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    found = (
        await session.execute(
            select(ApiToken, StaffUser)
            .join(StaffUser, StaffUser.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
        )
    ).first()
    if found is None or found[1].status != "active":
        return None
    row, user = found
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
    return Staff.of(user)


async def revoke_api_token(session: AsyncSession, staff: Staff, token_id: int) -> bool:
    """Revoke one of ``staff``'s own tokens; an administrator not limited to a country may
    revoke anyone's (one limited to a country may not reach the coalition's accounts)."""
    stmt = update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
    if not (staff.is_admin and staff.country is None):
        stmt = stmt.where(ApiToken.user_id == staff.id)
    result = await session.execute(stmt.values(revoked_at=utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_api_tokens(session: AsyncSession, staff: Staff) -> list[ApiToken]:
    """``staff``'s own tokens, revoked ones too, newest first. Only their prefix is known."""
    return list(
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == staff.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


async def revoke_all(session: AsyncSession, user_id: int) -> int:
    """Every token of an account stops working (its password was reset); how many."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
