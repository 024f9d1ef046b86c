"""Safeguarding detection: what it adds to each message, and what the model costs at start.

python -m bench.bench_safeguarding              # every corpus text, --rounds times
python -m bench.bench_safeguarding --rounds 5

Prints the time to train the model from the corpus (--train; done once, then read from the
cache) and to load the lexicon and the model, then p50/p99 milliseconds per message, on one
core: the classifier (what this detector adds to every message), the lexicon (which every
message already paid), and both with the reason given to the focal point (kind and words: only
for a message that is raised; the lexicon only when it could change the level), for the corpus's
texts and for 1,500- and 4,000-character messages (both read the first 4,000 characters):
harmless ones, ones with disclosures among them, and ones of words the model never saw.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import machine_line, pin_self, usable_cores
from bot.knowledge.detector import Detector, load_corpus
from bot.knowledge.safeguarding import Safeguarding


def _times(fn, texts: list[str], rounds: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    spent = []
    for _ in range(rounds):
        for text in texts:
            began = time.perf_counter()
            fn(text)
            spent.append(time.perf_counter() - began)
    return float(np.percentile(spent, 50) * 1000), float(np.percentile(spent, 99) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train", action="store_true", help="time a training from scratch too")
    args = parser.parse_args()
    pin_self(usable_cores()[:1])
    print(machine_line())
    examples = load_corpus()
    if args.train:
        with tempfile.TemporaryDirectory() as scratch:
            began = time.perf_counter()
            Detector.from_corpus(cache=Path(scratch))
            print(f"trained on {len(examples)} texts in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    safeguarding = Safeguarding()
    print(f"lexicon and model from the cache: {time.perf_counter() - began:.2f} s")
    texts = [e.text for e in examples]
    chatty = " ".join(texts)
    calm = " ".join(e.text for e in examples if not e.alert)
    # words it never saw: each word's letters in another order (a worst case; real messages
    # repeat the words the model knows)
    chance = random.Random(0)
    odd = " ".join("".join(chance.sample(word, len(word))) for word in calm.split())

    def cut(source: str, size: int) -> list[str]:
        return [source[i * size : (i + 1) * size] for i in range(50)]

    lang = {e.text: e.lang for e in examples}

    def detect(text: str) -> None:
        safeguarding.assess(text, [lang.get(text, "en"), "en"])

    def lexicon(text: str) -> None:
        safeguarding.is_disclosure(text, [lang.get(text, "en"), "en"])

    readings = {text: safeguarding.detector.read(text) for text in texts}

    def reason(text: str) -> None:
        safeguarding.detector.kind(readings[text])
        safeguarding.detector.words(readings[text])

    danger = safeguarding.detector.danger
    rows = []
    for name, sample, rounds in (
        (f"a message ({len(texts)} texts)", texts, args.rounds),
        ("1,500 characters, harmless (50 texts)", cut(calm, 1500), 1),
        ("1,500 characters, some disclosures (50 texts)", cut(chatty, 1500), 1),
        ("4,000 characters, harmless (50 texts)", cut(calm, 4000), 1),
        ("4,000 characters, some disclosures (50 texts)", cut(chatty, 4000), 1),
        ("4,000 characters, words never seen (50 texts)", cut(odd, 4000), 1),
    ):
        rows += [
            (f"{name}: classifier", *_times(danger, sample, rounds)),
            (f"{name}: lexicon", *_times(lexicon, sample, rounds)),
            (f"{name}: both, and the reason", *_times(detect, sample, rounds)),
        ]
    rows.append(("the reason alone (kind, words), a message read", *_times(reason, texts, 1)))
    print(f"{'per message':64} {'p50 ms':>8} {'p99 ms':>8}")
    for name, p50, p99 in rows:
        print(f"{name:64} {p50:8.2f} {p99:8.2f}")


if __name__ == "__main__":
    main()
