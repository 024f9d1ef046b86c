"""Safeguarding: recognise a member disclosing that a child is in danger, and where to send them.

Two readers of every message: the lexicon (``locales/safeguarding.yaml``, patterns per locale for
the plain cases) and the classifier (``bot.knowledge.detector``, trained on the labelled corpus,
for the ways people actually write). Together they give one of two levels, or nothing:

- ALERT: a child in danger now. The member gets the helpline and the emergency number, the focal
  point is alerted at once.
- CONCERN: possibly a disclosure. The member gets a gentle line with the helpline and the offer to
  talk to the focal point, the focal point sees it as lower priority, and the message is also
  answered as usual.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate, groupby
from operator import itemgetter
from pathlib import Path

import yaml

from bot.i18n import LOCALES_DIR, Translator
from bot.knowledge.detector import (
    CORPUS_DIR,
    LONG_CHARS,
    READ_CHARS,
    Detector,
    faq_questions,
    knowledge_answers,
    sentences,
)
from bot.knowledge.load import YAML_LOADER, Knowledge

PARTS = ("harm", "child", "urgent", "benign", "self", "past")
# Languages members mix or type in each other's place: a Serbian member writing Latin, Bosnian
# and Serbian Latin words, Russian from a Ukrainian member and back, Turkish and Azerbaijani.
# A disclosure in a kin language's words is still a disclosure.
KIN: dict[str, tuple[str, ...]] = {
    "bs": ("sr_Latn",),
    "sr_Latn": ("bs",),
    "sr": ("sr_Latn", "bs"),
    "ru": ("uk",),
    "uk": ("ru",),
    "tr": ("az",),
    "az": ("tr",),
}


ALERT = "alert"
CONCERN = "concern"
# Thresholds on the classifier's probability, chosen on texts kept out of its training (see
# docs/safeguarding.md for how, and the figures)
ALERT_AT = 0.98
CONCERN_AT = 0.80
LEXICON_ALERT_AT = 0.90  # a lexicon match the classifier finds likely enough is an alert
# A lexicon match the classifier does not find unlikely is a concern. A plain pattern of danger
# (a child gone from a children's home, game currency for photos) in a short message whose other
# words pull the classifier down was left unanswered at 0.50; at 0.35 the held-out harmless
# texts get 13 % concerns (10 % at 0.50), within the 15 % a concern may cost (docs/safeguarding.md)
LEXICON_CONCERN_AT = 0.35
# A long message (a report, minutes pasted in) is read by the model for long messages (see
# bot.knowledge.detector.long_parts), and a harm word and a child word meet in most sentences of
# such texts: there a lexicon match is a concern from here (docs/safeguarding.md, "Long messages")
LONG_CONCERN_AT = 0.70
LONG_LEXICON_CONCERN_AT = 0.65
# ... unless the text frames it as a childhood long past or a script, a training, a game (the
# lexicon's ``past`` part): then the match counts from here, as it did before
FRAMED_CONCERN_AT = 0.50
# The kinds of danger the corpus is labelled with, in plain words for the focal point
KINDS = {
    "abuse": "violence or sexual abuse of a child",
    "signs_excuse": "signs of abuse with an excuse (injuries, fear, a child kept home)",
    "left_alone": "a young child left alone",
    "abroad": "a minor taken abroad, documents held (trafficking)",
    "grooming": "grooming: an adult asking a child for photos or secrecy",
    "marriage": "a minor about to be married",
    "suicide": "a young person at risk of suicide or self-harm",
    "missing": "a missing child",
    "labour_begging": "a child made to work or beg",
    "unspecified": "harm to a child",
}


def decide(
    danger: float,
    matched: bool,
    limits: tuple[float, float, float, float] = (
        ALERT_AT,
        CONCERN_AT,
        LEXICON_ALERT_AT,
        LEXICON_CONCERN_AT,
    ),
) -> str | None:
    """The level for the classifier's probability and whether the lexicon matched."""
    alert_at, concern_at, lexicon_alert_at, lexicon_concern_at = limits
    if danger >= alert_at or (matched and danger >= lexicon_alert_at):
        return ALERT
    if danger >= concern_at or (matched and danger >= lexicon_concern_at):
        return CONCERN
    return None


