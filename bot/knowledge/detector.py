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
The words shown to the focal point are those that weigh most for that kind.

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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from bot.i18n import LOCALES_DIR
from bot.knowledge.load import Knowledge, load_knowledge
from bot.knowledge.matcher import fold, normalize

log = logging.getLogger(__name__)

CORPUS_DIR = LOCALES_DIR / "safeguarding_corpus"
READ_CHARS = 4000  # a message is read up to there, as the lexicon reads it
CHAR_NGRAMS = (2, 5)
C_DANGER = 10.0  # little regularisation: measured best on texts kept out of training
C_KIND = 0.5
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
LONG_PAIRS = 4  # in it, two sentences together around this many likeliest sentences
SEEN_WORDS = 1 << 16  # spelt words whose n-grams are kept (then forgotten all at once)
_SENTENCES = re.compile(r"(?<=[.!?;…])\s+|\n+|\s[-–—]\s")
# Part of the cache file's name: change it with any setting above that changes the model.
VERSION = "1"


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
    grams = []
    low, high = CHAR_NGRAMS
    for word in words:
        padded = f" {word} "
        for n in range(low, high + 1):
            grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


def word_grams(words: list[str]) -> list[str]:
    return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]


def load_corpus(directory: Path = CORPUS_DIR) -> list[Example]:
    """Every labelled text of the corpus, in file order."""
    return [e for path in sorted(directory.glob("*.yaml")) for e in load_examples(path)]


def load_examples(path: Path) -> list[Example]:
    """One file's labelled texts: ``- {text, lang, alert, kind}``."""
    examples = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: thousands of texts
    for item in yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or []:
        alert = bool(item["alert"])
        kind = str(item.get("kind") or (UNSPECIFIED if alert else HARMLESS))
        examples.append(Example(str(item["text"]), str(item["lang"]), alert, kind))
    return examples


