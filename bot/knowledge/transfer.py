"""The knowledge as YAML files, the layout of ``locales/<locale>/knowledge.yaml``: written from
the database for a backup, a review or another installation, and read back into it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LOCALES
from bot.knowledge import library
from bot.knowledge.library import KnowledgeEditError

FILE = "knowledge.yaml"


async def export(session: AsyncSession, folder: Path) -> int:
    """One file per language with the topics it has texts for, in the members' order;
    archived topics say so in the English file. The number of topics written."""
    records = await library.listed(session, archived=True)
    for locale in LOCALES:
        topics: dict[str, Any] = {}
        for found in records:
            entry: dict[str, Any] = {}
            for name, field in (("title", "titles"), ("answer", "answers"), ("more", "more")):
                if getattr(found, field).get(locale):
                    entry[name] = getattr(found, field)[locale]
            if found.examples.get(locale):
                entry["examples"] = list(found.examples[locale])
            if locale == "en" and found.archived:
                entry["archived"] = True
            if entry:
                topics[found.key] = entry
        path = folder / locale / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.safe_dump({"topics": topics}, allow_unicode=True, sort_keys=False, width=100),
            encoding="utf-8",
        )
    return len(records)


def read(folder: Path) -> dict[str, dict[str, Any]]:
    """key -> the texts of every language found, in the API's shape (and ``archived``)."""
    found: dict[str, dict[str, Any]] = {}
    for locale in LOCALES:
        path = folder / locale / FILE
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        topics = data.get("topics") or {}
        if not isinstance(topics, dict):
            raise KnowledgeEditError("shape", f"{path}: topics is not a mapping")
        for key, entry in topics.items():
            if not isinstance(entry, dict):
                raise KnowledgeEditError("shape", f"{path}: topic {key} is not a mapping")
            texts = found.setdefault(str(key), {"titles": {}, "answers": {}, "more": {},
                                                "examples": {}})  # fmt: skip
            for name, field in (("title", "titles"), ("answer", "answers"), ("more", "more")):
                if entry.get(name):
                    texts[field][locale] = str(entry[name]).strip()
            texts["examples"][locale] = [str(q) for q in entry.get("examples") or ()]
            if locale == "en":
                texts["archived"] = bool(entry.get("archived"))
    return found


async def load_into(session: AsyncSession, actor: str, folder: Path) -> tuple[int, int]:
    """Create the topics the database lacks and bring the others to the files' texts (a
    language absent from the files is kept). (created, changed)."""
    made = changed = 0
    existing = {found.key: found for found in await library.listed(session, archived=True)}
    for key, texts in read(folder).items():
        archived = texts.pop("archived", None)
        if key not in existing:
            await library.create(session, actor, key, texts)
            made += 1
        else:
            before = existing[key].texts()
            after = await library.change(session, actor, key, texts)
            changed += after.texts() != before
        if archived is not None:
            await library.set_archived(session, actor, key, archived)
    return made, changed