@dataclass(frozen=True)
class Finding:
    """A message that may tell of a child in danger: how sure, what kind, and why."""

    level: str  # ALERT or CONCERN
    kind: str  # a key of KINDS
    danger: float  # the classifier's probability
    lexicon: bool  # the lexicon matched too
    words: tuple[str, ...]  # the words that weighed most, as the member wrote them

    @property
    def reason(self) -> str:
        """The kind in plain words, and the words behind it, for the focal point."""
        said = ", ".join(f'"{w}"' for w in self.words) or "-"
        return f"{KINDS.get(self.kind, self.kind)}; words: {said}"


@dataclass(frozen=True)
class Helpline:
    name: str | None
    number: str | None
    emergency: tuple[str, ...]
    hours: str | None = None  # as the secretariat wrote them ("24/7", "Mon-Fri 09:00-17:00")

    def when_open(self, t: Translator) -> str:
        """The line's hours in the member's language, or "" when they are not known."""
        hours = " ".join((self.hours or "").split())
        if not hours or not self.number:
            return ""
        if ALWAYS.match(hours):
            return t("The helpline is open day and night, every day.")
        return t("The helpline's hours: {hours}.", hours=hours.rstrip("."))


# "24/7", "24 / 7", "24h", "24 hours", "non-stop": the same words in every language.
ALWAYS = re.compile(r"^(?:24\s*/\s*7|24\s*h(?:ours)?|non-?stop)$", re.IGNORECASE)


def _number(emergency: str) -> str:
    # "122 (police)": the note in brackets is for the secretariat, in English; members read the
    # number alone, inside a text in their own language.
    return emergency.split(" (", 1)[0].strip()


def _fold(text: str) -> str:
    # The lexicon is written for lower-case text without combining marks (see its header), and
    # matched case-sensitively: see _compile. Decomposed, then the marks dropped in one pass.
    if text.isascii():
        return text.lower()
    folded = _MARKS.sub("", unicodedata.normalize("NFKD", text.lower()))
    return _ASTRAL.sub(_unmarked, folded) if _ASTRAL.search(folded) else folded


