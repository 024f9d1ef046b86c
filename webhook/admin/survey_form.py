"""The survey builder's form, read and written: a stored survey into the fields of the form, the
fields back into a definition checked by ``bot.surveys_format``, and the format's problems
placed beside the field they are about, in words the secretariat can act on."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import LANGUAGE_NAMES, LOCALES
from bot.i18n.markers import N_
from bot.storage.models import Survey, SurveyQuestion
from bot.surveys.answers import CHOICE_KINDS, KINDS, label
from bot.surveys.format import MAX_OPTIONS, SurveyFormatError, SurveyIn, parse_definition
from bot.surveys.wording import slug
from bot.surveys.xlsform import relevant

MAX_QUESTIONS = 60
TESTS = ("equals", "any_of", "at_least", "at_most")
KIND_NAMES: dict[str, str] = {
    "single": N_("Single choice"),
    "multiple": N_("Multiple choice"),
    "yes_no": N_("Yes or no"),
    "rating5": N_("Rating from 1 to 5"),
    "rating10": N_("Rating from 0 to 10"),
    "number": N_("Number"),
    "short_text": N_("Short text"),
    "date": N_("Date"),
}
TEST_NAMES: dict[str, str] = {
    "equals": N_("is"),
    "any_of": N_("is one of (separate with commas)"),
    "at_least": N_("is at least"),
    "at_most": N_("is at most"),
}
Problem = tuple[str, dict[str, Any]]


@dataclass
class Option:
    key: str = ""
    label: dict[str, str] = field(default_factory=dict)
    made: str = ""  # the id as last made from the label; "" once written by hand


@dataclass
class Question:
    key: str = ""
    kind: str = "single"
    text: dict[str, str] = field(default_factory=dict)
    options: list[Option] = field(default_factory=list)
    skippable: bool = False
    min: str = ""
    max: str = ""
    if_question: str = ""
    if_test: str = "equals"
    if_value: str = ""
    # What the builder does not show, kept as it is (JSON): an imported XLSForm's hint,
    # limits and message, and a condition beyond one test.
    extra: str = ""
    made: str = ""  # the id as last made from the text; "" once written by hand or stored


KEPT = {"hint": None, "whole": ("number",), "message": ("number", "date"),
        "earliest": ("date",), "latest": ("date",)}  # fmt: skip


def _extra(q: SurveyQuestion, condition: dict[str, Any]) -> str:
    found: dict[str, Any] = {}
    if q.hint:
        found["hint"] = q.hint
    found.update(q.rules or {})
    if condition and not (
        "question" in condition and len(condition) == 2 and any(t in condition for t in TESTS)
    ):
        found["show_if"] = condition
    return json.dumps(found, ensure_ascii=False) if found else ""


def _kept(q: Question) -> dict[str, Any]:
    try:
        found = json.loads(q.extra) if q.extra else {}
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    kept = {k: v for k, v in found.items() if k in KEPT and (KEPT[k] is None or q.kind in KEPT[k])}
    if isinstance(found.get("show_if"), dict) and not q.if_question:
        kept["show_if"] = found["show_if"]
    return kept


def kept_hint(q: Question) -> dict[str, str] | None:
    """The hint an imported question keeps unseen, for the preview and the translation check."""
    hint = _kept(q).get("hint")
    return hint if isinstance(hint, dict) else None


@dataclass
class Builder:
    """The builder's fields as the page shows them; ``problems`` by field id (``""``: the
    survey as a whole)."""

    name: str = ""
    base_locale: str = "en"
    locales: list[str] = field(default_factory=lambda: ["en"])
    title: dict[str, str] = field(default_factory=dict)
    intro: dict[str, str] = field(default_factory=dict)
    closing: dict[str, str] = field(default_factory=dict)
    reminder: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    allow_again: bool = False
    closes_at: str = ""  # datetime-local, in the secretariat's zone
    questions: list[Question] = field(default_factory=list)
    problems: dict[str, list[Problem]] = field(default_factory=dict)

    def problem(self, where: str, says: str, **values: Any) -> None:
        self.problems.setdefault(where, []).append((says, values))


def blank_question(b: Builder) -> Question:
    """A new question: its id and its options' ids are made from their texts as they come."""
    return Question(options=[Option(), Option()])


def blank() -> Builder:
    b = Builder()
    b.questions.append(blank_question(b))
    return b


