"""Reading what a member types in answer to a survey question: choices by number or label,
yes and no in every language, ratings, numbers, dates and short texts; and the short
explanation, in the member's language, when it cannot be read."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Any

from anyascii import anyascii
from babel.numbers import get_decimal_symbol

from bot.conversation.choosing import words_fit
from bot.i18n import LOCALES, Translator, fold
from bot.i18n.markers import C_
from bot.storage.models import SurveyQuestion

KINDS: tuple[str, ...] = (
    "single", "multiple", "yes_no", "rating5", "rating10", "number", "short_text", "date",
)  # fmt: skip
CHOICE_KINDS = ("single", "multiple")
RATINGS = {"rating5": (1, 5), "rating10": (0, 10)}
TEXT_LIMIT = 1000  # characters of a short text answer

# Words a member may type instead of tapping; each catalog lists its own, comma-separated.
# Translators: short, lower case, what people really type, also in Latin letters.
WORDS: dict[str, str] = {
    "yes": C_("answer", "yes, y, yeah, yep, ok, sure"),
    "no": C_("answer", "no, n, nope"),
    "back": C_("survey", "back, previous"),
    "skip": C_("survey", "skip, pass"),
    "done": C_("survey", "done, ready, finished"),
}
_CONTEXT = {"yes": "answer", "no": "answer", "back": "survey", "skip": "survey", "done": "survey"}


class AnswerError(ValueError):
    """The typed text is not an answer to the question; the message says why, translated."""


def loose(text: str) -> str:
    """A word folded for matching across scripts: case, accents, and Cyrillic, Armenian or
    Georgian letters typed in Latin ("да", "dа" with a Cyrillic a, and "da" are the same)."""
    return fold(anyascii(fold(text)).replace("'", ""))


def words(t: Translator, name: str) -> list[str]:
    return [w.strip() for w in t.pgettext(_CONTEXT[name], WORDS[name]).split(",") if w.strip()]


@cache
def vocabulary() -> dict[str, str]:
    """Every word of every locale, folded and transliterated, mapped to what it means."""
    table: dict[str, str] = {}
    for locale in LOCALES:
        t = Translator(locale)
        for name in WORDS:
            for word in words(t, name) + [name]:
                for form in (fold(word), loose(word)):
                    table.setdefault(form, name)
    return table


def meaning(text: str) -> str | None:
    """``yes``, ``no``, ``back``, ``skip`` or ``done`` when the text is one of those words."""
    if len(text) > 40:
        return None
    table = vocabulary()
    return table.get(fold(text)) or table.get(loose(text))


# Typed for "yes" and "no" where words would be.
THUMBS_UP = ("👍", "👌", "✅", "🆗")
THUMBS_DOWN = ("👎", "❌")


def thumb(text: str) -> str | None:
    """``yes`` or ``no`` for a thumb up or down (of any skin tone), typed where words would be."""
    typed = text.strip()
    if typed[:1] in THUMBS_UP:
        return "yes"
    return "no" if typed[:1] in THUMBS_DOWN else None


def label(texts: dict[str, Any] | str, locale: str, base: str) -> str:
    """A text in ``locale``, else in the base locale, else any written one."""
    if isinstance(texts, str):
        return texts
    for candidate in (locale, base):
        if str(texts.get(candidate) or "").strip():
            return str(texts[candidate]).strip()
    return next((str(v).strip() for v in texts.values() if str(v).strip()), "")


def bounds(question: SurveyQuestion) -> tuple[float | None, float | None]:
    if question.kind in RATINGS:
        low, high = RATINGS[question.kind]
        return float(low), float(high)
    return question.min_value, question.max_value


def hint(question: SurveyQuestion, t: Translator, *, numbered: bool = False) -> str:
    """How to answer, in one line: shown under the question and after an invalid answer;
    ``numbered`` where choices are typed as numbers, on a chat without buttons."""
    kind = question.kind
    if kind == "single":
        if numbered:
            return t("Reply with the number of your choice.")
        return t("Tap one of the options.")
    if kind == "multiple":
        if numbered:
            return t("Reply with the numbers of your choices, for example: 1, 3")
        return t("Tap your choices, then “Done”.")
    if kind == "yes_no":
        return t("Please answer yes or no.")
    if kind == "date":
        earliest, latest = date_limits(question)
        if earliest and latest:
            return t("Write a date from {earliest} to {latest}.",
                     earliest=t.date(earliest), latest=t.date(latest))  # fmt: skip
        if latest:
            return t("Write a date no later than {latest}.", latest=t.date(latest))
        if earliest:
            return t("Write a date no earlier than {earliest}.", earliest=t.date(earliest))
        return t("Write a date, for example {example}.", example=date.today().strftime("%d.%m.%Y"))
    if kind == "short_text":
        return t("Write your answer in a few words.")
    low, high = bounds(question)
    if low is not None and high is not None:
        return t("Reply with a number from {low} to {high}.", low=_n(t, low), high=_n(t, high))
    if low is not None:
        return t("Reply with a number of at least {low}.", low=_n(t, low))
    if high is not None:
        return t("Reply with a number of at most {high}.", high=_n(t, high))
    return t("Reply with a number.")


def date_limits(question: SurveyQuestion) -> tuple[date | None, date | None]:
    """The earliest and latest dates a question allows ("today" is read as today)."""
    rules = question.rules or {}
    found = [
        (date.today() if rules[k] == "today" else date.fromisoformat(rules[k]))
        if rules.get(k) else None
        for k in ("earliest", "latest")
    ]  # fmt: skip
    return found[0], found[1]


def out_of_range(question: SurveyQuestion, t: Translator, base: str) -> AnswerError:
    """The survey's own message for an answer out of range, else how to answer."""
    message = (question.rules or {}).get("message") or {}
    return AnswerError(label(message, t.locale, base) if message else hint(question, t))


