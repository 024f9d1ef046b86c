"""XLSForm, the survey format of KoboToolbox and ODK: a form read with pyxform and mapped onto
the survey format, every row the chat cannot ask named with why before anything is saved; and
a survey written back as an XLSForm workbook (docs/secretariat/surveys.md says what maps to
what)."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from functools import cache
from pathlib import PurePath
from typing import Any

from babel import Locale
from pyxform.errors import PyXFormError
from pyxform.xls2json import workbook_to_json
from pyxform.xls2json_backends import get_xlsform

from bot.i18n import LOCALES, Translator, fold, normalize_locale
from bot.spreadsheet import printable
from bot.surveys.format import MAX_OPTIONS, SurveyFormatError, SurveyIn, parse_definition

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".md")
KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

ALIASES = {
    "select one": "select_one", "select all that apply": "select_multiple",
    "select multiple": "select_multiple", "int": "integer", "string": "text",
    "trigger": "acknowledge", "begin group": "begin_group", "end group": "end_group",
    "begin repeat": "begin_repeat", "end repeat": "end_repeat", "begin_loop": "begin_repeat",
    "begin loop": "begin_repeat", "end_loop": "end_repeat", "end loop": "end_repeat",
    "photo": "image", "select one from file": "select_one_from_file",
    "select multiple from file": "select_multiple_from_file",
}  # fmt: skip
# Collected by a phone, not asked: the chat records its own start, end and channel.
META = {
    "start", "end", "today", "deviceid", "phonenumber", "username", "simserial",
    "subscriberid", "email", "audit", "imei", "uri:deviceid", "uri:email", "uri:username",
    "uri:subscriberid", "uri:phonenumber", "uri:simserial",
}  # fmt: skip
WHY = {
    "begin_repeat": "repeats: the chat asks each question once",
    "geopoint": "a location cannot be given in a chat",
    "geotrace": "a location cannot be given in a chat",
    "geoshape": "a location cannot be given in a chat",
    "start-geopoint": "a location cannot be given in a chat",
    "image": "the chat takes typed answers, not photos",
    "audio": "the chat takes typed answers, not recordings",
    "background-audio": "the chat takes typed answers, not recordings",
    "video": "the chat takes typed answers, not videos",
    "file": "the chat takes typed answers, not files",
    "barcode": "a barcode cannot be scanned in a chat",
    "calculate": "the chat cannot evaluate calculations",
    "time": "the chat asks for dates, not times of day",
    "datetime": "the chat asks for dates, not times of day",
    "rank": "the chat cannot ask for a ranking",
    "select_one_from_file": "choices from a separate file cannot be read",
    "select_multiple_from_file": "choices from a separate file cannot be read",
    "select_one_external": "choices from a separate file cannot be read",
    "hidden": "a hidden value cannot be evaluated",
    "xml-external": "external data cannot be read",
    "csv-external": "external data cannot be read",
}
TYPES = {
    "select_one": "single", "select_multiple": "multiple", "integer": "number",
    "decimal": "number", "text": "short_text", "date": "date", "acknowledge": "yes_no",
    "range": "number",
}  # fmt: skip
TRUE = {"yes", "true", "true()", "1"}
FALSE = {"no", "false", "false()", "0", ""}


class XLSFormRefused(SurveyFormatError):
    """A form with rows the chat cannot ask, or that is not a readable XLSForm."""


# ---------------------------------------------------------------- languages


@cache
def _names() -> dict[str, str]:
    """A language's names, in English and in itself, folded, to its locale."""
    found: dict[str, str] = {}
    for locale in LOCALES:
        own = Locale.parse(locale)
        names = [
            own.get_display_name(locale), own.get_display_name("en"), own.english_name,
            own.get_language_name(locale), own.get_language_name("en"),
        ]  # fmt: skip
        for name in names:
            if name:
                found.setdefault(fold(name), locale)
    return found


def locale_of(language: str) -> str | None:
    """A column's language, ``English (en)``, ``Română (ro)``, ``ro`` or ``Romanian``, as one
    of the 13 locales; None when it is none of them."""
    text = language.strip()
    code = re.search(r"\(([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)\)\s*$", text)
    if code and normalize_locale(code.group(1)):
        return normalize_locale(code.group(1))
    name = re.sub(r"\s*\([^()]*\)\s*$", "", text) if code else text
    if re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*", name) and normalize_locale(name):
        return normalize_locale(name)
    return _names().get(fold(name)) or _names().get(fold(text))