def local_value(at: datetime | None, zone: str) -> str:
    """A stored time as a datetime-local field shows it: in the secretariat's zone."""
    if at is None:
        return ""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def from_survey(s: Survey, questions: list[SurveyQuestion], zone: str) -> Builder:
    """A stored survey as the builder shows it."""
    written = {s.base_locale}
    for texts in (s.title, s.intro, s.closing, s.reminder, *(q.text for q in questions)):
        written |= set(texts or {})
    b = Builder(
        name=s.name or "", base_locale=s.base_locale, title=dict(s.title or {}),
        intro=dict(s.intro or {}), closing=dict(s.closing or {}),
        reminder=dict(s.reminder or {}), anonymous=s.anonymous,
        allow_again=s.allow_again, closes_at=local_value(s.closes_at, zone),
        locales=sorted((loc for loc in written if loc in LOCALES),
                       key=lambda loc: (loc != s.base_locale, LOCALES.index(loc))),
    )  # fmt: skip
    for q in questions:
        c = q.show_if or {}
        extra = _extra(q, c)
        if "show_if" in (json.loads(extra) if extra else {}):
            c = {}  # beyond one test: kept as it is
        test = next((t for t in TESTS if t in c), "equals")
        value = c.get(test, "")
        if isinstance(value, list):
            value = ", ".join(_value(v) for v in value)
        b.questions.append(
            Question(
                key=q.key, kind=q.kind, text=dict(q.text or {}), skippable=not q.required,
                options=[Option(str(o["key"]), dict(o.get("label") or {})) for o in q.options],
                min=_number(q.min_value), max=_number(q.max_value),
                if_question=str(c.get("question", "")), if_test=test, if_value=_value(value),
                extra=extra,
            )
        )  # fmt: skip
    return b


def condition_of(c: dict[str, Any], kinds: dict[str, str] | None = None) -> tuple[str, str, str]:
    """A stored show-if as the pages say it: the question, the test's name, the answer; a
    condition beyond one of the builder's tests as an XLSForm expression, with no test."""
    if "question" not in c or not any(t in c for t in TESTS):
        return "", "", relevant(c, kinds or {})
    test = next((t for t in TESTS if t in c), "equals")
    value = c.get(test, "")
    shown = ", ".join(_value(v) for v in value) if isinstance(value, list) else _value(value)
    return str(c.get("question", "")), TEST_NAMES[test], shown


def condition_said(
    c: dict[str, Any], questions: list[SurveyQuestion], base: str
) -> tuple[str, str, str]:
    """``condition_of`` in the officer's words: the earlier question by its text, an option
    by its label, not by their ids."""
    question, test, value = condition_of(c, {q.key: q.kind for q in questions})
    source = next((q for q in questions if q.key == question), None)
    if source is None or not test:
        return question, test, value
    names = {str(o["key"]): label(o.get("label") or {}, base, base) for o in source.options}
    shown = ", ".join(names.get(v.strip(), v.strip()) for v in value.split(","))
    return f"“{label(source.text or {}, base, base)}”", test, shown if names else value


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return _number(v)
    return str(v)


def read(form: dict[str, str]) -> Builder:
    """The posted fields; what cannot be a survey at all (an unknown type) is dropped."""
    base = form.get("base_locale", "en")
    base = base if base in LOCALES else "en"
    shown = [loc for loc in LOCALES if f"title:{loc}" in form or loc == base]
    b = Builder(
        name=form.get("name", "").strip()[:200], base_locale=base,
        locales=sorted(shown, key=lambda loc: (loc != base, LOCALES.index(loc))),
        anonymous=bool(form.get("anonymous")), allow_again=bool(form.get("allow_again")),
        closes_at=form.get("closes_at", "").strip()[:16],
    )  # fmt: skip
    for part in ("title", "intro", "closing", "reminder"):
        setattr(b, part, _texts(form, part, shown))
    for n in range(MAX_QUESTIONS):
        p = f"q{n}-"
        if f"{p}type" not in form:
            continue
        kind = form[f"{p}type"] if form[f"{p}type"] in KINDS else "single"
        q = Question(
            key=form.get(f"{p}key", "").strip()[:40], kind=kind,
            text=_texts(form, f"{p}text", shown), skippable=bool(form.get(f"{p}skippable")),
            min=form.get(f"{p}min", "").strip()[:30], max=form.get(f"{p}max", "").strip()[:30],
            if_question=form.get(f"{p}if", "").strip()[:40],
            if_test=form.get(f"{p}if-test", "equals") if form.get(f"{p}if-test") in TESTS
            else "equals",
            if_value=form.get(f"{p}if-value", "").strip()[:400],
            extra=form.get(f"{p}extra", "")[:20000], made=form.get(f"{p}made", "").strip()[:40],
        )  # fmt: skip
        for m in range(MAX_OPTIONS + 1):
            o = f"{p}o{m}-"
            if f"{o}key" not in form:
                continue
            option = Option(form[f"{o}key"].strip()[:40], _texts(form, f"{o}label", shown),
                            form.get(f"{o}made", "").strip()[:40])  # fmt: skip
            listed = f"{o}made" in form  # a row the page showed as an option, even empty
            if listed or (option.key and option.key != option.made) or any(option.label.values()):
                q.options.append(option)
        b.questions.append(q)
    name_ids(b)
    return b


