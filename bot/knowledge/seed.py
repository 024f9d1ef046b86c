"""What a new installation knows: today's YAML (``locales/*/knowledge.yaml`` and
``locales/helplines.yaml``) as rows for the database, read once by the migration that made the
knowledge the secretariat's."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from bot.i18n import LOCALES_DIR
from bot.knowledge.load import load_knowledge


def english_digest(english: dict[str, Any]) -> str:
    """What a translation follows: the English title, answer and more, as one short digest."""
    parts = [str(english.get(name) or "") for name in ("title", "answer", "more")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def seed_topics(directory: Path = LOCALES_DIR) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """Every topic in the English order: its key, and per locale its title, answer, more and
    examples."""
    knowledge = load_knowledge(directory)
    return [
        (
            key,
            {
                locale: {
                    "title": topics[key].title,
                    "answer": topics[key].answer,
                    "more": topics[key].more,
                    "examples": list(topics[key].examples),
                }
                for locale, topics in knowledge.topics.items()
            },
        )
        for key in knowledge.topic_ids
    ]


def seed_helplines(directory: Path = LOCALES_DIR) -> list[dict[str, Any]]:
    """Every country's helpline as the YAML has it: none of them verified."""
    raw = yaml.safe_load((directory / "helplines.yaml").read_text(encoding="utf-8")) or {}
    return [
        {
            "country": country,
            "name": (entry.get("helpline") or {}).get("name"),
            "number": (entry.get("helpline") or {}).get("number"),
            "hours": None,
            "emergency": [str(n) for n in entry.get("emergency") or ()],
            "source": entry.get("source"),
            "note": entry.get("note"),
            "verified_by": None,
            "verified_at": None,
        }
        for country, entry in raw.items()
    ]
