"""Recognising a member's question: which topic, in which language, or honestly none.

Every example of every locale (and every topic title) is brought to one spelling: no case, no
accents, Latin letters for every script (anyascii), and the usual ways of typing Cyrillic,
Georgian or Armenian in Latin folded together ("kh"/"h", "ts"/"c", "y"/"i", doubled letters), so
that "kogda sozdali koaliciyu" meets "когда создали коалицию". Texts are described by TF-IDF
character n-grams inside words (typos, inflections, missing diacritics) and by words and word
pairs. A question's score for a topic mixes its nearest example and the topic's centroid (all of
its examples in all languages at once), which copes with wordings nobody wrote down. Chatty texts
are also read clause by clause, so that "hi! how many countries..." finds the question behind the
greeting; a greeting glued to a question that is out of scope is no small talk. Below THRESHOLD the
bot does not guess, nor when a small learnt gate over the figures of a question's scores (best and
second topic, out of scope, small talk, how much of it the knowledge knows...) reads it as a
question the knowledge does not answer (GATE, ``faq_gate.json``, trained by ``bench.faq_gate``). Besides the knowledge's own examples, the training corpus
(``locales/faq_corpus/``, ``Knowledge.corpus``) teaches it more ways of asking each live topic and
more questions it does not answer.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import repeat
from pathlib import Path

import numpy as np
from anyascii import anyascii
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from scipy.sparse import csr_matrix, diags, vstack

from bot.i18n import LOCALES
from bot.knowledge.load import Knowledge

THRESHOLD = 0.15  # below this score the bot says it does not know
NEAREST = 0.5  # weight of the nearest example; the rest goes to the topic's centroid
CHAR_WEIGHT = 0.8  # character n-grams; the rest goes to words and word pairs
UNKNOWN = 0.5  # how much n-grams that no example has lower a question's score
NGRAMS = range(3, 5)  # 3- and 4-grams: measured better than 3-5 on unseen and misspelt questions
MAX_CHARS = 600  # a long message is read from its beginning
CLAUSE_CHARS = 300  # shorter messages are also read clause by clause
MAX_CLAUSES = 6
LANGID_CONFIDENCE = 0.9
LANGID_CHARS = 200  # enough to tell a language
SMALLTALK = "~"  # label prefix of small-talk entries
TALK_RATIO = 0.9  # a topic wins over closer small talk when it scores at least this share of it
NEAR_MISS = 0.10  # an abstention offers the topics that scored at least this (at most NEAR_TOPICS)
NEAR_TOPICS = 3
# a reading proposes nothing when out of scope scores at least this share of its best topic (and
# more than its small talk):
# chosen on the figures of tests/faq/eval_heldout.yaml and tests/faq/heldout.yaml (out-of-scope
# examples count only by what sets them apart from the topics: see _distinctive); with the
# corpus's first batch alone 0.6 lost "and how can our organisation join?" to "how does an
# organisation join the ispcan network"; with its second batch 0.6 keeps it and answers a
# quarter fewer out-of-scope questions than 0.7 (0.55 and lower lose it again)
OUTSIDE_RATIO = 0.6
# a reading with a word that only out-of-scope examples have ("vacancies", "eurochild", "юнисеф":
# no topic's, small talk's, answer's or synonym's word in any locale) weighs its out-of-scope
# score this much more: "what age can a kid legally be left home alone" ("home") is no question
# on the members, though it names a country. Another organisation asked about in a topic's
# words ("when was save the children founded") still gets the topic.
# Chosen on the held-out figures (python -m bench.faq_eval --grid prints them for other values)
OUTSIDE_WORD = 1.4
# the corpus's out-of-scope questions, written close to the topics on purpose ("what's the email
# of the gs"), count this much as a question's nearest example (in full in the out-of-scope
# centre): in full, one of them alone takes questions members ask ("whats ur email or phone");
# not at all, "is it legal to leave a 10 year old home alone" no longer keeps "what age can a kid
# be left home alone in romania" out of scope. Chosen on the held-out figures
CORPUS_OUTSIDE_NEAREST = 0.7
# the gate: gradient-boosted trees over the figures of a question's scores (GATE_FIGURES below), trained
# offline by python -m bench.faq_gate on the knowledge's and the corpus's own examples, each
# scored by a matcher built without it (5 folds), to tell a question the knowledge answers from one
# it does not. A proposed topic whose question it gives less than GATE is no answer: the bot
# abstains and offers the closest topics. Chosen on the held-out figures (python -m
# bench.faq_eval --grid): 0.2 keeps every right topic of eval_heldout, heldout.yaml and
# questions.yaml and answers 11 of 27 out-of-scope questions of eval_heldout fewer; above it
# heldout.yaml loses right topics. It reads no topic's id: a knowledge edit leaves it valid
GATE = 0.2
# the gate judges only the topics with this many examples (every locale's and the corpus's): it
# learnt from topics of 186 to 400 or so, whose questions score higher than those of a topic just
# added on the dashboard with a few examples ("what are the dates of the yearly forum?" met such
# a topic at 0.24 and the gate said 0.18); those are answered as before
GATE_EXAMPLES = 100
GATE_FILE = Path(__file__).with_name("faq_gate.json")
OUTSIDE_WORD_CHARS = 4  # shorter words are too often a typo or a particle to tell anything
OUTSIDE = "!"  # the label of out-of-scope examples: nearest to them, the bot does not answer

_NOT_TEXT = re.compile(r"[^\w\s]|_")  # emoji, punctuation, symbols: never words
_WORD = re.compile(r"[^\W_]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_BEFORE_ASCII = str.maketrans({"ъ": "a", "ь": None, "'": None, "’": None, "ʼ": None, "`": None})
_FOLDS = (
    ("shch", "s"), ("sch", "s"), ("dzh", "z"), ("dz", "z"), ("dj", "d"), ("ch", "c"), ("sh", "s"),
    ("zh", "z"), ("kh", "h"), ("gh", "h"), ("ts", "c"), ("tz", "c"), ("ph", "f"), ("th", "t"),
    ("y", "i"), ("j", "i"), ("w", "v"), ("q", "k"), ("x", "h"),
)  # fmt: skip
_DOUBLED = re.compile(r"([a-z])\1+")
_QUESTIONS = re.compile(r"[^?？]*[\w][^?？]*[?？]")  # each part of a text that ends with "?"
_CLAUSES = re.compile(r"[.!?;:,\n]+|\s[-–—]+\s")
_SCRIPT = re.compile("([\u0530-\u058f\ufb13-\ufb17])|[\u10a0-\u10ff\u1c90-\u1cbf\u2d00-\u2d2f]")
_BRAND = re.compile(r"child\s*pact", re.IGNORECASE)
# The coalition's name is in nearly every question: as one word and no character n-grams, it does
# not drown the rest of a short question nor pull it towards "who we are"
_FOLDED_BRAND = re.compile(r"c[aie]{1,2}l?d?pa[ck]t")
_BRAND_WORD = "childpact"
_NOT_SERBIAN = re.compile(r"[yqwx]|ch|zh|kh")  # letters Serbian Latin never writes
_LETTERS = {
    "uk": set("іїєґ"),
    "sr": set("ђћџљњјđ"),
    "az": set("ə"),
    "tr": set("ığ"),  # after az: Azerbaijani writes them too
    "sq": set("ë"),
    "ro": set("șțţă"),
}
_LANGID = ["en", "sq", "hy", "az", "bs", "bg", "ka", "ro", "ru", "sr", "tr", "uk", "hr"]
_SOUTH_SLAVIC = {"bs", "sr", "sr_Latn"}
_FAMILY = {"bs", "hr", "sr"}
_TURKIC = {"tr", "az"}


_Vector = tuple[np.ndarray, np.ndarray]  # feature ids, weights


@dataclass(frozen=True, slots=True)
class Match:
    topic: str | None  # a topic id; None when the bot abstains or it is small talk
    smalltalk: str | None
    score: float
    lang: str  # the language to answer in
    near: tuple[str, ...] = ()  # when it abstains: the closest topics, to offer as buttons
    also: str | None = None  # a second question of the same message, on another topic


# what the gate reads of a question, in this order (the file names them: bench.faq_gate writes it)
GATE_FIGURES = (
    "topic",  # the best topic's score
    "second",  # the second topic's, in the same reading
    "margin",  # the difference
    "nearest",  # the best topic's nearest example
    "centroid",  # and its centre
    "outside",  # the best out-of-scope score of that reading
    "outside_weighed",  # the same, times OUTSIDE_WORD when it has an out-of-scope word
    "outside_share",  # that over the best topic's score
    "outside_word",  # a reading of the text has an out-of-scope word
    "talk",  # the best small talk's score
    "talk_share",  # that over the best topic's score
    "known_chars",  # the share of the reading's character n-grams some example has
    "known_terms",  # and of its words and word pairs
    "words",  # the reading's words
    "text_words",  # the text's
    "readings",  # the text and its clauses
    "outside_readings",  # of which taken for out of scope
    "whole",  # the topic came from the whole text, not a clause
    "agree",  # the share of readings proposing a topic that propose this one
    "whole_topic",  # the whole text's best topic score
    "clause_gain",  # the topic's score over that
    "whole_same",  # the whole text's best topic is this one
    "third",  # the third topic's score
    "unknown_words",  # the share of the text's words no example has
    "names",  # capitalised words after the first that no example has or only out of scope has
    "digits",  # the text has a digit (a year, an amount)
    "outside_words",  # the text's words that only out-of-scope examples have
)


def normalize(text: str) -> str:
    """One spelling for every way of typing: no case, no accents, no emoji, Latin letters for
    every script (so that "skolko stran" meets "сколько стран"), words only."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_BEFORE_ASCII)
    return " ".join(" ".join(map(_latin, _NOT_TEXT.sub(" ", folded).split())).split())


