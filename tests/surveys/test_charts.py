"""Charts of a survey's results: a PNG of the right size for every question type that has one,
drawn from answers stored on both backends; none for short texts; links that only open the
chart they name, in the scope they were given, for a day."""

from __future__ import annotations

import struct

import pytest
from sqlalchemy import insert, select

from bot import surveys
from bot.storage.db import Database
from bot.storage.models import Contact
from bot.surveys import charts as survey_charts
from bot.surveys import results as surveys_results
from bot.surveys.format import parse_definition
from tests.conftest import Backend
from tests.surveys.helpers import EVERY_TYPE

PNG = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG) and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


ANSWERS = [
    {"role": "lead", "topics": ["care", "online"], "funded": False, "gap": "a lawyer",
     "cases": 12, "meeting": "2026-03-15", "support": 9},
    {"role": "field", "topics": ["justice"], "funded": True, "cases": 130,
     "meeting": "2026-03-15", "support": 4},
    {"role": "field", "topics": ["care"], "funded": True, "cases": 0,
     "meeting": "2026-04-01", "support": 10},
]  # fmt: skip


async def stored_results(backend: Backend) -> dict[str, dict]:
    """Three members answer EVERY_TYPE; its results by question key."""
    db = Database(backend.database_url, schema=backend.schema)
    await db.migrate()
    try:
        async with db.session() as session, session.begin():
            await session.execute(
                insert(Contact),
                [{"channel": "telegram", "address": str(900 + n), "status": "active",
                  "locale": "en", "country": "MD", "flow_data": {}, "choices": []}
                 for n in range(len(ANSWERS))],
            )  # fmt: skip
            survey = await surveys.create(
                session, parse_definition(EVERY_TYPE), author=None, country=None
            )
            survey.status = "open"
            questions = await surveys.questions_of(session, survey.id)
            contacts = (await session.scalars(select(Contact.id).order_by(Contact.id))).all()
            for given, contact_id in zip(ANSWERS, contacts, strict=True):
                contact = await session.get(Contact, contact_id)
                step = await surveys.begin(session, survey, contact, questions, 1, "telegram")
                while step.question is not None:
                    value = given.get(step.question.key)
                    step = await surveys.answer(
                        session, step.response, questions, step.question, value,
                        skipped=value is None,
                    )  # fmt: skip
            found = await surveys_results.results(session, survey, surveys_results.Filters())
    finally:
        await db.dispose()
    return {q["id"]: q for q in found["questions"]}


async def test_every_question_type_with_a_chart_is_a_png_of_the_same_size(
    backend: Backend,
) -> None:
    by_key = await stored_results(backend)
    for key in ("role", "topics", "funded", "cases", "meeting", "support"):
        assert survey_charts.chartable(by_key[key]), key
        png = await survey_charts.chart(by_key[key])
        assert size(png) == (800, 450), key
    assert not survey_charts.chartable(by_key["gap"])
    with pytest.raises(ValueError):
        survey_charts.render(by_key["gap"])
    # What the bars show: the counts as stored.
    assert survey_charts.bars(by_key["role"]) == [("Lead", 1), ("Field", 2)]
    assert sum(n for _, n in survey_charts.bars(by_key["cases"])) == 3


def test_no_answers_long_labels_and_many_bars_still_draw() -> None:
    empty = {"id": "q", "type": "rating5", "text": "?",
             "counts": [{"option": str(n), "label": str(n), "count": 0} for n in range(1, 6)]}  # fmt: skip
    assert size(survey_charts.render(empty)) == (800, 450)
    long = {"id": "q", "type": "single", "text": "Ț" * 300,
            "counts": [{"option": str(n), "label": "Организация " * 20, "count": n}
                       for n in range(12)]}  # fmt: skip
    assert size(survey_charts.render(long)) == (800, 450)
    numbers = {"id": "n", "type": "number", "text": "How many?",
               "histogram": surveys_results.histogram([float(n) for n in range(0, 5000, 7)])}  # fmt: skip
    assert size(survey_charts.render(numbers)) == (800, 450)


def test_a_link_opens_only_its_chart_within_its_scope_for_an_hour() -> None:
    secret = "s" * 32
    token = survey_charts.sign(secret, 7, "role", "MD", now=1000.0)
    assert survey_charts.verify(secret, token, now=1001.0) == (7, "role", "MD")
    assert survey_charts.verify(secret, token, now=1000.0 + 3599) == (7, "role", "MD")
    assert survey_charts.verify(secret, token, now=1000.0 + 3600 + 1) is None
    assert survey_charts.verify("t" * 32, token, now=1001.0) is None
    body, _, mac = token.partition(".")
    other = survey_charts.sign(secret, 8, "role", None, now=1000.0).partition(".")[0]
    assert survey_charts.verify(secret, f"{other}.{mac}", now=1001.0) is None
    assert survey_charts.verify(secret, "garbage", now=1001.0) is None
    assert survey_charts.verify(secret, f"{body}.", now=1001.0) is None
