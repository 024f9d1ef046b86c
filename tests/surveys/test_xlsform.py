"""XLSForms in and out: forms made with openpyxl (with and without language columns, with skip
logic and constraints) imported, every row a chat cannot ask refused by its row, the survey
written back as an XLSForm that pyxform converts, and an imported form answered on Telegram,
WhatsApp and the web chat in English and Romanian, its results exported as analysts read them."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from pyxform.xls2xform import convert

from bot.i18n import Translator
from bot.storage.models import Survey
from bot.surveys import definition_of, questions_of, xlsform
from bot.surveys import results as surveys_results
from bot.surveys.format import SurveyIn
from bot.surveys.store import apply
from tests.dialog import Member
from tests.handlers.test_menu import onboard
from tests.harness import running
from tests.surveys.helpers import open_survey, stored_answers
from tests.surveys.xlsforms import ONE_LANGUAGE, TWO_LANGUAGES, UNSUPPORTED, xlsx


def imported(form: dict) -> SurveyIn:
    return xlsform.read(xlsx(form), "form.xlsx")


def by_id(survey: SurveyIn) -> dict:
    return {q.id: q for q in survey.questions}


def test_a_two_language_form_maps_onto_the_survey_format():
    survey = imported(TWO_LANGUAGES)
    q = by_id(survey)
    assert survey.base_locale == "en" and survey.title == {"en": "Follow-up", "ro": "Follow-up"}
    assert survey.intro == {"en": "A short follow-up.", "ro": "O scurtă verificare."}
    assert list(q) == ["role", "topics", "cases", "online_note", "visit", "support", "agree"]
    assert [q[k].type for k in q] == [
        "single", "multiple", "number", "short_text", "date", "rating5", "yes_no"
    ]  # fmt: skip
    assert q["role"].text == {"en": "Your role?", "ro": "Rolul dumneavoastră?"}
    assert q["role"].hint == {"en": "Choose one.", "ro": "Alegeți una."}
    assert [o.label["ro"] for o in q["topics"].options] == ["Îngrijire", "Online", "Justiție"]
    assert q["role"].required and not q["online_note"].required
    # The group's condition is its questions' condition.
    assert q["cases"].show_if.model_dump(exclude_none=True) == {
        "question": "role", "equals": "field"
    }  # fmt: skip
    assert (q["cases"].min, q["cases"].max, q["cases"].whole) == (0, 500, True)
    assert q["cases"].message == {"en": "Between 0 and 500, please.",
                                  "ro": "Între 0 și 500, vă rog."}  # fmt: skip
    assert q["online_note"].show_if.model_dump(exclude_none=True) == {
        "all": [
            {"question": "topics", "equals": "online"},
            {"any": [{"question": "cases", "above": 10}, {"question": "role", "equals": "lead"}]},
        ]
    }
    assert q["visit"].latest == "today" and q["visit"].earliest is None


def test_a_form_without_language_columns_and_its_yes_no_list():
    survey = imported(ONE_LANGUAGE)
    q = by_id(survey)
    assert survey.base_locale == "en" and survey.title == {"en": "Funding check"}
    assert q["funded"].type == "yes_no" and q["funded"].required
    assert q["gap"].type == "number" and not q["gap"].whole and q["gap"].min == 0
    assert q["gap"].show_if.model_dump(exclude_none=True) == {"question": "funded", "equals": "no"}
    assert survey.closing == {"en": "Thank you!"}  # a last note: the closing words


@pytest.mark.parametrize(
    ("language", "locale"),
    [("English (en)", "en"), ("Română (ro)", "ro"), ("ro", "ro"), ("Romanian", "ro"),
     ("Русский", "ru"), ("Serbian (Latin) (sr-Latn)", "sr_Latn"), ("sr-Latn", "sr_Latn"),
     ("Српски", "sr"), ("Shqip (sq)", "sq"), ("ქართული", "ka"), ("Français (fr)", None),
     ("Deutsch", None)],
)  # fmt: skip
def test_language_columns_by_name_or_code(language, locale):
    assert xlsform.locale_of(language) == locale


def test_every_unsupported_row_is_named_with_why_and_nothing_is_kept():
    with pytest.raises(xlsform.XLSFormRefused) as refused:
        imported(UNSUPPORTED)
    problems = refused.value.problems
    expected = {
        "row 3 (children)": "repeats",
        "row 6 (where)": "location",
        "row 7 (photo)": "photos",
        "row 8 (total)": "calculations",
        "row 10 (town)": "cascading choices",
        "row 11 (at)": "times of day",
        "row 12 (why)": "not(...)",
        "row 13 (code)": "ranges of numbers and dates",
        "row 14 (lang)": "Français",
    }
    for row, why in expected.items():
        assert any(p.startswith(row) and why in p for p in problems), (row, problems)
    assert len(problems) == len(expected)  # the rows inside the repeat are not listed twice


def test_a_form_pyxform_itself_refuses_is_refused_with_its_reason():
    broken = {"survey": [{"type": "select_one missing", "name": "a", "label": "A?"}]}
    with pytest.raises(xlsform.XLSFormRefused) as refused:
        imported(broken)
    assert "choices sheet" in refused.value.problems[0]
    with pytest.raises(xlsform.XLSFormRefused) as damaged:
        xlsform.read(b"PK\x03\x04 not really a workbook", "form.xlsx")
    assert "XLSForm" in damaged.value.problems[0]


def test_csv_and_markdown_forms_are_read_too():
    markdown = """