@lru_cache(maxsize=1 << 16)
def _latin(word: str) -> str:
    return _NON_WORD.sub(" ", anyascii(word).lower().replace("'", ""))


@lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """The transliteration variants of a word brought together: "koalitsiyu" -> "koaliciu"."""
    for typed, common in _FOLDS:
        word = word.replace(typed, common)
    return _DOUBLED.sub(r"\1", word)


def _features(text: str, synonyms: Mapping[str, str]) -> tuple[Counter[str], Counter[str]]:
    """Character n-grams inside words, and words with word pairs; a word with a synonym in the
    knowledge also counts as that word."""
    words = _words(text)
    meant = [synonyms[word] for word in words if word in synonyms]
    chars: Counter[str] = Counter()
    for word in (*words, *meant):
        if word != _BRAND_WORD:
            chars.update(_grams(word))
    terms = Counter(words)
    terms.update(meant)
    terms.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return chars, terms


@lru_cache(maxsize=1 << 15)
def _example_features(text: str) -> tuple[Counter[str], Counter[str]]:
    """An example's features, kept: the knowledge rebuilt after a change reads the same texts
    again (read only: never change what it returns)."""
    return _features(text, {})


@lru_cache(maxsize=1 << 16)
def _grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    return tuple(padded[i : i + n] for n in NGRAMS for i in range(len(padded) - n + 1))


