"""The helplines as members read them: in a text of their own language, the number without the
secretariat's notes, and the line's name without English words."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.i18n import LOCALES, LOCALES_DIR, Translator
from bot.knowledge.safeguarding import Safeguarding

COUNTRIES = sorted(yaml.safe_load((LOCALES_DIR / "helplines.yaml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def safeguarding() -> Safeguarding:
    return Safeguarding()


def test_the_emergency_number_comes_without_the_note_in_english(safeguarding: Safeguarding):
    answer = safeguarding.answer(Translator("bs"), "BA", alerted=True)
    assert "nazovite 122." in answer and "police" not in answer


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_no_english_words_reach_a_member_in_another_language(
    safeguarding: Safeguarding, locale: str
):
    for country in COUNTRIES:
        answer = safeguarding.answer(Translator(locale), country, alerted=True)
        english = re.findall(r"\b(police|ambulance|fire|[Hh]otline|[Hh]elpline|[Cc]hild)\b", answer)
        assert not english, (country, answer)
