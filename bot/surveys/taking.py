"""Taking a survey: which surveys a member may answer now, and a member's way through one:
the next question by the conditions, back, skip, every answer stored the moment it is given.
The texts are per locale with the broadcasts' fallback chain: the member's language, their
country's usual one, the survey's base."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcasts import member_locale
from bot.countries import COUNTRY_LOCALE
from bot.members.linking import person_contact_ids
from bot.storage.models import (
    Contact,
    Delivery,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    utcnow,
)
from bot.surveys.format import is_number, yes_no_value

# ---------------------------------------------------------------- who may answer what


def is_open(survey: Survey, now: datetime | None = None) -> bool:
    closes = survey.closes_at
    return survey.status == "open" and (closes is None or closes > (now or utcnow()))


def for_member(survey: Survey, contact: Contact) -> bool:
    """A coordinator's survey is for the members of their country only."""
    return survey.country is None or survey.country == (contact.country or contact.country_hint)


def survey_locale(survey: Survey, contact: Contact) -> str:
    """The broadcasts' chain: the member's language, their country's, the base text's."""
    written = survey.title or {}
    own = member_locale(contact)
    if own in written:
        return own
    usual = COUNTRY_LOCALE.get(contact.country or contact.country_hint or "")
    if usual and usual in written:
        return usual
    return survey.base_locale


async def open_for(session: AsyncSession, contact: Contact) -> list[tuple[Survey, str | None]]:
    """The surveys this member may answer now, each with their own response's status
    (None, "started"), newest first; those they finished are left out unless allowed again."""
    now = utcnow()
    found = await session.scalars(
        select(Survey)
        .where(Survey.status == "open", or_(Survey.closes_at.is_(None), Survey.closes_at > now))
        .order_by(Survey.id.desc())
    )
    surveys = [s for s in found if for_member(s, contact)]
    if not surveys:
        return []
    ids = await person_contact_ids(session, contact)  # one response per person
    mine = await session.execute(
        select(SurveyResponse.survey_id, SurveyResponse.status)
        .where(
            SurveyResponse.contact_id.in_(ids),
            SurveyResponse.survey_id.in_([s.id for s in surveys]),
        )
        .order_by(SurveyResponse.attempt)
    )
    status = {survey_id: state for survey_id, state in mine.all()}  # the latest attempt wins
    return [
        (s, status.get(s.id) if status.get(s.id) == "started" else None)
        for s in surveys
        if status.get(s.id) != "finished" or s.allow_again
    ]


# ---------------------------------------------------------------- a member's way through


@dataclass
class Step:
    """Where a member is after something happened: the question to ask (None: finished)."""

    response: SurveyResponse
    question: SurveyQuestion | None
    answers: dict[int, SurveyAnswer]


def satisfied(condition: dict[str, Any] | None, answers: dict[str, Any]) -> bool:
    """Whether a question's show-if holds for the answers given so far (by question key)."""
    if not condition:
        return True
    if "all" in condition:
        return all(satisfied(part, answers) for part in condition["all"])
    if "any" in condition:
        return any(satisfied(part, answers) for part in condition["any"])
    value = answers.get(str(condition.get("question")))
    if value is None:
        return False
    given = value if isinstance(value, list) else [value]
    if any(k in condition for k in ("at_least", "at_most", "above", "below")):
        numbers = [v for v in given if isinstance(v, int | float) and not isinstance(v, bool)]
        low, high = condition.get("at_least"), condition.get("at_most")
        above, below = condition.get("above"), condition.get("below")
        return any(
            (low is None or v >= low)
            and (high is None or v <= high)
            and (above is None or v > above)
            and (below is None or v < below)
            for v in numbers
        )
    if "not_equals" in condition:
        return not any(_same(v, condition["not_equals"]) for v in given)
    wanted = [condition["equals"]] if "equals" in condition else list(condition.get("any_of") or [])
    return any(_same(v, w) for v in given for w in wanted)


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool):
        return yes_no_value(wanted) is value
    if isinstance(value, int | float):
        return is_number(wanted) and float(wanted) == float(value)
    return str(value) == str(wanted)


def values_by_key(
    questions: list[SurveyQuestion], answers: dict[int, SurveyAnswer]
) -> dict[str, Any]:
    return {q.key: answers[q.id].value for q in questions if q.id in answers}


def next_question(
    questions: list[SurveyQuestion], answers: dict[int, SurveyAnswer], after: int
) -> SurveyQuestion | None:
    """The first question after position ``after`` whose condition holds."""
    given = values_by_key(questions, answers)
    for q in questions:
        if q.position > after and satisfied(q.show_if, given):
            return q
    return None


