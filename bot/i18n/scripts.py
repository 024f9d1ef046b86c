"""Writing systems: Serbian Latin as the transliteration of Serbian Cyrillic, and which letters
belong to which script, for the checks that keep each locale in its own."""

from __future__ import annotations

import re

_SERBIAN = dict(
    zip(
        "АБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШабвгдђежзијклмнопрстћуфхцчш",
        "ABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠabvgdđežzijklmnoprstćufhcčš",
        strict=True,
    )
)
_SERBIAN_PAIRS = {"Љ": "Lj", "Њ": "Nj", "Џ": "Dž", "љ": "lj", "њ": "nj", "џ": "dž"}

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Placeholders, markup, /commands and web addresses are the same in every script.
_NOT_WORDS = re.compile(
    r"(?<!\S)/[a-z_]+|\{[a-z_]*\}|%\([a-z_]+\)[sd]|<[^>]+>|https?://\S+|\S+@\S+"
)


def serbian_latin(text: str) -> str:
    """Serbian Cyrillic written in Serbian Latin, letter for letter (Љ → Lj, or LJ in a word
    in capitals); anything that is not Serbian Cyrillic is kept as it is."""
    out = []
    for i, char in enumerate(text):
        if char in _SERBIAN_PAIRS:
            pair = _SERBIAN_PAIRS[char]
            after = text[i + 1 : i + 2]
            out.append(pair.upper() if char.isupper() and after.isupper() else pair)
        else:
            out.append(_SERBIAN.get(char, char))
    return "".join(out)


def words_outside(text: str) -> str:
    """The text without its placeholders, markup and addresses: what a script check reads."""
    return _NOT_WORDS.sub(" ", text)
