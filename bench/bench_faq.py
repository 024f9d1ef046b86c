"""Question recognition: load time, ms per question, and accuracy per locale.

python -m bench.bench_faq              # on tests/faq/questions.yaml, heldout.yaml, sealed.yaml
python -m bench.bench_faq --mistakes   # and every question it gets wrong
python -m bench.bench_faq --generalisation   # and how it does on questions it never saw

Prints the time to load and check the knowledge and to build the matcher (done once, at start),
p50/p99 milliseconds per question over the whole labelled set (each question asked --rounds
times, one core), the same for 4,000-character messages, and per locale: the share of in-scope
questions given the right topic, and the share of out-of-scope questions (topic null: weather,
sports, prices, nonsense, small talk) given a topic anyway.

--generalisation adds two checks on wordings the matcher was not built with: each knowledge
example asked of a matcher built without it (5 folds; small-talk examples must get no topic),
and each locale's labelled questions asked of a matcher built without that locale's examples
(what the other languages and the transliteration carry over).
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.common import ROOT, machine_line, pin_self, table, usable_cores
from bot.i18n import LOCALES
from bot.knowledge import matcher as faq
from bot.knowledge.load import Knowledge, load_knowledge
from bot.knowledge.matcher import Matcher

QUESTIONS = ROOT / "tests" / "faq" / "questions.yaml"
HELDOUT = ROOT / "tests" / "faq" / "heldout.yaml"  # never used to build the matcher
SEALED = ROOT / "tests" / "faq" / "sealed.yaml"  # nor to tune it: only its totals are printed


@dataclass
class Tally:
    asked: int = 0  # in-scope questions
    right: int = 0
    outside: int = 0  # out-of-scope questions (topic null)
    guessed: int = 0  # of which given a topic
    mistakes: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.asked if self.asked else float("nan")

    @property
    def false_topics(self) -> float:
        return self.guessed / self.outside if self.outside else float("nan")

    def add(self, other: Tally) -> None:
        self.asked += other.asked
        self.right += other.right
        self.outside += other.outside
        self.guessed += other.guessed


def load_questions(path: Path = QUESTIONS) -> list[dict]:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _spelling(text: str) -> str:
    return " ".join(faq.fold(word) for word in faq.normalize(text).split())


def unseen(knowledge: Knowledge, questions: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """The questions that no knowledge example (or title, out-of-scope example or corpus question)
    spells the same way once normalised: what the held-out figures are measured on, so that a wording added to the
    knowledge stops counting instead of inflating them."""
    known = {_spelling(text) for locale in knowledge.topics for text in knowledge.outside[locale]}
    known.update(_spelling(text) for rows in knowledge.corpus.values() for text, _ in rows)
    for entries in (*knowledge.topics.values(), *knowledge.smalltalk.values()):
        for entry in entries.values():
            known.update(map(_spelling, (getattr(entry, "title", ""), *entry.examples)))
    return [question for question in questions if _spelling(question["q"]) not in known]


def misspelt(questions: list[dict], seed: int = 7) -> list[dict]:  # type: ignore[type-arg]
    """The same questions with one or two typos each (a letter dropped, swapped or doubled inside
    a word of four letters or more), as a thumb on a phone makes them; seeded, so repeatable."""
    chance = random.Random(seed)
    out = []
    for question in questions:
        words = question["q"].split()
        for _ in range(1 + (len(words) > 3)):
            at = chance.randrange(len(words))
            word = words[at]
            if len(word) < 4:
                continue
            i = chance.randrange(1, len(word) - 1)
            words[at] = [
                word[:i] + word[i + 1 :],
                word[:i] + word[i + 1] + word[i] + word[i + 2 :],
                word[:i] + word[i] + word[i:],
            ][chance.randrange(3)]
        out.append({**question, "q": " ".join(words)})
    return out


def evaluate(matcher: Matcher, questions: list[dict]) -> dict[str, Tally]:  # type: ignore[type-arg]
    """Per locale, and "all": how many questions got the right topic or rightly none."""
    tallies = {locale: Tally() for locale in LOCALES}
    for question in questions:
        tally = tallies[question["lang"]]
        found = matcher.match(question["q"], question["lang"]).topic
        wanted = question["topic"]
        if wanted:
            tally.asked += 1
            tally.right += found == wanted
        else:
            tally.outside += 1
            tally.guessed += found is not None
        if found != wanted:
            tally.mistakes.append(f"{question['lang']}: {question['q']!r}: {wanted} -> {found}")
    total = Tally()
    for tally in tallies.values():
        total.add(tally)
    tallies["all"] = total
    return tallies


def timings(matcher: Matcher, texts: list[tuple[str, str]], rounds: int) -> tuple[np.ndarray, ...]:
    """Milliseconds per question, wall-clock and CPU, every question asked ``rounds`` times.
    CPU time leaves out the moments another process had the core (a busy shared machine)."""
    wall, cpu = [], []
    for _ in range(rounds):
        for text, locale in texts:
            began, began_cpu = time.perf_counter_ns(), time.process_time_ns()
            matcher.match(text, locale)
            cpu.append((time.process_time_ns() - began_cpu) / 1e6)
            wall.append((time.perf_counter_ns() - began) / 1e6)
    return np.array(wall), np.array(cpu)


def spread(wall: np.ndarray, cpu: np.ndarray) -> str:
    p50, p99 = np.percentile(wall, [50, 99])
    cpu50, cpu99 = np.percentile(cpu, [50, 99])
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms (CPU time: p50 {cpu50:.2f} ms, p99 {cpu99:.2f} ms)"


def held_out(knowledge: Knowledge, folds: int = 5) -> dict[str, Tally]:
    """Every example asked of a matcher built without it (titles stay)."""
    tallies = {locale: Tally() for locale in LOCALES}
    for fold in range(folds):
        kept = Knowledge(
            {loc: _without(topics, fold, folds) for loc, topics in knowledge.topics.items()},
            {loc: _without(talk, fold, folds) for loc, talk in knowledge.smalltalk.items()},
            knowledge.outside,
            knowledge.synonyms,
            knowledge.corpus,
        )
        matcher = Matcher(kept)
        for locale in LOCALES:
            tally = tallies[locale]
            for topic in knowledge.topics[locale].values():
                for example in topic.examples[fold::folds]:
                    tally.asked += 1
                    tally.right += matcher.match(example, locale).topic == topic.id
            for talk in knowledge.smalltalk[locale].values():
                for example in talk.examples[fold::folds]:
                    tally.outside += 1
                    tally.guessed += matcher.match(example, locale).topic is not None
    return tallies


def _without(entries: dict[str, Any], fold: int, folds: int) -> dict[str, Any]:
    """Topics or small talk less one fold of their examples."""
    return {
        key: replace(
            entry, examples=tuple(e for i, e in enumerate(entry.examples) if i % folds != fold)
        )
        for key, entry in entries.items()
    }


def without_own_locale(knowledge: Knowledge, questions: list[dict]) -> dict[str, Tally]:  # type: ignore[type-arg]
    """Each locale's questions asked of a matcher built on the other locales' examples only."""
    tallies = {}
    for locale in LOCALES:
        matcher = Matcher(knowledge, tuple(other for other in LOCALES if other != locale))
        tallies[locale] = evaluate(matcher, [q for q in questions if q["lang"] == locale])[locale]
    return tallies


def print_table(tallies: dict[str, Tally], what: tuple[str, str]) -> None:
    total = Tally()
    for locale in LOCALES:
        total.add(tallies[locale])
    rows = [
        (
            locale,
            f"{tally.right}/{tally.asked}",
            f"{100 * tally.accuracy:.1f} %",
            f"{tally.guessed}/{tally.outside}",
            f"{100 * tally.false_topics:.1f} %",
        )
        for locale, tally in [*((locale, tallies[locale]) for locale in LOCALES), ("all", total)]
    ]
    print(table(("locale", what[0], "right topic", what[1], "given a topic"), rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each question is asked")
    parser.add_argument("--mistakes", action="store_true", help="list every wrong answer")
    parser.add_argument(
        "--generalisation", action="store_true", help="also ask wordings it was not built with"
    )
    options = parser.parse_args()
    pin_self(usable_cores()[:1])
    print(machine_line())
    print(
        "one core; the knowledge loaded once, then every question of", QUESTIONS.relative_to(ROOT)
    )

    began = time.perf_counter()
    knowledge = load_knowledge()
    loaded = time.perf_counter()
    matcher = Matcher(knowledge)
    built = time.perf_counter()
    print(
        f"load: knowledge {1000 * (loaded - began):.0f} ms, matcher {1000 * (built - loaded):.0f} ms, "
        f"total {built - began:.2f} s"
    )

    questions = load_questions()
    texts = [(q["q"], q["lang"]) for q in questions]
    timings(matcher, texts, 1)  # warm-up: caches, first calls
    spent = timings(matcher, texts, options.rounds)
    print(f"per question ({len(texts)} questions x {options.rounds}): {spread(*spent)}")
    long = [((text + " ") * (4000 // (len(text) + 1) + 1))[:4000] for text, _ in texts[::10]]
    spent = timings(matcher, [(text, "en") for text in long], options.rounds)
    print(f"4,000-character messages ({len(long)} x {options.rounds}): {spread(*spent)}")

    tallies = evaluate(matcher, questions)
    print()
    print_table(tallies, ("in scope", "out of scope"))
    print("targets: right topic >= 90 % overall and >= 80 % in every locale; given a topic <= 10 %")
    heldout = load_questions(HELDOUT)
    new = unseen(knowledge, heldout)
    fresh = evaluate(matcher, new)
    print(
        f"\nheld-out questions ({HELDOUT.relative_to(ROOT)}, never used to build the matcher; "
        f"{len(new)} of {len(heldout)}, the rest spelt as a knowledge example is):"
    )
    print_table(fresh, ("in scope", "out of scope"))
    print("\nthe same held-out questions with one or two typos each:")
    print_table(evaluate(matcher, misspelt(new)), ("in scope", "out of scope"))
    sealed = unseen(knowledge, load_questions(SEALED))
    found, typos = evaluate(matcher, sealed), evaluate(matcher, misspelt(sealed))
    print(
        f"\nsealed questions ({SEALED.relative_to(ROOT)}, {len(sealed)}, totals only): "
        f"right topic {100 * found['all'].accuracy:.1f} %, lowest locale "
        f"{100 * min(found[locale].accuracy for locale in LOCALES):.1f} %, out of scope given a "
        f"topic {100 * found['all'].false_topics:.1f} %; with typos "
        f"{100 * typos['all'].accuracy:.1f} % / {100 * typos['all'].false_topics:.1f} %"
    )
    if options.mistakes:
        for found in (tallies, fresh):
            print()
            for locale in LOCALES:
                for mistake in found[locale].mistakes:
                    print(mistake)
    if options.generalisation:
        print("\nknowledge examples, each asked of a matcher built without it (5 folds):")
        print_table(held_out(knowledge), ("examples", "small talk"))
        print("\nlabelled questions, asked of a matcher built without their locale's examples:")
        print_table(without_own_locale(knowledge, questions), ("in scope", "out of scope"))


if __name__ == "__main__":
    main()
