"""The survey format, as YAML or JSON: its fields, texts per locale, question types and
conditions, checked with an explanation of every mistake and where it is
(docs/secretariat/surveys.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.i18n import LOCALES, normalize_locale
from bot.surveys.answers import CHOICE_KINDS, KINDS, RATINGS

Key = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="a short id")]
LocalText = Annotated[
    dict[str, Annotated[str, Field(max_length=2000)]] | Annotated[str, Field(max_length=2000)],
    Field(description="a text per locale ({en: ..., ro: ...}), or one text in the base locale"),
]
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Value = Annotated[str, Field(max_length=200)] | Number | bool
DateLimit = Annotated[
    str, Field(pattern=r"^(today|\d{4}-\d{2}-\d{2})$", description="today, or YYYY-MM-DD")
]
MAX_OPTIONS = 12  # a phone screen of buttons


class SurveyFormatError(ValueError):
    """A survey definition that cannot be used; ``problems`` says what to change, and where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored


class OptionIn(Strict):
    id: Key
    label: LocalText


class ConditionIn(Strict):
    """Show a question only when an earlier answer is ``equals``, is not ``not_equals``, is
    one of ``any_of``, or (numbers and ratings) within ``at_least`` / ``at_most`` or beyond
    ``above`` / ``below``; or when ``all`` or ``any`` of several such conditions hold. For a
    multiple choice, one of the chosen options is enough; for yes/no, the values are yes and
    no."""

    question: Key | None = None
    equals: Value | None = None
    not_equals: Value | None = None
    any_of: list[Value] | None = Field(default=None, max_length=50)
    at_least: Number | None = None
    at_most: Number | None = None
    above: Number | None = None
    below: Number | None = None
    all: list[ConditionIn] | None = Field(default=None, min_length=1, max_length=20)
    any: list[ConditionIn] | None = Field(default=None, min_length=1, max_length=20)

    @model_validator(mode="after")
    def _one_test(self) -> ConditionIn:
        tests = [
            self.equals is not None,
            self.not_equals is not None,
            self.any_of is not None,
            any(v is not None for v in (self.at_least, self.at_most, self.above, self.below)),
        ]
        groups = [self.all is not None, self.any is not None]
        if sum(groups):
            if sum(groups) != 1 or sum(tests) or self.question is not None:
                raise ValueError("give either all or any, or one question and its test")
            return self
        if self.question is None:
            raise ValueError("name the question the condition tests")
        if sum(tests) != 1:
            raise ValueError(
                "give one of equals, not_equals, any_of, or at_least/at_most/above/below"
            )
        return self


class QuestionIn(Strict):
    id: Key
    type: Literal[KINDS]  # type: ignore[valid-type]
    text: LocalText
    options: list[OptionIn] = Field(default_factory=list, max_length=MAX_OPTIONS)
    required: bool = True
    skippable: bool | None = Field(default=None, description="the same as required: false")
    min: Number | None = Field(default=None, description="numbers: the smallest allowed")
    max: Number | None = Field(default=None, description="numbers: the largest allowed")
    show_if: ConditionIn | None = None
    hint: LocalText = Field(default_factory=dict, description="shown under the question")
    message: LocalText = Field(
        default_factory=dict, description="numbers and dates: said when an answer is out of range"
    )
    whole: bool = Field(default=False, description="numbers: whole numbers only")
    earliest: DateLimit | None = Field(default=None, description="dates: the earliest allowed")
    latest: DateLimit | None = Field(default=None, description="dates: the latest allowed")


class SurveyIn(Strict):
    """A whole survey, as YAML or JSON."""

    name: str = Field(default="", max_length=200, description="for the secretariat only")
    base_locale: str = Field(default="en", description="the texts every fallback ends at")
    title: LocalText
    intro: LocalText = Field(default_factory=dict)
    closing: LocalText = Field(default_factory=dict)
    reminder: LocalText = Field(
        default_factory=dict, description="the reminder's text; empty: a standard one"
    )
    anonymous: bool = False
    allow_again: bool = False
    closes_at: datetime | None = None
    questions: list[QuestionIn] = Field(min_length=1, max_length=60)

    @model_validator(mode="after")
    def _coherent(self) -> SurveyIn:
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def texts(value: dict[str, str] | str, base: str) -> dict[str, str]:
    """A per-locale text, normalised: locales mapped (``sr-Latn``), empty ones left out."""
    if isinstance(value, str):
        return {base: value.strip()} if value.strip() else {}
    found: dict[str, str] = {}
    for tag, text in value.items():
        locale = normalize_locale(tag) or tag
        if str(text).strip():
            found[locale] = str(text).strip()
    return found