class _Space:
    """One TF-IDF space (characters, or words): vocabulary, idf, and L2-normalised vectors."""

    def __init__(self, documents: list[Counter[str]], offset: int) -> None:
        frequency: Counter[str] = Counter()
        for document in documents:
            frequency.update(document.keys())
        self.offset = offset
        self.ids = {feature: offset + i for i, feature in enumerate(frequency)}
        count = len(documents) + 1
        self.idf = np.array([math.log(count / (1 + df)) + 1 for df in frequency.values()])
        self.unknown_idf = math.log(count) + 1

    def vector(self, counts: Counter[str], weight: float, unknown: float) -> _Vector:
        """Feature ids and weights; ``unknown`` of the weight of features no example has counts
        in the norm, so that a text mostly about something else scores low."""
        ids = np.fromiter(map(self.ids.get, counts, repeat(-1)), np.int64, len(counts))
        tf = 1 + np.log(np.fromiter(counts.values(), np.float64, len(counts)))
        known = ids >= 0
        values = tf[known] * self.idf[ids[known] - self.offset]
        missing = unknown * float(np.sum(tf[~known] ** 2)) * self.unknown_idf**2
        norm = math.sqrt(float(values @ values) + missing) or 1.0
        return ids[known], values * (weight / norm)


def learnt(knowledge: Knowledge, locales: tuple[str, ...] = LOCALES) -> list[tuple[str, str, bool]]:
    """What the matcher learns from, as (label, text, from the corpus): each topic's title and
    examples, small talk's, out of scope's, and the training corpus."""
    examples: list[tuple[str, str, bool]] = []
    for locale in locales:
        for topic in knowledge.topics[locale].values():
            texts = (topic.title, *topic.examples) if topic.own else topic.examples
            examples += [(topic.id, text, False) for text in texts]
        for talk in knowledge.smalltalk[locale].values():
            examples += [(SMALLTALK + talk.id, text, False) for text in talk.examples]
        examples += [(OUTSIDE, text, False) for text in knowledge.outside.get(locale, ())]
        # the training corpus: a live topic's questions are its examples (an archived or
        # unknown topic's are ignored), the others out-of-scope examples
        live = knowledge.topics[locale]
        examples += [
            (OUTSIDE if topic is None else topic, text, True)
            for text, topic in knowledge.corpus.get(locale, ())
            if topic is None or topic in live
        ]
    return examples


