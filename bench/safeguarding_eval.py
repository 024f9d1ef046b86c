"""Safeguarding detection on labelled sets: figures only, never a text.

python -m bench.safeguarding_eval                       # tests/safeguarding/eval_heldout.yaml
python -m bench.safeguarding_eval --sealed              # and the sealed sets and the long
                                                        # messages' set, each on its own (run
                                                        # it rarely)
python -m bench.safeguarding_eval --files a.yaml b.yaml # any files of the same format
python -m bench.safeguarding_eval --cross               # each corpus file, by a detector
                                                        # trained on the other files
python -m bench.safeguarding_eval --grid                # the held-out totals for other
                                                        # thresholds (how they were chosen)
python -m bench.safeguarding_eval --pasted              # long messages of the knowledge's
                                                        # answers, a sealed set's disclosure
                                                        # inside every other one

Each text is asked with the member's language set to the text's language, as the chat asks.
Prints per language: disclosures, the share caught (alert or possible concern), the share given
an alert; harmless texts, the share given an alert, the share given a possible concern; then the
share of "direct" disclosures caught, and the share caught per kind. Files: ``- {text, lang,
alert, kind}`` (kind optional; harmless texts: kind harmless).
"""

from __future__ import annotations

import argparse
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.common import ROOT
from bot.i18n import LOCALES
from bot.knowledge.detector import (
    CORPUS_DIR,
    DIRECT,
    HARMLESS,
    Detector,
    load_examples,
    sentences,
)
from bot.knowledge.load import load_knowledge
from bot.knowledge.safeguarding import ALERT, CONCERN, Safeguarding, decide

HELDOUT = ROOT / "tests" / "safeguarding" / "eval_heldout.yaml"
SEALED = ROOT / "tests" / "safeguarding" / "eval_sealed.yaml"
# a second sealed set, written later the same way by someone else, read once the thresholds
# were chosen again
SEALED2 = ROOT / "tests" / "safeguarding" / "eval_sealed2.yaml"
# a third, written by yet another writer before the training texts of batch D came, read once
# they were in
SEALED3 = ROOT / "tests" / "safeguarding" / "eval_sealed3.yaml"
# a fourth, by a fourth writer, written before the long-message reading came, read once it was in
SEALED4 = ROOT / "tests" / "safeguarding" / "eval_sealed4.yaml"
# a fifth, by a fifth writer, written before the lexicon's game and care families, the 0.35 for a
# lexicon match and the Armenian full stop, read once they were in
SEALED5 = ROOT / "tests" / "safeguarding" / "eval_sealed5.yaml"
# long texts of professionals pasted in, harmless or with a child in danger mentioned in passing,
# by three more writers (docs/safeguarding.md, "Long messages pasted in")
LONG = ROOT / "tests" / "safeguarding" / "eval_long.yaml"
# a second, by three more writers the same day, first read by the model for long messages
LONG2 = ROOT / "tests" / "safeguarding" / "eval_long2.yaml"
PASTED_SIZES = (1000, 1500, 2500, 4000)
PASTED_PER_LANGUAGE = 30


@dataclass
class Tally:
    disclosures: int = 0
    caught: int = 0  # alert or concern
    alerted: int = 0
    harmless: int = 0
    false_alerts: int = 0
    false_concerns: int = 0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def recall(self) -> float:
        return self.caught / self.disclosures if self.disclosures else float("nan")

    @property
    def alert_fp(self) -> float:
        return self.false_alerts / self.harmless if self.harmless else float("nan")

    @property
    def concern_fp(self) -> float:
        return self.false_concerns / self.harmless if self.harmless else float("nan")


@dataclass
class Figures:
    languages: dict[str, Tally]
    kinds: dict[str, Tally]

    @property
    def total(self) -> Tally:
        total = Tally()
        for tally in self.languages.values():
            total.add(tally)
        return total


def load(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text(encoding="utf-8")) or []


def evaluate(safeguarding: Safeguarding, messages: list[dict]) -> Figures:  # type: ignore[type-arg]
    languages: dict[str, Tally] = defaultdict(Tally)
    kinds: dict[str, Tally] = defaultdict(Tally)
    for message in messages:
        lang = str(message["lang"])
        found = safeguarding.assess(str(message["text"]), [lang, "en"])
        level = found.level if found else None
        one = Tally()
        if message["alert"]:
            one.disclosures = 1
            one.caught = int(level in (ALERT, CONCERN))
            one.alerted = int(level == ALERT)
        else:
            one.harmless = 1
            one.false_alerts = int(level == ALERT)
            one.false_concerns = int(level == CONCERN)
        languages[lang].add(one)
        kind = message.get("kind") or ("unspecified" if message["alert"] else HARMLESS)
        kinds[str(kind)].add(one)
    return Figures(dict(languages), dict(kinds))


