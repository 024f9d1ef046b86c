"""Recognising a member's question: which topic, in which language, or honestly none."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
from anyascii import anyascii
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.i18n import LOCALES
from bot.knowledge import Knowledge

THRESHOLD = 0.42  # below this similarity the bot says it does not know
SMALLTALK = "~"  # label prefix of small-talk entries
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SCRIPTS = {"ARMENIAN": "hy", "GEORGIAN": "ka"}
_LANGID = ["en", "sq", "hy", "az", "bs", "bg", "ka", "ro", "ru", "sr", "tr", "uk", "hr"]
_SOUTH_SLAVIC = {"bs", "sr", "sr_Latn"}


@dataclass(frozen=True, slots=True)
class Match:
    topic: str | None  # a topic id; None when the bot abstains or it is small talk
    smalltalk: str | None
    score: float
    lang: str  # the language to answer in


def normalize(text: str) -> str:
    """One spelling for every way of typing: no case, no accents, Latin letters for every
    script (so that "skolko stran" meets "сколько стран"), words only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", anyascii(folded).lower()).split())


class Matcher:
    """Nearest examples by character and word n-grams, over every locale's examples at once."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        documents: list[str] = []
        labels: list[str] = []
        for locale in LOCALES:
            for topic in knowledge.topics[locale].values():
                for text in (topic.title, *topic.examples):
                    documents.append(normalize(text))
                    labels.append(topic.id)
            for talk in knowledge.smalltalk[locale].values():
                for text in talk.examples:
                    documents.append(normalize(text))
                    labels.append(SMALLTALK + talk.id)
        order = np.argsort(np.array(labels), kind="stable")
        self._labels = [labels[i] for i in order]
        documents = [documents[i] for i in order]
        self._names = sorted(set(labels))
        self._starts = np.array([self._labels.index(name) for name in self._names])
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        self._words = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\w+"
        )
        self._matrix = hstack(
            [
                self._chars.fit_transform(documents) * 0.65,
                self._words.fit_transform(documents) * 0.35,
            ]
        ).tocsr()
        self._languages = _identifier()

    def match(self, text: str, member_locale: str) -> Match:
        lang = self.language(text, member_locale)
        query = normalize(text)
        if not query:
            return Match(None, None, 0.0, lang)
        vector = hstack(
            [self._chars.transform([query]) * 0.65, self._words.transform([query]) * 0.35]
        ).tocsr()
        similarities = (self._matrix @ vector.T).toarray().ravel()
        best_per_label = np.maximum.reduceat(similarities, self._starts)
        ranked = np.argsort(best_per_label)[::-1]
        best = self._names[ranked[0]]
        score = float(best_per_label[ranked[0]])
        if score < THRESHOLD:
            return Match(None, None, score, lang)
        if best.startswith(SMALLTALK):
            return Match(None, best[len(SMALLTALK) :], score, lang)
        return Match(best, None, score, lang)

    def language(self, text: str, member_locale: str) -> str:
        """The question's language when it is clear, else the member's."""
        for char in text:
            if char.isalpha() and ord(char) > 0x24F:
                name = unicodedata.name(char, "")
                for script, locale in _SCRIPTS.items():
                    if name.startswith(script):
                        return locale
                break
        if len(text.split()) < 3:
            return member_locale
        found, confidence = self._languages.classify(text)
        if confidence < 0.9:
            return member_locale
        if found in ("sr", "hr", "bs"):
            if member_locale in _SOUTH_SLAVIC:
                return member_locale  # one language family: their choice of variant stands
            return "sr" if _is_cyrillic(text) else "sr_Latn"
        return str(found) if found in LOCALES else member_locale


def _is_cyrillic(text: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in text)


@cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(_LANGID)
    return identifier
