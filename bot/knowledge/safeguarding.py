"""Safeguarding: recognise a member disclosing that a child is in danger, and where to send them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.i18n import LOCALES_DIR, Translator

PARTS = ("harm", "child", "urgent", "benign")
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


@dataclass(frozen=True)
class Helpline:
    name: str | None
    number: str | None
    emergency: tuple[str, ...]


def _fold(text: str) -> str:
    # The lexicon is written for lower-case text without combining marks (see its header).
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Safeguarding:
    """The lexicon of every locale, compiled once, and the helplines per country."""

    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        lexicon = yaml.safe_load((directory / "safeguarding.yaml").read_text(encoding="utf-8"))
        self._patterns: dict[str, dict[str, re.Pattern[str]]] = {
            locale: {
                part: re.compile(
                    "|".join(f"(?:{p})" for p in entry.get(part) or ["(?!)"]), re.IGNORECASE
                )
                for part in PARTS
            }
            for locale, entry in lexicon.items()
        }
        raw = yaml.safe_load((directory / "helplines.yaml").read_text(encoding="utf-8"))
        self._helplines = {
            country: Helpline(
                (entry.get("helpline") or {}).get("name"),
                (entry.get("helpline") or {}).get("number"),
                tuple(entry.get("emergency") or ()),
            )
            for country, entry in raw.items()
        }

    def is_disclosure(self, text: str, locales: list[str]) -> bool:
        """A disclosure in any of ``locales`` (the member's, the message's, English)."""
        folded = _fold(text[:4000])
        for locale in dict.fromkeys(kin for lang in locales for kin in (lang, *KIN.get(lang, ()))):
            found = self._patterns.get(locale)
            if found is None:
                continue
            alarming = found["urgent"].search(folded) or (
                found["harm"].search(folded) and found["child"].search(folded)
            )
            if alarming and not found["benign"].search(folded):
                return True
        return False

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
        if line.number:
            parts.append(
                t(
                    "You can also call the child helpline {name}: {number}.",
                    name=line.name or "",
                    number=line.number,
                )
            )
        parts.append(
            t("ChildPact's safeguarding focal point has been told about your message.")
            if alerted
            else t(
                "Please also tell ChildPact's secretariat: choose Talk to the secretariat in the menu."
            )
        )
        return "\n\n".join(p for p in parts if p)
