"""Reading typed answers: every question type, the words for yes, no, back, skip and done in
every language, and no input that makes the parser fail in any other way than explaining."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.conversation.commands import vocabulary as command_vocabulary
from bot.i18n import LOCALES, Translator
from bot.storage.models import SurveyQuestion
from bot.surveys import satisfied
from bot.surveys.answers import (
    KINDS,
    AnswerError,
    hint,
    loose,
    meaning,
    parse,
    parse_date,
    parse_number,
    vocabulary,
    words,
)

EN = Translator("en")


def question(kind: str, **fields) -> SurveyQuestion:
    options = [
        {"key": "care", "label": {"en": "Alternative care", "ru": "Уход", "ro": "Îngrijire"}},
        {"key": "justice", "label": {"en": "Justice", "ru": "Правосудие"}},
        {"key": "online", "label": {"en": "Online safety", "ru": "Онлайн"}},
    ]
    return SurveyQuestion(
        key="q", kind=kind, required=True, text={"en": "?"},
        options=options if kind in ("single", "multiple") else [], **fields,
    )  # fmt: skip


@pytest.mark.parametrize(
    "typed",
    ["yes", "Yes", "da", "DA", "да", "dа", "po", "ha", "hə", "evet", "так", "ayo", "այո", "კი",
     "ki", "bəli", "naravno", "sigur", "👍", "👍🏽", "✅"],
)  # fmt: skip
def test_yes_in_every_language_and_script(typed):
    assert parse(question("yes_no"), typed, EN, "en") is True


@pytest.mark.parametrize(
    "typed",
    ["no", "NU", "нет", "net", "ні", "не", "ne", "jo", "yox", "hayır", "hayir", "არა", "ոչ",
     "👎", "👎🏻"],
)
def test_no_in_every_language_and_script(typed):
    assert parse(question("yes_no"), typed, EN, "en") is False


def test_no_word_means_two_things_and_none_is_a_command():
    owners: dict[str, set[str]] = {}
    for locale in LOCALES:
        t = Translator(locale)
        for name in ("yes", "no", "back", "skip", "done"):
            for word in words(t, name):
                owners.setdefault(loose(word), set()).add(name)
    assert {w: n for w, n in owners.items() if len(n) > 1} == {}
    # A command word would win over the survey: "back" must never mean "stop".
    assert not set(vocabulary()) & set(command_vocabulary())


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_each_locale_has_its_own_words(locale):
    t = Translator(locale)
    assert meaning(words(t, "back")[0]) == "back"
    assert meaning(words(t, "skip")[0]) == "skip"
    assert words(t, "yes")[0] != "yes"


def test_choices_by_number_or_label_in_any_language():
    single, multiple = question("single"), question("multiple")
    assert parse(single, "2", EN, "en") == "justice"
    assert parse(single, "2.", EN, "en") == "justice"
    assert parse(single, "justice", EN, "en") == "justice"
    assert parse(single, "правосудие", EN, "en") == "justice"
    assert parse(multiple, "1, 3", EN, "en") == ["care", "online"]
    assert parse(multiple, "3 1", EN, "en") == ["care", "online"]
    assert parse(multiple, "Уход, онлайн", EN, "en") == ["care", "online"]
    for bad in ("4", "0", "1, 9", "pizza", "1 2"):
        with pytest.raises(AnswerError):
            parse(single, bad, EN, "en")


def test_a_choice_by_its_words_in_another_order_or_shortened():
    unsure = question("single")
    unsure.options = [*unsure.options, {"key": "unsure", "label": {"ro": "Încă nu știm"}}]
    assert parse(unsure, "nu stim inca", EN, "ro") == "unsure"
    assert parse(unsure, "online", EN, "en") == "online"
    assert parse(unsure, "alternative", EN, "en") == "care"
    with pytest.raises(AnswerError):
        parse(unsure, "nu", EN, "ro")  # one word of one option, but "nu" alone is not it


def test_ratings_numbers_and_ranges():
    assert parse(question("rating5"), "4", EN, "en") == 4
    assert parse(question("rating5"), "⭐⭐⭐", EN, "en") == 3
    assert parse(question("rating10"), "0", EN, "en") == 0
    for bad in ("6", "0", "3.5", "good"):
        with pytest.raises(AnswerError):
            parse(question("rating5"), bad, EN, "en")
    number = question("number", min_value=0, max_value=5000)
    assert parse(number, "1 250", EN, "en") == 1250
    assert parse(number, "12", EN, "en") == 12
    assert parse(question("number"), "-3", EN, "en") == -3
    with pytest.raises(AnswerError) as why:
        parse(number, "6000", Translator("ro"), "en")
    assert str(why.value) == Translator("ro")("Reply with a number from {low} to {high}.",
                                              low="0", high=Translator("ro").number(5000))  # fmt: skip


@pytest.mark.parametrize(
    ("text", "locale", "value"),
    [("1,5", "ro", 1.5), ("1.5", "en", 1.5), ("1,500", "en", 1500), ("1.500", "ro", 1500),
     ("1 500,25", "ru", 1500.25), ("1,234.5", "en", 1234.5), ("12", "tr", 12), ("abc", "en", None),
     ("1,2,3", "en", None), ("", "en", None)],
)  # fmt: skip
def test_numbers_as_written_in_the_region(text, locale, value):
    assert parse_number(text, locale) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("2026-03-15", date(2026, 3, 15)), ("15.03.2026", date(2026, 3, 15)),
     ("15/3/26", date(2026, 3, 15)), ("15-03-2026", date(2026, 3, 15)),
     ("15.03.2026.", date(2026, 3, 15)), ("31.02.2026", None), ("tomorrow", None), ("15.03", None)],
)  # fmt: skip
def test_dates_in_common_formats(text, value):
    assert parse_date(text) == value


def test_short_text_and_its_limit_explained_with_plurals():
    q = question("short_text")
    assert parse(q, "  more money  ", EN, "en") == "more money"
    with pytest.raises(AnswerError) as why:
        parse(q, "x" * 1001, Translator("ru"), "en")
    assert "символов" in str(why.value)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_hint_is_translated(locale):
    t = Translator(locale)
    for kind in KINDS:
        text = hint(question(kind), t, numbered=True)
        assert text and "{" not in text
        if locale != "en":
            assert text != hint(question(kind), EN, numbered=True)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), text=st.text(max_size=60),
       locale=st.sampled_from(LOCALES))  # fmt: skip
def test_no_input_makes_the_parser_fail_other_than_explaining(kind, text, locale):
    try:
        parse(question(kind, min_value=1, max_value=10), text, Translator(locale), "en")
    except AnswerError as why:
        assert str(why)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                       st.text(max_size=5), st.lists(st.text(max_size=5), max_size=3)),
       condition=st.sampled_from([{"question": "a", "equals": "no"}, {"question": "a", "any_of": ["x", 1]},
                                  {"question": "a", "at_least": 2}, {"question": "a", "at_most": 0},
                                  {"question": "a", "equals": 3}]))  # fmt: skip
def test_conditions_never_fail_on_any_answer(value, condition):
    assert satisfied(condition, {"a": value}) in (True, False)
    assert satisfied(condition, {}) is False


def test_conditions():
    assert satisfied({"question": "f", "equals": "no"}, {"f": False})
    assert not satisfied({"question": "f", "equals": "no"}, {"f": True})
    assert satisfied({"question": "t", "equals": "care"}, {"t": ["justice", "care"]})
    assert satisfied({"question": "n", "at_least": 10, "at_most": 20}, {"n": 10})
    assert not satisfied({"question": "n", "at_least": 10}, {"n": 9.5})
    assert satisfied({"question": "r", "any_of": [4, 5]}, {"r": 5})
