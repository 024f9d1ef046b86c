"""The safeguarding classifier: how likely a message tells of a child in danger, and which kind.

Learnt from the labelled texts in ``locales/safeguarding_corpus/`` (thousands of texts in every
locale: disclosures of every kind, and harmless texts full of the same words). Each text is
brought to the question matcher's spelling (no case, no accents, Latin letters for every script,
transliteration variants folded together), so that "bije ga", "бие го" and "biye go" meet.
Features: TF-IDF character n-grams inside words (2 to 5 letters: typos, inflections, missing
diacritics) and words with word pairs, each part L2-normalised. Two linear models read them: one
says how likely the text is a disclosure (logistic regression over every labelled text and some of
the questions members ask the bot, and each text once more inside another harmless text or
question of its language), the other which kind of danger it
tells of (a linear SVM, each kind against the others, over the disclosures labelled with a kind).
The words shown to the focal point are those that weigh most for that kind. A message longer than
LONG_CHARS (a report pasted in) is read by a third, the model for long messages: over the same
features, a part of the message and the part with the words around it, learnt from long
professional texts cut into parts (``locales/safeguarding_corpus/long/``, see ``long_parts``).

Training takes seconds, so the model is kept in a cache file named after a digest of the corpus
and of this module's settings (``~/.cache/childpact``, or ``$XDG_CACHE_HOME/childpact``): the
corpus is the only source, a changed corpus is a new model, and nothing but numbers and strings
is read back (no pickle). Reading a message needs no scikit-learn: a few dictionary look-ups and
a dot product.

The decision (alert, possible concern, nothing) is made in ``bot.knowledge.safeguarding`` from
this probability and the lexicon.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.i18n import LOCALES_DIR
from bot.knowledge.load import YAML_LOADER, Knowledge, load_knowledge
from bot.knowledge.matcher import fold, normalize

log = logging.getLogger(__name__)

CORPUS_DIR = LOCALES_DIR / "safeguarding_corpus"
LONG_DIR = CORPUS_DIR / "long"  # long professional texts pasted in (see LongText)
READ_CHARS = 4000  # a message is read up to there, as the lexicon reads it
CHAR_NGRAMS = (2, 5)
C_DANGER = 10.0  # little regularisation: measured best on texts kept out of training
C_KIND = 0.5
C_LONG = 10.0  # the model for long messages
LONG_WEIGHT = 1.0  # a part of a long text, against a text of the corpus, in its training
PASTED_WEIGHT = 1.0  # and a part of a disclosure of the corpus put inside one (see pasted_in)
CONTEXT_WORDS = 15  # a part of a long message is read with this many words on each side
CONTEXT_PARTS = 4  # so are the likeliest parts only (see Detector._in_context)
AUGMENT = True
QUESTIONS_PER_LOCALE = 40  # questions to the bot learnt as harmless texts, per locale
HARMLESS = "harmless"
UNSPECIFIED = "unspecified"  # a disclosure whose kind nobody wrote down
DIRECT = "direct"  # a plain disclosure: says how it is written, not what the danger is
EXPLAIN_WORDS = 4
MIN_WORDS = 3  # shorter texts are left to the lexicon
SENTENCE_WORDS = 4  # a shorter sentence is read with the rest only
WINDOW_FROM = 40  # a longer sentence (a text typed without full stops) is also read in
WINDOW_WORDS = 20  # windows of this many words,
WINDOW_STEP = 5  # this many apart: a disclosure inside a long unpunctuated text stays whole
LONG_CHARS = 600  # a longer message is read in parts only (see Detector.read)
LONG_PAIRS = 2  # in it, two sentences together around this many likeliest sentences (see docs)
SEEN_WORDS = 1 << 16  # spelt words whose n-grams are kept (then forgotten all at once)
# a sentence ends at the spaces after ".", "!", "?", ";", "…" or "։", at new lines, and at a
# dash between spaces; written to begin with a space (each way of ending does), which the
# regular expression engine looks for first: the same splits, three times faster than
# r"(?<=[.!?;…։])\s+|\n+|\s[-–—]\s"
_SENTENCES = re.compile(r"\s(?:(?<=[.!?;…։]\s)\s*|(?<=\n)\n*|[-–—]\s)")
# Part of the cache file's name: change it with any setting above that changes the model.
VERSION = "3"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    lang: str
    alert: bool
    kind: str


def spelling(text: str) -> str:
    """The matcher's one spelling for every way of typing, words kept in order."""
    return " ".join(fold(word) for word in normalize(text).split())


@lru_cache(maxsize=1 << 16)
def _spelt(word: str) -> tuple[str, ...]:
    """One written word in the matcher's spelling (a word may give two: "l'enfant")."""
    return tuple(spelling(word).split())


def char_grams(words: list[str]) -> list[str]:
    """The character n-grams inside each word."""
    return [gram for word in words for gram in _word_char_grams(word)]


def _remembered_char_grams() -> Callable[[list[str]], list[str]]:
    """``char_grams`` that works out each word's n-grams once: training reads a word tens of
    thousands of times. Kept for one training only (a serving process keeps its own words)."""
    seen: dict[str, tuple[str, ...]] = {}

    def grams(words: list[str]) -> list[str]:
        made = []
        for word in words:
            found = seen.get(word)
            if found is None:
                found = seen[word] = _word_char_grams(word)
            made += found
        return made

    return grams


def _word_char_grams(word: str) -> tuple[str, ...]:
    low, high = CHAR_NGRAMS
    padded = f" {word} "
    return tuple(
        padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)
    )


