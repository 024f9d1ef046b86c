"""Linking a member of the secretariat's own Telegram chat to their account, so the bot knows
them there: a one-time code made on the dashboard, sent to the bot with ``/staff CODE``."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.secretariat.signin import LOCK_FOR
from bot.secretariat.staff import AccountError, Staff, digest
from bot.storage.models import Contact, LoginFailure, StaffUser, utcnow

LINK_CODE_FOR = timedelta(minutes=10)
LINK_ATTEMPTS = 5  # wrong codes one chat may send before it is locked out for LOCK_FOR
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


async def telegram_link_code(session: AsyncSession, staff: Staff) -> tuple[str, datetime]:
    """A one-time code the person sends to the bot (``/staff CODE``) from their own Telegram
    chat, and until when it works."""
    user = await session.get(StaffUser, staff.id)
    if user is None:
        raise AccountError("no such account")
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    user.link_hash = digest(code)
    user.link_expires_at = utcnow() + LINK_CODE_FOR
    return code, user.link_expires_at


async def link_telegram(session: AsyncSession, code: str, chat_id: str) -> Staff | None:
    """Link the chat that sent a valid code to its account; the code works once."""
    code = "".join(code.split()).upper()
    # Wrong codes count like wrong passwords, per chat: guessing one locks the chat out.
    key, now = f"telegram:{chat_id}"[:254], utcnow()
    failure = await session.get(LoginFailure, key)
    if failure is not None and failure.locked_until is not None and failure.locked_until > now:
        return None
    user = None
    if 4 <= len(code) <= 16:
        user = await session.scalar(select(StaffUser).where(StaffUser.link_hash == digest(code)))
    valid = user is not None and user.status == "active" and user.link_expires_at is not None
    if user is None or not valid or user.link_expires_at <= now:  # type: ignore[operator]
        if failure is None:
            failure = LoginFailure(email=key, count=0)
            session.add(failure)
        failure.count += 1
        failure.last_at = now
        if failure.count >= LINK_ATTEMPTS:
            failure.locked_until = now + LOCK_FOR
        return None
    # One chat belongs to one account: a shared phone moves the link.
    await session.execute(
        update(StaffUser).where(StaffUser.telegram_chat_id == chat_id).values(telegram_chat_id=None)
    )
    user.telegram_chat_id = chat_id
    user.link_hash = None
    user.link_expires_at = None
    await session.flush()
    return Staff.of(user)


async def telegram_staff(session: AsyncSession, chat_id: str) -> Staff | None:
    """The active account linked to this Telegram chat, if any."""
    user = await session.scalar(
        select(StaffUser).where(StaffUser.telegram_chat_id == chat_id, StaffUser.status == "active")
    )
    return Staff.of(user) if user is not None else None


async def test_chats(session: AsyncSession, staff: Staff) -> set[int]:
    """The chats a broadcast's test may go to: ``staff``'s own (the Telegram chat linked to
    their account, and the chats linked with it) and the linked Telegram chats of the other
    active staff. Never a member's."""
    chats = set(
        await session.scalars(
            select(StaffUser.telegram_chat_id).where(
                StaffUser.status == "active", StaffUser.telegram_chat_id.is_not(None)
            )
        )
    )
    if not chats:
        return set()
    found = (
        await session.execute(
            select(Contact.id, Contact.person_id).where(
                Contact.channel == "telegram", Contact.address.in_(chats)
            )
        )
    ).all()
    people = {person for _, person in found if person is not None}
    linked = set()
    if people:
        linked = set(await session.scalars(select(Contact.id).where(Contact.person_id.in_(people))))
    return {contact_id for contact_id, _ in found} | linked