def digest(examples: Iterable[Example]) -> str:
    """Names the model: the corpus, this module's settings, and the way texts are spelt."""
    made = hashlib.sha256(
        f"{VERSION} {CHAR_NGRAMS} {C_DANGER} {C_KIND} {AUGMENT} {QUESTIONS_PER_LOCALE}".encode()
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


# a part of a message read by the classifier: its n-grams, its text, its words, and the text the
# lexicon reads if it weighs most
_Part = tuple[tuple[np.ndarray, np.ndarray], str, list[_Token], str]


def sentences(text: str) -> list[str]:
    """The sentences of a message as the detector reads them, up to READ_CHARS."""
    return [part for part in _SENTENCES.split(text[:READ_CHARS]) if part.strip()]


def _tokens(text: str) -> list[_Token]:
    """Each written word with its spelt forms, spelt once per word (and cached)."""
    return [(word, _spelt(word)) for word in text.split()]


@dataclass(frozen=True, slots=True)
class _Spans:
    """The known n-grams of a message's spelt words, in order: ``chars[offsets[i]:offsets[i +
    1]]`` are word i's character n-grams, ``words[i]`` its id (-1: unknown), ``pairs[i]`` the id
    of word i with the next word of its sentence (-1: unknown, or the sentence ends)."""

    chars: np.ndarray
    offsets: np.ndarray
    words: np.ndarray
    pairs: np.ndarray

    def piece(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Words ``start`` to ``end``: their character n-grams and their word n-grams (ids,
        repeated), as ``Detector._piece`` gives them."""
        terms = np.concatenate([self.words[start:end], self.pairs[start : max(start, end - 1)]])
        return self.chars[self.offsets[start] : self.offsets[end]], terms[terms >= 0]


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
        self._intercept = float(arrays["danger_intercept"][0])
        self._kind_coef = arrays["kind_coef"]
        self._kind_intercept = arrays["kind_intercept"]
        self._kinds = [str(name) for name in arrays["kind_names"]]
        self._seen: dict[str, np.ndarray] = {}
        self._known: dict[str, np.ndarray] = {}
        for name in self._words.names:
            if " " not in name:
                self._known[name] = self._char_ids(name)
        self._seen.clear()
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
    ) -> Detector:
        """``questions``: what members ask the bot, per locale (see ``with_questions``)."""
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        began = time.perf_counter()
        count = len(examples)
        examples = with_questions(examples, questions or {})
        everything = [*examples, *embedded(examples, questions)] if augment else examples
        words = [spelling(e.text).split() for e in everything]
        chars = TfidfVectorizer(analyzer=char_grams, min_df=2, sublinear_tf=True)
        terms = TfidfVectorizer(analyzer=word_grams, min_df=1, sublinear_tf=True)
        matrix = hstack([chars.fit_transform(words), terms.fit_transform(words)]).tocsr()
        labels = np.array([e.alert for e in everything])
        danger = LogisticRegression(
            C=C_DANGER, class_weight="balanced", solver="liblinear", max_iter=1000
        ).fit(matrix, labels)
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
    ) -> Detector:
        """The model of the corpus in ``directory`` and of the questions members ask the bot
        (the knowledge's, unless given): from the cache, or trained and cached."""
        examples = load_corpus(directory)
        questions = faq_questions() if questions is None else questions
        asked = [Example(t, lang, False, "") for lang, ts in sorted(questions.items()) for t in ts]
        folder = cache or default_cache()
        path = folder / f"safeguarding-{digest([*examples, *asked])}.npz"
        try:
            return cls.load(path)
        except (OSError, ValueError, KeyError):
            pass
        detector = cls.train(examples, questions)
        try:
            detector.save(path)
        except OSError as error:
            log.warning("safeguarding model not cached (%s): trained at each start", error)
        log.info(
            "safeguarding model trained on %d texts in %.1f s", len(examples), detector.seconds
        )
        return detector

    def _char_ids(self, word: str) -> np.ndarray:
        """The known character n-grams of one spelt word, worked out once per word: the model's
        own words when it is made, any other the first time it is read."""
        found = self._known.get(word)
        if found is None:
            found = self._seen.get(word)
        if found is None:
            ids = self._chars.ids
            found = np.fromiter(
                (i for g in char_grams([word]) if (i := ids.get(g)) is not None), np.int32
            )
            if len(self._seen) >= SEEN_WORDS:
                self._seen.clear()
            self._seen[word] = found
        return found

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

    def _logits(self, pieces: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """The logit of each piece, all in one pass: the TF-IDF weights of every piece's n-grams
        counted together (keyed by piece and feature), each piece's two parts L2-normalised."""
        total = np.full(len(pieces), self._intercept)
        for part, idf, coef in (
            (0, self._chars.idf, self._coef[: self._offset]),
            (1, self._words.idf, self._coef[self._offset :]),
        ):
            sizes = np.fromiter((p[part].size for p in pieces), np.int64, len(pieces))
            if not sizes.any():
                continue
            ids = np.concatenate([p[part] for p in pieces]).astype(np.int64)
            which = np.repeat(np.arange(len(pieces), dtype=np.int64), sizes)
            keys, counts = np.unique(which * len(idf) + ids, return_counts=True)
            piece, feature = np.divmod(keys, len(idf))
            values = (1 + np.log(counts)) * idf[feature]
            norms = np.sqrt(np.bincount(piece, values * values, len(pieces)))
            dots = np.bincount(piece, values * coef[feature], len(pieces))
            total += np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
        return total

    def _spans(self, sentences: list[list[str]]) -> _Spans:
        """The known n-grams of every spelt word of a message, looked up once: a part of it
        (a sentence, two, a window) is then a slice (see ``_Spans.piece``)."""
        ids = self._words.ids
        flat = [w for words in sentences for w in words]
        chars = [self._char_ids(w) for w in flat]
        offsets = np.zeros(len(flat) + 1, np.int64)
        np.cumsum([c.size for c in chars], out=offsets[1:])
        pairs = [
            ids.get(f"{a} {b}", -1) if i < len(words) - 1 else -1
            for words in sentences
            for i, (a, b) in enumerate(zip(words, [*words[1:], ""], strict=True))
        ]
        return _Spans(
            np.concatenate(chars) if chars else np.zeros(0, np.int32),
            offsets,
            np.fromiter((ids.get(w, -1) for w in flat), np.int32, len(flat)),
            np.array(pairs, np.int32),
        )

    def read(self, text: str) -> Reading:
        """How likely ``text`` tells of a child in danger: the whole message, each of its
        sentences, and a long sentence in overlapping windows of words; the highest probability
        counts, so that a question to the bot, a word about a report or a long letter cannot
        hide the sentence that matters. The message is read up to its READ_CHARS-th character,
        as the lexicon; every word is spelt and looked up once.

        A message longer than LONG_CHARS (a report pasted in) is read in parts only, never whole
        (see ``_read_long``): a disclosure in it is within one or two sentences, and this keeps
        a 4,000-character message to a few milliseconds."""
        shown = text[:READ_CHARS]
        written = [p for p in _SENTENCES.split(shown) if p.strip()]
        tokens = [(said, _tokens(said)) for said in written]
        sentences = [
            (words, said, toks)
            for said, toks in tokens
            if (words := [f for _, form in toks for f in form])
        ]
        if sum(len(w) for w, _, _ in sentences) < MIN_WORDS:
            # "12", "15" (an age, or a survey's answer) say nothing by themselves
            return Reading(0.0, (np.zeros(0, np.int32), np.zeros(0, np.int32)), text, (), shown)
        spans = self._spans([w for w, _, _ in sentences])
        starts = np.cumsum([0, *(len(w) for w, _, _ in sentences)]).tolist()
        if len(shown) > LONG_CHARS:
            return self._read_long(sentences, spans, starts)
        read: list[_Part] = []
        whole = spans.piece(0, starts[-1])
        read.append((whole, shown, [t for _, _, toks in sentences for t in toks], shown))
        long = [
            (i, words, said, toks)
            for i, (words, said, toks) in enumerate(sentences)
            if len(words) >= SENTENCE_WORDS
        ]
        if len(long) > 1:
            read += [
                (spans.piece(starts[i], starts[i + 1]), said, toks, shown)
                for i, _, said, toks in long
            ]
        for i, words, _, toks in long:
            if len(words) > WINDOW_FROM:
                read += [
                    (piece, said, found, shown)
                    for piece, said, found, _ in self._windows(toks, spans, starts[i])
                ]
        return self._best(read, self._logits([part[0] for part in read]))

    def _read_long(
        self, sentences: list[tuple[list[str], str, list[_Token]]], spans: _Spans, starts: list[int]
    ) -> Reading:
        """A long message: each sentence (a long one in windows), then two sentences together
        around the LONG_PAIRS likeliest sentences only (a disclosure told in two sentences has
        one that weighs); the lexicon reads the likeliest part with a sentence on each side."""
        said_all = [said.strip() for _, said, _ in sentences]

        def around(first: int, last: int) -> str:
            return " ".join(said_all[max(0, first - 1) : last + 2])

        read: list[_Part] = []
        alone: dict[int, int] = {}  # a sentence read alone: its place in read
        for i, (words, said, toks) in enumerate(sentences):
            if len(words) > WINDOW_FROM:
                read += self._windows(toks, spans, starts[i], around=True)
            else:
                alone[i] = len(read)
                read.append((spans.piece(starts[i], starts[i + 1]), said, toks, around(i, i)))
        logits = self._logits([part[0] for part in read])
        likeliest = sorted(alone, key=lambda i: -logits[alone[i]])[:LONG_PAIRS]
        firsts = sorted({f for i in likeliest for f in (i - 1, i) if f in alone and f + 1 in alone})
        pairs: list[_Part] = [
            (
                spans.piece(starts[i], starts[i + 2]),
                f"{said_all[i]} {said_all[i + 1]}",
                [*sentences[i][2], *sentences[i + 1][2]],
                around(i, i + 1),
            )
            for i in firsts
        ]
        # a sentence too short to tell anything alone is read only with its neighbour
        short = {alone[i] for i in alone if len(sentences[i][0]) < SENTENCE_WORDS}
        keep = [n for n in range(len(read)) if n not in short]
        read = [read[n] for n in keep] + pairs
        logits = np.concatenate([logits[keep], self._logits([part[0] for part in pairs])])
        if not read:  # one short sentence of very long words: read whole
            toks = [t for _, _, found in sentences for t in found]
            whole = " ".join(said_all)
            read = [(spans.piece(0, starts[-1]), whole, toks, whole)]
            logits = self._logits([read[0][0]])
        return self._best(read, logits)

    def _best(self, read: list[_Part], logits: np.ndarray) -> Reading:
        best = int(np.argmax(logits))
        logit = float(logits[best])
        piece, said, toks, scope = read[best]
        return Reading(
            1 / (1 + math.exp(-max(-30.0, min(30.0, logit)))), piece, said, tuple(toks), scope
        )

    def _windows(
        self, tokens: list[_Token], spans: _Spans, first: int, *, around: bool = False
    ) -> list[_Part]:
        """A long sentence (its words from ``first`` in ``spans``) read in overlapping windows of
        WINDOW_WORDS words, WINDOW_STEP apart: a disclosure of up to WINDOW_WORDS - WINDOW_STEP
        words is whole in one of them, with few other words around it. Each window keeps its
        words as written, and for the lexicon (``around``) with WINDOW_WORDS more on each side."""
        owner = [i for i, (_, form) in enumerate(tokens) for _ in form]
        read = []
        for start in range(0, max(1, len(owner) - WINDOW_WORDS + WINDOW_STEP), WINDOW_STEP):
            end = min(start + WINDOW_WORDS, len(owner))
            toks = tokens[owner[start] : owner[end - 1] + 1]
            said = " ".join(w for w, _ in toks)
            wider = tokens[max(0, owner[start] - WINDOW_WORDS) : owner[end - 1] + 1 + WINDOW_WORDS]
            scope = " ".join(w for w, _ in wider) if around else said
            read.append((spans.piece(first + start, first + end), said, toks, scope))
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
            {int(i) for w in form for i in self._char_ids(w)}
            | {self._words.ids.get(f, -1 - self._offset) + self._offset for f in form}
            for form in forms
        ]
        holders = Counter(g for found in grams for g in found)
        scored = [
            (sum(share.get(g, 0.0) / holders[g] for g in found), i)
            for i, found in enumerate(grams)
            if len("".join(forms[i])) > 2  # not "he", "da", "ve": they tell nothing alone
        ]
        best = sorted((s for s in scored if s[0] > 0), reverse=True)[:count]
        return [written[i] for _, i in sorted(best, key=lambda found: found[1])]


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "childpact"