def _renamed(value: str, names: dict[str, str]) -> str:
    return names.get(value, value)


def name_ids(b: Builder) -> None:
    """Ids made from the texts: a question's or an option's id that is empty, or still the
    one last made (not written by hand), follows its base-language text; conditions follow
    the ids they name. Ids written by hand are taken first, so that a made one never takes
    theirs."""
    base = b.base_locale
    renamed: dict[str, str] = {}
    taken = {q.key for q in b.questions if q.key and q.key != q.made}
    for n, q in enumerate(b.questions, start=1):
        if q.key and q.key != q.made:
            continue
        new = slug(q.text.get(base, ""), taken, fallback=f"q{n}")
        if q.key and q.key != new:
            renamed[q.key] = new
        q.key = q.made = new
        taken.add(new)
    options: dict[str, dict[str, str]] = {}  # a question's old option ids → new
    for q in b.questions:
        mine: dict[str, str] = {}
        chosen = {o.key for o in q.options if o.key and o.key != o.made}
        for i, o in enumerate(q.options, start=1):
            if o.key and o.key != o.made:
                continue
            new = slug(o.label.get(base, ""), chosen, fallback=f"o{i}", question=False)
            if o.key and o.key != new:
                mine[o.key] = new
            o.key = o.made = new
            chosen.add(new)
        options[q.key] = mine
    by_key = {q.key: q for q in b.questions}
    for q in b.questions:
        if not q.if_question:
            continue
        q.if_question = _renamed(q.if_question, renamed)
        source = by_key.get(q.if_question)
        if source is None or source.kind not in CHOICE_KINDS:
            continue
        names = {
            text.strip().casefold(): o.key for o in source.options for text in o.label.values()
        }
        values = (
            [v.strip() for v in q.if_value.split(",")]
            if q.if_test == "any_of"
            else [q.if_value.strip()]
        )
        found = [
            names.get(v.casefold()) or _renamed(v, options.get(source.key, {})) for v in values
        ]
        q.if_value = ", ".join(v for v in found if v)


def question_named(b: Builder, key: str) -> str:
    """An earlier question as a condition names it: by its text in the base language."""
    source = next((e for e in b.questions if e.key == key), None)
    return f"“{source.text.get(b.base_locale) or key}”" if source else key


def shown_value(b: Builder, q: Question) -> str:
    """A condition's answer as the form shows it: a choice's options by their labels."""
    source = next((e for e in b.questions if e.key == q.if_question), None)
    if source is None or source.kind not in CHOICE_KINDS or not q.if_value:
        return q.if_value
    names = {o.key: o.label.get(b.base_locale) or o.key for o in source.options}
    return ", ".join(names.get(v.strip(), v.strip()) for v in q.if_value.split(","))


def _texts(form: dict[str, str], prefix: str, locales: list[str]) -> dict[str, str]:
    found = {loc: form.get(f"{prefix}:{loc}", "").replace("\r\n", "\n") for loc in locales}
    return {loc: text for loc, text in found.items() if text.strip()}


# ---------------------------------------------------------------- into a definition


def _parsed(raw: str) -> float | str:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return raw  # the format says it is not a number, beside the field


def _condition_value(raw: str, numeric: bool) -> Any:
    """A number for a number or rating question; an option's id or yes/no stays text."""
    return _parsed(raw) if numeric and re.fullmatch(r"-?\d+(?:[.,]\d+)?", raw) else raw


def definition(b: Builder, zone: str) -> dict[str, Any]:
    """The builder as the survey format (``docs/secretariat/surveys.md``)."""
    found: dict[str, Any] = {
        "name": b.name, "base_locale": b.base_locale, "title": b.title, "intro": b.intro,
        "closing": b.closing, "reminder": b.reminder, "anonymous": b.anonymous, "allow_again": b.allow_again,
        "questions": [],
    }  # fmt: skip
    if b.closes_at:
        try:
            found["closes_at"] = datetime.fromisoformat(b.closes_at).replace(tzinfo=ZoneInfo(zone))
        except ValueError:
            found["closes_at"] = b.closes_at
    numeric = {q.key for q in b.questions if q.kind in ("number", "rating5", "rating10")}
    for number, q in enumerate(b.questions, start=1):
        item: dict[str, Any] = {"id": q.key or f"q{number}", "type": q.kind, "text": q.text,
                                "required": not q.skippable}  # fmt: skip
        if q.kind in CHOICE_KINDS:
            item["options"] = [
                {"id": o.key or f"o{i}", "label": o.label} for i, o in enumerate(q.options, 1)
            ]
        if q.kind == "number":
            for bound in ("min", "max"):
                if getattr(q, bound):
                    item[bound] = _parsed(getattr(q, bound))
        if q.if_question:
            condition: dict[str, Any] = {"question": q.if_question}
            if q.if_test == "any_of":
                condition["any_of"] = [
                    _condition_value(v.strip(), q.if_question in numeric)
                    for v in q.if_value.split(",")
                    if v.strip()
                ]
            else:
                condition[q.if_test] = _condition_value(q.if_value, q.if_question in numeric)
            item["show_if"] = condition
        item.update(_kept(q))
        found["questions"].append(item)
    return found