class Matcher:
    """Nearest examples and topic centroids over every locale's examples at once."""

    def __init__(self, knowledge: Knowledge, locales: tuple[str, ...] = LOCALES) -> None:
        """``locales``: whose examples to learn from (all of them but for experiments)."""
        self.knowledge = knowledge
        examples = learnt(knowledge, locales)
        examples.sort(key=lambda example: example[0])
        labels = [label for label, _, _ in examples]
        self._names = sorted(set(labels))
        self._starts = np.array([labels.index(name) for name in self._names])
        sizes = np.diff([*self._starts, len(labels)]).tolist()
        self._sizes = dict(zip(self._names, sizes, strict=True))  # examples of each label
        kinds = [name[:1] for name in self._names]
        self._talks = np.array([i for i, kind in enumerate(kinds) if kind == SMALLTALK])
        self._outside = np.array([i for i, kind in enumerate(kinds) if kind == OUTSIDE], int)
        self._topics = np.array(
            [i for i, kind in enumerate(kinds) if kind not in (SMALLTALK, OUTSIDE)]
        )
        # examples stay as written: synonyms only widen what a question can meet
        features = [_example_features(text) for _, text, _ in examples]
        self._synonyms = _synonyms(knowledge, locales)
        self._chars = _Space([chars for chars, _ in features], 0)
        self._terms = _Space([terms for _, terms in features], len(self._chars.ids))
        matrix = self._examples(features)
        count = len(features)
        label_of = np.searchsorted(self._starts, np.arange(count), side="right") - 1
        outside = np.isin(label_of, self._outside)
        matrix = _distinctive(matrix, outside, ~outside & ~np.isin(label_of, self._talks))
        members = csr_matrix((np.ones(count), (label_of, np.arange(count))))
        centroids = members @ matrix
        norms = np.sqrt(np.asarray(centroids.multiply(centroids).sum(axis=1)).ravel())
        centroids = diags(1 / np.maximum(norms, 1e-12)) @ centroids
        # the corpus's out-of-scope questions weigh less as a nearest example (not in the centre)
        nearest = outside & np.fromiter((found for _, _, found in examples), bool, count)
        if nearest.any():
            matrix = diags(np.where(nearest, CORPUS_OUTSIDE_NEAREST, 1.0)) @ matrix
        # feature -> examples then centroids: a question only reads the rows of its features
        postings = vstack([matrix, centroids]).T.tocsr()
        self._indptr, self._columns, self._values = postings.indptr, postings.indices, postings.data
        self._lengths = np.diff(self._indptr)
        self._count = count
        answers = [
            text
            for locale in locales
            for entry in (*knowledge.topics[locale].values(), *knowledge.smalltalk[locale].values())
            for text in (entry.answer, getattr(entry, "more", None) or "")
        ]
        answers += [  # and the synonyms: "code" stands for "policy"
            " ".join((word, *variants))
            for locale in locales
            for word, variants in knowledge.synonyms.get(locale, {}).items()
        ]
        self._outside_words = _outside_words(features, outside, answers)
        self._languages = _identifier()
        self.threshold = THRESHOLD
        self.outside_ratio = OUTSIDE_RATIO
        self.outside_word = OUTSIDE_WORD
        self.gate = GATE  # 0: no gate

    def _examples(self, features: list[tuple[Counter[str], Counter[str]]]) -> csr_matrix:
        """Every example's vector, one row each: what ``_vector`` gives an example (none of its
        features is unknown), computed for all rows at once. A change of the knowledge rebuilds
        this while the process answers: row by row it took seconds of CPU on a busy machine."""
        count = len(features)
        rows, columns, data = [], [], []
        for space, part, weight in (
            (self._chars, 0, CHAR_WEIGHT),
            (self._terms, 1, 1 - CHAR_WEIGHT),
        ):
            counters = [found[part] for found in features]
            lengths = np.fromiter(map(len, counters), np.int64, count)
            total = int(lengths.sum())
            ids = np.fromiter((space.ids[f] for c in counters for f in c), np.int64, total)
            tf = 1 + np.log(
                np.fromiter((n for c in counters for n in c.values()), np.float64, total)
            )
            values = tf * space.idf[ids - space.offset]
            row_of = np.repeat(np.arange(count), lengths)
            norms = np.sqrt(np.bincount(row_of, weights=values * values, minlength=count))
            norms[norms == 0] = 1.0
            rows.append(row_of)
            columns.append(ids)
            data.append(values * (weight / norms)[row_of])
        width = len(self._chars.ids) + len(self._terms.ids)
        return csr_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(columns))),
            shape=(count, width),
        )

    def _vector(self, chars: Counter[str], terms: Counter[str], unknown: float) -> _Vector:
        char_ids, char_values = self._chars.vector(chars, CHAR_WEIGHT, unknown)
        term_ids, term_values = self._terms.vector(terms, 1 - CHAR_WEIGHT, unknown)
        return np.concatenate([char_ids, term_ids]), np.concatenate([char_values, term_values])

    def scores(self, text: str) -> np.ndarray | None:
        """Every label's score for one text (None when nothing in it can be read)."""
        return self._scores(*_features(text, self._synonyms))

    def _scores(self, chars: Counter[str], terms: Counter[str]) -> np.ndarray | None:
        parts = self._parts(chars, terms)
        if parts is None:
            return None
        nearest, centroids = parts
        return NEAREST * nearest + (1 - NEAREST) * centroids

    def _parts(self, chars: Counter[str], terms: Counter[str]) -> tuple[np.ndarray, ...] | None:
        """Every label's nearest example's score and its centre's."""
        ids, weights = self._vector(chars, terms, unknown=UNKNOWN)
        if not len(ids):
            return None
        starts, lengths = self._indptr[ids], self._lengths[ids]
        ends = np.cumsum(lengths)
        spots = np.arange(ends[-1]) + np.repeat(starts - ends + lengths, lengths)
        similarity = np.bincount(
            self._columns[spots],
            self._values[spots] * np.repeat(weights, lengths),
            minlength=self._count + len(self._names),
        )
        nearest = np.maximum.reduceat(similarity[: self._count], self._starts)
        return nearest, similarity[self._count :]

    def ranked(self, text: str) -> list[tuple[float, str]]:
        """Every topic's score for the whole text, best first (what the dashboard's trial shows
        beside the answer)."""
        scores = self.scores(text[:MAX_CHARS])
        if scores is None:
            return []
        order = self._topics[np.argsort(scores[self._topics])[::-1]]
        return [(float(scores[i]), self._names[int(i)]) for i in order]

    def match(self, text: str, member_locale: str) -> Match:
        text = text[:MAX_CHARS]
        lang = self.language(text, member_locale)
        (score, topic), (talk_score, talk), near, figures = self._best(text)
        if score >= self.threshold:
            if not self._passes(topic, figures):
                # the question reads like one the knowledge does not answer: no topic, and no
                # small talk either ("hi! what is unicef's budget?" is no greeting)
                return Match(None, None, score, lang, near)
            return Match(topic, None, score, lang, also=self._also(text, topic))
        if talk_score >= self.threshold:
            return Match(None, talk, talk_score, lang)
        return Match(None, None, max(score, talk_score), lang, near)

    def best(self, text: str) -> tuple[tuple[float, str], tuple[float, str], tuple[str, ...]]:
        """The best topic and the best small talk, over the whole text and each of its clauses
        (a greeting or thanks glued to a question must not hide it), and the near misses: the
        closest topics of the readings not taken for out of scope, for an abstention to offer."""
        return self._best(text)[:3]

    def gate_figures(self, text: str) -> np.ndarray | None:
        """What the gate reads of a text (GATE_FIGURES; None when it proposes no topic)."""
        return self._best(text[:MAX_CHARS])[3]

    def _best(
        self, text: str
    ) -> tuple[tuple[float, str], tuple[float, str], tuple[str, ...], np.ndarray | None]:
        """``best`` and the figures of the reading that gave the topic, for the gate."""
        candidates = [text]
        if len(text) <= CLAUSE_CHARS:  # a long message is read as a whole
            clauses = [clause for clause in _CLAUSES.split(text) if _WORD.search(clause)]
            candidates += clauses[:MAX_CLAUSES] if len(clauses) > 1 else []
        topic, talk = (0.0, ""), (0.0, "")
        closest: dict[str, float] = {}
        talk_words = outside_words = 0
        reading: dict[str, float] | None = None  # the figures of the reading that gave the topic
        proposed: list[str] = []  # each reading's topic, for the gate
        whole, whole_name, out_word, out_readings = 0.0, "", False, 0
        for at, candidate in enumerate(candidates):
            chars, terms = _features(candidate, self._synonyms)
            parts = self._parts(chars, terms)
            if parts is None:
                continue
            nearest, centroids = parts
            scores = NEAREST * nearest + (1 - NEAREST) * centroids
            words = len(normalize(candidate).split())
            ranked = self._topics[np.argsort(scores[self._topics])[-NEAR_TOPICS:]]
            first = float(scores[ranked[-1]])
            if at == 0:
                whole, whole_name = first, self._names[int(ranked[-1])]
            ceiling = max(self.outside_ratio * first, scores[self._talks].max())
            outside = raw_outside = scores[self._outside].max() if len(self._outside) else -1.0
            word = not self._outside_words.isdisjoint(terms)
            out_word |= word
            if word:
                outside *= self.outside_word
            if len(self._outside) and outside >= ceiling:
                outside_words = max(outside_words, words)
                out_readings += 1
                continue  # (nearly) closest to what the bot does not answer: it proposes nothing
            for i in ranked:
                if scores[i] >= NEAR_MISS:
                    name = self._names[int(i)]
                    closest[name] = max(closest.get(name, 0.0), float(scores[i]))
            # a topic nearly as close as small talk still counts: "a person, not a bot" is a
            # question for the secretariat that mentions the bot
            best_talk = int(self._talks[np.argmax(scores[self._talks])])
            said = (float(scores[best_talk]), self._names[best_talk][len(SMALLTALK) :])
            if said > talk:
                talk, talk_words = said, words
            best = int(ranked[-1])
            if scores[best] >= TALK_RATIO * scores[best_talk]:
                proposed.append(self._names[best])
                if (first, self._names[best]) > topic:
                    topic = (first, self._names[best])
                    second, third = (
                        float(scores[ranked[-place]]) if len(ranked) >= place else 0.0
                        for place in (2, 3)
                    )  # a knowledge of one or two topics has no second or third
                    reading = {
                        "topic": first, "second": second, "margin": first - second,
                        "third": third, "nearest": float(nearest[best]),
                        "centroid": float(centroids[best]), "outside": float(raw_outside),
                        "outside_weighed": float(outside),
                        "outside_share": float(outside) / max(first, 1e-6),
                        "talk": said[0], "talk_share": said[0] / max(first, 1e-6),
                        "known_chars": _known(chars, self._chars.ids),
                        "known_terms": _known(terms, self._terms.ids),
                        "words": words, "whole": float(at == 0),
                    }  # fmt: skip
        if outside_words > talk_words:
            talk = (
                0.0,
                "",
            )  # "hi! what's the euro rate?": the question is out of scope, not a greeting
        near = sorted(closest, key=closest.__getitem__, reverse=True)[:NEAR_TOPICS]
        if reading is None or topic[0] < self.threshold:
            return topic, talk, tuple(near), None
        text_words = _words(text)
        unknown = sum(word not in self._terms.ids for word in text_words)
        names = 0
        for typed in _NOT_TEXT.sub(" ", text).split()[1:]:
            if typed[:1].isupper():
                spelt = _words(typed)
                names += bool(spelt) and (
                    spelt[0] not in self._terms.ids or spelt[0] in self._outside_words
                )
        seen = reading | {
            "outside_word": float(out_word),
            "text_words": len(normalize(text).split()),
            "readings": len(candidates),
            "outside_readings": out_readings,
            "agree": proposed.count(topic[1]) / len(proposed),
            "whole_topic": whole,
            "clause_gain": topic[0] - whole,
            "whole_same": float(whole_name == topic[1]),
            "unknown_words": unknown / max(len(text_words), 1),
            "names": names,
            "digits": float(any(c.isdigit() for c in text)),
            "outside_words": sum(word in self._outside_words for word in text_words),
        }
        return topic, talk, tuple(near), np.array([seen[name] for name in GATE_FIGURES], float)

    def _passes(self, topic: str, figures: np.ndarray | None) -> bool:
        """Whether the gate lets a proposed topic through (a topic with fewer than GATE_EXAMPLES
        examples it does not judge)."""
        if figures is None or not self.gate or self._sizes[topic] < GATE_EXAMPLES:
            return True
        return _gate(figures) >= self.gate

    def _also(self, text: str, topic: str) -> str | None:
        """Two questions in one message ("when was it founded? and how do we join?"): the
        other question's topic, when each part ending with "?" is read on its own."""
        if len(text) > CLAUSE_CHARS:
            return None
        parts = _QUESTIONS.findall(text)[:MAX_CLAUSES]
        if len(parts) < 2:
            return None
        found = [self._best(part) for part in parts]
        others = [
            (score, name)
            for (score, name), _, _, figures in found
            if score >= self.threshold and self._passes(name, figures)
        ]
        if not any(name == topic for _, name in others):
            return None  # the parts do not read as the whole does: one question, told at length
        others = [(score, name) for score, name in others if name != topic]
        return max(others)[1] if others else None

    def language(self, text: str, member_locale: str) -> str:
        """The question's language when it is clear, else the member's."""
        script = _SCRIPT.search(text)
        if script:
            return "hy" if script.group(1) else "ka"
        letters = set(text.casefold())
        for locale, distinctive in _LETTERS.items():
            if letters & distinctive:
                return _variant(locale, member_locale, text)
        plain = _BRAND.sub(" ", text)  # "childpact" is in every language
        if len(normalize(plain).split()) < 3:
            return member_locale
        sure: Counter[str] = Counter()
        for found, probability in self._languages.rank(plain[:LANGID_CHARS]):
            sure["sr" if found in _FAMILY else found] += probability  # bs, hr, sr: one family
        found, confidence = sure.most_common(1)[0]
        if confidence < LANGID_CONFIDENCE:
            return member_locale
        if found == "sr" and _NOT_SERBIAN.search(plain.casefold()):
            return member_locale  # Latin-typed Russian or Bulgarian ("kak da stanem chlenove")
        return _variant(found, member_locale, text)


