"""The safeguarding lexicon on labelled messages: recall and false alarms per locale."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.i18n import LOCALES
from bot.knowledge.detector import CORPUS_DIR
from bot.knowledge.safeguarding import Safeguarding

HERE = Path(__file__).parent
# The lexicon's own labelled texts are part of the classifier's training corpus now
PLACES = {"disclosures.yaml": CORPUS_DIR, "heldout.yaml": CORPUS_DIR, "sealed.yaml": HERE}
# (file, lowest recall, highest false-alarm share) per locale; a little below what the lexicon
# reaches, so that a change that loses real disclosures fails and noise does not
FLOORS = {
    "disclosures.yaml": (0.95, 0.05),
    "heldout.yaml": (0.95, 0.05),
    # two disclosures and one harmless text per locale, never tuned on: one miss is allowed
    "sealed.yaml": (0.50, 0.0),
}


@pytest.fixture(scope="module")
def safeguarding() -> Safeguarding:
    return Safeguarding()


def _messages(name: str) -> list[dict]:  # type: ignore[type-arg]
    return yaml.safe_load((PLACES[name] / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_every_locale_has_disclosures_and_harmless_texts(name: str) -> None:
    messages = _messages(name)
    for locale in LOCALES:
        mine = [m for m in messages if m["lang"] == locale]
        assert any(m["alert"] for m in mine) and not all(m["alert"] for m in mine), locale


@pytest.mark.parametrize("name", sorted(FLOORS))
@pytest.mark.parametrize("locale", LOCALES)
def test_recall_and_false_alarms(safeguarding: Safeguarding, name: str, locale: str) -> None:
    recall_floor, false_ceiling = FLOORS[name]
    missed, alarmed, disclosures, harmless = [], [], 0, 0
    for message in _messages(name):
        if message["lang"] != locale:
            continue
        # as the FAQ handler asks: the member's locale, the message's language, English
        found = safeguarding.is_disclosure(message["text"], [locale, "en"])
        if message["alert"]:
            disclosures += 1
            if not found:
                missed.append(message["text"])
        else:
            harmless += 1
            if found:
                alarmed.append(message["text"])
    recall, false_alarms = 1 - len(missed) / disclosures, len(alarmed) / harmless
    if name == "sealed.yaml":  # its texts are never shown: nothing is tuned on them
        missed, alarmed = [], []
    assert recall >= recall_floor, missed
    assert false_alarms <= false_ceiling, alarmed


@pytest.mark.parametrize(
    ("text", "locales"),
    [
        ("otac bije malog svaki dan", ["sr"]),  # a Serbian member typing Latin
        ("батько б'є дитину щодня", ["ru"]),  # Ukrainian from a member set to Russian
        ("ögey ata kızı dövüyor", ["az"]),  # Turkish from a member set to Azerbaijani
    ],
)
def test_kin_languages_are_read_too(
    safeguarding: Safeguarding, text: str, locales: list[str]
) -> None:
    assert safeguarding.is_disclosure(text, locales)
