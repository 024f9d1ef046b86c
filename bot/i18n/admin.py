"""The dashboard's own gettext domain, ``admin``, in English, Romanian and Russian: loading it,
extracting its texts from the pages, and checking that every catalog is whole.

Run ``python -m webhook.admin extract`` after changing the dashboard's texts, then
translate what is new in ``locales/{ro,ru}/LC_MESSAGES/admin.po``."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import DASHBOARD_LOCALES, LOCALES_DIR

DOMAIN = "admin"
ROOT = LOCALES_DIR.parent
MAPPING = ROOT / "babel-admin.cfg"
# N_ in Python only marks a text: the member catalog's extractor looks for _, t and gettext in
# webhook/, and the dashboard's texts must not end up among the members' 13 languages.
KEYWORDS = {"N_": None, "_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
_PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def po_path(locale: str, directory: Path = LOCALES_DIR) -> Path:
    return directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Catalog:
    """Every text of the dashboard, from its Python modules and its templates."""
    with MAPPING.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename=str(MAPPING))
    template = Catalog(project="ChildPact Messenger dashboard", fuzzy=False, domain=DOMAIN)
    for _filename, _lineno, message, comments, context in extract_from_dir(
        ROOT,
        method_map=method_map,
        options_map=options_map,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
    ):
        template.add(message, locations=(), auto_comments=comments, context=context)
    return template


def update(template: Catalog) -> None:
    """Write the template and bring each catalog in line with it; English copies its texts."""
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, sort_output=True, no_location=True, width=100)
    for locale in DASHBOARD_LOCALES:
        path = po_path(locale)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, domain=DOMAIN, fuzzy=False)
        catalog.project, catalog.version = "ChildPact Messenger dashboard", "0.1.0"
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if locale == "en":
            for message in catalog:
                if message.id:
                    message.string = message.id
        with path.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, no_location=True, width=100)


@dataclass
class Problem:
    locale: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"admin {self.locale}: {self.what}: {self.msgid[:60]!r}"


def check(template: Catalog | None = None, directory: Path = LOCALES_DIR) -> list[Problem]:
    """What is missing, fuzzy, untranslated, has broken placeholders or does not compile."""
    template = template or extract()
    problems: list[Problem] = []
    for locale in DASHBOARD_LOCALES:
        path = po_path(locale, directory)
        if not path.exists():
            problems.append(Problem(locale, "", "catalog missing"))
            continue
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale, domain=DOMAIN)
        for wanted in template:
            if wanted.id:
                message = catalog.get(wanted.id, context=wanted.context)
                problems.extend(_check(locale, wanted.id, message, catalog.num_plurals))
        try:
            write_mo(BytesIO(), catalog, use_fuzzy=False)
        except Exception as exc:
            problems.append(Problem(locale, "", f"does not compile: {exc}"))
    return problems


def _check(
    locale: str, msgid: str | tuple[str, ...], message: Message | None, forms: int
) -> list[Problem]:
    key = msgid if isinstance(msgid, str) else msgid[0]
    if message is None:
        return [Problem(locale, key, "missing")]
    if message.fuzzy:
        return [Problem(locale, key, "fuzzy")]
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    source = msgid if isinstance(msgid, str) else msgid[1]
    if not isinstance(msgid, str) and len(strings) != forms:
        return [Problem(locale, key, f"needs {forms} plural forms, has {len(strings)}")]
    problems = []
    for text in strings:
        if not text or not text.strip():
            problems.append(Problem(locale, key, "untranslated"))
        elif sorted(_PLACEHOLDER.findall(text)) != sorted(_PLACEHOLDER.findall(source)):
            problems.append(Problem(locale, key, "placeholders differ from the English text"))
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["extract"]:
        update(extract())
    problems = check()
    for problem in problems:
        print(problem)
    return 1 if problems else 0
