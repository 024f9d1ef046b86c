"""Question recognition on the evaluation sets written apart from the knowledge: figures only,
never a question.

python -m bench.faq_eval              # tests/faq/eval_heldout.yaml, per language
python -m bench.faq_eval --sealed     # and each sealed set, separately (run it rarely)
python -m bench.faq_eval --grid       # the held-out totals for other thresholds,
                                      # OUTSIDE_RATIO, OUTSIDE_WORD and GATE values (how they were
                                      # chosen: right topic against out of scope given a topic)
python -m bench.faq_eval --files a.yaml b.yaml   # any files of the same format
python -m bench.faq_eval --no-corpus  # the matcher without locales/faq_corpus/, on the same
                                      # questions (those the corpus spells do not count either)

The sets (``- {q, lang, topic}``, topic null when the knowledge cannot answer) were written by
people who never saw the knowledge examples nor the matcher, the way members write on phones.
Each question is asked with the member's language set to the question's language. Prints per
language: in-scope questions and the share given the right topic, out-of-scope questions and the
share given a topic anyway. A question spelt as a knowledge example is (once normalised) does
not count (bench_faq.unseen).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from bench.bench_faq import Tally, evaluate, load_questions, unseen
from bench.common import ROOT, table
from bot.i18n import LOCALES
from bot.knowledge.load import load_knowledge
from bot.knowledge.matcher import Matcher

HELDOUT = ROOT / "tests" / "faq" / "eval_heldout.yaml"  # thresholds are chosen on its figures
# never tuned on: eval_sealed.yaml, and eval_sealed2.yaml to eval_sealed7.yaml written later,
# each by someone else who saw only the topics' titles and answers
SEALED = (
    ROOT / "tests" / "faq" / "eval_sealed.yaml",
    ROOT / "tests" / "faq" / "eval_sealed2.yaml",
    ROOT / "tests" / "faq" / "eval_sealed3.yaml",
    ROOT / "tests" / "faq" / "eval_sealed4.yaml",
    ROOT / "tests" / "faq" / "eval_sealed5.yaml",
    ROOT / "tests" / "faq" / "eval_sealed6.yaml",
    ROOT / "tests" / "faq" / "eval_sealed7.yaml",
)
GRID = (0.10, 0.12, 0.14, 0.15, 0.16, 0.18, 0.20, 0.22, 0.25)
RATIOS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)  # OUTSIDE_RATIO: how close out of scope may come
WORDS = (1.0, 1.2, 1.3, 1.4, 1.5, 2.0, 3.0)  # OUTSIDE_WORD: a word only out of scope has (1: none)
GATES = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)  # GATE: the gate's probability under which it abstains (0: none)


def figures(tallies: dict[str, Tally]) -> str:
    """Per language and in all: counts and shares, no question."""
    rows = []
    for locale in (*LOCALES, "all"):
        tally = tallies[locale]
        rows.append(
            (
                locale,
                f"{tally.right}/{tally.asked}",
                f"{100 * tally.accuracy:.1f} %",
                f"{tally.guessed}/{tally.outside}",
                f"{100 * tally.false_topics:.1f} %",
            )
        )
    return table(("lang", "in scope", "right topic", "out of scope", "given a topic"), rows)


def report(matcher: Matcher, path: Path) -> dict[str, Tally]:
    questions = load_questions(path)
    counted = unseen(matcher.knowledge, questions)
    tallies = evaluate(matcher, counted)
    for tally in tallies.values():
        tally.mistakes.clear()  # never printed
    print(f"\n{path.relative_to(ROOT)}: {len(counted)} of {len(questions)} questions counted")
    print(figures(tallies))
    lowest = min(
        ((tallies[locale].accuracy, locale) for locale in LOCALES if tallies[locale].asked >= 20),
        default=None,
    )
    if lowest:
        print(f"lowest language with >= 20 questions: {lowest[1]} {100 * lowest[0]:.1f} %")
    return tallies


def grid(matcher: Matcher, path: Path) -> None:
    """Totals and the lowest language for each threshold, then for each OUTSIDE_RATIO: the
    figures they are chosen by; and for each OUTSIDE_WORD and GATE."""
    counted = unseen(matcher.knowledge, load_questions(path))
    sweeps = (
        ("threshold", GRID),
        ("outside_ratio", RATIOS),
        ("outside_word", WORDS),
        ("gate", GATES),
    )
    for name, values in sweeps:
        chosen = getattr(matcher, name)
        rows = []
        for value in values:
            setattr(matcher, name, value)
            rows.append((f"{value:.2f}", *_totals(evaluate(matcher, counted))))
        setattr(matcher, name, chosen)
        name = name.replace("_", " ")
        print(f"\n{path.relative_to(ROOT)}, by {name}:")
        print(table((name, "right topic", "lowest language", "given a topic"), rows))


def _totals(tallies: dict[str, Tally]) -> tuple[str, str, str]:
    """Right topic in all, in the lowest language with >= 20 questions, out of scope given a topic."""
    total = tallies["all"]
    lowest = min(
        (tallies[locale].accuracy for locale in LOCALES if tallies[locale].asked >= 20),
        default=float("nan"),
    )
    return (
        f"{100 * total.accuracy:.1f} %",
        f"{100 * lowest:.1f} %",
        f"{100 * total.false_topics:.1f} %",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sealed", action="store_true", help="also the sealed sets (rarely)")
    parser.add_argument("--grid", action="store_true", help="held-out totals by threshold")
    parser.add_argument("--files", nargs="*", type=Path, help="other files of the same format")
    parser.add_argument("--no-corpus", action="store_true", help="without the training corpus")
    options = parser.parse_args()
    knowledge = load_knowledge()
    matcher = Matcher(replace(knowledge, corpus={}) if options.no_corpus else knowledge)
    matcher.knowledge = knowledge  # the questions counted: the same either way
    paths = [path.resolve() for path in options.files or []] or [HELDOUT]
    for path in paths:
        report(matcher, path)
    if options.grid:
        grid(matcher, paths[0])
    if options.sealed:
        for path in SEALED:
            report(matcher, path)


if __name__ == "__main__":
    main()