| survey |
| | type | name | label::English (en) | label::Română (ro) | relevant |
| | integer | age | Age? | Vârsta? | |
| | text | school | School? | Școala? | ${age} >= 6 and ${age} <= 18 |
| settings |
| | form_title | default_language |
| | Pupils | Română (ro) |
"""
    survey = xlsform.read(markdown.encode(), "pupils.md")
    assert survey.base_locale == "ro" and survey.title == {"ro": "Pupils", "en": "Pupils"}
    assert survey.questions[1].show_if.model_dump(exclude_none=True) == {
        "all": [{"question": "age", "at_least": 6}, {"question": "age", "at_most": 18}]
    }
    table = [
        ["survey", "type", "name", "label", "constraint"],
        ["", "date", "born", "Born on?", ". >= date('2008-01-01') and . < today()"],
        ["", "date", "met", "Met on?", ". >= date('2020-01-01') and . <= date('2026-12-31')"],
    ]
    text = io.StringIO()
    csv.writer(text).writerows(table)
    with pytest.raises(xlsform.XLSFormRefused) as refused:  # "< today()": not a fixed day
        xlsform.read(text.getvalue().encode(), "form.csv")
    assert refused.value.problems[0].startswith("row 2 (born)")
    table[1][4] = ". >= date('2008-01-01') and . <= today()"
    text = io.StringIO()
    csv.writer(text).writerows(table)
    born, met = xlsform.read(text.getvalue().encode(), "form.csv").questions
    assert (born.earliest, born.latest) == ("2008-01-01", "today")
    assert (met.earliest, met.latest) == ("2020-01-01", "2026-12-31")


@pytest.mark.parametrize("form", [TWO_LANGUAGES, ONE_LANGUAGE])
def test_a_survey_written_back_as_an_xlsform_that_pyxform_converts(form):
    survey = imported(form)
    stored = Survey(id=7)
    questions = apply(stored, survey)
    for position, q in enumerate(questions, start=1):
        q.id = position
    definition = definition_of(stored, questions)
    book = xlsform.workbook(definition, form_id="childpact_survey_7")

    xform = convert(book, file_type=".xlsx").xform  # raises on anything pyxform refuses
    assert "<h:title>" in xform and 'id="childpact_survey_7"' in xform
    again = xlsform.read(book, "survey-7.xlsx")
    assert again.model_dump(exclude={"name"}) == survey.model_dump(exclude={"name"})
    if form is TWO_LANGUAGES:
        assert 'lang="Romanian (ro)"' in xform
        assert "selected( /data/topics , 'online')" in xform
        assert "Între 0 și 500, vă rog." in xform


def test_the_example_xlsform_beside_the_yaml_example_imports():
    from tests.surveys.helpers import EXAMPLE

    example = EXAMPLE.with_suffix(".xlsx")
    survey = xlsform.read(example.read_bytes(), example.name)
    assert {"en", "ro", "ru"} <= set(survey.title) | set(survey.questions[0].text)
    assert convert(example.read_bytes(), file_type=".xlsx").xform


# ---------------------------------------------------------------- answered in the chats


async def answer_the_follow_up(member: Member, locale: str, q: dict[str, int]) -> None:
    """Field worker, topics care and online, 3 children after one out of range, so the online
    question is left out; a visit in the future refused with the form's own message."""
    t = Translator(locale)
    ro = locale == "ro"
    numbered = member.channel == "whatsapp"
    first = await member.tap(f"survey:{q['survey']}")
    assert ("O scurtă verificare." if ro else "A short follow-up.") in first[0].text
    assert ("Alegeți una." if ro else "Choose one.") in first[-1].text  # the form's hint
    if numbered:
        await member.say("2")
        await member.say("1, 2")
    else:
        await member.tap(f"sv:a:{q['role']}:1")
        await member.tap(f"sv:t:{q['topics']}:0")
        await member.tap(f"sv:t:{q['topics']}:1")
        await member.tap(f"sv:d:{q['topics']}")
    wrong = await member.say("900")
    assert wrong[0].text.endswith("Între 0 și 500, vă rog." if ro else "Between 0 and 500, please.")
    half = await member.say("2,5")  # an integer question: whole numbers only
    assert half[0].text.endswith("Între 0 și 500, vă rog." if ro else "Between 0 and 500, please.")
    visit = await member.say("3")  # not above 10, not a lead: the online question is left out
    assert ("Data ultimei vizite?" if ro else "Date of the last visit?") in visit[-1].text
    tomorrow = (date.today() + timedelta(days=1)).strftime("%d.%m.%Y")
    future = await member.say(tomorrow)
    assert future[0].text.endswith(
        "Vizita nu poate fi în viitor." if ro else "The visit cannot be in the future."
    )
    await member.say("15.03.2026")
    if numbered:
        await member.say("4")
        done = await member.say(t("Yes"))
    else:
        await member.tap(f"sv:a:{q['support']}:4")
        done = await member.tap(f"sv:a:{q['agree']}:1")
    assert done[-1].text  # the survey's end


