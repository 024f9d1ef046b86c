"""The builder's form: a stored survey and its fields round-trip, and each problem the survey
format reports lands beside the field it is about, in words the dashboard translates."""

from __future__ import annotations

import pytest

from bot.storage.models import Survey
from bot.surveys import apply
from bot.surveys.format import parse_definition
from bot.surveys.wording import gaps
from webhook.admin.survey_builder import _transient
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
    # Romanian has the title and the first question, not its two options nor the second one.
    s, questions = _transient(b)
    assert {loc: [m.path for m in g.missing] for loc, g in gaps(s, questions).items()} == {
        "ro": ["topics/care", "topics/online", "cases"]
    }


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


# A form as the builder posts it now: no ids written, the hidden "made" fields as the page
# last showed them.
PLAIN = {
    "name": "", "base_locale": "en", "title:en": "GA pulse",
    "q0-type": "single", "q0-key": "", "q0-made": "", "q0-text:en": "Will your coalition attend?",
    "q0-o0-key": "", "q0-o0-label:en": "Yes", "q0-o1-key": "", "q0-o1-label:en": "Not sure yet",
    "q0-o2-key": "", "q0-o2-label:en": "No",
    "q1-type": "short_text", "q1-key": "", "q1-text:en": "Who are your delegates?",
    "q1-if": "", "q1-if-test": "equals", "q1-if-value": "",
    "q2-type": "yes_no", "q2-key": "", "q2-text:en": "Will your coalition attend?",
    "q3-type": "short_text", "q3-key": "", "q3-text:en": "Intro",
}  # fmt: skip


def test_ids_come_from_the_texts_unique_and_fit_for_an_xlsform():
    b = read(PLAIN)
    assert [q.key for q in b.questions] == [
        "will_your_coalition_attend", "who_are_your_delegates", "will_your_coalition_attend_2",
        "intro_2",  # "intro" is the name an exported XLSForm gives the introduction
    ]  # fmt: skip
    assert [o.key for o in b.questions[0].options] == ["yes", "not_sure_yet", "no"]
    assert check(b, ZONE) is not None, b.problems


def test_a_condition_names_an_option_by_its_label_and_follows_a_text_that_changes():
    shown = read({**PLAIN, "q1-if": "will_your_coalition_attend", "q1-if-value": "not sure YET"})
    assert (shown.questions[1].if_question, shown.questions[1].if_value) == (
        "will_your_coalition_attend", "not_sure_yet")  # fmt: skip
    # The page shows the ids it made; the author then rewrites the question and the option.
    again = {**PLAIN, "q0-key": "will_your_coalition_attend", "q0-made": "will_your_coalition_attend",
             "q0-text:en": "Are you coming to the Assembly?", "q0-o1-key": "not_sure_yet",
             "q0-o1-made": "not_sure_yet", "q0-o1-label:en": "Maybe",
             "q1-if": "will_your_coalition_attend", "q1-if-value": "not_sure_yet"}  # fmt: skip
    b = read(again)
    assert b.questions[0].key == "are_you_coming_to_the_assembly"
    assert b.questions[0].options[1].key == "maybe"
    assert (b.questions[1].if_question, b.questions[1].if_value) == (
        "are_you_coming_to_the_assembly", "maybe")  # fmt: skip
    assert check(b, ZONE) is not None, b.problems


def test_an_id_written_by_hand_or_stored_stays_when_the_text_changes():
    hand = read({**PLAIN, "q0-key": "attend", "q0-made": "will_your_coalition_attend"})
    assert hand.questions[0].key == "attend"
    # A made id that a hand-written one would take steps aside.
    clash = read({**PLAIN, "q2-key": "will_your_coalition_attend"})
    assert [q.key for q in clash.questions][:3] == [
        "will_your_coalition_attend_2", "who_are_your_delegates", "will_your_coalition_attend"]  # fmt: skip
    b = read(PLAIN)
    s = Survey(id=1)
    stored = from_survey(s, apply(s, check(b, ZONE)), ZONE)
    stored.questions[0].text["en"] = "Are you coming?"
    form = {"base_locale": "en", "title:en": "GA pulse", "q0-type": "single",
            "q0-key": stored.questions[0].key, "q0-made": stored.questions[0].made,
            "q0-text:en": "Are you coming?", "q0-o0-key": "yes", "q0-o0-label:en": "Yes",
            "q0-o1-key": "no", "q0-o1-label:en": "No"}  # fmt: skip
    assert read(form).questions[0].key == "will_your_coalition_attend"


def test_a_russian_question_gets_a_latin_id():
    b = read({**PLAIN, "base_locale": "ru", "title:ru": "Опрос",
              "q0-text:ru": "Сколько стран в коалиции?", "q0-o0-label:ru": "Две"})  # fmt: skip
    assert b.questions[0].key == "skolko_stran_v_koalitsii"
    assert b.questions[0].options[0].key == "dve"
