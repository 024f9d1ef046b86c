"""A reviewer's spreadsheet: one locale's member texts as CSV (English, current text, context,
character limit), and the reviewed file taken back with the same checks as the test suite.
``childpact catalogs export LOCALE FILE`` and ``childpact catalogs import FILE``."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from babel.messages.pofile import write_po

from bot.i18n import LOCALES, LOCALES_DIR
from bot.i18n.catalogs import MEMBERS, load, po_path
from bot.i18n.scripts import serbian_latin
from bot.i18n.style import (
    MESSAGE_LIMIT,
    TYPED_CONTEXTS,
    check_button,
    check_text,
    glossary,
    limit,
)

COLUMNS = ("locale", "key", "context", "form", "english", "text", "limit")


@dataclass(frozen=True)
class RowProblem:
    row: int  # the spreadsheet's row number, the header being row 1
    key: str
    what: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.what} ({self.key[:50]!r})"


def _key(msgid) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def export(locale: str, path: Path, directory: Path = LOCALES_DIR) -> int:
    """Write one locale's member texts to ``path`` as CSV; returns the number of rows."""
    if locale not in LOCALES or locale == "en":
        raise ValueError(f"no reviewable locale {locale!r}")
    catalog = load(MEMBERS, locale, directory)
    rows = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for message in catalog:
            if not message.id or message.context in TYPED_CONTEXTS:
                continue
            strings = (
                message.string if isinstance(message.string, tuple | list) else (message.string,)
            )
            for form, text in enumerate(strings):
                english = message.id if isinstance(message.id, str) else message.id[min(form, 1)]
                most = limit(_key(message.id), message.context)
                form_label = str(form) if isinstance(message.id, tuple | list) else ""
                writer.writerow((locale, _key(message.id), message.context or "", form_label,
                                 english, text, most))  # fmt: skip
                rows += 1
    return rows


def import_(path: Path, directory: Path = LOCALES_DIR) -> list[RowProblem]:
    """Take a reviewed CSV back into its catalog. Nothing is written unless every row passes
    the checks; the problems are returned by row."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            return [RowProblem(1, "", f"columns missing: {', '.join(sorted(missing))}")]
        rows = list(reader)
    locales = {row["locale"] for row in rows}
    if len(locales) != 1 or not locales <= set(LOCALES) - {"en"}:
        return [RowProblem(2, "", f"one locale per file, a known one: found {sorted(locales)}")]
    locale = locales.pop()
    catalog = load(MEMBERS, locale, directory)
    problems: list[RowProblem] = []
    for number, row in enumerate(rows, start=2):
        context = row["context"] or None
        message = catalog.get(row["key"], context=context)
        if message is None or context in TYPED_CONTEXTS:
            problems.append(RowProblem(number, row["key"], "no such text in the catalog"))
            continue
        text = row["text"]
        plural = isinstance(message.id, tuple | list)
        english = message.id if not plural else message.id[0 if row["form"] == "0" else 1]
        if not text.strip():
            problems.append(RowProblem(number, row["key"], "empty text"))
            continue
        most = limit(row["key"], context)
        if len(text) > most:
            problems.append(RowProblem(number, row["key"], f"longer than {most} characters"))
        found = [*check_text(locale, text, english), *glossary(locale, text, english)]
        if most < MESSAGE_LIMIT:
            found += check_button(locale, text)
        problems += [RowProblem(number, row["key"], what)
                     for what in found if not what.startswith("longer")]  # fmt: skip
        if plural:
            strings = list(message.string)
            form = int(row["form"] or 0)
            if not 0 <= form < len(strings):
                problems.append(RowProblem(number, row["key"], f"no plural form {form}"))
                continue
            strings[form] = text
            message.string = tuple(strings)
        else:
            message.string = text
    if problems:
        return problems
    _write(catalog, locale, directory)
    if locale == "sr":  # Serbian Latin follows Serbian Cyrillic letter for letter
        write_serbian_latin(directory, knowledge=False)
    return []


def write_serbian_latin(directory: Path = LOCALES_DIR, knowledge: bool = True) -> int:
    """Rewrite sr_Latn from sr: every catalog text (the words members type aside) and, with
    ``knowledge``, every knowledge title, answer and more text, keeping the file's layout.
    Returns how many texts changed."""
    cyrillic, latin = load(MEMBERS, "sr", directory), load(MEMBERS, "sr_Latn", directory)
    changed = 0
    for message in cyrillic:
        if not message.id or message.context in TYPED_CONTEXTS:
            continue
        other = latin.get(message.id, context=message.context)
        if other is None:
            continue
        strings = message.string
        want = (
            tuple(serbian_latin(s) for s in strings)
            if isinstance(strings, tuple | list)
            else serbian_latin(strings)
        )
        if other.string != want:
            other.string = want
            changed += 1
    _write(latin, "sr_Latn", directory)
    if knowledge:
        changed += _knowledge_serbian_latin(directory)
    return changed


def _knowledge_serbian_latin(directory: Path) -> int:
    """sr_Latn's knowledge texts from sr's, replaced in place in the YAML text so that its
    layout, comments and example questions stay as they are."""
    path = directory / "sr_Latn" / "knowledge.yaml"
    text = path.read_text(encoding="utf-8")
    source = yaml.safe_load((directory / "sr" / "knowledge.yaml").read_text(encoding="utf-8"))
    current = yaml.safe_load(text)
    changed = 0
    for section in ("topics", "smalltalk"):
        for key, topic in (source.get(section) or {}).items():
            for field in ("title", "answer", "more"):
                if not topic.get(field) or key not in (current.get(section) or {}):
                    continue
                have = str(current[section][key].get(field) or "")
                want = serbian_latin(str(topic[field]))
                if not have or have == want:
                    continue
                old, new = have.split(), want.split()
                found = re.search(r"(\s+)".join(re.escape(w) for w in old), text)
                if found is None:
                    continue
                if len(old) == len(new):  # keep the line breaks where they were
                    gaps = found.groups()
                    rebuilt = new[0] + "".join(g + w for g, w in zip(gaps, new[1:], strict=True))
                else:
                    rebuilt = " ".join(new)
                text = text[: found.start()] + rebuilt + text[found.end() :]
                changed += 1
    path.write_text(text, encoding="utf-8")
    return changed


def _write(catalog, locale: str, directory: Path) -> None:
    with po_path(MEMBERS, locale, directory).open("wb") as fh:
        write_po(fh, catalog, sort_output=True, no_location=True, width=100)
