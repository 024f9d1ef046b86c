"""What a survey's words make: a question's or an option's id made from its text (a short
slug, unique within the survey, the same on every call), and the languages only partly written,
with the texts each still lacks, so that no member reads a mixture unawares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from anyascii import anyascii

from bot.storage.models import Survey, SurveyQuestion
from bot.surveys.answers import CHOICE_KINDS, label

SLUG_CHARS = 32  # well within the format's 40, leaving room for a "_2"
# Names an exported XLSForm gives its own rows, and what a phone collects by itself.
RESERVED = frozenset({
    "intro", "closing", "start", "end", "today", "deviceid", "phonenumber", "username",
    "simserial", "subscriberid", "email", "audit", "imei", "yes_no_choice", "instanceid",
})  # fmt: skip


def slug(text: str, taken: Iterable[str] = (), *, fallback: str, question: bool = True) -> str:
    """An id from ``text``: its words in ASCII, lower case, joined by underscores, cut at a
    word, and numbered (``_2``) when ``taken`` has it already. A question's id starts with a
    letter, as an XLSForm's ``name`` must."""
    ascii_text = anyascii(text or "").lower().replace("'", "")  # skol'ko: one word
    words = re.sub(r"[^a-z0-9]+", " ", ascii_text).split()
    found = ""
    for word in words:
        joined = f"{found}_{word}" if found else word
        if len(joined) > SLUG_CHARS:
            found = found or word[:SLUG_CHARS]
            break
        found = joined
    found = found or fallback
    if question and not found[0].isalpha():
        found = f"q_{found}"[:SLUG_CHARS]
    taken = {t.lower() for t in taken} | (RESERVED if question else set())
    made, n = found, 1
    while made.lower() in taken:
        n += 1
        made = f"{found}_{n}"
    return made


# ---------------------------------------------------------------- translations


@dataclass
class Missing:
    """One text not written in a language: where it is (``title``, ``intro``, ``closing``,
    ``reminder``, ``question``, ``option`` or ``hint``), its question's number and id, the
    option's id, and the text in the base language."""

    part: str
    text: str
    number: int = 0
    question: str = ""
    option: str = ""

    @property
    def path(self) -> str:
        """As the API names it: ``title``, ``q3``, ``q3/b``, ``q3:hint``."""
        if self.part == "option":
            return f"{self.question}/{self.option}"
        if self.part == "hint":
            return f"{self.question}:hint"
        return self.question if self.part == "question" else self.part


@dataclass
class Gap:
    """A language's share of the survey's texts: how many are written, and which are not."""

    locale: str
    written: int = 0
    missing: list[Missing] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """Some texts written and others not: its members would read a mixture."""
        return bool(self.written and self.missing)


def _texts(survey: Survey, questions: list[SurveyQuestion]) -> list[tuple[Missing, dict[str, Any]]]:
    """Every member-facing text written in the base language, with where it is."""
    base = survey.base_locale
    found: list[tuple[Missing, dict[str, Any]]] = []

    def add(where: Missing, texts: dict[str, Any] | None) -> None:
        if texts and str(texts.get(base) or "").strip():
            where.text = label(texts, base, base)
            found.append((where, texts))

    for part in ("title", "intro", "closing", "reminder"):
        add(Missing(part, ""), getattr(survey, part))
    for number, q in enumerate(questions, start=1):
        add(Missing("question", "", number, q.key), q.text)
        add(Missing("hint", "", number, q.key), q.hint)
        if q.kind in CHOICE_KINDS:
            for o in q.options or []:
                add(Missing("option", "", number, q.key, str(o["key"])), o.get("label"))
    return found


def gaps(
    survey: Survey, questions: list[SurveyQuestion], locales: Iterable[str] = ()
) -> dict[str, Gap]:
    """Per language other than the base (those with any text written, and ``locales``), what
    is written and what is not."""
    base = survey.base_locale
    texts = _texts(survey, questions)
    shown = {loc for _, t in texts for loc, v in t.items() if str(v or "").strip()}
    found: dict[str, Gap] = {}
    for loc in sorted((shown | set(locales)) - {base}):
        gap = Gap(loc)
        for where, t in texts:
            if str(t.get(loc) or "").strip():
                gap.written += 1
            else:
                gap.missing.append(where)
        found[loc] = gap
    return found


def partly_translated(survey: Survey, questions: list[SurveyQuestion]) -> dict[str, list[str]]:
    """The languages only partly written, each with the paths of its missing texts."""
    return {
        loc: [m.path for m in gap.missing]
        for loc, gap in gaps(survey, questions).items()
        if gap.partial
    }
