"""One member on several channels: one-time link codes, the lock after wrong ones, joining
chat addresses into one person with the newest settings, keeping those settings in step,
unlinking, the preferred channel, and the order in which a person's addresses are tried."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    SETTINGS,
    Contact,
    LinkCode,
    LinkFailure,
    Person,
    Subscription,
    utcnow,
)  # fmt: skip

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_FAILURES = 5  # wrong codes from one chat before it is locked out
LOCKOUT = timedelta(minutes=15)
# Wrong codes from all web chats within CODE_TTL before every web chat waits: many new web
# chats (free to open) guessing side by side must not get further than a few could. Only web
# chats spend this budget and only web chats wait for it, so throwaway web chats cannot stop
# a member on Telegram or WhatsApp from linking (a member on the web links the other way
# round: the code from the web chat, typed on the other channel).
MAX_FAILURES_OVERALL = 100
SHARED_BUDGET = "web"
KEEP = timedelta(days=1)  # how long used codes and old mistakes stay before they are cleared


def code_hash(code: str) -> str:
    return hashlib.sha256(f"link:{code}".encode()).hexdigest()


def normalise_code(text: str) -> str | None:
    """The code in what a member typed ("123456", "123 456", "123-456"), or None."""
    digits = "".join(c for c in text if c.isdigit())
    rest = "".join(c for c in text if not c.isdigit() and not c.isspace() and c not in "-.")
    return digits if len(digits) == CODE_DIGITS and not rest else None


# ---------------------------------------------------------------- codes


async def issue(session: AsyncSession, contact: Contact, now: datetime | None = None) -> str:
    """A new code for this chat; its earlier codes stop working. Codes and wrong attempts
    that no longer matter are cleared on the way."""
    now = now or utcnow()
    await session.execute(delete(LinkCode).where(LinkCode.expires_at < now - KEEP))
    await session.execute(
        delete(LinkFailure).where(
            LinkFailure.last_at < now - KEEP,
            (LinkFailure.locked_until.is_(None)) | (LinkFailure.locked_until < now),
        )
    )
    await session.execute(
        update(LinkCode)
        .where(LinkCode.contact_id == contact.id, LinkCode.used_at.is_(None))
        .values(used_at=now)
    )
    while True:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        taken = await session.scalar(
            select(LinkCode.id).where(
                LinkCode.code_hash == code_hash(code),
                LinkCode.used_at.is_(None),
                LinkCode.expires_at > now,
            )
        )
        if taken is None:
            break
    session.add(LinkCode(contact_id=contact.id, code_hash=code_hash(code),
                         expires_at=now + CODE_TTL, created_at=now))  # fmt: skip
    await session.flush()
    return code


@dataclass
class Redeemed:
    """What sending a code did: ``result`` is linked, wrong, expired, own, already,
    same_channel or locked; ``contacts`` are the person's addresses once linked."""

    result: str
    contacts: list[Contact] = field(default_factory=list)
    minutes: int = 0  # how long the lock lasts
    channel: str | None = None  # the channel that is linked twice


async def redeem(
    session: AsyncSession, contact: Contact, code: str, now: datetime | None = None
) -> Redeemed:
    """Link ``contact`` with the chat that asked for ``code``, if it is right, in time, unused,
    and this chat is not locked out."""
    now = now or utcnow()
    failure = await session.get(LinkFailure, contact.id)
    if failure is not None and failure.locked_until is not None and failure.locked_until > now:
        return Redeemed("locked", minutes=_minutes(failure.locked_until - now))
    if contact.channel == SHARED_BUDGET:
        overall = await session.scalar(
            select(func.coalesce(func.sum(LinkFailure.count), 0))
            .join(Contact, Contact.id == LinkFailure.contact_id)
            .where(LinkFailure.last_at > now - CODE_TTL, Contact.channel == SHARED_BUDGET)
        )
        if int(overall or 0) >= MAX_FAILURES_OVERALL:
            return Redeemed("locked", minutes=_minutes(CODE_TTL))
    row = await session.scalar(
        select(LinkCode)
        .where(LinkCode.code_hash == code_hash(code))
        .order_by(LinkCode.id.desc())
        .limit(1)
    )
    if row is not None and row.contact_id == contact.id:
        return Redeemed("own")
    other = await session.get(Contact, row.contact_id) if row is not None else None
    if row is None or other is None or other.status not in ("active", "stopped"):
        return await _failed(session, contact, failure, "wrong", now)
    if row.used_at is not None or row.expires_at <= now:
        return await _failed(session, contact, failure, "expired", now)
    if contact.person_id is not None and contact.person_id == other.person_id:
        await _use(session, row.id, now)
        return Redeemed("already")
    mine = await person_contacts(session, contact)
    theirs = await person_contacts(session, other)
    twice = {c.channel for c in mine} & {c.channel for c in theirs}
    if twice:
        return Redeemed("same_channel", channel=sorted(twice)[0])
    if not await _use(session, row.id, now):
        return await _failed(session, contact, failure, "expired", now)
    if failure is not None:
        await session.delete(failure)
    await session.execute(
        update(LinkCode)
        .where(LinkCode.contact_id == contact.id, LinkCode.used_at.is_(None))
        .values(used_at=now)
    )
    return Redeemed("linked", contacts=await join(session, mine + theirs))