def _problems(s: SurveyIn) -> list[str]:
    base = normalize_locale(s.base_locale) or s.base_locale
    problems: list[str] = []
    if base not in LOCALES:
        return [f"base_locale: {s.base_locale!r} is not one of {', '.join(LOCALES)}"]

    def check_text(where: str, value: dict[str, str] | str, required: bool = True) -> None:
        found = texts(value, base)
        unknown = sorted(set(found) - set(LOCALES))
        if unknown:
            problems.append(f"{where}: unknown locale {', '.join(unknown)}")
        if required and base not in found:
            problems.append(f"{where}: the {base} text is missing")

    if s.closes_at is not None and (
        s.closes_at.tzinfo is None or not 2000 <= s.closes_at.year <= 2100
    ):
        problems.append("closes_at: give a date and time with its time zone, e.g. "
                        "2026-12-31T18:00:00+02:00")  # fmt: skip
    if _has_nul(s.model_dump()):
        problems.append("texts must not contain NUL characters")
    check_text("title", s.title)
    for field in ("intro", "closing", "reminder"):
        check_text(field, getattr(s, field), required=False)
    seen: dict[str, QuestionIn] = {}
    for number, q in enumerate(s.questions, start=1):
        where = f"question {number} ({q.id})"
        if q.id in seen:
            problems.append(f"{where}: the id {q.id!r} is used twice")
        check_text(f"{where}: text", q.text)
        if q.type in CHOICE_KINDS:
            if len(q.options) < 2:
                problems.append(f"{where}: a {q.type} choice needs at least 2 options")
            ids = [o.id for o in q.options]
            if len(set(ids)) != len(ids):
                problems.append(f"{where}: option ids must differ")
            for o in q.options:
                check_text(f"{where}: option {o.id}", o.label)
        elif q.options:
            problems.append(f"{where}: only single and multiple choices have options")
        if (q.min is not None or q.max is not None) and q.type != "number":
            problems.append(f"{where}: min and max are for number questions")
        if q.min is not None and q.max is not None and q.min > q.max:
            problems.append(f"{where}: min is above max")
        if q.whole and q.type != "number":
            problems.append(f"{where}: whole is for number questions")
        if (q.earliest or q.latest) and q.type != "date":
            problems.append(f"{where}: earliest and latest are for date questions")
        if q.earliest and q.latest and _day(q.earliest) > _day(q.latest):
            problems.append(f"{where}: earliest is after latest")
        if texts(q.message, base) and q.type not in ("number", "date"):
            problems.append(f"{where}: a message is for number and date questions")
        check_text(f"{where}: hint", q.hint, required=False)
        check_text(f"{where}: message", q.message, required=False)
        if q.show_if is not None:
            problems.extend(_condition_problems(where, q.show_if, seen))
        seen[q.id] = q
    return problems


def _has_nul(value: Any) -> bool:
    """PostgreSQL cannot store the NUL character, in text or JSON."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _day(limit: str) -> date:
    return date.today() if limit == "today" else date.fromisoformat(limit)


def _condition_problems(where: str, c: ConditionIn, earlier: dict[str, QuestionIn]) -> list[str]:
    if c.all is not None or c.any is not None:
        return [
            p for part in (c.all or c.any or []) for p in _condition_problems(where, part, earlier)
        ]
    source = earlier.get(str(c.question))
    if source is None:
        return [f"{where}: show_if refers to {c.question!r}, which is not an earlier question"]
    if c.equals is not None:
        values = [c.equals]
    elif c.not_equals is not None:
        values = [c.not_equals]
    else:
        values = list(c.any_of or [])
    numeric = source.type == "number" or source.type in RATINGS
    if any(v is not None for v in (c.at_least, c.at_most, c.above, c.below)):
        return [] if numeric else [f"{where}: at_least/at_most need a number or rating question"]
    if c.not_equals is not None and source.type == "multiple":
        return [f"{where}: show_if: not_equals cannot test a multiple choice"]
    if source.type in CHOICE_KINDS:
        ids = {o.id for o in source.options}
        wrong = [str(v) for v in values if str(v) not in ids]
        return [f"{where}: show_if: {c.question} has no option {', '.join(wrong)}"] if wrong else []
    if source.type == "yes_no":
        wrong = [str(v) for v in values if yes_no_value(v) is None]
        return [f"{where}: show_if: {c.question} is answered yes or no"] if wrong else []
    if numeric:
        wrong = [str(v) for v in values if isinstance(v, bool) or not is_number(v)]
        return [f"{where}: show_if: {c.question} is answered with a number"] if wrong else []
    return [f"{where}: show_if cannot test a {source.type} answer"]


def yes_no_value(value: Value) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"yes": True, "no": False, "true": True, "false": False}.get(str(value).lower())


def is_number(value: Value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def parse_definition(data: Any) -> SurveyIn:
    """A definition from parsed YAML or JSON; SurveyFormatError lists every problem."""
    try:
        return SurveyIn.model_validate(data)
    except ValidationError as exc:
        problems = [_explain(e) for e in exc.errors()]
        # The cross-field checks come as one error: one problem per line reads better.
        raise SurveyFormatError([p for found in problems for p in found.split("; ")]) from None


def load_yaml(text: str | bytes) -> SurveyIn:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SurveyFormatError(
            [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from None
    if not isinstance(data, dict):
        raise SurveyFormatError(["the file must describe one survey (title, questions, ...)"])
    return parse_definition(data)


def _explain(error: Any) -> str:
    parts: list[str] = []
    loc = list(error.get("loc", ()))
    for i, part in enumerate(loc):
        if isinstance(part, int) and i and loc[i - 1] in ("questions", "options"):
            parts[-1] = f"{'question' if loc[i - 1] == 'questions' else 'option'} {part + 1}"
        elif isinstance(part, str) and part not in ("str", "dict[str,str]", "function-after"):
            parts.append(part)
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{' → '.join(parts)}: {message}" if parts else message
