"""Storing a survey: its definition written into rows and read back, its questions in order,
and how many responses it has by status. The format itself is in ``bot.surveys.format``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import normalize_locale
from bot.storage.models import Survey, SurveyQuestion, SurveyResponse
from bot.surveys.answers import label
from bot.surveys.format import SurveyIn, texts


def apply(survey: Survey, definition: SurveyIn) -> list[SurveyQuestion]:
    """Write a definition into a survey; returns its questions, in order, to be added."""
    base = normalize_locale(definition.base_locale) or "en"
    survey.name = definition.name or label(texts(definition.title, base), base, base)[:200]
    survey.base_locale = base
    survey.title = texts(definition.title, base)
    survey.intro = texts(definition.intro, base)
    survey.closing = texts(definition.closing, base)
    survey.reminder = texts(definition.reminder, base)
    survey.anonymous = definition.anonymous
    survey.allow_again = definition.allow_again
    survey.closes_at = definition.closes_at
    found: list[SurveyQuestion] = []
    for position, q in enumerate(definition.questions, start=1):
        condition = None
        if q.show_if is not None:
            condition = q.show_if.model_dump(exclude_none=True)
        rules: dict[str, Any] = {}
        if q.whole:
            rules["whole"] = True
        for limit in ("earliest", "latest"):
            if getattr(q, limit):
                rules[limit] = getattr(q, limit)
        if texts(q.message, base):
            rules["message"] = texts(q.message, base)
        found.append(
            SurveyQuestion(
                position=position,
                key=q.id,
                kind=q.type,
                required=q.required if q.skippable is None else not q.skippable,
                text=texts(q.text, base),
                options=[{"key": o.id, "label": texts(o.label, base)} for o in q.options],
                min_value=q.min,
                max_value=q.max,
                show_if=condition,
                hint=texts(q.hint, base) or None,
                rules=rules or None,
            )
        )
    return found


async def create(
    session: AsyncSession, definition: SurveyIn, *, author: int | None, country: str | None
) -> Survey:
    survey = Survey(status="draft", created_by=author, country=country)
    questions = apply(survey, definition)
    session.add(survey)
    await session.flush()
    for q in questions:
        q.survey_id = survey.id
    session.add_all(questions)
    await session.flush()
    return survey


async def replace(session: AsyncSession, survey: Survey, definition: SurveyIn) -> None:
    """A draft's new definition: its questions replaced (no one has answered a draft)."""
    await session.execute(delete(SurveyQuestion).where(SurveyQuestion.survey_id == survey.id))
    questions = apply(survey, definition)
    for q in questions:
        q.survey_id = survey.id
    session.add_all(questions)
    await session.flush()


def definition_of(survey: Survey, questions: list[SurveyQuestion]) -> dict[str, Any]:
    """A stored survey as its definition (the YAML format), e.g. to copy it."""
    return {
        "name": survey.name,
        "base_locale": survey.base_locale,
        "title": dict(survey.title or {}),
        "intro": dict(survey.intro or {}),
        "closing": dict(survey.closing or {}),
        "reminder": dict(survey.reminder or {}),
        "anonymous": survey.anonymous,
        "allow_again": survey.allow_again,
        "closes_at": survey.closes_at,
        "questions": [
            {
                "id": q.key,
                "type": q.kind,
                "text": dict(q.text or {}),
                **(
                    {"options": [{"id": o["key"], "label": o["label"]} for o in q.options]}
                    if q.options
                    else {}
                ),
                "required": q.required,
                **({"min": q.min_value} if q.min_value is not None else {}),
                **({"max": q.max_value} if q.max_value is not None else {}),
                **({"show_if": dict(q.show_if)} if q.show_if else {}),
                **({"hint": dict(q.hint)} if q.hint else {}),
                **(dict(q.rules) if q.rules else {}),
            }  # fmt: skip
            for q in questions
        ],
    }


async def questions_of(session: AsyncSession, survey_id: int) -> list[SurveyQuestion]:
    found = await session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == survey_id)
        .order_by(SurveyQuestion.position)
    )
    return list(found)


async def response_counts(session: AsyncSession, survey_id: int) -> dict[str, int]:
    found = await session.execute(
        select(SurveyResponse.status, func.count())
        .where(SurveyResponse.survey_id == survey_id)
        .group_by(SurveyResponse.status)
    )
    return {status: count for status, count in found.all()}