def _n(t: Translator, value: float) -> str:
    return t.number(int(value) if float(value).is_integer() else value)


def parse(question: SurveyQuestion, text: str, t: Translator, base: str) -> Any:
    """The value to store for a typed answer, or AnswerError with the explanation."""
    text = text.strip()
    kind = question.kind
    if kind == "short_text":
        if not text:
            raise AnswerError(t("Write your answer in a few words."))
        if len(text) > TEXT_LIMIT:
            raise AnswerError(
                t.ngettext(
                    "Please keep your answer under {n} character.",
                    "Please keep your answer under {n} characters.",
                    TEXT_LIMIT,
                )
            )
        return text
    if kind == "yes_no":
        found = meaning(text) or thumb(text)
        if found in ("yes", "no"):
            return found == "yes"
        raise AnswerError(hint(question, t))
    if kind in CHOICE_KINDS:
        return _choices(question, text, t, base)
    if kind == "date":
        found_date = parse_date(text)
        if found_date is None:
            raise AnswerError(hint(question, t))
        earliest, latest = date_limits(question)
        if (earliest and found_date < earliest) or (latest and found_date > latest):
            raise out_of_range(question, t, base)
        return found_date.isoformat()
    number = parse_number(text, t.locale)
    if kind in RATINGS and number is None:
        stars = text.count("⭐") or (text.count("*") if set(text) <= {"*", " "} else 0)
        number = float(stars) if stars else None
    low, high = bounds(question)
    whole = kind in RATINGS or bool((question.rules or {}).get("whole"))
    if number is None:
        raise AnswerError(hint(question, t))
    if (
        (whole and not float(number).is_integer())
        or (low is not None and number < low)
        or (high is not None and number > high)
    ):
        raise out_of_range(question, t, base)
    return int(number) if float(number).is_integer() else number


