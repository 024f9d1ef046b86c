"""The builder's form: a stored survey and its fields round-trip, and each problem the survey
format reports lands beside the field it is about, in words the dashboard translates."""

from __future__ import annotations

import pytest

from bot.storage.models import Survey
from bot.surveys import apply
from bot.surveys.format import parse_definition
from webhook.admin.survey_form import Builder, check, definition, from_survey, place, read

ZONE = "Europe/Bucharest"
FORM = {
    "name": "Pulse", "base_locale": "en", "title:en": "Pulse", "title:ro": "Puls",
    "closes_at": "2026-12-31T18:00",
    "q0-type": "multiple", "q0-key": "topics", "q0-text:en": "Topics?", "q0-text:ro": "Teme?",
    "q0-o0-key": "care", "q0-o0-label:en": "Care", "q0-o1-key": "online",
    "q0-o1-label:en": "Online", "q0-o2-key": "", "q0-o2-label:en": "",
    "q1-type": "number", "q1-key": "cases", "q1-text:en": "How many?", "q1-min": "0",
    "q1-max": "500", "q1-skippable": "1", "q1-if": "topics", "q1-if-test": "any_of",
    "q1-if-value": "care, online",
}  # fmt: skip


def test_the_form_becomes_the_format_and_comes_back_the_same():
    b = read(FORM)
    assert b.locales == ["en", "ro"] and len(b.questions[0].options) == 2
    found = check(b, ZONE)
    assert found is not None and not b.problems
    assert found.closes_at is not None and found.closes_at.utcoffset() is not None
    s = Survey(id=1)
    questions = apply(s, found)
    again = from_survey(s, questions, ZONE)
    assert definition(again, ZONE) == definition(b, ZONE)
    assert again.questions[1].if_value == "care, online" and again.questions[1].skippable
    assert b.missing() == {"ro": 3}  # two option labels and the number question's text


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("title: the en text is missing", "title", "Write the {language} text"),
        ("question 2 (cases): text: the ro text is missing", "q1-text", "Write the {language}"),
        ("question 1 (a): option b: the en text is missing", "q0-options", "Write the {language}"),
        ("question 1 (a): a single choice needs at least 2 options", "q0-options", "A choice"),
        ("question 3 (x): min is above max", "q2-range", "The smallest number"),
        ("question 2 (x): show_if: a has no option z", "q1-if", "That question has no option"),
        ("questions → question 2 → id: String should match pattern '^[A-Za-z0-9_-]{1,40}$'",
         "q1-key", "Use up to 40"),
        ("questions → question 1 → min: Input should be a valid number", "q0-range", "Write a"),
        ("question 2 (b): the id 'b' is used twice", "q1", "Two questions"),
        ("something new the format says", "", "{text}"),
    ],
)  # fmt: skip
def test_each_problem_lands_beside_its_field(text: str, where: str, says: str) -> None:
    b = Builder()
    place(b, text)
    ((found, values),) = b.problems[where]
    assert found.startswith(says), found
    if "{language}" in found:
        assert values["language"] in ("English", "Română")


def test_every_problem_of_a_wrong_form_is_placed():
    wrong = {**FORM, "q0-o1-key": "care", "q1-min": "900", "q1-if-value": "nothing"}
    b = read(wrong)
    assert check(b, ZONE) is None
    assert set(b.problems) == {"q0-options", "q1-range", "q1-if"}
    with pytest.raises(ValueError):
        parse_definition(definition(b, ZONE))


def test_an_option_id_made_of_digits_stays_an_option_id_in_a_condition():
    form = {**FORM, "q0-type": "single", "q0-o0-key": "1", "q0-o1-key": "2",
            "q1-if-test": "equals", "q1-if-value": "2"}  # fmt: skip
    b = read(form)
    found = check(b, ZONE)
    assert found is not None, b.problems
    assert definition(b, ZONE)["questions"][1]["show_if"] == {"question": "topics", "equals": "2"}
    rated = read({**FORM, "q0-type": "rating5", "q1-if-test": "at_least", "q1-if-value": "4"})
    assert definition(rated, ZONE)["questions"][1]["show_if"]["at_least"] == 4.0
    assert check(rated, ZONE) is not None, rated.problems