async def _use(session: AsyncSession, code_id: int, now: datetime) -> bool:
    """Mark the code used; False when another message used it first."""
    result = await session.execute(
        update(LinkCode)
        .where(LinkCode.id == code_id, LinkCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _failed(
    session: AsyncSession,
    contact: Contact,
    failure: LinkFailure | None,
    result: str,
    now: datetime,
) -> Redeemed:
    """Count a wrong code against this chat; enough of them lock it out."""
    if failure is None:
        failure = LinkFailure(contact_id=contact.id, count=0, last_at=now)
        session.add(failure)
    elif failure.last_at <= now - LOCKOUT:
        failure.count = 0  # an old mistake is forgiven
    failure.count += 1
    failure.last_at = now
    if failure.count >= MAX_FAILURES:
        failure.locked_until = now + LOCKOUT
        return Redeemed("locked", minutes=_minutes(LOCKOUT))
    return Redeemed(result)


def _minutes(left: timedelta) -> int:
    return max(1, math.ceil(left.total_seconds() / 60))


# ---------------------------------------------------------------- people


async def person_contacts(session: AsyncSession, contact: Contact) -> list[Contact]:
    """Every address of this contact's person, this one included, oldest first."""
    if contact.person_id is None:
        return [contact]
    found = await session.scalars(
        select(Contact).where(Contact.person_id == contact.person_id).order_by(Contact.id)
    )
    return list(found)


async def person_contact_ids(session: AsyncSession, contact: Contact) -> list[int]:
    """The ids of every address of this contact's person: their history and answers."""
    if contact.person_id is None:
        return [contact.id]
    found = await session.scalars(select(Contact.id).where(Contact.person_id == contact.person_id))
    return sorted(found)


async def others(session: AsyncSession, contact: Contact) -> list[Contact]:
    return [c for c in await person_contacts(session, contact) if c.id != contact.id]


async def join(session: AsyncSession, contacts: Sequence[Contact]) -> list[Contact]:
    """Make these addresses (and the people they belong to) one person, with the settings
    changed most recently, the latest agreement to the privacy notice, and the first
    preferred channel that was chosen."""
    ids = sorted({c.person_id for c in contacts if c.person_id is not None})
    people = [p for i in ids if (p := await session.get(Person, i)) is not None]
    if people:
        keep = people[0]
    else:
        keep = Person()
        session.add(keep)
        await session.flush()
    keep.preferred_channel = next(
        (p.preferred_channel for p in people if p.preferred_channel), None
    )
    for contact in contacts:
        contact.person_id = keep.id
    for person in people[1:]:
        await session.delete(person)
    await session.flush()
    everyone = list(contacts)
    newest = max(everyone, key=_changed_at)
    latest = max(everyone, key=_agreed_at)
    version, agreed_at = latest.consent_version, latest.consent_at  # before copying over it
    for contact in everyone:
        copy_settings(newest, contact)
    if agreed_at is not None:
        _keep_agreement(everyone, version, agreed_at)
    await _merge_subscriptions(session, [c.id for c in everyone])
    return everyone


def _keep_agreement(contacts: Sequence[Contact], version: str | None, at: datetime) -> None:
    """Give every chat the person's latest agreement to the privacy notice. Agreeing is a
    setting change, so the chat that agreed usually has the newest settings anyway; but
    ``stop`` needs no agreement, and the secretariat may edit a member, so a chat that never
    saw the new notice can be newer, and it must not take the agreement back."""
    for contact in contacts:
        if (contact.consent_version, contact.consent_at) != (version, at):
            stamped = contact.settings_at  # the member changed nothing now
            contact.consent_version, contact.consent_at = version, at
            contact.settings_at = stamped


async def _merge_subscriptions(session: AsyncSession, contact_ids: list[int]) -> None:
    """Each topic takes the choice made most recently in any of the chats, in all of them."""
    chosen = (
        await session.scalars(select(Subscription).where(Subscription.contact_id.in_(contact_ids)))
    ).all()
    latest: dict[int, Subscription] = {}
    for row in chosen:
        if row.topic_id not in latest or row.chosen_at > latest[row.topic_id].chosen_at:
            latest[row.topic_id] = row
    have = {(row.contact_id, row.topic_id): row for row in chosen}
    for topic_id, newest in latest.items():
        for contact_id in contact_ids:
            row = have.get((contact_id, topic_id))
            if row is None:
                session.add(
                    Subscription(
                        contact_id=contact_id, topic_id=topic_id,
                        subscribed=newest.subscribed, chosen_at=newest.chosen_at,
                    )
                )  # fmt: skip
            elif row is not newest:
                row.subscribed, row.chosen_at = newest.subscribed, newest.chosen_at
    await session.flush()


def _changed_at(contact: Contact) -> datetime:
    return contact.settings_at or contact.created_at or datetime.min.replace(tzinfo=UTC)


def _agreed_at(contact: Contact) -> datetime:
    return contact.consent_at or datetime.min.replace(tzinfo=UTC)


def copy_settings(source: Contact, target: Contact) -> bool:
    """Give ``target`` the settings of ``source``; False when they were the same already."""
    if target is source:
        return False
    changed = False
    for name in SETTINGS:
        if getattr(target, name) != getattr(source, name):
            setattr(target, name, getattr(source, name))
            changed = True
    if changed:
        target.settings_at = source.settings_at
    return changed


async def keep_in_step(session: AsyncSession, contact: Contact) -> None:
    """After a message: a setting the member changed in one chat holds in all of them."""
    if contact.person_id is None:
        return
    everyone = await person_contacts(session, contact)
    if not everyone:  # erased in this very message
        return
    newest = max(everyone, key=_changed_at)
    for other in everyone:
        copy_settings(newest, other)


async def unlink(session: AsyncSession, contact: Contact) -> list[Contact]:
    """Take this address out of its person; returns the addresses it was linked with. A
    person left with one address is no person any more."""
    rest = await others(session, contact)
    person = await session.get(Person, contact.person_id) if contact.person_id else None
    contact.person_id = None
    if person is not None and person.preferred_channel == contact.channel:
        person.preferred_channel = None
    if len(rest) <= 1:
        for other in rest:
            other.person_id = None
        await session.flush()
        if person is not None:
            await session.delete(person)
    await session.flush()
    return rest


async def preferred_channel(session: AsyncSession, contact: Contact) -> str | None:
    if contact.person_id is None:
        return None
    person = await session.get(Person, contact.person_id)
    return person.preferred_channel if person is not None else None


async def set_preferred(session: AsyncSession, contact: Contact, channel: str) -> bool:
    """Choose where broadcasts reach this person: only one of their own channels."""
    if contact.person_id is None:
        return False
    channels = {c.channel for c in await person_contacts(session, contact)}
    person = await session.get(Person, contact.person_id)
    if person is None or channel not in channels:
        return False
    person.preferred_channel = channel
    return True


async def preferences(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, str | None]:
    ids = list(set(person_ids))
    if not ids:
        return {}
    found = await session.execute(
        select(Person.id, Person.preferred_channel).where(Person.id.in_(ids))
    )
    return {pid: channel for pid, channel in found.all()}


def ordered(contacts: Iterable[Contact], preferred: str | None) -> list[Contact]:
    """The order a broadcast tries a person's addresses in: the preferred channel, then the
    chat they wrote from most recently."""

    def key(contact: Contact) -> tuple[int, float, int]:
        last = contact.last_inbound_at.timestamp() if contact.last_inbound_at else 0.0
        return (contact.channel != preferred, -last, contact.id)

    return sorted(contacts, key=key)
