"""The survey format: the shipped example loads, a stored survey gives its definition back, and
every mistake is named where it is."""

from __future__ import annotations

import pytest

from bot import surveys
from bot.storage.models import Survey
from bot.surveys.format import SurveyFormatError, load_yaml, parse_definition
from tests.surveys.helpers import EVERY_TYPE, EXAMPLE


def test_the_example_survey_loads():
    definition = load_yaml(EXAMPLE.read_text(encoding="utf-8"))
    kinds = {q.type for q in definition.questions}
    assert {"single", "multiple", "number", "yes_no", "short_text", "date", "rating5"} <= kinds
    assert definition.closes_at is not None and definition.closes_at.tzinfo is not None


def test_a_stored_survey_gives_back_its_definition():
    survey = Survey()
    questions = surveys.apply(survey, parse_definition(EVERY_TYPE))
    again = surveys.definition_of(survey, questions)
    expected = parse_definition({**EVERY_TYPE, "name": "Quick check"})  # the name: its title
    assert parse_definition(again).model_dump() == expected.model_dump()
    assert questions[3].show_if == {"question": "funded", "equals": "no"}
    assert questions[3].required is False


def test_a_plain_text_is_the_base_locale_and_tags_are_normalised():
    survey = Survey()
    definition = parse_definition({
        "base_locale": "ro", "title": "Sondaj",
        "questions": [{"id": "a", "type": "yes_no", "text": {"ro": "Da?", "sr-Latn": "Da li?"},
                       "skippable": True}],
    })  # fmt: skip
    (q,) = surveys.apply(survey, definition)
    assert survey.title == {"ro": "Sondaj"} and q.text == {"ro": "Da?", "sr_Latn": "Da li?"}
    assert q.required is False


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("title: [x", "line 1, column"),
        ("- just a list", "the file must describe one survey"),
        ("title: T\nquestions: []", "questions: List should have at least 1 item"),
        ("title: T\nquestions:\n- {id: a, type: single, text: A, optoins: []}",
         "question 1 → optoins: Extra inputs are not permitted"),
        ("title: T\nquestions:\n- {id: a, type: slider, text: A}", "question 1 → type"),
        ("title: T\nquestions:\n- {id: a, type: single, text: A, options: [{id: x, label: X}]}",
         "question 1 (a): a single choice needs at least 2 options"),
        ("title: T\nquestions:\n- {id: a, type: number, text: A, min: 5, max: 1}",
         "question 1 (a): min is above max"),
        ("title: T\nquestions:\n- {id: a, type: yes_no, text: A}\n- {id: a, type: yes_no, text: B}",
         "question 2 (a): the id 'a' is used twice"),
        ("title: T\nquestions:\n- {id: a, type: yes_no, text: A, show_if: {question: b, equals: x}}",
         "question 1 (a): show_if refers to 'b', which is not an earlier question"),
        ("title: T\nquestions:\n- {id: a, type: yes_no, text: A}\n"
         "- {id: b, type: yes_no, text: B, show_if: {question: a, equals: maybe}}",
         "question 2 (b): show_if: a is answered yes or no"),
        ("title: {ro: T}\nquestions:\n- {id: a, type: yes_no, text: A}", "title: the en text is missing"),
        ("title: {en: T, xx: Q}\nquestions:\n- {id: a, type: yes_no, text: A}", "title: unknown locale xx"),
        ("title: T\ncloses_at: 2026-12-31 18:00\nquestions:\n- {id: a, type: yes_no, text: A}",
         "closes_at: give a date and time with its time zone"),
    ],
)  # fmt: skip
def test_mistakes_are_named_where_they_are(yaml_text, expected):
    with pytest.raises(SurveyFormatError) as found:
        load_yaml(yaml_text)
    assert any(expected in problem for problem in found.value.problems), found.value.problems


def test_several_mistakes_are_listed_together():
    with pytest.raises(SurveyFormatError) as found:
        load_yaml("title: T\nquestions:\n- {id: a, type: single, text: A}\n"
                  "- {id: b, type: number, text: B, min: 3, max: 1}")  # fmt: skip
    assert len(found.value.problems) == 2