def word_grams(words: list[str]) -> list[str]:
    return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]


def load_corpus(directory: Path = CORPUS_DIR) -> list[Example]:
    """Every labelled text of the corpus, in file order."""
    return [e for path in sorted(directory.glob("*.yaml")) for e in load_examples(path)]


def load_examples(path: Path) -> list[Example]:
    """One file's labelled texts: ``- {text, lang, alert, kind}``."""
    examples = []
    # libyaml's loader where there is one: thousands of texts
    for item in yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or []:
        alert = bool(item["alert"])
        kind = str(item.get("kind") or (UNSPECIFIED if alert else HARMLESS))
        examples.append(Example(str(item["text"]), str(item["lang"]), alert, kind))
    return examples


@dataclass(frozen=True, slots=True)
class LongText:
    """A long professional text as members paste it in (a report, minutes, a policy), with the
    sentences about a child in danger now copied from it exactly (``told``; empty: harmless)."""

    text: str
    lang: str
    told: str
    kind: str


def load_long(directory: Path = LONG_DIR) -> list[LongText]:
    """The long texts: ``- {text, lang, alert, kind, told}``, every file of ``directory``."""
    return [
        LongText(str(item["text"]), str(item["lang"]), str(item.get("told") or ""),
                 str(item.get("kind") or (UNSPECIFIED if item["alert"] else HARMLESS)))
        for path in sorted(directory.glob("*.yaml"))
        for item in yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or []
        if not item["alert"] or item.get("told")
    ]  # fmt: skip


def _window_starts(words: int) -> range:
    """Where the windows of a sentence of ``words`` words begin (see ``Detector._windows``)."""
    return range(0, max(1, words - WINDOW_WORDS + WINDOW_STEP), WINDOW_STEP)


def _label(start: int, end: int, told: tuple[int, int] | None) -> bool | None:
    """Whether a part (characters ``start`` to ``end``) tells of the child in danger: none of it
    in the sentences that do (False), most of it, or most of them (True), a little (None: left
    out of training, neither)."""
    if told is None:
        return False
    inside = min(end, told[1]) - max(start, told[0])
    if inside <= 0:
        return False
    if inside >= 0.5 * (end - start) or inside >= 0.8 * (told[1] - told[0]):
        return True
    return None


def pasted_in(texts: list[LongText], examples: list[Example], seed: int = 0) -> list[LongText]:
    """Each text of the corpus once more, put between two sentences of a harmless long text of
    its language (``told``: the text put in; kind HARMLESS for a harmless one): a member's few
    words about a child stay a disclosure inside a long message, and a harmless text full of
    the same words stays harmless there. Reproducible: the same texts, the same places."""
    chance = random.Random(seed)
    harmless: dict[str, list[LongText]] = {}
    for t in texts:
        if not t.told:
            harmless.setdefault(t.lang, []).append(t)
    made = []
    for e in examples:
        if not harmless.get(e.lang):
            continue
        around = chance.choice(harmless[e.lang]).text[:READ_CHARS]
        cuts = [m.end() for m in _SENTENCES.finditer(around)]
        at = chance.choice(cuts) if cuts else len(around)
        text = f"{around[:at]}{e.text} {around[at:]}"
        made.append(LongText(text, e.lang, e.text, e.kind))
    return made


def long_parts(
    texts: Iterable[LongText], *, told_only: bool = False
) -> list[tuple[Example, str]]:
    """The parts a long message is read in (see ``Detector._read_long``: each sentence, a long
    one in windows, two sentences together), each labelled by whether it tells of the child in
    danger: what the model for long messages learns."""
    made = []
    for t in texts:
        shown = t.text[:READ_CHARS]
        at = shown.find(t.told) if t.told else -1
        if t.told and at < 0:
            continue  # told beyond what is read: its parts cannot be labelled
        told = (at, at + len(t.told)) if t.told else None
        bounds, last = [], 0
        for cut in _SENTENCES.finditer(shown):
            bounds.append((last, cut.start()))
            last = cut.end()
        bounds.append((last, len(shown)))
        bounds = [(a, b) for a, b in bounds if shown[a:b].strip()]
        parts: list[tuple[int, int]] = []
        for a, b in bounds:
            words = [(m.start() + a, m.end() + a) for m in re.finditer(r"\S+", shown[a:b])]
            if len(words) > WINDOW_FROM:
                for i in _window_starts(len(words)):
                    window = words[i : i + WINDOW_WORDS]
                    parts.append((window[0][0], window[-1][1]))
            elif len(words) >= SENTENCE_WORDS:
                parts.append((a, b))
        parts += [(a, d) for (a, _), (_, d) in zip(bounds, bounds[1:], strict=False)]
        for a, b in parts:
            if told_only and (told is None or min(b, told[1]) <= max(a, told[0])):
                continue  # a part of the text around, learnt from the text itself
            if (alert := _label(a, b, told)) is not None:
                alert = alert and t.kind != HARMLESS  # a harmless text put in (pasted_in)
                part = Example(shown[a:b], t.lang, alert, t.kind if alert else HARMLESS)
                made.append((part, _around(shown, a, b)))
    return made


def _around(text: str, start: int, end: int) -> str:
    """A part of ``text`` with CONTEXT_WORDS words on each side: what it is read with."""
    before = text[:start].split()[::-1][:CONTEXT_WORDS][::-1]
    return " ".join([*before, text[start:end], *text[end:].split()[:CONTEXT_WORDS]])