def language_column(locale: str) -> str:
    """How an exported form names a locale's columns: ``Romanian (ro)``."""
    return f"{Locale.parse(locale).english_name} ({locale.replace('_', '-')})"


# ---------------------------------------------------------------- reading


class _Unreadable(ValueError):
    pass


def read(data: bytes, filename: str = "") -> SurveyIn:
    """A survey from an XLSForm (.xlsx, .xls, .csv or .md); XLSFormRefused lists, row by row,
    everything that cannot be used, and nothing is kept of a refused form."""
    suffix = PurePath(filename or "").suffix.lower()
    try:
        book = get_xlsform(io.BytesIO(data), file_type=suffix if suffix in SUFFIXES else None)
        workbook_to_json(book, fallback_form_name="survey", warnings=[])  # pyxform's own checks
    except PyXFormError as exc:
        raise XLSFormRefused([f"not a usable XLSForm: {exc}"]) from None
    except Exception:  # a damaged or foreign file: openpyxl and csv raise their own
        raise XLSFormRefused(["not an XLSForm: give an .xlsx, .xls, .csv or .md form"]) from None
    return _Reader(book, PurePath(filename or "survey").stem).survey()


def _split(column: str) -> tuple[str, str | None]:
    base, _, language = column.partition("::")
    base = base.strip().lower().replace("_", " ")
    return base, (language.strip() or None)


