"""Sending a survey out: the invitation is a broadcast (limits, fallbacks, the WhatsApp 24-hour
rule and its templates all apply) whose button opens the survey, to those who receive the
"surveys" topic unless the launch names other topics, now or at a chosen time; once, at the
time the secretariat picks, a reminder broadcast to the invited members who have not finished.
An open survey's closing date can move; the reminder worker closes surveys whose closing date
has passed."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError
from bot.coordination import Coordinator
from bot.coordination.keys import BROADCASTS, SURVEYS, survey_reminder_lock
from bot.i18n import LOCALES, Translator
from bot.members import topics
from bot.secretariat.staff import Staff
from bot.storage.db import Database
from bot.storage.models import Broadcast, Contact, Delivery, Survey, SurveyResponse, utcnow

log = logging.getLogger(__name__)

LOOK_EVERY = 30.0  # seconds between looks when nobody notifies: reminders are set to the minute
SLICE = 1.0  # the longest wait without checking whether the service is stopping
LOCK_TTL = 60.0
REACHED = ("sent", "delivered", "read")


def _texts(survey: Survey, kind: str) -> dict[str, str]:
    """The invitation (title and introduction) or the reminder, in every locale written."""
    found: dict[str, str] = {}
    for locale, title in (survey.title or {}).items():
        if locale not in LOCALES or not str(title).strip():
            continue
        if kind == "invitation":
            parts = [str(title).strip(), str((survey.intro or {}).get(locale, "")).strip()]
            found[locale] = "\n\n".join(p for p in parts if p)
        else:
            own = str((survey.reminder or {}).get(locale, "")).strip()
            t = Translator(locale)
            found[locale] = own or t(
                "A reminder: the survey “{title}” is still waiting for your answers. "
                "It takes only a few minutes.",
                title=str(title).strip(),
            )
    return found


def _answer_label(t: Translator) -> str:
    return t("Answer the survey")


def _broadcast(
    survey: Survey, kind: str, author: int | None, templates: dict[str, str]
) -> Broadcast:
    b = Broadcast(
        title=f"Survey {survey.id} {kind}: {survey.name}"[:200],
        base_locale=survey.base_locale,
        status="draft",
        texts={},
        buttons=[
            {
                "label": {loc: _answer_label(Translator(loc)) for loc in LOCALES},
                "payload": f"survey:{survey.id}",
            }
        ],
        audience={},
        templates=dict(templates),
        created_by=author,
        expanded_to=0,
    )
    written = _texts(survey, kind)
    for locale in sorted(written, key=lambda loc: loc != survey.base_locale):  # base first
        broadcasts.set_text(b, locale, written[locale])
    return b


def invitation(survey: Survey, author: int | None, templates: dict[str, str]) -> Broadcast:
    """The invitation as it would go out, not stored: what a preview counts."""
    return _broadcast(survey, "invitation", author, templates)


async def launch(
    session: AsyncSession,
    survey: Survey,
    staff: Staff,
    audience: Audience,
    *,
    templates: dict[str, str],
    approval_above: int | None,
    at: datetime | None = None,
) -> Broadcast:
    """Open the survey and send its invitation to ``audience`` as a broadcast."""
    if survey.status == "closed":
        raise BroadcastError("closed", "this survey is closed")
    if await invitation_stands(session, survey):
        raise BroadcastError("launched", "this survey's invitation has already been sent")
    if staff.country is not None:
        audience.countries = [staff.country]  # a coordinator invites their own country
    missing = await topics.not_offered(session, audience.topics)
    if missing:
        raise BroadcastError("topic", f"no such topic: {', '.join(missing)}")
    if not audience.topics and await _surveys_topic(session):
        # Who switched the surveys topic off gets no invitation, unless the launch names
        # its own topics.
        audience.topics = [topics.SURVEYS]
    b = _broadcast(survey, "invitation", staff.id, templates)
    b.audience = audience.to_json()
    session.add(b)
    await session.flush()
    size = (await broadcasts.preview(session, b, staff, {})).recipients
    await broadcasts.launch(
        session, b, staff, audience_size=size, approval_above=approval_above, at=at
    )
    survey.status = "open"
    survey.opened_at = survey.opened_at or utcnow()
    survey.broadcast_id = b.id
    return b


async def invitation_stands(session: AsyncSession, survey: Survey) -> bool:
    """Whether the survey has an invitation that went, goes or waits to go. A cancelled one
    does not stand: the survey can be launched again (leaving out who got the first, if the
    secretariat wishes)."""
    if survey.broadcast_id is None:
        return False
    invitation = await session.get(Broadcast, survey.broadcast_id)
    return invitation is not None and invitation.status != "cancelled"


def change_closing(survey: Survey, at: datetime | None, now: datetime | None = None) -> str | None:
    """Move an open survey's closing date, earlier or later, or remove it (``at`` None).
    Returns what stops it ("not_open", "past"), or None once changed. Who answers after the
    new date is told the survey has closed; the worker below closes it for good."""
    if survey.status != "open":
        return "not_open"
    if at is not None and at <= (now or utcnow()):
        return "past"
    survey.closes_at = at
    return None


async def _surveys_topic(session: AsyncSession) -> bool:
    found = await topics.by_key(session, topics.SURVEYS)
    return found is not None and found.archived_at is None


async def not_finished(session: AsyncSession, survey: Survey) -> list[int]:
    """Invited members the invitation reached who have not finished the survey."""
    if survey.broadcast_id is None:
        return []
    reached = set(
        await session.scalars(
            select(Delivery.contact_id).where(
                Delivery.broadcast_id == survey.broadcast_id, Delivery.status.in_(REACHED)
            )
        )
    )
    finished = set(
        await session.scalars(
            select(SurveyResponse.contact_id).where(
                SurveyResponse.survey_id == survey.id, SurveyResponse.status == "finished"
            )
        )
    )
    # A member who finished on one of their linked chats has finished on all of them.
    finished_people = (
        select(Contact.person_id)
        .join(SurveyResponse, SurveyResponse.contact_id == Contact.id)
        .where(
            SurveyResponse.survey_id == survey.id,
            SurveyResponse.status == "finished",
            Contact.person_id.is_not(None),
        )
    )
    finished |= set(
        await session.scalars(select(Contact.id).where(Contact.person_id.in_(finished_people)))
    )
    return sorted(i for i in reached - finished if i is not None)


async def remind(session: AsyncSession, survey: Survey) -> Broadcast | None:
    """The reminder, now: a broadcast to those who have not finished (None: nobody left)."""
    survey.reminded_at = utcnow()
    waiting = await not_finished(session, survey)
    if not waiting:
        return None
    invitation = await session.get(Broadcast, survey.broadcast_id)
    templates = dict(invitation.templates or {}) if invitation is not None else {}
    b = _broadcast(survey, "reminder", None, templates)
    # Approval, if needed, was given for the invitation: the reminder goes to fewer people.
    b.approved_by = invitation.approved_by if invitation is not None else None
    # The invitation's topics still hold: who has switched them off since hears no more.
    invited = Audience.from_json(invitation.audience if invitation is not None else {})
    b.audience = Audience(contact_ids=waiting, topics=invited.topics).to_json()
    session.add(b)
    await session.flush()
    await broadcasts.launch(session, b, None, audience_size=len(waiting), approval_above=None)
    survey.reminder_broadcast_id = b.id
    return b


class SurveyReminders:
    """The worker: sends each survey's reminder once, when due, and closes surveys whose
    closing date has passed. Several may run; a lock per survey keeps the reminder single."""

    def __init__(self, db: Database, coordinator: Coordinator) -> None:
        self.db = db
        self.coordinator = coordinator

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.step()
            except Exception:
                log.exception("surveys: step failed; retrying")
            waited = 0.0
            while waited < LOOK_EVERY and not stopping.is_set():
                if await self.coordinator.wait(SURVEYS, SLICE):
                    break
                waited += SLICE

    async def step(self) -> int:
        """Close what has passed its date, send what is due; returns reminders sent."""
        now = utcnow()
        async with self.db.session() as session, session.begin():
            past = await session.scalars(
                select(Survey).where(Survey.status == "open", Survey.closes_at <= now)
            )
            for survey in past:
                survey.status, survey.closed_at = "closed", now
                log.info("survey %s: closed at its closing date", survey.id)
            due = (
                await session.scalars(
                    select(Survey.id).where(
                        Survey.status == "open",
                        Survey.remind_at <= now,
                        Survey.reminded_at.is_(None),
                        Survey.broadcast_id.is_not(None),
                    )
                )
            ).all()
        sent = 0
        for survey_id in due:
            lease = await self.coordinator.try_lock(survey_reminder_lock(survey_id), LOCK_TTL)
            if lease is None:
                continue  # another worker has it
            try:
                async with self.db.session() as session, session.begin():
                    survey = await session.get(Survey, survey_id)
                    if survey is None or survey.reminded_at is not None:
                        continue
                    reminder = await remind(session, survey)
                    log.info("survey %s: reminder %s", survey_id,
                             f"broadcast {reminder.id}" if reminder else "needed by nobody")  # fmt: skip
                    sent += reminder is not None
            finally:
                await lease.release()
        if sent:
            await self.coordinator.notify(BROADCASTS)
        return sent