def check(b: Builder, zone: str) -> SurveyIn | None:
    """The definition when the format accepts it; else None, with ``b.problems`` filled."""
    try:
        return parse_definition(definition(b, zone))
    except SurveyFormatError as exc:
        for text in exc.problems:
            place(b, text)
        return None


# ---------------------------------------------------------------- the format's words, placed

_WHERE = re.compile(
    r"^(?:questions → )?question (?P<n>\d+)(?: \([^)]*\))?(?P<rest>.*)$|^(?P<part>title|intro|"
    r"closing|reminder|closes_at|base_locale|name|questions)\b(?P<tail>.*)$"
)
# The format's explanation (English, for the API and files) → the dashboard's words.
_SAYS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"the (?P<loc>[\w-]+) text is missing"),
        N_("Write the {language} text: it is what every other language falls back to."),
    ),
    (re.compile(r"choice needs at least 2 options"), N_("A choice needs at least two options.")),
    (
        re.compile(r"option ids must differ"),
        N_("Two options have the same name; change one under “Advanced”."),
    ),
    (
        re.compile(r"is used twice"),
        N_("Two questions have the same name; change one under “Advanced”."),
    ),
    (re.compile(r"min is above max"), N_("The smallest number is above the largest.")),
    (
        re.compile(r"which is not an earlier question"),
        N_("A question can only depend on an earlier question."),
    ),
    (
        re.compile(r"at_least/at_most need a number"),
        N_("“At least” and “at most” need a number or rating question."),
    ),
    (re.compile(r"has no option (?P<value>.+)$"), N_("That question has no option {value}.")),
    (re.compile(r"is answered yes or no"), N_("That question is answered “yes” or “no”.")),
    (re.compile(r"is answered with a number"), N_("That question is answered with a number.")),
    (
        re.compile(r"show_if cannot test"),
        N_("An answer to a short text or a date question cannot be tested."),
    ),
    (re.compile(r"give one of equals"), N_("Write the answer this question waits for.")),
    (
        re.compile(r"closes_at|datetime|date and time"),
        N_("Give the closing date as a day and a time between 2000 and 2100."),
    ),
    (
        re.compile(r"should match pattern"),
        N_("Use up to 40 letters, digits, hyphens or underscores, without spaces."),
    ),
    (re.compile(r"valid number|finite number"), N_("Write a number.")),
    (re.compile(r"at least 1 item"), N_("Add at least one question.")),
    (re.compile(r"at most 12 items"), N_("A question has at most 12 options.")),
    (re.compile(r"at most 60 items"), N_("A survey has at most 60 questions.")),
    (re.compile(r"NUL"), N_("A text holds a character that cannot be stored.")),
    (re.compile(r"unknown locale"), N_("That language is not one the bot speaks.")),
    (re.compile(r"should have at most \d+ characters"), N_("This text is too long.")),
]


def place(b: Builder, text: str) -> None:
    """One problem of the format, beside its field and in the dashboard's words (the format's
    own words when it is one the dashboard does not know)."""
    where = ""
    found = _WHERE.match(text)
    if found and found.group("n"):
        n, rest = int(found.group("n")) - 1, found.group("rest")
        where = f"q{n}"
        if "show_if" in rest:
            where = f"q{n}-if"
        elif re.search(r"\boption\b|options", rest):
            where = f"q{n}-options"
        elif re.search(r"\bmin\b|\bmax\b", rest):
            where = f"q{n}-range"
        elif re.search(r"→ id|^: id|\bid\b.*pattern", rest):
            where = f"q{n}-key"
        elif "text" in rest:
            where = f"q{n}-text"
    elif found and found.group("part"):
        where = {"questions": "", "base_locale": "", "name": ""}.get(
            found.group("part"), found.group("part")
        )
    for pattern, says in _SAYS:
        said = pattern.search(text)
        if said:
            values = said.groupdict()
            if "loc" in values:
                values = {"language": LANGUAGE_NAMES.get(values["loc"], values["loc"])}
            b.problem(where, says, **values)
            return
    b.problem(where, "{text}", text=text)