@pytest.mark.parametrize(
    ("channel", "locale"), [("telegram", "ro"), ("whatsapp", "en"), ("web", "ro")]
)
async def test_an_imported_form_is_answered_in_the_chat(backend, channel, locale):
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service, imported(TWO_LANGUAGES).model_dump())
        member = Member(stack, channel)
        await onboard(member, locale)
        await member.say("/menu" if channel == "telegram" else "menu")
        await member.tap("menu:surveys")
        await answer_the_follow_up(member, locale, {**q, "survey": survey})

        (found,) = await stored_answers(stack.service, survey)
        assert found["response"].status == "finished" and found["response"].locale == locale
        assert found["answers"] == {
            "role": "field", "topics": ["care", "online"], "cases": 3,
            "visit": "2026-03-15", "support": 4, "agree": True,
        }  # fmt: skip

        async with stack.service.db.session() as session:
            stored = await session.get(Survey, survey)
            names = surveys_results.Filters()
            header, rows, _ = await surveys_results.table(session, stored, names, labels=False)
            _, labelled, _ = await surveys_results.table(session, stored, names)
        row = dict(zip(header, rows[0], strict=True))
        assert header[:9] == ["response", "member", "status", "start", "end", "channel",
                              "language", "country", "organisation"]  # fmt: skip
        assert row["channel"] == channel and row["language"] == locale and row["country"] == "RO"
        assert row["start"] and row["end"]
        assert row["role"] == "field" and row["topics"] == "care online"
        assert [row["topics/care"], row["topics/online"], row["topics/justice"]] == [1, 1, 0]
        assert row["online_note"] == "" and row["cases"] == 3 and row["agree"] == "yes"
        labelled_row = dict(zip(header, labelled[0], strict=True))
        assert labelled_row["role"] == "Field" and labelled_row["topics"] == "Care; Online"


async def test_questions_of_an_imported_survey_keep_their_limits(backend):
    async with running(backend, workers=False) as stack:
        survey, _ = await open_survey(stack.service, imported(TWO_LANGUAGES).model_dump())
        async with stack.service.db.session() as session:
            stored = await session.get(Survey, survey)
            questions = await questions_of(session, survey)
            definition = definition_of(stored, questions)
    cases = next(q for q in definition["questions"] if q["id"] == "cases")
    assert cases["whole"] is True and cases["message"]["ro"] == "Între 0 și 500, vă rog."
    assert SurveyIn.model_validate(definition).model_dump() == imported(TWO_LANGUAGES).model_dump(
        exclude={"name"}
    ) | {"name": definition["name"]}


def test_a_text_that_looks_like_a_formula_stays_text_in_the_written_form():
    from openpyxl import load_workbook

    from bot.surveys.format import parse_definition

    survey = parse_definition({
        "title": "=HYPERLINK(\"http://x\")",
        "questions": [{"id": "a", "type": "short_text", "text": "=1+1"}],
    })  # fmt: skip
    stored = Survey(id=3)
    questions = apply(stored, survey)
    for position, q in enumerate(questions, start=1):
        q.id = position
    book = xlsform.workbook(definition_of(stored, questions))
    sheet = load_workbook(io.BytesIO(book))["survey"]
    cells = [c for row in sheet.iter_rows() for c in row if c.value == "=1+1"]
    assert cells and all(c.data_type == "s" for c in cells)
    assert xlsform.read(book, "back.xlsx").questions[0].text == {"en": "=1+1"}
