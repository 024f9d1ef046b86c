"""Keeping the catalogs of both gettext domains whole: extract the texts, update every locale,
and check them. ``childpact catalogs extract|check`` (``make extract``) runs this."""

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

from bot.i18n import (
    DASHBOARD_DOMAIN,
    DASHBOARD_LOCALES,
    LOCALES,
    LOCALES_DIR,
    MEMBER_DOMAIN,
)

ROOT = LOCALES_DIR.parent
_PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


@dataclass(frozen=True)
class Domain:
    """One gettext domain: its mapping file says where its texts are and how they are marked."""

    name: str
    project: str
    mapping: Path
    locales: tuple[str, ...]


MEMBERS = Domain(MEMBER_DOMAIN, "ChildPact Messenger", ROOT / "babel.cfg", LOCALES)
DASHBOARD = Domain(
    DASHBOARD_DOMAIN, "ChildPact Messenger dashboard", ROOT / "babel-admin.cfg", DASHBOARD_LOCALES
)
DOMAINS = (MEMBERS, DASHBOARD)


def extract(domain: Domain) -> Catalog:
    """Every text of the domain in the code and the templates, as a template catalog."""
    with domain.mapping.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename=str(domain.mapping))
    template = Catalog(project=domain.project, domain=domain.name, fuzzy=False)
    for _filename, _lineno, message, comments, context in extract_from_dir(
        ROOT,
        method_map=method_map,
        options_map=options_map,
        keywords={},  # each section of the mapping file names its own marks
        comment_tags=("Translators:",),
    ):
        template.add(message, locations=(), auto_comments=comments, context=context)
    return template


def po_path(domain: Domain, locale: str, directory: Path = LOCALES_DIR) -> Path:
    return directory / locale / "LC_MESSAGES" / f"{domain.name}.po"


def load(domain: Domain, locale: str, directory: Path = LOCALES_DIR) -> Catalog:
    with po_path(domain, locale, directory).open("rb") as fh:
        return read_po(fh, locale=locale, domain=domain.name)


def update(domain: Domain, template: Catalog) -> None:
    """Write the template and bring each catalog in line with it; English copies its texts."""
    with (LOCALES_DIR / f"{domain.name}.pot").open("wb") as fh:
        write_po(fh, template, sort_output=True, no_location=True, width=100)
    for locale in domain.locales:
        path = po_path(domain, locale)
        if path.exists():
            catalog = load(domain, locale)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(
                locale=locale, domain=domain.name, project=domain.project, fuzzy=False
            )
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
    domain: str
    locale: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.domain} {self.locale}: {self.what}: {self.msgid[:60]!r}"


def check(
    domain: Domain, template: Catalog | None = None, directory: Path = LOCALES_DIR
) -> list[Problem]:
    """Everything wrong with the domain's catalogs: missing, empty, fuzzy, broken placeholders,
    wrong plural forms, or not compiling. An empty list means every locale is whole."""
    template = template or extract(domain)
    problems: list[Problem] = []
    for locale in domain.locales:
        if not po_path(domain, locale, directory).exists():
            problems.append(Problem(domain.name, locale, "", "catalog missing"))
            continue
        catalog = load(domain, locale, directory)
        for wanted in template:
            if wanted.id:
                message = catalog.get(wanted.id, context=wanted.context)
                found = _check_message(wanted, message, catalog.num_plurals)
                problems.extend(Problem(domain.name, locale, key, what) for key, what in found)
        try:
            write_mo(BytesIO(), catalog, use_fuzzy=False)
        except Exception as exc:
            problems.append(Problem(domain.name, locale, "", f"does not compile: {exc}"))
    return problems


def _check_message(wanted: Message, message: Message | None, forms: int) -> list[tuple[str, str]]:
    """What is wrong with one translation, as (msgid, what) pairs."""
    key = wanted.id if isinstance(wanted.id, str) else wanted.id[0]
    if message is None:
        return [(key, "missing")]
    if message.fuzzy:
        return [(key, "fuzzy")]
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    if isinstance(wanted.id, tuple | list):
        if len(strings) != forms:
            return [(key, f"needs {forms} plural forms, has {len(strings)}")]
        source = wanted.id[1]
    else:
        source = wanted.id
    problems = []
    for text in strings:
        if not text or not text.strip():
            problems.append((key, "untranslated"))
        elif sorted(_PLACEHOLDER.findall(text)) != sorted(_PLACEHOLDER.findall(source)):
            # Every form keeps {n}: in Russian or Serbian the "one" form also serves 21, 31...
            problems.append((key, "placeholders differ from the English text"))
        if wanted.context == "command" and not all(w.strip() for w in text.split(",")):
            problems.append((key, "empty command word"))
    return problems


def extract_all() -> None:
    """Refresh both domains' templates and catalogs from the code."""
    for domain in DOMAINS:
        update(domain, extract(domain))


def check_all(directory: Path = LOCALES_DIR) -> list[Problem]:
    """Everything wrong in both domains' catalogs."""
    return [problem for domain in DOMAINS for problem in check(domain, directory=directory)]