def _distinctive(matrix: csr_matrix, outside: np.ndarray, topics: np.ndarray) -> csr_matrix:
    """Out-of-scope examples kept to what sets them apart from the topics' examples: each of
    their features weighs by its share of out-of-scope examples over its share of both. "how does
    an organisation join ispcan" then meets "how can our organisation join" by little more than
    "ispcan", and the question keeps its topic, while "how do we join eurochild" stays outside."""
    present = matrix.copy()
    present.data[:] = 1.0
    share_outside = np.asarray(present[outside].sum(axis=0)).ravel() / max(int(outside.sum()), 1)
    share_topics = np.asarray(present[topics].sum(axis=0)).ravel() / max(int(topics.sum()), 1)
    distinct = share_outside / np.maximum(share_outside + share_topics, 1e-12)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    weighted = matrix.copy()
    weighted.data = matrix.data * np.where(outside[rows], distinct[matrix.indices], 1.0)
    return weighted


def _outside_words(
    features: list[tuple[Counter[str], Counter[str]]], outside: np.ndarray, answers: list[str]
) -> frozenset[str]:
    """The words of out-of-scope examples that nothing else in the knowledge has (the topics'
    and small talk's examples, titles and answers, the synonyms, in every locale), at least
    OUTSIDE_WORD_CHARS long: a question with one of them is likely about something else. The
    answers bring the words every text of a language has, which out-of-scope examples would
    otherwise claim ("after", "like")."""
    seen = {word for text in answers for word in _words(text)}
    theirs: set[str] = set()
    for (_, terms), out in zip(features, outside, strict=True):
        (theirs if out else seen).update(word for word in terms if " " not in word)
    return frozenset(word for word in theirs - seen if len(word) >= OUTSIDE_WORD_CHARS)


