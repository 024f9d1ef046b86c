"""Keeping the catalogs whole: extract the texts, update every locale, and check them."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import LOCALES, LOCALES_DIR

ROOT = LOCALES_DIR.parent
SOURCES = ("bot", "handlers", "webhook")
KEYWORDS = {
    "_": None,
    "t": None,
    "gettext": None,
    "ngettext": (1, 2),
    "C_": ((1, "c"), 2),
}
_PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def extract() -> Catalog:
    """Every member-facing text in the code, as a template catalog."""
    template = Catalog(project="ChildPact Messenger", fuzzy=False)
    for folder in SOURCES:
        found = extract_from_dir(
            ROOT / folder,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
        )
        for _filename, _lineno, message, comments, context in found:
            template.add(message, locations=(), auto_comments=comments, context=context)
    return template


def write_template(template: Catalog, path: Path = LOCALES_DIR / "messages.pot") -> None:
    with path.open("wb") as fh:
        write_po(fh, template, omit_header=False, sort_output=True, no_location=True)


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def update_all(template: Catalog) -> None:
    """Bring every catalog in line with the template; English copies its own texts."""
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            catalog = load(locale)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, project="ChildPact Messenger", fuzzy=False)
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if locale == "en":
            for message in catalog:
                if message.id:
                    message.string = message.id
                    message.flags.discard("fuzzy")
        with path.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, no_location=True, width=100)


@dataclass
class Problem:
    locale: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.locale}: {self.what}: {self.msgid[:60]!r}"


def check(template: Catalog | None = None) -> list[Problem]:
    """Everything wrong with the catalogs: missing, empty, fuzzy, broken placeholders,
    wrong plural forms, or not compiling. An empty list means all 13 are whole."""
    template = template or extract()
    problems: list[Problem] = []
    for locale in LOCALES:
        if not po_path(locale).exists():
            problems.append(Problem(locale, "", "catalog missing"))
            continue
        catalog = load(locale)
        expected_forms = catalog.num_plurals
        for wanted in template:
            if not wanted.id:
                continue
            message = catalog.get(wanted.id, context=wanted.context)
            problems.extend(_check_message(locale, wanted, message, expected_forms))
        try:
            write_mo(BytesIO(), catalog, use_fuzzy=False)
        except Exception as exc:
            problems.append(Problem(locale, "", f"does not compile: {exc}"))
    return problems


def _check_message(
    locale: str, wanted: Message, message: Message | None, forms: int
) -> list[Problem]:
    key = wanted.id if isinstance(wanted.id, str) else wanted.id[0]
    if message is None:
        return [Problem(locale, key, "missing")]
    if message.fuzzy:
        return [Problem(locale, key, "fuzzy")]
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    if isinstance(wanted.id, tuple | list):
        if len(strings) != forms:
            return [Problem(locale, key, f"needs {forms} plural forms, has {len(strings)}")]
        source = wanted.id[1]
    else:
        source = wanted.id
    problems = []
    for text in strings:
        if not text or not text.strip():
            problems.append(Problem(locale, key, "untranslated"))
        elif sorted(_PLACEHOLDER.findall(text)) != sorted(_PLACEHOLDER.findall(source)):
            # Every form keeps {n}: in Russian or Serbian the "one" form also serves 21, 31...
            problems.append(Problem(locale, key, "placeholders differ from the English text"))
        if wanted.context == "command" and not all(w.strip() for w in text.split(",")):
            problems.append(Problem(locale, key, "empty command word"))
    return problems
