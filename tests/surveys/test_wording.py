"""Ids made from a survey's texts: short, Latin, unique within the survey, never a name an
XLSForm keeps for itself; and the languages only partly written, with what each lacks."""

from __future__ import annotations

from bot.storage.models import Survey, SurveyQuestion
from bot.surveys.wording import SLUG_CHARS, gaps, partly_translated, slug


def test_an_id_is_the_texts_words_cut_at_a_word_and_numbered_when_taken():
    assert slug("How useful are the secretariat's news?", fallback="q1") == (
        "how_useful_are_the_secretariats"
    )
    long = slug("Which topic should the General Assembly discuss first?", fallback="q1")
    assert len(long) <= SLUG_CHARS and long == "which_topic_should_the_general"
    assert slug("Yes", ["yes", "yes_2"], fallback="o1", question=False) == "yes_3"
    assert slug("Yes", ["YES"], fallback="o1", question=False) == "yes_2"


def test_an_id_starts_with_a_letter_and_falls_back_when_the_text_has_no_letters():
    assert slug("2027 plans?", fallback="q1") == "q_2027_plans"
    assert slug("1-2", fallback="o1", question=False) == "1_2"  # an option's name may be digits
    assert slug("???", fallback="q4") == "q4"
    assert slug("Start", fallback="q1") == "start_2"  # what a phone records by itself
    armenian = slug("Ի՞նչ է ChildPact-ը", fallback="q1")
    assert armenian.isascii() and armenian[0].isalpha() and "_childpact_" in armenian
    assert slug("Ποιο;", fallback="q1").isascii()


def test_a_language_is_partly_written_only_when_some_texts_are_and_others_not():
    s = Survey(base_locale="en", title={"en": "Pulse", "ro": "Puls"}, intro={},
               closing={"en": "Thanks"}, reminder={})  # fmt: skip
    questions = [
        SurveyQuestion(key="attend", kind="single", text={"en": "Attend?", "ro": "Veniți?"},
                       options=[{"key": "yes", "label": {"en": "Yes", "ro": "Da"}},
                                {"key": "no", "label": {"en": "No"}}],
                       hint={"en": "Pick one"}),
        SurveyQuestion(key="why", kind="short_text", text={"en": "Why?", "ru": "Почему?"},
                       options=[]),
    ]  # fmt: skip
    found = gaps(s, questions, ["sq"])
    assert [m.path for m in found["ro"].missing] == ["closing", "attend:hint", "attend/no", "why"]
    assert found["ro"].written == 3 and found["ro"].partial
    assert found["sq"].written == 0 and not found["sq"].partial  # never started: no mixture
    assert set(partly_translated(s, questions)) == {"ro", "ru"}