class _Reader:
    def __init__(self, book: Any, stem: str) -> None:
        self.book = book
        self.stem = stem
        self.problems: list[str] = []
        settings = (book.settings or [{}])[0] if book.settings else {}
        self.settings = {str(k).strip().lower(): str(v) for k, v in settings.items()}
        self.base = self._base()
        self.kinds: dict[str, str] = {}
        self.options: dict[str, set[str]] = {}

    def _base(self) -> str:
        chosen = self.settings.get("default_language", "").strip()
        if chosen and chosen.lower() != "default":
            found = locale_of(chosen)
            if found:
                return found
            self.problems.append(
                f"settings: default_language {chosen!r} is not one of {', '.join(LOCALES)}"
            )
        languages = [
            locale_of(lang)
            for row in self.book.survey or []
            for column in row
            for base, lang in [_split(column)]
            if base == "label" and lang
        ]
        known = [x for x in languages if x]
        return "en" if "en" in known or not known else known[0]

    def texts(self, row: dict[str, Any], field: str, where: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for column, value in row.items():
            base, language = _split(str(column))
            if base != field or not str(value).strip():
                continue
            locale = self.base if language is None or language == "default" else locale_of(language)
            if locale is None:
                self.problems.append(
                    f"{where}: column {column}: {language!r} is not one of the languages "
                    f"({', '.join(LOCALES)}); name it like English (en) or Română (ro)"
                )
                continue
            found[locale] = str(value).strip()
        return found

    def choices(self) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        lists: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for number, row in enumerate(self.book.choices or [], start=2):
            name = str(row.get("list_name") or row.get("list name") or "").strip()
            if name:
                lists.setdefault(name, []).append((number, row))
        return lists

    def survey(self) -> SurveyIn:
        lists = self.choices()
        questions: list[dict[str, Any]] = []
        rows: list[int] = []  # each question's row, for the format's own problems
        pending: list[dict[str, str]] = []  # notes, for the next question's text
        intro: list[dict[str, str]] = []
        groups: list[dict[str, Any] | None] = []
        skip_depth = 0
        for number, raw in enumerate(self.book.survey or [], start=2):
            row = {str(k).strip(): v for k, v in raw.items()}
            lowered = {k.lower(): str(v).strip() for k, v in row.items()}
            kind_text = re.sub(r"\s+", " ", lowered.get("type", "")).strip()
            if not kind_text:
                continue
            first, _, rest = kind_text.partition(" ")
            for alias, real in ALIASES.items():
                if kind_text == alias or kind_text.startswith(alias + " "):
                    first, rest = real, kind_text[len(alias) :].strip()
                    break
            first = first.lower()
            name = lowered.get("name", "")
            where = f"row {number}" + (f" ({name})" if name else "")
            if skip_depth:
                skip_depth += {"begin_repeat": 1, "end_repeat": -1}.get(first, 0)
                continue
            if first == "begin_repeat":
                self.problems.append(f"{where}: {WHY['begin_repeat']}")
                skip_depth = 1
                continue
            if first == "begin_group":
                groups.append(self.condition(lowered.get("relevant", ""), where))
                continue
            if first == "end_group":
                if groups:
                    groups.pop()
                continue
            if first in META:
                continue
            if first in WHY:
                self.problems.append(f"{where}: {first}: {WHY[first]}")
                continue
            if first == "note":
                if lowered.get("relevant"):
                    self.problems.append(f"{where}: a note shown only under a condition "
                                         "cannot be asked; drop its relevant")  # fmt: skip
                    continue
                text = self.texts(row, "label", where)
                (pending if questions else intro).append(text)
                continue
            if first not in TYPES:
                self.problems.append(f"{where}: the chat cannot ask a {first!r} question")
                continue
            question = self.question(row, lowered, first, rest, where, lists)
            if question is None:
                continue
            conditions = [g for g in groups if g]
            own = self.condition(lowered.get("relevant", ""), where)
            if own:
                conditions.append(own)
            if conditions:
                question["show_if"] = conditions[0] if len(conditions) == 1 else {"all": conditions}
            for note in reversed(pending):
                question["text"] = _joined(note, question["text"], self.base)
            pending = []
            self.kinds[question["id"]] = question["type"]
            questions.append(question)
            rows.append(number)
        if not questions and not self.problems:
            self.problems.append("survey sheet: no question the chat can ask")
        title = self.settings.get("form_title", "").strip() or self.settings.get(
            "form_id", ""
        ).strip() or self.stem  # fmt: skip
        definition: dict[str, Any] = {
            "name": title[:200],
            "base_locale": self.base,
            # One form_title for every language the form is written in: members are asked
            # in the languages of the survey's title.
            "title": {locale: title for locale in {self.base, *self.written(questions)}},
            "questions": questions,
        }
        if intro:
            definition["intro"] = _merged(intro, self.base)
        if pending:
            definition["closing"] = _merged(pending, self.base)
        if self.problems:
            raise XLSFormRefused(self.problems)
        try:
            return parse_definition(definition)
        except SurveyFormatError as exc:
            raise XLSFormRefused([_by_row(p, rows) for p in exc.problems]) from None

    @staticmethod
    def written(questions: list[dict[str, Any]]) -> set[str]:
        return {locale for q in questions for locale in q["text"]}

    def question(
        self,
        row: dict[str, Any],
        lowered: dict[str, str],
        first: str,
        rest: str,
        where: str,
        lists: dict[str, list[tuple[int, dict[str, Any]]]],
    ) -> dict[str, Any] | None:
        name = lowered.get("name", "")
        found = len(self.problems)
        if not KEY.fullmatch(name):
            self.problems.append(f"{where}: the name {name!r} must be up to 40 letters, digits, "
                                 "_ or - (no spaces or dots)")  # fmt: skip
        for column in ("choice_filter", "choice filter"):
            if lowered.get(column):
                self.problems.append(f"{where}: choice_filter: cascading choices cannot be "
                                     "asked in a chat")  # fmt: skip
        if lowered.get("calculation"):
            self.problems.append(f"{where}: calculation: {WHY['calculate']}")
        if lowered.get("read_only", "").lower() in TRUE:
            self.problems.append(f"{where}: read_only: a question no one may answer")
        if lowered.get("repeat_count"):
            self.problems.append(f"{where}: repeat_count: {WHY['begin_repeat']}")
        for column, value in lowered.items():
            base, _ = _split(column)
            if value and base in ("image", "audio", "video", "big-image", "media"):
                self.problems.append(f"{where}: {column}: pictures and sounds in a question "
                                     "cannot be sent with it")  # fmt: skip
        required = lowered.get("required", "").lower()
        if required not in TRUE | FALSE:
            self.problems.append(f"{where}: required {lowered['required']!r}: only yes or no "
                                 "(a question required under a condition cannot be asked)")  # fmt: skip
        question: dict[str, Any] = {
            "id": name,
            "type": TYPES[first],
            "text": self.texts(row, "label", where),
            "required": required in TRUE,
        }
        if hint := self.texts(row, "hint", where):
            question["hint"] = hint
        if first in ("select_one", "select_multiple"):
            list_name, _, extra = rest.partition(" ")
            if extra.strip() == "or_other":
                self.problems.append(f"{where}: or_other: the chat cannot take a typed "
                                     "answer among the choices")  # fmt: skip
            choices = lists.get(list_name)
            if not list_name or not choices:
                self.problems.append(
                    f"{where}: no choices named {list_name!r} in the choices sheet"
                )
                return None
            if len(choices) > MAX_OPTIONS:
                self.problems.append(f"{where}: {len(choices)} choices; a phone screen of "
                                     f"buttons holds {MAX_OPTIONS}")  # fmt: skip
            options = []
            for number, choice in choices:
                key = str(choice.get("name", "")).strip()
                if not KEY.fullmatch(key):
                    self.problems.append(f"choices row {number}: the name {key!r} must be up "
                                         "to 40 letters, digits, _ or -")  # fmt: skip
                for column, value in choice.items():
                    base, _ = _split(str(column))
                    if str(value).strip() and base in ("image", "audio", "video", "media"):
                        self.problems.append(f"choices row {number}: {column}: pictures and "
                                             "sounds cannot be sent with a choice")  # fmt: skip
                options.append(
                    {"id": key, "label": self.texts(choice, "label", f"choices row {number}")}
                )
            self.options[name] = {o["id"] for o in options}
            if first == "select_one" and {o["id"] for o in options} == {"yes", "no"}:
                question["type"] = "yes_no"  # the chat reads yes and no in every language
            else:
                question["options"] = options
        if first == "range":
            self.range(question, lowered, where)
        if first == "integer":
            question["whole"] = True
        if lowered.get("constraint"):
            self.constraint(question, row, lowered["constraint"], where)
        return question if len(self.problems) == found else None

    def range(self, question: dict[str, Any], lowered: dict[str, str], where: str) -> None:
        found = dict(re.findall(r"(\w+)\s*=\s*([-\d.]+)", lowered.get("parameters", "")))
        try:
            start, end, step = (float(found.get(k, d)) for k, d in
                                (("start", 1), ("end", 10), ("step", 1)))  # fmt: skip
        except ValueError:
            self.problems.append(f"{where}: parameters: start, end and step must be numbers")
            return
        if (start, end, step) == (1, 5, 1):
            question["type"] = "rating5"
        elif (start, end, step) == (0, 10, 1):
            question["type"] = "rating10"
        else:
            low, high = min(start, end), max(start, end)
            question.update({"min": low, "max": high})
            if all(float(x).is_integer() for x in (start, end, step)):
                question["whole"] = True

    def constraint(
        self, question: dict[str, Any], row: dict[str, Any], expression: str, where: str
    ) -> None:
        kind = question["type"]
        why = (f"{where}: constraint {expression!r}: the chat checks ranges of numbers and "
               "dates only (. >= 0 and . <= 120, . <= today(), . >= date('2020-01-01'))")  # fmt: skip
        if kind not in ("number", "date"):
            self.problems.append(why)
            return
        for part in re.split(r"\s+and\s+", expression.strip()):
            found = re.fullmatch(
                r"\.\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?|today\(\)|date\(\s*'(\d{4}-\d{2}-\d{2})'\s*\))",
                part.strip(),
            )
            if not found:
                self.problems.append(why)
                return
            op, value, day = found.groups()
            if kind == "number" and not value[0].isdigit() and value[0] != "-":
                self.problems.append(why)
                return
            if kind == "number":
                number = float(value)
                if op in (">", "<"):
                    if not question.get("whole") or not number.is_integer():
                        self.problems.append(f"{where}: constraint {expression!r}: give a "
                                             "decimal's limits with >= and <=")  # fmt: skip
                        return
                    number += 1 if op == ">" else -1
                question["min" if op[0] == ">" else "max"] = number
                continue
            if value[0].isdigit() or value[0] == "-":
                self.problems.append(why)
                return
            limit = "today" if day is None else day
            if op in (">", "<"):
                if limit == "today":
                    self.problems.append(f"{where}: constraint {expression!r}: use <= today() "
                                         "or >= today()")  # fmt: skip
                    return
                moved = date.fromisoformat(limit) + timedelta(days=1 if op == ">" else -1)
                limit = moved.isoformat()
            question["earliest" if op[0] == ">" else "latest"] = limit
        message = self.texts(row, "constraint message", where) or self.texts(
            row, "jr:constraintmsg", where
        )  # fmt: skip
        if message:
            question["message"] = message

    def condition(self, expression: str, where: str) -> dict[str, Any] | None:
        if not expression.strip():
            return None
        try:
            parser = _Condition(expression, self.kinds, self.options)
            return parser.parse()
        except _Unreadable as exc:
            self.problems.append(f"{where}: relevant {expression!r}: {exc}")
            return None


def _joined(note: dict[str, str], text: dict[str, str], base: str) -> dict[str, str]:
    found = dict(text)
    for locale in set(text) | set(note):
        before = note.get(locale) or note.get(base, "")
        after = text.get(locale) or text.get(base, "")
        found[locale] = "\n\n".join(t for t in (before, after) if t)
    return found


def _merged(notes: list[dict[str, str]], base: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for note in notes:
        found = _joined(found, note, base) if found else dict(note)
    return found


def _by_row(problem: str, rows: list[int]) -> str:
    found = re.match(r"question (\d+) \(", problem)
    if found and 0 < int(found.group(1)) <= len(rows):
        return f"row {rows[int(found.group(1)) - 1]} (" + problem[found.end() :]
    return problem


TOKEN = re.compile(
    r"\s*(?:(?P<ref>\$\{[^}]+\})|(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<op>!=|>=|<=|=|>|<)|(?P<word>[A-Za-z_][\w-]*)|(?P<punct>[(),]))"
)
OPS = {"=": "equals", "!=": "not_equals", ">=": "at_least", "<=": "at_most", ">": "above",
       "<": "below"}  # fmt: skip
SUPPORTED = ("the chat follows ${q} = 'x', ${q} != 'x', selected(${q}, 'x'), numeric "
             "comparisons, and and/or of those")  # fmt: skip


class _Condition:
    """A relevant expression as a show-if: comparisons, selected(), and/or, brackets."""

    def __init__(self, text: str, kinds: dict[str, str], options: dict[str, set[str]]) -> None:
        self.kinds, self.options = kinds, options
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = TOKEN.match(text, position)
            if not found or found.end() == position:
                raise _Unreadable(SUPPORTED)
            group = found.lastgroup or ""
            self.tokens.append((group, found.group(group)))
            position = found.end()
        self.at = 0

    def parse(self) -> dict[str, Any]:
        found = self._or()
        if self.at != len(self.tokens):
            raise _Unreadable(SUPPORTED)
        return found

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("", "")

    def _take(self, group: str, value: str | None = None) -> str:
        kind, text = self._peek()
        if kind != group or (value is not None and text.lower() != value):
            raise _Unreadable(SUPPORTED)
        self.at += 1
        return text

    def _joined(self, word: str, part: Any) -> dict[str, Any]:
        parts = [part()]
        while self._peek()[0] == "word" and self._peek()[1].lower() == word:
            self.at += 1
            parts.append(part())
        if len(parts) == 1:
            return parts[0]
        key = "all" if word == "and" else "any"
        flat: list[dict[str, Any]] = []
        for p in parts:
            flat.extend(p[key] if key in p else [p])
        return {key: flat}

    def _or(self) -> dict[str, Any]:
        return self._joined("or", self._and)

    def _and(self) -> dict[str, Any]:
        return self._joined("and", self._atom)

    def _atom(self) -> dict[str, Any]:
        kind, text = self._peek()
        if kind == "punct" and text == "(":
            self.at += 1
            found = self._or()
            self._take("punct", ")")
            return found
        if kind == "word" and text.lower() == "selected":
            self.at += 1
            self._take("punct", "(")
            question = self._question()
            self._take("punct", ",")
            value = self._literal()
            self._take("punct", ")")
            return self._leaf(question, "equals", value)
        if kind == "word" and text.lower() == "not":
            raise _Unreadable(f"not(...) cannot be followed; {SUPPORTED}")
        question = self._question()
        op = self._take("op")
        return self._leaf(question, OPS[op], self._literal())

    def _question(self) -> str:
        ref = self._take("ref")
        name = ref[2:-1].strip()
        if name not in self.kinds:
            raise _Unreadable(f"{name!r} is not an earlier question the chat asks")
        return name

    def _literal(self) -> str | float:
        kind, text = self._peek()
        if kind == "str":
            self.at += 1
            return text[1:-1]
        if kind == "num":
            self.at += 1
            return float(text)
        raise _Unreadable(SUPPORTED)

    def _leaf(self, question: str, test: str, value: str | float) -> dict[str, Any]:
        kind = self.kinds[question]
        numeric = kind == "number" or kind.startswith("rating")
        if test in ("at_least", "at_most", "above", "below"):
            if not numeric:
                raise _Unreadable(f"{question} is not answered with a number")
            try:
                return {"question": question, test: float(value)}
            except ValueError:
                raise _Unreadable(f"compare {question} with a number") from None
        if value == "" or (isinstance(value, str) and not value.strip()):
            raise _Unreadable("whether a question was answered cannot be followed; test its value")
        if kind == "yes_no" and str(value).lower() == "ok":
            value = "yes"  # an acknowledge's value
        if kind == "multiple" and test == "not_equals":
            raise _Unreadable("use not(selected()) ... which the chat cannot follow")
        if isinstance(value, float) and value.is_integer() and not numeric:
            value = str(int(value))
        if kind in ("single", "multiple") and str(value) not in self.options.get(question, set()):
            raise _Unreadable(f"{question} has no choice {value!r}")
        if numeric and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise _Unreadable(f"{question} is answered with a number") from None
        return {"question": question, test: value}


# ---------------------------------------------------------------- writing


def workbook(definition: dict[str, Any], form_id: str = "survey") -> bytes:
    """A survey definition (``store.definition_of``) as an XLSForm workbook that pyxform
    converts and KoboToolbox loads: the survey, choices and settings sheets."""
    from openpyxl import Workbook

    base = definition["base_locale"]
    used: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            used.update(k for k, v in value.items() if k in LOCALES and isinstance(v, str))

    for field in ("title", "intro", "closing"):
        collect(definition.get(field))
    for q in definition["questions"]:
        collect(q.get("text"))
        collect(q.get("hint"))
        collect(q.get("message"))
        for o in q.get("options") or []:
            collect(o["label"])
    locales = [base] + [x for x in LOCALES if x in used and x != base]
    columns = {x: language_column(x) for x in locales}

    def localised(field: str, value: Any) -> dict[str, str]:
        if not value:
            return {}
        if isinstance(value, str):
            value = {base: value}
        return {f"{field}::{columns[x]}": value.get(x) or value.get(base) or "" for x in locales}

    kinds = {q["id"]: q["type"] for q in definition["questions"]}
    rows: list[dict[str, Any]] = []
    choices: list[dict[str, Any]] = []
    if definition.get("intro"):
        rows.append({"type": "note", "name": "intro", **localised("label", definition["intro"])})
    yes_no = "yes_no_choice"
    while yes_no in kinds:
        yes_no += "_"
    if "yes_no" in kinds.values():
        for name in ("yes", "no"):
            labels = {x: Translator(x)("Yes" if name == "yes" else "No") for x in locales}
            choices.append({"list_name": yes_no, "name": name, **localised("label", labels)})
    for q in definition["questions"]:
        kind = q["type"]
        row: dict[str, Any] = {"name": q["id"], **localised("label", q["text"])}
        row.update(localised("hint", q.get("hint")))
        row["required"] = "yes" if q.get("required", True) else "no"
        if kind in ("single", "multiple"):
            row["type"] = f"select_{'one' if kind == 'single' else 'multiple'} {q['id']}"
            for o in q["options"]:
                choices.append(
                    {"list_name": q["id"], "name": o["id"], **localised("label", o["label"])}
                )
        elif kind == "yes_no":
            row["type"] = f"select_one {yes_no}"
        elif kind in ("rating5", "rating10"):
            low, high = (1, 5) if kind == "rating5" else (0, 10)
            row.update(type="range", parameters=f"start={low} end={high} step=1")
        elif kind == "number":
            row["type"] = "integer" if q.get("whole") else "decimal"
            limits = [f". >= {_num(q['min'])}" if q.get("min") is not None else "",
                      f". <= {_num(q['max'])}" if q.get("max") is not None else ""]  # fmt: skip
            row["constraint"] = " and ".join(x for x in limits if x)
        elif kind == "date":
            row["type"] = "date"
            limits = [f". >= {_day(q['earliest'])}" if q.get("earliest") else "",
                      f". <= {_day(q['latest'])}" if q.get("latest") else ""]  # fmt: skip
            row["constraint"] = " and ".join(x for x in limits if x)
        else:
            row["type"] = "text"
        if row.get("constraint"):
            row.update(localised("constraint_message", q.get("message")))
        if q.get("show_if"):
            row["relevant"] = relevant(q["show_if"], kinds)
        rows.append(row)
    if definition.get("closing"):
        rows.append(
            {"type": "note", "name": "closing", **localised("label", definition["closing"])}
        )
    title = definition.get("title") or {}
    title_text = title.get(base) if isinstance(title, dict) else str(title)
    settings = {"form_title": title_text or definition.get("name") or form_id,
                "form_id": form_id, "default_language": columns[base]}  # fmt: skip

    book = Workbook()
    for index, (name, found) in enumerate((("survey", rows), ("choices", choices),
                                           ("settings", [settings]))):  # fmt: skip
        sheet = book.active if index == 0 else book.create_sheet(name)
        sheet.title = name
        header: list[str] = []
        for r in found:
            header.extend(k for k in r if k not in header)
        if name == "choices" and not header:
            header = ["list_name", "name", f"label::{columns[base]}"]
        sheet.append(header)
        for r in found:
            sheet.append([printable(r.get(k, "")) for k in header])
        _as_text(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _as_text(sheet: Any) -> None:
    """A text beginning with = stays text: openpyxl would write it as a formula."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _day(limit: str) -> str:
    return "today()" if limit == "today" else f"date('{limit}')"


def relevant(condition: dict[str, Any], kinds: dict[str, str]) -> str:
    """A show-if as an XLSForm ``relevant`` expression (``kinds``: question types by id)."""
    if "all" in condition or "any" in condition:
        parts = condition.get("all") or condition.get("any") or []
        word = " and " if "all" in condition else " or "
        return word.join(f"({relevant(p, kinds)})" for p in parts)
    ref = "${" + str(condition["question"]) + "}"
    kind = kinds.get(str(condition["question"]), "")
    numeric = kind == "number" or kind.startswith("rating")

    def value(v: Any) -> str:
        if numeric:
            return _num(float(v))
        if kind == "yes_no":
            return "'yes'" if str(v).lower() in ("yes", "true") or v is True else "'no'"
        return "'" + str(v).replace("'", "") + "'"

    def equals(v: Any) -> str:
        return f"selected({ref}, {value(v)})" if kind == "multiple" else f"{ref} = {value(v)}"

    if "equals" in condition:
        return equals(condition["equals"])
    if "any_of" in condition:
        return " or ".join(equals(v) for v in condition["any_of"])
    if "not_equals" in condition:
        return f"{ref} != {value(condition['not_equals'])}"
    ops = {"at_least": ">=", "at_most": "<=", "above": ">", "below": "<"}
    return " and ".join(f"{ref} {op} {_num(float(condition[k]))}"
                        for k, op in ops.items() if condition.get(k) is not None)  # fmt: skip


# ---------------------------------------------------------------- either format

SPREADSHEET_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel", "text/csv", "text/markdown",
)  # fmt: skip


def is_xlsform(data: bytes, filename: str = "", content_type: str = "") -> bool:
    """Whether an uploaded survey is an XLSForm rather than YAML: by its name, its content
    type, or the zip and OLE signatures of .xlsx and .xls."""
    if PurePath(filename or "").suffix.lower() in SUFFIXES:
        return True
    if (content_type or "").split(";")[0].strip().lower() in SPREADSHEET_TYPES:
        return True
    return data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def load(data: bytes, filename: str = "", content_type: str = "") -> SurveyIn:
    """A survey file in either format, YAML or XLSForm; SurveyFormatError lists the problems."""
    if is_xlsform(data, filename, content_type):
        return read(data, filename)
    from bot.surveys.format import load_yaml

    try:
        return load_yaml(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SurveyFormatError(["the file is neither UTF-8 YAML nor an XLSForm"]) from None