def _known(counts: Counter[str], ids: dict[str, int]) -> float:
    """The share of a reading's features (by count) that some example has."""
    total = sum(counts.values())
    return sum(n for feature, n in counts.items() if feature in ids) / total if total else 0.0


@cache
def _trees() -> tuple[float, list[int], list[float], list[int], list[int], list[float], list[int]]:
    """The gate's trees from GATE_FILE, every tree's nodes end to end: the figure each reads (-1: a
    leaf), its threshold, the nodes below (left when the figure is at most the threshold), the
    leaf's value; and the first node of each tree. Lists: a question reads a few of them."""
    model = json.loads(GATE_FILE.read_text(encoding="utf-8"))
    if tuple(model["figures"]) != GATE_FIGURES:
        raise RuntimeError(f"{GATE_FILE.name} reads other figures: python -m bench.faq_gate")
    feature, threshold, left, right, value, roots = [], [], [], [], [], []
    for tree in model["trees"]:
        start = len(feature)
        roots.append(start)
        for figure, at_most, low, high, leaf in tree:
            feature.append(figure)
            threshold.append(at_most)
            left.append(start + low)
            right.append(start + high)
            value.append(leaf)
    return model["baseline"], feature, threshold, left, right, value, roots


def _gate(figures: np.ndarray) -> float:
    """The gate's probability that a question with these figures is one the knowledge answers."""
    baseline, feature, threshold, left, right, value, roots = _trees()
    read = figures.tolist()
    total = baseline
    for node in roots:
        while feature[node] >= 0:
            node = left[node] if read[feature[node]] <= threshold[node] else right[node]
        total += value[node]
    return 1 / (1 + math.exp(-total))


def _words(text: str) -> list[str]:
    """A text's words as ``_features`` spells them."""
    return [
        _BRAND_WORD if _FOLDED_BRAND.match(w) else w for w in map(fold, normalize(text).split())
    ]


def _synonyms(knowledge: Knowledge, locales: tuple[str, ...]) -> dict[str, str]:
    """Every locale's variants, spelt as questions are, each to the word it stands for."""
    spelt = {}
    for locale in locales:
        for word, variants in knowledge.synonyms.get(locale, {}).items():
            spelt.update((_spelling(variant), _spelling(word)) for variant in variants)
    return spelt


def _spelling(word: str) -> str:
    return " ".join(fold(part) for part in normalize(word).split())


def _variant(found: str, member_locale: str, text: str) -> str:
    """Close kin keep the member's own variant (bs, sr, sr_Latn; tr, az); else Serbian's script
    is the text's."""
    if found in _FAMILY:
        if member_locale in _SOUTH_SLAVIC:
            return member_locale
        return "sr" if any("\u0400" <= c <= "\u04ff" for c in text) else "sr_Latn"
    if found in _TURKIC and member_locale in _TURKIC:
        return member_locale
    return found if found in LOCALES else member_locale


@cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(_LANGID)
    return identifier