def digest(examples: Iterable[Example]) -> str:
    """Names the model: the corpus, this module's settings, and the way texts are spelt."""
    made = hashlib.sha256(
        f"{VERSION} {CHAR_NGRAMS} {C_DANGER} {C_KIND} {AUGMENT} {QUESTIONS_PER_LOCALE} "
        f"{C_LONG} {LONG_WEIGHT} {PASTED_WEIGHT} {CONTEXT_WORDS}".encode()
    )
    for e in examples:
        made.update(f"{e.lang}\x00{e.alert}\x00{e.kind}\x00{e.text}\x01".encode())
    return made.hexdigest()[:20]


def faq_questions(knowledge: Knowledge | None = None) -> dict[str, list[str]]:
    """The questions members ask the bot (the knowledge's examples), per locale."""
    knowledge = knowledge or load_knowledge()
    return {
        locale: [text for topic in topics.values() for text in (topic.title, *topic.examples)]
        for locale, topics in knowledge.topics.items()
    }


def knowledge_answers(knowledge: Knowledge | None = None) -> list[LongText]:
    """The bot's own answers (the knowledge's, each with its "more"), as harmless long texts:
    the coalition's words, pasted back or quoted in a long message, tell of no child."""
    knowledge = knowledge or load_knowledge()
    return [
        LongText(f"{topic.answer} {topic.more or ''}".strip(), locale, "", HARMLESS)
        for locale, topics in sorted(knowledge.topics.items())
        for topic in topics.values()
    ]


def with_questions(examples: list[Example], questions: dict[str, list[str]]) -> list[Example]:
    """The corpus and, as harmless texts, some of the questions members ask the bot: a question
    about reporting abuse or the coalition's child-protection policy is no disclosure."""
    chance = random.Random(1)
    asked = [
        Example(text, lang, False, HARMLESS)
        for lang, texts in sorted(questions.items())
        for text in chance.sample(texts, min(QUESTIONS_PER_LOCALE, len(texts)))
    ]
    return [*examples, *asked]


def embedded(
    examples: list[Example], questions: dict[str, list[str]] | None = None, seed: int = 0
) -> list[Example]:
    """Each text of the corpus once more, inside another harmless text of its language (a
    question to the bot, about a report, a budget, an event): a disclosure stays one when it is
    not the whole message, and a harmless text stays harmless. Reproducible: the same corpus,
    the same texts."""
    chance = random.Random(seed)
    harmless: dict[str, list[str]] = {
        lang: list(texts) for lang, texts in (questions or {}).items()
    }
    for e in examples:
        if not e.alert:
            harmless.setdefault(e.lang, []).append(e.text)
    made = []
    for e in examples:
        others = [text for text in harmless.get(e.lang, ()) if text != e.text]
        if not others:
            continue
        other = chance.choice(others)
        text = f"{other} {e.text}" if chance.random() < 0.5 else f"{e.text} {other}"
        made.append(Example(text, e.lang, e.alert, e.kind))
    return made


_Token = tuple[str, tuple[str, ...]]  # a word as written, and its spelt forms (often one)
_Word = tuple[np.ndarray, int, int]  # a spelt word's features (ids), their count, its word id


@dataclass(frozen=True, slots=True)
class Reading:
    """What the classifier made of a message: the probability of its likeliest part, that part's
    n-grams (ids, repeated), its text as written, its words (as written and spelt, for the reason
    given to the focal point), and the text the lexicon reads (the whole message; in a long one,
    the likeliest part)."""

    danger: float
    piece: tuple[np.ndarray, np.ndarray]
    said: str
    tokens: tuple[_Token, ...] = ()
    scope: str = ""
    sentences: tuple[str, ...] = ()  # the message's, as ``sentences`` gives them


# a part of a message read by the classifier: its words (from, to: a range of the message's
# words), and what gives its text as written, its words and the text the lexicon reads, asked
# only of the part that weighs most
_Part = tuple[int, int, Callable[[], tuple[str, list[_Token], str]]]


def _told(said: str, tokens: list[_Token], scope: str) -> tuple[str, list[_Token], str]:
    return said, tokens, scope


def sentences(text: str) -> list[str]:
    """The sentences of a message as the detector reads them, up to READ_CHARS."""
    return [part for part in _SENTENCES.split(text[:READ_CHARS]) if part.strip()]


def _tokens(text: str) -> list[_Token]:
    """Each written word with its spelt forms, spelt once per word (and cached)."""
    return [(word, _spelt(word)) for word in text.split()]