async def answers_of(session: AsyncSession, response_id: int) -> dict[int, SurveyAnswer]:
    found = await session.scalars(
        select(SurveyAnswer).where(SurveyAnswer.response_id == response_id)
    )
    return {a.question_id: a for a in found}


async def latest_response(
    session: AsyncSession, survey_id: int, contact: Contact
) -> SurveyResponse | None:
    """The member's latest response, from whichever of their linked chats they answered."""
    ids = await person_contact_ids(session, contact)
    return await session.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.survey_id == survey_id, SurveyResponse.contact_id.in_(ids))
        .order_by(SurveyResponse.attempt.desc(), SurveyResponse.id.desc())
        .limit(1)
    )


async def was_invited(session: AsyncSession, survey: Survey, contact: Contact) -> bool:
    sent = [i for i in (survey.broadcast_id, survey.reminder_broadcast_id) if i]
    if not sent:
        return False
    ids = await person_contact_ids(session, contact)
    found = await session.scalar(
        select(Delivery.id)
        .where(Delivery.broadcast_id.in_(sent), Delivery.contact_id.in_(ids))
        .limit(1)
    )
    return found is not None


async def begin(
    session: AsyncSession,
    survey: Survey,
    contact: Contact,
    questions: list[SurveyQuestion],
    attempt: int,
    channel: str,
) -> Step:
    """A new response, with a snapshot of the member for the results, at the first question."""
    response = SurveyResponse(
        survey_id=survey.id,
        contact_id=contact.id,
        attempt=attempt,
        status="started",
        path=[],
        channel=channel,
        locale=survey_locale(survey, contact),
        country=contact.country or contact.country_hint,
        organisation=(contact.organisation or "").strip()[:200] or None,
        invited=await was_invited(session, survey, contact),
    )
    session.add(response)
    await session.flush()
    return await _go_to(session, response, questions, {}, next_question(questions, {}, 0))


async def answer(
    session: AsyncSession,
    response: SurveyResponse,
    questions: list[SurveyQuestion],
    question: SurveyQuestion,
    value: Any,
    *,
    skipped: bool = False,
    move_on: bool = True,
) -> Step:
    """Store the answer now, then (``move_on``) go to the next question that applies."""
    answers = await answers_of(session, response.id)
    stored = answers.get(question.id)
    if stored is None:
        stored = SurveyAnswer(response_id=response.id, question_id=question.id)
        session.add(stored)
        answers[question.id] = stored
    stored.value = None if skipped else value
    stored.skipped = skipped
    stored.answered_at = utcnow()
    response.updated_at = utcnow()
    if not move_on:
        await session.flush()
        return Step(response, question, answers)
    path = list(response.path or [])
    if question.id in path:
        path = path[: path.index(question.id)]
    response.path = [*path, question.id]
    following = next_question(questions, answers, question.position)
    return await _go_to(session, response, questions, answers, following)


async def back(
    session: AsyncSession, response: SurveyResponse, questions: list[SurveyQuestion]
) -> Step:
    """To the question answered before the current one, its answer kept until changed."""
    answers = await answers_of(session, response.id)
    path = list(response.path or [])
    by_id = {q.id: q for q in questions}
    while path and path[-1] not in by_id:
        path.pop()  # a question removed since: nothing to go back to there
    if not path:
        return Step(response, by_id.get(response.current_question_id or 0), answers)
    previous = by_id[path.pop()]
    response.path = path
    response.current_question_id = previous.id
    response.updated_at = utcnow()
    return Step(response, previous, answers)


async def _go_to(
    session: AsyncSession,
    response: SurveyResponse,
    questions: list[SurveyQuestion],
    answers: dict[int, SurveyAnswer],
    question: SurveyQuestion | None,
) -> Step:
    if question is not None:
        response.current_question_id = question.id
        await session.flush()
        return Step(response, question, answers)
    # Finished. Answers to questions that a changed earlier answer has hidden since do not
    # belong to this response any more.
    given = values_by_key(questions, answers)
    shown = {q.id for q in questions if satisfied(q.show_if, given)}
    for question_id, stored in list(answers.items()):
        if question_id not in shown:
            await session.delete(stored)
            del answers[question_id]
    response.status = "finished"
    response.current_question_id = None
    response.finished_at = utcnow()
    await session.flush()
    return Step(response, None, answers)
