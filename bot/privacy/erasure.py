"""Erasing members: every row about a set of contact ids (one person may have several), and the
coordination keys that name them. Anonymous survey answers stay, unlinked from the member.

Child protection is the exception: a member who disclosed that a child may be at risk keeps
their safeguarding alerts and that conversation for the focal point, on a contact row emptied
of everything else (no chat address, organisation, settings or consent); all the rest goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.coordination import Coordinator
from bot.coordination.keys import chat_rate_key, seen_key, web_chat_topic
from bot.secretariat.inbox import as_kept
from bot.storage.models import (
    Consent,
    Contact,
    Conversation,
    ConversationMessage,
    ConversationNote,
    Delivery,
    Inbound,
    LinkCode,
    LinkFailure,
    Person,
    SafeguardingFlag,
    Subscription,
    Survey,
    SurveyAnswer,
    SurveyResponse,
    UnansweredAsker,
    UnansweredQuestion,
    utcnow,
)

QUIET: dict[str, Any] = {"synchronize_session": False}


@dataclass
class Erased:
    """What an erasure removed: how many contacts, and the coordination keys to forget once
    the transaction commits."""

    contacts: int = 0
    keys: list[str] = field(default_factory=list)
    # Contacts kept, emptied, for their safeguarding records.
    kept: list[int] = field(default_factory=list)


ERASED = "erased"  # the status of a contact kept only for its safeguarding records


async def safeguarding_kept(session: AsyncSession, ids: list[int]) -> list[int]:
    """Which of ``ids`` have safeguarding records (an alert, a concern, or a safeguarding
    conversation) that outlive their erasure."""
    flagged = select(SafeguardingFlag.contact_id).where(SafeguardingFlag.contact_id.in_(ids))
    threads = select(Conversation.contact_id).where(
        Conversation.contact_id.in_(ids), Conversation.kind == "safeguarding"
    )
    found = await session.scalars(flagged.union(threads))
    return sorted({int(i) for i in found})


def _at(column_channel: Any, column_address: Any, addresses: list[tuple[str, str]]) -> Any:
    if not addresses:
        return false()
    return or_(*(and_(column_channel == c, column_address == a) for c, a in addresses))


async def erase(session: AsyncSession, contact_ids: list[int]) -> Erased:
    """Delete the contacts and everything personal about them, in the caller's transaction.
    Rows already loaded in ``session`` are not refreshed: callers expunge what they hold."""
    contacts = (
        await session.execute(
            select(Contact.id, Contact.channel, Contact.address, Contact.person_id).where(
                Contact.id.in_(contact_ids)
            )
        )
    ).all()
    if not contacts:
        return Erased()
    ids = [c.id for c in contacts]
    kept = await safeguarding_kept(session, ids)
    addresses = [(c.channel, c.address) for c in contacts]
    inbound = (
        await session.execute(
            select(Inbound.id, Inbound.channel, Inbound.platform_id, Inbound.message).where(
                _at(Inbound.channel, Inbound.address, addresses)
            )
        )
    ).all()
    inbound_ids = [row.id for row in inbound]
    await _unanswered(
        session, [str((row.message or {}).get("text") or "") for row in inbound], ids
    )
    await _conversations(session, ids)
    mine: list[ColumnElement[bool]] = [
        Delivery.contact_id.in_(ids),
        _at(Delivery.channel, Delivery.address, addresses),
    ]
    if inbound_ids:  # what went to the staff chats about their messages (alerts)
        mine.append(Delivery.inbound_id.in_(inbound_ids))
    await session.execute(delete(Delivery).where(or_(*mine)).execution_options(**QUIET))
    await _surveys(session, ids)
    await session.execute(
        delete(Consent).where(Consent.contact_id.in_(ids)).execution_options(**QUIET)
    )
    if inbound_ids:
        await session.execute(
            delete(Inbound).where(Inbound.id.in_(inbound_ids)).execution_options(**QUIET)
        )
    for table in (LinkCode, LinkFailure):  # cascaded by the database too; SQLite may not
        await session.execute(
            delete(table).where(table.contact_id.in_(ids)).execution_options(**QUIET)
        )
    gone = [i for i in ids if i not in kept]
    await session.execute(delete(Contact).where(Contact.id.in_(gone)).execution_options(**QUIET))
    for contact_id in kept:
        await session.execute(
            update(Contact).where(Contact.id == contact_id).values(**_emptied(contact_id))
            .execution_options(**QUIET)
        )  # fmt: skip
    await _people(session, {c.person_id for c in contacts if c.person_id is not None})
    keys = [seen_key(row.channel, row.platform_id) for row in inbound]
    for channel, address in addresses:
        keys += [chat_rate_key(channel, address), web_chat_topic(channel, address)]
    return Erased(len(ids), keys, kept)


def _emptied(contact_id: int) -> dict[str, Any]:
    """A contact with nothing left but its id, channel, language and country: the focal point
    reads the disclosure in context, and nobody can write to the member any more."""
    return {
        "address": f"{ERASED}-{contact_id}", "status": ERASED, "organisation": None, "organisation_search": None,
        "lang_hint": None, "country_hint": None, "time_zone": None, "consent_version": None,
        "consent_at": None, "flow": None, "flow_data": {}, "choices": [], "person_id": None,
        "last_inbound_at": None, "unreachable_at": utcnow(), "settings_at": None,
    }  # fmt: skip


async def _people(session: AsyncSession, person_ids: set[int]) -> None:
    """A person left with one chat is no longer linked; with none, they are gone."""
    for person_id in person_ids:
        left = (
            await session.scalars(select(Contact.id).where(Contact.person_id == person_id))
        ).all()
        if len(left) == 1:
            await session.execute(
                update(Contact).where(Contact.id == left[0]).values(person_id=None)
                .execution_options(**QUIET)
            )  # fmt: skip
        if len(left) <= 1:
            await session.execute(
                delete(Person).where(Person.id == person_id).execution_options(**QUIET)
            )


async def _unanswered(session: AsyncSession, texts: list[str], ids: list[int]) -> None:
    """They are no longer among those to tell the answer to; the questions they asked that the
    bot could not answer go too, unless another member asked them as well (and waits for the
    answer)."""
    await session.execute(
        delete(UnansweredAsker)
        .where(UnansweredAsker.contact_id.in_(ids))
        .execution_options(**QUIET)
    )
    keys = {as_kept(text)[1] for text in texts if text.strip()}
    if keys:
        others = select(UnansweredAsker.question_id)
        await session.execute(
            delete(UnansweredQuestion)
            .where(UnansweredQuestion.normalised.in_(keys), UnansweredQuestion.id.not_in(others))
            .execution_options(**QUIET)
        )


async def _conversations(session: AsyncSession, ids: list[int]) -> None:
    """Their conversations, except those about a child's safety."""
    threads = select(Conversation.id).where(
        Conversation.contact_id.in_(ids), Conversation.kind != "safeguarding"
    )
    relayed = select(ConversationMessage.delivery_id).where(
        ConversationMessage.conversation_id.in_(threads),
        ConversationMessage.delivery_id.is_not(None),
    )
    # What was relayed of their messages to the secretariat's chat goes first.
    await session.execute(
        delete(Delivery).where(Delivery.id.in_(relayed)).execution_options(**QUIET)
    )
    await session.execute(
        delete(ConversationMessage)
        .where(ConversationMessage.conversation_id.in_(threads))
        .execution_options(**QUIET)
    )
    # The secretariat's notes on those conversations go with them.
    await session.execute(
        delete(ConversationNote)
        .where(ConversationNote.conversation_id.in_(threads))
        .execution_options(**QUIET)
    )
    await session.execute(
        delete(Conversation)
        .where(Conversation.contact_id.in_(ids), Conversation.kind != "safeguarding")
        .execution_options(**QUIET)
    )