@dataclass(frozen=True, slots=True)
class _Spans:
    """The known features of a message's spelt words, in order, as ids of the classifier's one
    space (character n-grams, then words and pairs from ``split`` on): word i is
    ``grams[begin[i]:begin[i + 1]]``, the pair it ends (the previous word of its sentence and
    it), its character n-grams, and itself as a word (-1: unknown, or no pair). So words
    ``start`` to ``end`` are ``grams[begin[start] + 1:begin[end]]``: their n-grams, themselves
    and the pairs inside them."""

    grams: np.ndarray
    begin: np.ndarray
    split: int

    def piece(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Words ``start`` to ``end``: their character n-grams and their word n-grams (ids,
        repeated), as ``Detector._piece`` gives them (in another order)."""
        found = self.grams[self.begin[start] + 1 : self.begin[end]]
        found = found[found >= 0]
        return found[found < self.split], found[found >= self.split] - self.split


class _Space:
    """One TF-IDF space: feature -> id, and idf."""

    def __init__(self, names: list[str], idf: np.ndarray) -> None:
        self.names = names
        self.ids = {name: i for i, name in enumerate(names)}
        self.idf = idf


class Detector:
    """The two linear models over the same features; ``train`` or ``load`` makes one."""

    def __init__(self, arrays: dict[str, np.ndarray], examples: int, seconds: float) -> None:
        self._chars = _Space(list(arrays["char_names"]), arrays["char_idf"])
        self._words = _Space(list(arrays["word_names"]), arrays["word_idf"])
        self._offset = len(self._chars.names)
        self._coef = arrays["danger_coef"]
        self._idf = np.concatenate([self._chars.idf, self._words.idf])
        self._intercept = float(arrays["danger_intercept"][0])
        self._long_coef = arrays["long_coef"]
        self._long_intercept = float(arrays["long_intercept"][0])
        self._context_coef = arrays["context_coef"]
        self._long_pair = np.vstack([self._long_coef, self._context_coef])  # see _in_context
        self._kind_coef = arrays["kind_coef"]
        self._kind_intercept = arrays["kind_intercept"]
        self._kinds = [str(name) for name in arrays["kind_names"]]
        # a spelt word's known features (see _learn): the model's own words worked out now, any
        # other the first time it is read
        self._seen: dict[str, _Word] = {}
        self._read_words: dict[str, tuple[_Token, tuple[np.ndarray, ...], tuple[int, ...]]] = {}
        self._known: dict[str, _Word] = {}
        words = self._words.ids
        pairs = [(name, i) for name, i in words.items() if " " in name]
        for name, i in words.items():
            if " " not in name:
                self._known[name] = self._learn(name, i)
        # a word pair's id, found by its two words' ids (first * words + second): every pair's
        # words are words of the model (they are kept from one text at least, as the pair)
        halves = [name.split(" ") for name, _ in pairs]
        if not all(len(two) == 2 and two[0] in words and two[1] in words for two in halves):
            raise ValueError("a word pair of the model is not made of two of its words")
        keys = np.fromiter(
            (words[a] * len(words) + words[b] for a, b in halves), np.int64, len(pairs)
        )
        order = np.argsort(keys)
        self._pair_keys = keys[order]
        self._pair_ids = np.fromiter((i for _, i in pairs), np.int32, len(pairs))[order]
        self.arrays = arrays
        self.examples = examples
        self.seconds = seconds  # to train or to load

    @classmethod
    def train(
        cls,
        examples: list[Example],
        questions: dict[str, list[str]] | None = None,
        *,
        augment: bool = AUGMENT,
        long: list[LongText] | None = None,
    ) -> Detector:
        """``questions``: what members ask the bot, per locale (see ``with_questions``);
        ``long``: long texts, learnt by a second model that reads long messages (see
        ``long_parts``) beside everything the first learns."""
        from scipy.sparse import csr_matrix, hstack, vstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        began = time.perf_counter()
        count = len(examples)
        examples = with_questions(examples, questions or {})
        everything = [*examples, *embedded(examples, questions)] if augment else examples
        words = [spelling(e.text).split() for e in everything]
        chars = TfidfVectorizer(analyzer=_remembered_char_grams(), min_df=2, sublinear_tf=True)
        terms = TfidfVectorizer(analyzer=word_grams, min_df=1, sublinear_tf=True)
        matrix = hstack([chars.fit_transform(words), terms.fit_transform(words)]).tocsr()
        labels = np.array([e.alert for e in everything])
        danger = LogisticRegression(
            C=C_DANGER, class_weight="balanced", solver="liblinear", max_iter=1000
        ).fit(matrix, labels)
        parts = long_parts(long or ())
        pasted = long_parts(pasted_in(long or [], examples), told_only=True) if parts else []
        width = matrix.shape[1]
        if parts:

            def features(texts: list[str]) -> Any:
                spelt = [spelling(text).split() for text in texts]
                return hstack([_tfidf(spelt, chars, _char_row), _tfidf(spelt, terms, _term_row)])

            read = [*parts, *pasted]
            seen = vstack([matrix, features([e.text for e, _ in read])])
            # the corpus's texts are read whole, with nothing around them
            nothing = csr_matrix((matrix.shape[0], width))
            around = vstack([nothing, features([context for _, context in read])])
            weights = np.concatenate([
                np.ones(len(everything)), np.full(len(parts), LONG_WEIGHT),
                np.full(len(pasted), PASTED_WEIGHT),
            ])  # fmt: skip
            read_long = LogisticRegression(
                C=C_LONG, class_weight="balanced", solver="liblinear", dual=True, max_iter=1000,
                random_state=0,
            ).fit(
                hstack([seen, around]).tocsr(),
                [*labels, *(e.alert for e, _ in read)],
                sample_weight=weights,
            )
            long_coef, long_intercept = read_long.coef_.ravel()[:width], read_long.intercept_
            context_coef = read_long.coef_.ravel()[width:]
        else:
            long_coef, long_intercept = danger.coef_.ravel(), danger.intercept_
            context_coef = np.zeros(width)
        # the kind is learnt from the texts as written (not the embedded copies): seconds, not
        # the half-minute of a multinomial regression over all of them
        kinds = np.array([e.kind for e in examples])
        known = labels[: len(examples)] & (kinds != UNSPECIFIED) & (kinds != DIRECT)
        if len(set(kinds[known])) > 1:
            kind = LinearSVC(C=C_KIND).fit(matrix[: len(examples)][known], kinds[known])
            kind_coef, kind_intercept = kind.coef_, kind.intercept_
            kind_names = np.array(kind.classes_, dtype=str)
            if len(kind_names) == 2:  # a binary model keeps one row: the second class's
                kind_coef = np.vstack([-kind_coef, kind_coef])
                kind_intercept = np.array([-kind_intercept[0], kind_intercept[0]])
        else:
            kind_coef, kind_intercept = np.zeros((1, matrix.shape[1])), np.zeros(1)
            kind_names = np.array([UNSPECIFIED])
        arrays = {
            "char_names": np.array(chars.get_feature_names_out(), dtype=str),
            "char_idf": chars.idf_,
            "word_names": np.array(terms.get_feature_names_out(), dtype=str),
            "word_idf": terms.idf_,
            "danger_coef": danger.coef_.ravel(),
            "danger_intercept": danger.intercept_,
            "long_coef": long_coef,
            "long_intercept": long_intercept,
            "context_coef": context_coef,
            "kind_coef": np.asarray(kind_coef),
            "kind_intercept": np.asarray(kind_intercept),
            "kind_names": kind_names,
            "examples": np.array([count]),
        }
        return cls(arrays, count, time.perf_counter() - began)

    @classmethod
    def load(cls, path: Path) -> Detector:
        began = time.perf_counter()
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        return cls(arrays, int(arrays["examples"][0]), time.perf_counter() - began)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial.npz")
        np.savez(partial, **self.arrays)  # type: ignore[arg-type]
        partial.replace(path)

    @classmethod
    def from_corpus(
        cls,
        directory: Path = CORPUS_DIR,
        cache: Path | None = None,
        questions: dict[str, list[str]] | None = None,
        answers: list[LongText] | None = None,
    ) -> Detector:
        """The model of the corpus in ``directory`` and of the questions members ask the bot
        (the knowledge's, unless given); with the corpus's long texts, if it has any, the bot's
        answers too (the knowledge's, unless given): from the cache, or trained and cached."""
        examples = load_corpus(directory)
        long = load_long(directory / LONG_DIR.name)
        knowledge = load_knowledge() if questions is None or (long and answers is None) else None
        if long:
            long += knowledge_answers(knowledge) if answers is None else answers
        questions = faq_questions(knowledge) if questions is None else questions
        asked = [Example(t, lang, False, "") for lang, ts in sorted(questions.items()) for t in ts]
        named = [Example(f"{t.text}\x02{t.told}", t.lang, bool(t.told), t.kind) for t in long]
        folder = cache or default_cache()
        path = folder / f"safeguarding-{digest([*examples, *asked, *named])}.npz"
        try:
            return cls.load(path)
        except (OSError, ValueError, KeyError):
            pass
        detector = cls.train(examples, questions, long=long)
        try:
            detector.save(path)
        except OSError as error:
            log.warning("safeguarding model not cached (%s): trained at each start", error)
        log.info(
            "safeguarding model trained on %d texts in %.1f s", len(examples), detector.seconds
        )
        return detector

    def _learn(self, word: str, word_id: int | None = None) -> _Word:
        """A spelt word's known features, worked out once (see __init__): its character n-grams
        and itself as a word (its id after them, -1: unknown), their count, and its word id."""
        ids = self._chars.ids
        found = [i for g in char_grams([word]) if (i := ids.get(g)) is not None]
        if word_id is not None:
            return np.array([*found, word_id + self._offset], np.int32), len(found) + 1, word_id
        # not a word of the model (they are all known from the start)
        entry = (np.array([*found, -1], np.int32), len(found) + 1, -1)
        if len(self._seen) >= SEEN_WORDS:
            self._seen.clear()
        self._seen[word] = entry
        return entry

    def _char_ids(self, word: str) -> np.ndarray:
        """The known character n-grams of one spelt word."""
        return (self._known.get(word) or self._seen.get(word) or self._learn(word))[0][:-1]

    def _piece(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The known character and word n-grams of some consecutive words (ids, repeated)."""
        ids = self._words.ids
        terms = [ids.get(w) for w in words]
        terms += [ids.get(f"{a} {b}") for a, b in zip(words, words[1:], strict=False)]
        chars = [self._char_ids(w) for w in words]
        return (
            np.concatenate(chars) if chars else np.zeros(0, np.int32),
            np.fromiter((i for i in terms if i is not None), np.int32),
        )

    @staticmethod
    def _weights(ids: np.ndarray, idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature ids and L2-normalised sublinear TF-IDF weights (as scikit-learn's)."""
        if not ids.size:
            return ids, np.zeros(0)
        unique, counts = np.unique(ids, return_counts=True)
        values = (1 + np.log(counts)) * idf[unique]
        return unique, values / (math.sqrt(float(values @ values)) or 1.0)

    def _vector(self, piece: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        char_ids, char_values = self._weights(piece[0], self._chars.idf)
        word_ids, word_values = self._weights(piece[1], self._words.idf)
        return np.concatenate([char_ids, word_ids + self._offset]), np.concatenate(
            [char_values, word_values]
        )

    def _logits(self, spans: _Spans, parts: list[_Part], *, long: bool = False) -> np.ndarray:
        """The logit of each part: by the model of one text, or (``long``) by the model for long
        messages, which reads a part and the CONTEXT_WORDS words on each side of it."""
        if not long:
            return self._dots(spans, parts, self._coef, self._intercept)
        alone = np.full(len(parts), 30.0)  # not known yet: each is read in context
        return self._in_context(spans, parts, alone)

    def _in_context(self, spans: _Spans, parts: list[_Part], alone: np.ndarray) -> np.ndarray:
        """The model for long messages' logit of the CONTEXT_PARTS parts likeliest alone (by
        ``alone``, their logit alone) and of those not read yet (30: read alone too), each read
        with the CONTEXT_WORDS words on each side of it, in one pass; the others are not the
        likeliest.
        The context costs a part's n-grams three times over: a few of a report's tens of parts
        are read with it."""
        unread = np.flatnonzero(alone >= 30.0).tolist()
        known = np.flatnonzero(alone < 30.0)
        likeliest = np.concatenate(
            [known[np.argsort(-alone[known], kind="stable")[:CONTEXT_PARTS]], unread]
        ).astype(np.intp)
        total = spans.begin.size - 1
        ranges = [parts[i] for i in unread] + [
            (
                max(0, parts[i][0] - CONTEXT_WORDS),
                min(total, parts[i][1] + CONTEXT_WORDS),
                parts[i][2],
            )
            for i in likeliest.tolist()
        ]
        which = np.zeros(len(ranges), np.intp)
        which[len(unread) :] = 1  # the context's coefficients
        intercepts = np.where(which, 0.0, self._long_intercept)
        found = self._dots(spans, ranges, self._long_pair, intercepts, which)
        logits = np.full(len(parts), -30.0)
        logits[likeliest] = alone[likeliest]
        logits[unread] = found[: len(unread)]
        logits[likeliest] += found[len(unread) :]
        return logits

    def _dots(
        self,
        spans: _Spans,
        parts: list[_Part],
        coef: np.ndarray,
        intercept: float | np.ndarray,
        which: np.ndarray | None = None,
    ) -> np.ndarray:
        """The logit of each part (a range of a message's words), all in one pass: the TF-IDF
        weights of every part's n-grams counted together (keyed by part and feature), each part's
        two halves (character n-grams; words and pairs) L2-normalised. ``which``: each part's
        row of ``coef`` (then a matrix), and ``intercept`` each part's."""
        n = len(parts)
        total = np.full(n, intercept, dtype=float) if which is None else intercept.astype(float)
        if not n:
            return total
        begin = spans.begin[[part[0] for part in parts]] + 1
        sizes = spans.begin[[part[1] for part in parts]] - begin
        width = len(self._idf)
        # each n-gram of each part, keyed by part and feature (in the smaller type: it sorts
        # faster), the unknown ones left out
        key = np.int32 if n * width < 2**31 else np.int64
        at = np.arange(int(sizes.sum())) + np.repeat(begin - np.cumsum(sizes) + sizes, sizes)
        found = spans.grams[at]
        keys = (np.repeat(np.arange(0, n * width, width, dtype=key), sizes) + found)[found >= 0]
        if not keys.size:
            return total
        keys.sort()
        edge = np.empty(keys.size + 1, bool)
        edge[0] = edge[-1] = True
        np.not_equal(keys[1:], keys[:-1], out=edge[1:-1])
        edges = np.flatnonzero(edge)
        counts = edges[1:] - edges[:-1]
        piece, feature = np.divmod(keys[edges[:-1]], width)
        values = (1 + np.log(counts)) * self._idf[feature]
        half = piece * 2 + (feature >= self._offset)  # a part's character n-grams, its words
        norms = np.sqrt(np.bincount(half, values * values, 2 * n))
        weights = coef[feature] if which is None else coef.ravel()[which[piece] * width + feature]
        dots = np.bincount(half, values * weights, 2 * n)
        scores = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
        total += scores[0::2]
        total += scores[1::2]
        return total

    def _written(self, word: str) -> tuple[_Token, tuple[np.ndarray, ...], tuple[int, ...]]:
        """A written word, worked out once (then kept, as SEEN_WORDS of them): its spelt forms,
        and for each form its block of the message's array (see ``_Spans``: a place for the
        pair it ends, then its known n-grams and itself as a word) and its word id."""
        forms = _spelt(word)
        known, seen, learn = self._known, self._seen, self._learn
        blocks, ids = [], []
        for form in forms:
            grams, size, word_id = known.get(form) or seen.get(form) or learn(form)
            block = np.empty(size + 1, np.int32)
            block[0] = -1
            block[1:] = grams
            blocks.append(block)
            ids.append(word_id)
        made = ((word, forms), tuple(blocks), tuple(ids))
        if len(self._read_words) >= SEEN_WORDS:
            self._read_words.clear()
        self._read_words[word] = made
        return made

    def _spans(self, blocks: list[np.ndarray], ids: list[int], lengths: list[int]) -> _Spans:
        """The known n-grams of every spelt word of a message (``blocks`` and ``ids``, see
        ``_written``; ``lengths``: how many spelt words each sentence has), looked up once: a
        part of it (a sentence, two, a window) is then a range (see ``_Spans``). A word pair is
        found by its words' ids, all the message's pairs at once."""
        count = len(blocks)
        begin = np.zeros(count + 1, np.int64)
        if not count:
            return _Spans(np.zeros(0, np.int32), begin, self._offset)
        every = np.concatenate(blocks)
        np.cumsum([len(block) for block in blocks], out=begin[1:])
        if count > 1 and len(self._pair_keys):
            words = np.array(ids, np.int64)
            keys = words[:-1] * len(self._words.ids) + words[1:]
            # a pair of two known words, not across the end of a sentence
            keys[(words[:-1] < 0) | (words[1:] < 0)] = -1
            keys[np.cumsum(lengths)[:-1] - 1] = -1
            at = np.minimum(np.searchsorted(self._pair_keys, keys), len(self._pair_keys) - 1)
            every[begin[1:-1]] = np.where(
                self._pair_keys[at] == keys, self._pair_ids[at] + self._offset, -1
            )
        return _Spans(every, begin, self._offset)

    def read(self, text: str) -> Reading:
        """How likely ``text`` tells of a child in danger: the whole message, each of its
        sentences, and a long sentence in overlapping windows of words; the highest probability
        counts, so that a question to the bot, a word about a report or a long letter cannot
        hide the sentence that matters. The message is read up to its READ_CHARS-th character,
        as the lexicon; every word is spelt and looked up once, and the text and words of a part
        are put together only for the part that weighs most.

        A message longer than LONG_CHARS (a report pasted in) is read in parts only, never whole
        (see ``_read_long``): a disclosure in it is within one or two sentences, and this keeps
        a 4,000-character message to a few milliseconds."""
        shown = text[:READ_CHARS]
        written = [p for p in _SENTENCES.split(shown) if p.strip()]
        known, learn = self._read_words, self._written
        sentences: list[tuple[list[str], str, list[_Token]]] = []
        blocks: list[np.ndarray] = []
        ids: list[int] = []
        for said in written:
            found = [known.get(word) or learn(word) for word in said.split()]
            words = [f for token, _, _ in found for f in token[1]]
            if words:
                sentences.append((words, said, [token for token, _, _ in found]))
                for _, block, word_ids in found:
                    blocks += block
                    ids += word_ids
        if len(blocks) < MIN_WORDS:
            # "12", "15" (an age, or a survey's answer) say nothing by themselves
            return Reading(
                0.0, (np.zeros(0, np.int32), np.zeros(0, np.int32)), text, (), shown, (*written,)
            )
        spans = self._spans(blocks, ids, [len(w) for w, _, _ in sentences])
        starts = np.cumsum([0, *(len(w) for w, _, _ in sentences)]).tolist()
        if len(shown) > LONG_CHARS:
            return replace(self._read_long(sentences, spans, starts), sentences=(*written,))

        def whole() -> tuple[str, list[_Token], str]:
            return shown, [t for _, _, toks in sentences for t in toks], shown

        read: list[_Part] = [(0, starts[-1], whole)]
        long = [
            (i, words, said, toks)
            for i, (words, said, toks) in enumerate(sentences)
            if len(words) >= SENTENCE_WORDS
        ]
        if len(long) > 1:
            read += [
                (starts[i], starts[i + 1], partial(_told, said, toks, shown))
                for i, _, said, toks in long
            ]
        for i, words, _, toks in long:
            if len(words) > WINDOW_FROM:
                read += self._windows(toks, starts[i], shown)
        return replace(self._best(spans, read, self._logits(spans, read)), sentences=(*written,))

    def _read_long(
        self, sentences: list[tuple[list[str], str, list[_Token]]], spans: _Spans, starts: list[int]
    ) -> Reading:
        """A long message: each sentence (a long one in windows), then two sentences together
        around the LONG_PAIRS likeliest sentences only (a disclosure told in two sentences has
        one that weighs); the lexicon reads the likeliest part with a sentence on each side."""
        said_all = [said.strip() for _, said, _ in sentences]

        def around(first: int, last: int) -> str:
            return " ".join(said_all[max(0, first - 1) : last + 2])

        def alone_told(i: int) -> tuple[str, list[_Token], str]:
            return sentences[i][1], sentences[i][2], around(i, i)

        def pair_told(i: int) -> tuple[str, list[_Token], str]:
            toks = [*sentences[i][2], *sentences[i + 1][2]]
            return f"{said_all[i]} {said_all[i + 1]}", toks, around(i, i + 1)

        read: list[_Part] = []
        alone: dict[int, int] = {}  # a sentence read alone: its place in read
        for i, (words, _, toks) in enumerate(sentences):
            if len(words) > WINDOW_FROM:
                read += self._windows(toks, starts[i])
            else:
                alone[i] = len(read)
                read.append((starts[i], starts[i + 1], partial(alone_told, i)))
        logits = self._dots(spans, read, self._long_coef, self._long_intercept)  # each alone
        likeliest = sorted(alone, key=lambda i: -logits[alone[i]])[:LONG_PAIRS]
        firsts = sorted({f for i in likeliest for f in (i - 1, i) if f in alone and f + 1 in alone})
        pairs: list[_Part] = [(starts[i], starts[i + 2], partial(pair_told, i)) for i in firsts]
        # a sentence too short to tell anything alone is read only with its neighbour
        short = {alone[i] for i in alone if len(sentences[i][0]) < SENTENCE_WORDS}
        keep = [n for n in range(len(read)) if n not in short]
        read = [read[n] for n in keep] + pairs
        logits = self._in_context(spans, read, np.concatenate([logits[keep], [30.0] * len(pairs)]))
        if not read:  # one short sentence of very long words: read whole
            toks = [t for _, _, found in sentences for t in found]
            whole = " ".join(said_all)
            read = [(0, starts[-1], partial(_told, whole, toks, whole))]
            logits = self._logits(spans, read, long=True)
        return self._best(spans, read, logits)

    def _best(self, spans: _Spans, read: list[_Part], logits: np.ndarray) -> Reading:
        best = int(np.argmax(logits))
        logit = float(logits[best])
        begin, end, tell = read[best]
        said, toks, scope = tell()
        return Reading(
            1 / (1 + math.exp(-max(-30.0, min(30.0, logit)))),
            spans.piece(begin, end),
            said,
            tuple(toks),
            scope,
        )

    def _windows(self, tokens: list[_Token], first: int, scope: str | None = None) -> list[_Part]:
        """A long sentence (its words from ``first`` in the message) read in overlapping windows
        of WINDOW_WORDS words, WINDOW_STEP apart: a disclosure of up to WINDOW_WORDS - WINDOW_STEP
        words is whole in one of them, with few other words around it. Each window keeps its
        words as written, and the text the lexicon reads: ``scope``, or (None) the window with
        WINDOW_WORDS more words on each side."""
        owner = [i for i, (_, form) in enumerate(tokens) for _ in form]

        def tell(start: int, end: int) -> tuple[str, list[_Token], str]:
            toks = tokens[owner[start] : owner[end - 1] + 1]
            said = " ".join(w for w, _ in toks)
            if scope is not None:
                return said, toks, scope
            wider = tokens[max(0, owner[start] - WINDOW_WORDS) : owner[end - 1] + 1 + WINDOW_WORDS]
            return said, toks, " ".join(w for w, _ in wider)

        read: list[_Part] = []
        for start in _window_starts(len(owner)):
            end = min(start + WINDOW_WORDS, len(owner))
            read.append((first + start, first + end, partial(tell, start, end)))
        return read

    def danger(self, text: str) -> float:
        """The probability that ``text`` tells of a child in danger (see ``read``)."""
        return self.read(text).danger

    def kind(self, text: str | Reading) -> str:
        """The most likely kind of danger, were it one: of the part of the message that weighed
        most, when given its reading."""
        reading = text if isinstance(text, Reading) else self.read(text)
        ids, values = self._vector(reading.piece)
        scores = self._kind_coef[:, ids] @ values + self._kind_intercept
        return self._kinds[int(np.argmax(scores))]

    def words(self, text: str | Reading, count: int = EXPLAIN_WORDS) -> list[str]:
        """The words that weigh most towards the kind of danger (or towards a disclosure, when no
        kind is known), as the member wrote them: each feature's share of the score, given to
        the words it comes from. Given a reading, the words of the part that weighed most."""
        tokens = text.tokens if isinstance(text, Reading) else tuple(_tokens(text[:READ_CHARS]))
        written = [w.strip(".,;:!?()[]\"'«»„“”") for w, _ in tokens]
        forms = [form for _, form in tokens]
        ids, values = self._vector(self._piece([f for form in forms for f in form]))
        kind = int(np.argmax(self._kind_coef[:, ids] @ values + self._kind_intercept))
        weights = self._kind_coef[kind] if self._kinds[kind] != UNSPECIFIED else self._coef
        share = dict(zip(ids.tolist(), (values * weights[ids]).tolist(), strict=True))
        grams = [
            {i for w in form for i in self._char_ids(w).tolist()}
            | {self._words.ids.get(f, -1 - self._offset) + self._offset for f in form}
            for form in forms
        ]
        holders = Counter(chain.from_iterable(grams))
        # each feature's share given to one word that holds it, worked out once
        given = {g: share.get(g, 0.0) / held for g, held in holders.items()}
        scored = [
            (sum(map(given.__getitem__, found)), i)
            for i, found in enumerate(grams)
            if len("".join(forms[i])) > 2  # not "he", "da", "ve": they tell nothing alone
        ]
        best = sorted((s for s in scored if s[0] > 0), reverse=True)[:count]
        return [written[i] for _, i in sorted(best, key=lambda found: found[1])]


def _char_row(
    words: list[str], vocabulary: dict[str, int], known: dict[str, list[int]]
) -> list[int]:
    """The column of each known character n-gram of ``words`` (each word's worked out once)."""
    row: list[int] = []
    for word in words:
        ids = known.get(word)
        if ids is None:
            grams = _word_char_grams(word)
            ids = known[word] = [i for g in grams if (i := vocabulary.get(g)) is not None]
        row += ids
    return row


def _term_row(
    words: list[str], vocabulary: dict[str, int], known: dict[str, list[int]]
) -> list[int]:
    """The column of each known word and word pair of ``words``."""
    terms = [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]
    return [i for t in terms if (i := vocabulary.get(t)) is not None]


def _tfidf(texts: list[list[str]], fitted: Any, columns: Callable[..., list[int]]) -> Any:
    """What ``fitted.transform(texts)`` gives (sublinear TF-IDF, rows L2-normalised), for
    tens of thousands of texts made of the same words: each word's n-grams are looked up once,
    and the counting is scipy's rather than a dictionary's per n-gram."""
    from scipy.sparse import csr_matrix
    from sklearn.preprocessing import normalize

    vocabulary: dict[str, int] = fitted.vocabulary_
    known: dict[str, list[int]] = {}
    rows = [columns(words, vocabulary, known) for words in texts]
    sizes = np.fromiter(map(len, rows), np.int64, len(rows))
    cols = np.fromiter(chain.from_iterable(rows), np.int64, int(sizes.sum()))
    counts = csr_matrix(
        (np.ones(len(cols)), (np.repeat(np.arange(len(rows)), sizes), cols)),
        shape=(len(rows), len(vocabulary)),
    )
    counts.sum_duplicates()
    counts.data = (1 + np.log(counts.data)) * fitted.idf_[counts.indices]
    return normalize(counts, norm="l2", copy=False)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "childpact"