def _marks() -> re.Pattern[str]:
    """The combining marks of the Basic Multilingual Plane, as one set of characters: one the
    engine looks up at once (it reads a set with characters past it range by range)."""
    ranges: list[list[int]] = []
    for code in range(0x300, 0x10000):
        if unicodedata.combining(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return re.compile(f"[{''.join(f'{chr(a)}-{chr(b)}' for a, b in ranges)}]+")


_MARKS = _marks()
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # an emoji, mostly; few are marks


def _unmarked(found: re.Match[str]) -> str:
    return "" if unicodedata.combining(found[0]) else found[0]


def _read(text: str) -> tuple[str, str]:
    """The message as the lexicon reads it, up to READ_CHARS: folded, and folded with the
    Turkish dotless i as "i" (as long as the other: a match's place is the same in both)."""
    shown = _fold(text[:READ_CHARS])
    return shown, shown.replace("ı", "i")


def _with_kin(locales: list[str]) -> list[str]:
    """``locales`` with each one's kin (KIN) after it, each once, in that order."""
    return list(dict.fromkeys(kin for lang in locales for kin in (lang, *KIN.get(lang, ()))))


def _compile(patterns: list[str]) -> re.Pattern[str]:
    """One locale's patterns of one part, as one alternation over folded text: case-sensitive
    (the text is lower-case already), which the regular expression engine reads faster than a
    case-blind one. The only letters case-blind matching still joined in such text are the
    Turkish dotless and dotted i: "ı" is read as "i" in the patterns and in the text.

    Read for speed, with the same matches: every pattern's alternatives are alternatives of the
    whole, in the same order, their groups do not capture (only where a match is is read), and
    alternatives one after another that begin at a word's edge (``\\b``) share it. So at each
    place of the text the engine skips at once the alternatives whose first letter is not
    there, instead of entering each (about ten times faster for the English harm words). Those
    that begin with a group are written out as alternatives that begin with a letter, and those
    of one letter brought together (see _by_first_letter): half the time again, or less."""
    written = "|".join(f"(?:{p})" for p in patterns or ["(?!)"]).replace("ı", "i")
    read = [_alternatives(p) for p in patterns]
    if not patterns or any(found is None for found in read):
        return re.compile(written)
    # runs of alternatives one after another that begin at a word's edge (without it), and
    # runs of those that do not
    runs = groupby((a for found in read for a in found or ()), key=lambda a: a.startswith("\\b"))
    made = re.compile(
        "|".join(
            f"\\b(?:{_by_first_letter([a[2:] for a in run], edge=True)})"
            if edge
            else _by_first_letter(list(run), edge=False)
            for edge, run in runs
        ).replace("ı", "i")
    )
    return made if made.groups == 0 else re.compile(written)


WRITTEN_AGAIN = 2000  # characters of a pattern an alternative may be made longer by (_leading)


def _by_first_letter(run: list[str], *, edge: bool) -> str:
    """Alternatives (that all begin at a word's edge, when ``edge``) as one alternation where
    the engine skips at once every one but those of the letter it is at: each alternative
    written as alternatives that each begin with a letter (see _leading), those of one letter
    together behind it, and the alternatives it cannot write so in their place. The same
    matches: at a place in the text only the alternatives of its letter can match, and they keep
    their order (so do the others, around which letters are not brought together)."""
    made: list[str] = []
    letters: dict[str, list[str]] = {}

    def close() -> None:
        made.extend(letter + _either(rests) for letter, rests in letters.items())
        letters.clear()

    for alternative in run:
        if (leading := _leading(alternative, edge=edge)) is None:
            close()
            made.append(alternative)
            continue
        for letter, rest in leading:
            letters.setdefault(letter, []).append(rest)
    close()
    return "|".join(made)


def _either(alternatives: list[str]) -> str:
    """One of ``alternatives`` (none of them an alternation), as one piece of a pattern."""
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def _leading(alternative: str, *, edge: bool) -> list[tuple[str, str]] | None:
    """``alternative`` (which begins at a word's edge, when ``edge``) as alternatives in the
    same order, each a letter and what follows it, one per letter: "(?:hit|kick|hurt)s? him" as
    "h" "(?:it|urt)s? him" and "k" "icks? him". None when it cannot be: it begins with a set, an
    escape, a look around, or a repeated letter or group, or it would grow by more than
    WRITTEN_AGAIN."""
    if edge and alternative.startswith("\\b"):  # the edge again, where the run has it
        return _leading(alternative[2:], edge=edge)
    first, after = alternative[:1], alternative[1:2]
    if first != "(":
        plain = len(first) == 1 and first not in SPECIAL and after not in QUANTIFIERS
        return [(first, alternative[1:])] if plain else None
    end = _group_end(alternative, 0) if alternative.startswith("(?:") else None
    inner = None if end is None else _alternatives(alternative[3 : end - 1])
    if end is None or inner is None or alternative[end:][:1] in QUANTIFIERS:
        return None
    tail = alternative[end:]
    # per letter, in order: what follows it in the group (then the tail, shared by those one
    # after another), or, for an empty alternative of the group, what follows it in the tail
    letters: dict[str, list[tuple[str, bool]]] = {}
    for each in inner:
        if (leading := _leading(each or tail, edge=edge)) is None:
            return None
        for letter, rest in leading:
            letters.setdefault(letter, []).append((rest, bool(each)))
    if len(tail) * (len(letters) - 1) > WRITTEN_AGAIN:
        return None  # the tail written once per letter: a pattern too long to compile quickly
    made = []
    for letter, rests in letters.items():
        pieces: list[str] = []
        for grouped, together in groupby(rests, key=itemgetter(1)):
            found = [rest for rest, _ in together]
            pieces += [_either(found) + tail] if grouped else found
        made.append((letter, _either(pieces)))
    return made


QUANTIFIERS = ("?", "*", "+", "{")  # what repeats the letter or group before it
SPECIAL = frozenset("\\[]().^$|?*+{}")  # a character that does not match itself


# a reference to a group, a conditional, a comment, a verbose part: such a pattern is compiled
# as written
_UNREAD = re.compile(r"\\[1-9g]|\(\?P=|\(\?\(|\(\?#|\(\?[a-zA-Z-]*x")


def _escape_or_set(pattern: str, i: int) -> int | None:
    """Where the escaped character or the set of characters at ``i`` ends (None: it does not)."""
    if pattern[i] == "\\":
        return i + 2 if i + 1 < len(pattern) else None
    j = i + 1
    j += pattern.startswith("^", j)
    j += pattern.startswith("]", j)  # "]" first is one of the set
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1 if j < len(pattern) else None


def _group_end(pattern: str, i: int) -> int | None:
    """Where the group that opens at ``i`` ends, after its ")" (None: it does not)."""
    depth = 0
    while i < len(pattern):
        if pattern[i] in "\\[":
            if (end := _escape_or_set(pattern, i)) is None:
                return None
            i = end
            continue
        depth += (pattern[i] == "(") - (pattern[i] == ")")
        i += 1
        if not depth:
            return i
    return None


def _alternatives(pattern: str) -> list[str] | None:
    """The top-level alternatives of ``pattern`` with its groups made non-capturing, or None
    when it refers to its groups or is not read so simply (see _UNREAD)."""
    if _UNREAD.search(pattern):
        return None
    found: list[str] = []
    out: list[str] = []
    depth = i = 0
    while i < len(pattern):
        c = pattern[i]
        if c in "\\[":  # an escaped character, a set of characters: as written
            if (end := _escape_or_set(pattern, i)) is None:
                return None
            out.append(pattern[i:end])
            i = end
        elif c == "(":
            depth += 1
            if pattern.startswith("(?P<", i):  # a named group
                i = pattern.find(">", i) + 1
                if not i:
                    return None
                out.append("(?:")
            elif pattern.startswith("(?", i):  # not a group, or one that does not capture
                out.append("(?")
                i += 2
            else:
                out.append("(?:")
                i += 1
        elif c == "|" and depth == 0:
            found.append("".join(out))
            out = []
            i += 1
        else:
            depth -= c == ")"
            if depth < 0:
                return None
            out.append(c)
            i += 1
    return [*found, "".join(out)] if not depth else None


BY_LINE = "self, a sentence a line"  # the self list as _by_line reads it


def _by_line(own: re.Pattern[str]) -> re.Pattern[str]:
    """The ``self`` list for searching a long message's sentences at once, a sentence a line:
    wherever the list finds words in a sentence alone, a match of this begins in that line. So
    only a line where one begins need be read alone. Each line is read as the list reads a
    sentence ("^" is a line's beginning, "[\\s\\S]" any character but a line break; a line
    break ends a word as the text's end does, and the lists read no further than a sentence),
    and a condition on the whole sentence (``^(?=[\\s\\S]*X)[\\s\\S]*?Y``: X anywhere in it,
    and Y) is left to that reading: Y alone is searched for, and begins in the same line."""
    alternatives = _alternatives(own.pattern)
    source = "|".join(map(_unconditional, alternatives)) if alternatives else own.pattern
    return re.compile(source.replace("[\\s\\S]", "."), re.MULTILINE)


def _unconditional(alternative: str) -> str:
    """``^(?=[\\s\\S]*X)[\\s\\S]*?Y`` as Y (see _by_line); another alternative as it is."""
    if not alternative.startswith("^(?=") or (end := _group_end(alternative, 1)) is None:
        return alternative
    rest = alternative[end:]
    for anything in ("[\\s\\S]*?", "[\\s\\S]*"):
        if rest.startswith(anything):
            return rest[len(anything) :]
    return rest


def _own_words(shown: str, folded: str, lists: list[dict[str, re.Pattern[str]]]) -> str | None:
    """What the first of ``lists`` whose ``self`` finds in ``folded`` (a message, a sentence)
    finds, unless its ``past`` or ``benign`` frames it there."""
    searched: dict[re.Pattern[str], re.Match[str] | None] = {}  # kin may share a list
    for found in lists:
        own = found["self"]
        if own not in searched:
            searched[own] = own.search(folded)
        said = searched[own]
        if said and not found["past"].search(folded) and not found["benign"].search(folded):
            return shown[said.start() : said.end()].strip()
    return None


class Safeguarding:
    """The lexicon of every locale, compiled once, and the helplines per country."""

    def __init__(
        self,
        directory: Path = LOCALES_DIR,
        *,
        detector: Detector | None = None,
        knowledge: Knowledge | None = None,
    ) -> None:
        """``knowledge``: the bot's, already loaded (its questions are part of the model)."""
        written = (directory / "safeguarding.yaml").read_text(encoding="utf-8")
        lexicon = yaml.load(written, Loader=YAML_LOADER)
        compiled: dict[tuple[str, ...], re.Pattern[str]] = {}  # a list kin locales share: once
        for entry in lexicon.values():
            for part in PARTS:
                listed = tuple(entry.get(part) or ())
                if listed not in compiled:
                    compiled[listed] = _compile(list(listed))
        self._patterns: dict[str, dict[str, re.Pattern[str]]] = {
            locale: {part: compiled[tuple(entry.get(part) or ())] for part in PARTS}
            for locale, entry in lexicon.items()
        }
        lists = {found["self"] for found in self._patterns.values()}  # kin's shared: once
        by_line = {own: _by_line(own) for own in lists}
        for found in self._patterns.values():
            found[BY_LINE] = by_line[found["self"]]
        raw = yaml.load(
            (directory / "helplines.yaml").read_text(encoding="utf-8"), Loader=YAML_LOADER
        )
        self._helplines = {
            country: Helpline(
                (entry.get("helpline") or {}).get("name"),
                (entry.get("helpline") or {}).get("number"),
                tuple(_number(e) for e in entry.get("emergency") or ()),
            )
            for country, entry in raw.items()
        }
        self.detector = detector or Detector.from_corpus(
            directory / CORPUS_DIR.name,
            questions=faq_questions(knowledge) if knowledge else None,
            answers=knowledge_answers(knowledge) if knowledge else None,
        )

    def is_disclosure(self, text: str, locales: list[str]) -> bool:
        """The lexicon alone: a disclosure in any of ``locales`` (the member's, the message's,
        English)."""
        return bool(self._lexicon(text, locales))

    def _lists(self, locales: list[str]) -> list[dict[str, re.Pattern[str]]]:
        """The lexicon's compiled lists of ``locales`` and their kin, in that order."""
        return [found for locale in _with_kin(locales) if (found := self._patterns.get(locale))]

    def _lexicon(self, text: str, locales: list[str]) -> list[str]:
        """The words the lexicon matched (none when it did not)."""
        shown, folded = _read(text)
        for found in self._lists(locales):
            urgent = found["urgent"].search(folded)
            harm = found["harm"].search(folded)
            child = found["child"].search(folded) if harm else None
            if (urgent or (harm and child)) and not found["benign"].search(folded):
                return [shown[m.start() : m.end()].strip() for m in (urgent, harm, child) if m]
        return []

    def _framed(self, text: str, locales: list[str]) -> bool:
        """A childhood long past, or a script, a training, a game: the lexicon's ``past``."""
        _, folded = _read(text)
        return any(found["past"].search(folded) for found in self._lists(locales))

    def _own(self, parts: list[str], locales: list[str]) -> str | None:
        """The words of a child telling of their own harm now ("dad is hitting me", "help, he
        beats us"), in the first of ``parts`` (a message, or a long one's sentences) where the
        lexicon's ``self`` list finds them and neither a childhood long past nor a professional
        context (a script, a training) frames them in that part.

        A long message's sentences are searched all at once, a sentence a line (see _by_line):
        only a sentence where a list's match begins there is then read on its own, as before;
        most long messages have none."""
        lists = self._lists(locales)
        if len(parts) == 1:
            return _own_words(*_read(parts[0]), lists)
        # a long message's sentences hold no line break (the detector ends one at each)
        shown, folded = _read("\n".join(parts))
        lines = list(zip(shown.split("\n"), folded.split("\n"), strict=True))
        begins = [0, *accumulate(len(line) + 1 for _, line in lines)]  # and the text's end + 1

        def first(pattern: re.Pattern[str], at: int) -> int | None:
            """The first sentence from the ``at``-th character where ``pattern`` begins."""
            match = pattern.search(folded, at) if at <= len(folded) else None
            return None if match is None else bisect_right(begins, match.start()) - 1

        patterns = dict.fromkeys(found[BY_LINE] for found in lists)  # kin may share a list
        ahead = {p: line for p in patterns if (line := first(p, 0)) is not None}
        while ahead:  # the sentences where a list may find words, in order, until one does
            line = min(ahead.values())
            if said := _own_words(*lines[line], lists):
                return said
            for pattern in [p for p, at in ahead.items() if at == line]:
                if (later := first(pattern, begins[line + 1])) is None:
                    del ahead[pattern]
                else:
                    ahead[pattern] = later
        return None

    def assess(self, text: str, locales: list[str]) -> Finding | None:
        """An alert, a possible concern, or None; ``locales`` as for the lexicon."""
        reading = self.detector.read(text)
        # the whole message; in a long one (a report pasted in), the part the classifier found
        # likeliest: the same words, and no "report" or "project" elsewhere to veto them
        scope = reading.scope or text
        # A child writing of their own harm in a few words is an alert whatever the classifier
        # makes of so short a text: such messages are the plainest and the most urgent. In a
        # long message each sentence is looked at on its own (a "training" elsewhere in the
        # minutes frames nothing), whichever part the classifier found likeliest.
        parts = (reading.sentences or sentences(text)) if len(text) > LONG_CHARS else [text]
        own = self._own(parts, locales)
        if own is None and reading.danger < min(CONCERN_AT, LEXICON_CONCERN_AT):
            return None  # whatever the lexicon finds: it would not raise the message
        matched = self._lexicon(scope, locales)
        if matched and reading.danger < FRAMED_CONCERN_AT and self._framed(scope, locales):
            matched = []  # "my dad hit me when I was a kid; I'd like to volunteer now"
        limits = (ALERT_AT, CONCERN_AT, LEXICON_ALERT_AT, LEXICON_CONCERN_AT)
        if len(text) > LONG_CHARS:
            limits = (ALERT_AT, LONG_CONCERN_AT, LEXICON_ALERT_AT, LONG_LEXICON_CONCERN_AT)
        level = ALERT if own else decide(reading.danger, bool(matched), limits)
        if level is None:
            return None  # the reason is worked out only for a message that is raised
        said = [own] if own else []
        words = tuple(dict.fromkeys([*said, *matched, *self.detector.words(reading)]))[:6]
        kind = "abuse" if own else self.detector.kind(reading)
        return Finding(level, kind, reading.danger, bool(matched or own), words)

    def use_helplines(self, helplines: dict[str, Helpline]) -> None:
        """The secretariat's helplines from now on (a copy's: the patterns stay shared)."""
        if "DEFAULT" in helplines:
            self._helplines = dict(helplines)

    def helpline(self, country: str | None) -> Helpline:
        return self._helplines.get(country or "", self._helplines["DEFAULT"])

    def answer(self, t: Translator, country: str | None, *, alerted: bool) -> str:
        """What a member who disclosed gets at once, in their language."""
        line = self.helpline(country)
        parts = [
            t(
                "Thank you for telling us. If a child is in danger right now, call {number}.",
                number=line.emergency[0],
            )
            if line.emergency
            else ""
        ]
        if line.number and line.name:
            parts.append(
                t(
                    "You can also call the child helpline {name}: {number}.",
                    name=line.name,
                    number=line.number,
                )
            )
        elif line.number:  # a line without a name of its own in the member's country
            parts.append(t("You can also call the child helpline: {number}.", number=line.number))
        if line.number:
            parts[-1] = f"{parts[-1]} {line.when_open(t)}".strip()
        parts.append(
            t("ChildPact's safeguarding focal point has been told about your message.")
            if alerted
            else t(
                "Please also tell ChildPact's secretariat: choose Talk to the secretariat in the menu."
            )
        )
        return "\n\n".join(p for p in parts if p)