def _choices(question: SurveyQuestion, text: str, t: Translator, base: str) -> Any:
    options = question.options or []
    multiple = question.kind == "multiple"
    if re.fullmatch(r"[\d\s,;.)/&+-]+", text) and re.search(r"\d", text):
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        parts: list[int | None] = [n - 1 if 1 <= n <= len(options) else None for n in numbers]
    else:
        pieces = re.split(r"[,;\n]+", text) if multiple else [text]
        parts = [_option_by_label(options, piece) for piece in pieces if piece.strip()]
    chosen = [p for p in parts if p is not None]
    if not chosen or len(chosen) != len(parts) or (not multiple and len(chosen) > 1):
        if multiple:
            raise AnswerError(t("Reply with the numbers of your choices, for example: 1, 3"))
        raise AnswerError(t("Reply with the number of your choice."))
    keys = [str(options[i]["key"]) for i in sorted(set(chosen))]
    return keys if multiple else keys[0]


def _option_by_label(options: list[dict[str, Any]], text: str) -> int | None:
    wanted = {fold(text), loose(text)}
    for index, option in enumerate(options):
        labels = option.get("label") or {}
        names = labels.values() if isinstance(labels, dict) else [labels]
        for name in [*names, option.get("key", "")]:
            if wanted & {fold(str(name)), loose(str(name))}:
                return index
    # Else the option whose words the typed ones are, in any order or shortened ("nu stim inca"
    # for "Încă nu știm", "online" for "Online safety"), when only one fits.
    fits = set()
    for index, option in enumerate(options):
        labels = option.get("label") or {}
        names = labels.values() if isinstance(labels, dict) else [labels]
        for name in names:
            forms = {fold(str(name)), loose(str(name))}
            if any(words_fit(typed.split(), form) for typed in wanted if typed for form in forms):
                fits.add(index)
    return fits.pop() if len(fits) == 1 else None


def parse_number(text: str, locale: str = "en") -> float | None:
    """ "12", "1 250", "1,5" or "1.5": the locale decides whether a lone comma is decimal."""
    s = text.strip().replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'")
    s = re.sub(r"(?<=\d)[ '](?=\d{3}(?!\d))", "", s)
    if not re.fullmatch(r"[-+−]?\d[\d.,]*", s):
        return None
    s = s.replace("−", "-")
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        group = "." if decimal == "," else ","
        s = s.replace(group, "").replace(decimal, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        groups = s.lstrip("+-").split(sep)
        thousands = len(groups) > 2 or (
            len(groups[-1]) == 3 and sep != _decimal_symbol(locale) and len(groups[0]) <= 3
        )
        if thousands and all(len(g) == 3 for g in groups[1:]):
            s = s.replace(sep, "")
        elif len(groups) == 2:
            s = s.replace(sep, ".")
        else:
            return None
    try:
        return float(s)
    except ValueError:
        return None


@cache
def _decimal_symbol(locale: str) -> str:
    try:
        return str(get_decimal_symbol(locale))
    except Exception:  # an unknown locale: the most common symbol in the region
        return ","


_YMD = re.compile(r"(\d{4})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{1,2})\.?")
_DMY = re.compile(r"(\d{1,2})\s*[-./ ]\s*(\d{1,2})\s*[-./ ]\s*(\d{2}|\d{4})\.?(?:\s*г\.?)?")


def parse_date(text: str) -> date | None:
    """ISO (2026-03-15) or day first (15.03.2026, 15/3/26, 15-03-2026), as written in the
    region; None when it is not a real date."""
    text = text.strip()
    ymd = _YMD.fullmatch(text)
    if ymd:
        year, month, day = (int(g) for g in ymd.groups())
    else:
        dmy = _DMY.fullmatch(text)
        if not dmy:
            return None
        day, month, year = (int(g) for g in dmy.groups())
        if year < 100:
            year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def shown(question: SurveyQuestion, value: Any, locale: str, base: str, t: Translator) -> str:
    """An answer as a member or the secretariat reads it."""
    if value is None:
        return ""
    if question.kind == "yes_no":
        return t("Yes") if value else t("No")
    if question.kind in CHOICE_KINDS:
        keys = value if isinstance(value, list) else [value]
        names = {str(o["key"]): label(o.get("label") or {}, locale, base) for o in question.options}
        return ", ".join(names.get(str(k), str(k)) for k in keys)
    if question.kind == "date":
        try:
            return t.date(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _n(t, value)
    return str(value)
