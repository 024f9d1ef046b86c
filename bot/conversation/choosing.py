"""Reading a typed answer to the options a member was last offered: the option's number, its
words or a recognisable part of them (without case, accents or script), a language by its name
in any language, a country by its short or long name in any language or its code."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from anyascii import anyascii
from babel import Locale

from bot.countries import MEMBER_COUNTRIES
from bot.i18n import LANGUAGE_NAMES, LOCALES, Translator, fold
from bot.storage.outbox import CHOICE_MARK as _MARK
from bot.storage.outbox import choice_entry

LIMIT = 60  # longer texts are questions or messages, not answers to options


entry = choice_entry  # how one offered option is kept, so that its words can be read back


def payload_of(kept: str) -> str:
    return kept.partition(_MARK)[0]


def label_of(kept: str) -> str:
    return kept.partition(_MARK)[2]


def loose(text: str) -> str:
    """Folded for matching across scripts: case, accents, and Cyrillic, Armenian or Georgian
    letters typed in Latin."""
    return fold(anyascii(fold(text)).replace("'", ""))


@cache
def _language_names(code: str) -> frozenset[str]:
    names = {LANGUAGE_NAMES[code], code, code.replace("_", " ")}
    try:
        language = Locale.parse(code)
        for shown in ("en", *LOCALES):
            name = language.get_language_name(Locale.parse(shown))
            if name:
                names.add(name)
    except (ValueError, TypeError):
        pass
    return _forms(names)


@cache
def _country_names(code: str) -> frozenset[str]:
    names = {code}
    for locale in ("en", *LOCALES):
        names.add(Translator(locale).country_name(code))
    try:
        names.add(Locale.parse("en").territories.get(code, code))
    except (ValueError, TypeError):
        pass
    return _forms(names)


def _forms(names: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for name in names:
        for form in (fold(name), loose(name)):
            if form:
                found.add(form)
    return frozenset(found)


def names_of(payload: str, label: str) -> frozenset[str]:
    """Every name an option answers to, folded."""
    names = set(_forms([label]))
    prefix, _, argument = payload.partition(":")
    if prefix == "lang" and argument in LOCALES:
        names |= _language_names(argument)
    elif prefix == "country" and argument in MEMBER_COUNTRIES:
        names |= _country_names(argument)
    return frozenset(names)


INFLECTION = 2  # letters an ending may add to a name ("Shqipëria" for "Shqipëri")


def words_fit(typed: list[str], name: str) -> bool:
    """Every typed word is a word of the name, the start (3 letters or more) of one, or one
    with an ending of a letter or two (a definite or adjective form); two letters alone ("nu",
    "da") name nothing: they are yes and no words, read as such."""
    if sum(len(t) for t in typed) < 3:
        return False
    words = name.split()
    return all(any(_fits(t, w) for w in words) for t in typed)


def _fits(typed: str, word: str) -> bool:
    if typed == word or (len(typed) >= 3 and word.startswith(typed)):
        return True
    return len(word) >= 4 and typed.startswith(word) and len(typed) - len(word) <= INFLECTION


def read(text: str, kept: list[str]) -> str | None:
    """The payload of the option ``text`` picks among ``kept`` (as ``entry`` keeps them), or
    None when it names none, or more than one, of them."""
    stripped = text.strip().rstrip(".)")
    if not kept or not stripped or len(stripped) > LIMIT:
        return None
    if stripped.isdigit():
        index = int(stripped) - 1
        return payload_of(kept[index]) if 0 <= index < len(kept) else None
    typed = {fold(stripped), loose(stripped)} - {""}
    if not typed:
        return None
    options = [(payload_of(k), names_of(payload_of(k), label_of(k))) for k in kept]
    exact = [payload for payload, names in options if names & typed]
    if exact:  # the same name for two options (Serbian, Cyrillic and Latin): the first shown
        return exact[0]
    partial = {
        payload
        for payload, names in options
        for form in typed
        if any(words_fit(form.split(), name) for name in names)
    }
    return partial.pop() if len(partial) == 1 else None