async def withdrawn(session: AsyncSession, contact_ids: list[int]) -> None:
    """What a member's withdrawn consent leaves of their profile beyond what the handler clears
    (language, country, organisation, time zone): their topic choices go, and their survey
    answers stay in the results without them, so that only the chat's address, the messages
    and the consent records are about them, as the member is told."""
    await session.execute(
        delete(Subscription)
        .where(Subscription.contact_id.in_(contact_ids))
        .execution_options(**QUIET)
    )
    await _unlink_answers(session, contact_ids)


async def _unlink_answers(session: AsyncSession, ids: list[int]) -> None:
    """Their survey answers stay in the results, no longer theirs."""
    await session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.contact_id.in_(ids))
        .values(contact_id=None, organisation=None)
        .execution_options(**QUIET)
    )


async def _surveys(session: AsyncSession, ids: list[int]) -> None:
    """Their answers go, except those of anonymous surveys, which stay without them."""
    anonymous = select(Survey.id).where(Survey.anonymous.is_(True))
    named = select(SurveyResponse.id).where(
        SurveyResponse.contact_id.in_(ids), SurveyResponse.survey_id.not_in(anonymous)
    )
    await session.execute(
        delete(SurveyAnswer).where(SurveyAnswer.response_id.in_(named)).execution_options(**QUIET)
    )
    await session.execute(
        delete(SurveyResponse)
        .where(SurveyResponse.contact_id.in_(ids), SurveyResponse.survey_id.not_in(anonymous))
        .execution_options(**QUIET)
    )
    await _unlink_answers(session, ids)  # the anonymous surveys' answers


async def forget(coordinator: Coordinator, erased: Erased) -> None:
    """Drop the dedupe marks, rate buckets and wake-up counters that name erased contacts."""
    if erased.keys:
        await coordinator.forget(erased.keys)
