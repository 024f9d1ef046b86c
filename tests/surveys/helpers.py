"""Surveys for the tests: a small one with every question type, stored open in a service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.service import Service
from bot import surveys
from bot.storage.models import Survey
from bot.surveys.format import parse_definition

EXAMPLE = Path(__file__).resolve().parents[2] / "surveys" / "example.yaml"

# Every question type, a condition, a skippable question; English, Romanian and Russian.
EVERY_TYPE: dict[str, Any] = {
    "base_locale": "en",
    "title": {"en": "Quick check", "ro": "Verificare rapidă", "ru": "Быстрый опрос"},
    "intro": {"en": "Six questions.", "ro": "Șase întrebări.", "ru": "Шесть вопросов."},
    "closing": {"en": "Thanks, all saved.", "ro": "Mulțumim, totul e salvat.",
                "ru": "Спасибо, всё сохранено."},
    "questions": [
        {"id": "role", "type": "single", "text": {"en": "Your role?", "ro": "Rolul?", "ru": "Роль?"},
         "options": [{"id": "lead", "label": {"en": "Lead", "ro": "Conducere", "ru": "Руководитель"}},
                     {"id": "field", "label": {"en": "Field", "ro": "Teren", "ru": "Поле"}}]},
        {"id": "topics", "type": "multiple", "text": {"en": "Topics?", "ro": "Teme?", "ru": "Темы?"},
         "options": [{"id": "care", "label": {"en": "Care", "ro": "Îngrijire", "ru": "Уход"}},
                     {"id": "justice", "label": {"en": "Justice", "ro": "Justiție", "ru": "Правосудие"}},
                     {"id": "online", "label": {"en": "Online", "ro": "Online", "ru": "Онлайн"}}]},
        {"id": "funded", "type": "yes_no", "text": {"en": "Funded?", "ro": "Finanțat?", "ru": "Финансирование есть?"}},
        {"id": "gap", "type": "short_text", "required": False,
         "show_if": {"question": "funded", "equals": "no"},
         "text": {"en": "What would help?", "ro": "Ce ar ajuta?", "ru": "Что поможет?"}},
        {"id": "cases", "type": "number", "min": 0, "max": 500, "required": False,
         "text": {"en": "How many children?", "ro": "Câți copii?", "ru": "Сколько детей?"}},
        {"id": "meeting", "type": "date", "text": {"en": "Next meeting?", "ro": "Următoarea întâlnire?", "ru": "Следующая встреча?"}},
        {"id": "support", "type": "rating10", "text": {"en": "Support, 0 to 10?", "ro": "Sprijin, 0-10?", "ru": "Поддержка, 0–10?"}},
    ],
}  # fmt: skip


async def open_survey(
    service: Service, definition: dict[str, Any] | None = None, **fields: Any
) -> tuple[int, dict[str, int]]:
    """Store a survey, open it; returns its id and its questions' ids by key."""
    async with service.db.session() as session, session.begin():
        survey = await surveys.create(
            session, parse_definition(definition or EVERY_TYPE), author=None, country=None
        )
        survey.status = "open"
        for name, value in fields.items():
            setattr(survey, name, value)
        questions = await surveys.questions_of(session, survey.id)
        return survey.id, {q.key: q.id for q in questions}


async def get_survey(service: Service, survey_id: int) -> Survey:
    async with service.db.session() as session:
        found = await session.get(Survey, survey_id)
    assert found is not None
    return found


async def stored_answers(service: Service, survey_id: int) -> list[dict[str, Any]]:
    """Every response of a survey with its answers by question key, oldest first."""
    from sqlalchemy import select

    from bot.storage.models import SurveyAnswer, SurveyQuestion, SurveyResponse

    async with service.db.session() as session:
        responses = (
            await session.scalars(
                select(SurveyResponse)
                .where(SurveyResponse.survey_id == survey_id)
                .order_by(SurveyResponse.id)
            )
        ).all()
        found = []
        for r in responses:
            rows = await session.execute(
                select(SurveyQuestion.key, SurveyAnswer.value, SurveyAnswer.skipped)
                .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
                .where(SurveyAnswer.response_id == r.id)
            )
            answers = {key: ("skipped" if skipped else value) for key, value, skipped in rows}
            found.append({"response": r, "answers": answers})
    return found