def pasted(seed: int = 7) -> list[dict]:  # type: ignore[type-arg]
    """Long messages made of the knowledge's answers (1,000 to 4,000 characters; no answer is
    a training text of the detector's), every other one with a disclosure of a sealed set of
    its language put in between two sentences: a member's few words about a child inside a
    long message. Reproducible: the same seed, the same messages."""
    chance = random.Random(seed)
    told = [m for path in (SEALED, SEALED5) for m in load(path) if m["alert"]]
    made = []
    for lang, topics in load_knowledge().topics.items():
        said = [
            s for t in topics.values() for s in sentences(f"{t.answer} {t.more or ''}".strip())
        ]
        disclosures = [str(m["text"]) for m in told if m["lang"] == lang]
        for n in range(PASTED_PER_LANGUAGE):
            size = chance.choice(PASTED_SIZES)
            parts: list[str] = []
            while sum(len(p) + 1 for p in parts) < size:
                parts.append(chance.choice(said))
            inside = bool(n % 2 and disclosures)
            if inside:
                parts.insert(chance.randrange(len(parts) + 1), chance.choice(disclosures))
            made.append({"text": " ".join(parts)[:4096], "lang": lang, "alert": inside})
    return made


def _pct(value: float) -> str:
    return "   -" if value != value else f"{100 * value:4.0f}"


def report(title: str, figures: Figures) -> None:
    print(f"\n{title}")
    print("lang     disclosures caught% alert% | harmless alert% concern%")
    order = [lang for lang in LOCALES if lang in figures.languages]
    order += sorted(set(figures.languages) - set(order))
    for lang, tally in [*((k, figures.languages[k]) for k in order), ("all", figures.total)]:
        alerted = tally.alerted / tally.disclosures if tally.disclosures else float("nan")
        print(
            f"{lang:8} {tally.disclosures:11} {_pct(tally.recall):>6} {_pct(alerted):>6} | "
            f"{tally.harmless:8} {_pct(tally.alert_fp):>6} {_pct(tally.concern_fp):>8}"
        )
    direct = figures.kinds.get(DIRECT)
    if direct:
        print(f"direct disclosures caught: {direct.caught} of {direct.disclosures}")
    print("per kind: " + ", ".join(
        f"{kind} {_pct(tally.recall).strip()}% of {tally.disclosures}"
        for kind, tally in sorted(figures.kinds.items()) if tally.disclosures
    ))  # fmt: skip


def cross(directory: Path = CORPUS_DIR) -> None:
    """Each corpus file read by a detector that never saw it."""
    files = sorted(directory.glob("*.yaml"))
    for path in files:
        rest = [e for other in files if other != path for e in load_examples(other)]
        safeguarding = Safeguarding(detector=Detector.train(rest))
        report(f"{path.name}, unseen (trained on the {len(files) - 1} other files)",
               evaluate(safeguarding, load(path)))  # fmt: skip


def grid(safeguarding: Safeguarding, messages: list[dict]) -> None:  # type: ignore[type-arg]
    """Totals only, for thresholds around the chosen ones: the lowest recall of a language, the
    overall recall, alerts and concerns on harmless texts."""
    read = [
        (
            safeguarding.detector.danger(str(m["text"])),
            safeguarding.is_disclosure(str(m["text"]), [str(m["lang"]), "en"]),
            bool(m["alert"]),
            str(m["lang"]),
        )
        for m in messages
    ]
    print("alert concern lex-alert lex-concern | min-lang recall alerted | alert-fp concern-fp")
    for limits in itertools.product(
        (0.9, 0.95, 0.98, 0.99, 1.01),
        (0.5, 0.7, 0.8, 0.9, 0.95),
        (0.5, 0.7, 0.9, 0.95, 0.98, 1.01),
        (0.1, 0.3, 0.5),
    ):
        if limits[1] > limits[0] or limits[3] > limits[2]:
            continue
        languages: dict[str, Tally] = defaultdict(Tally)
        for danger, matched, alert, lang in read:
            level = decide(danger, matched, limits)
            one = languages[lang]
            if alert:
                one.disclosures += 1
                one.caught += level is not None
                one.alerted += level == ALERT
            else:
                one.harmless += 1
                one.false_alerts += level == ALERT
                one.false_concerns += level == CONCERN
        total = Figures(dict(languages), {}).total
        worst = min(t.recall for t in languages.values() if t.disclosures >= 10)
        print(
            " ".join(f"{x:.2f}" for x in limits)
            + f" | {_pct(worst)} {_pct(total.recall)} {_pct(total.alerted / total.disclosures)}"
            + f" | {_pct(total.alert_fp)} "
            + f"{_pct(total.concern_fp)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="*", type=Path)
    parser.add_argument("--sealed", action="store_true", help="the sealed sets too")
    parser.add_argument("--cross", action="store_true", help="corpus files, each unseen")
    parser.add_argument("--grid", action="store_true", help="held-out totals, other thresholds")
    parser.add_argument(
        "--pasted", action="store_true", help="long messages of answers, a disclosure inside"
    )
    args = parser.parse_args()
    if args.cross:
        return cross()
    safeguarding = Safeguarding()
    print(f"detector: {safeguarding.detector.examples} texts, trained in "
          f"{safeguarding.detector.seconds:.1f} s")  # fmt: skip
    if args.grid:
        return grid(safeguarding, load(HELDOUT))
    if args.pasted:
        return report("knowledge-made long messages", evaluate(safeguarding, pasted()))
    sealed = [SEALED, SEALED2, SEALED3, SEALED4, SEALED5, LONG, LONG2] if args.sealed else []
    files = args.files or [HELDOUT, *sealed]
    for path in files:
        if not path.exists():
            print(f"\n{path.name}: not there")
            continue
        report(path.name, evaluate(safeguarding, load(path)))


if __name__ == "__main__":
    main()
