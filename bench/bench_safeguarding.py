"""Safeguarding detection: what it adds to each message, and what the model costs at start.

python -m bench.bench_safeguarding              # every corpus text, --rounds times
python -m bench.bench_safeguarding --rounds 5
python -m bench.bench_safeguarding --mix        # the whole detection on a realistic mix only

Prints the time to train the model from the corpus (--train; done once, then read from the
cache) and to load the lexicon and the model, then p50/p99 milliseconds per message, on one
core: the classifier (what this detector adds to every message), the lexicon (which every
message already paid), and both with the reason given to the focal point (kind and words: only
for a message that is raised; the lexicon only when it could change the level), for the corpus's
texts and for 1,500- and 4,000-character messages (both read the first 4,000 characters):
harmless ones, ones with disclosures among them, and ones of words the model never saw.

--mix: what the chat calls per message (``Safeguarding.assess`` with the member's language and
English), p50/p99/worst, over every text of the corpus and of the evaluation sets, each as its own
message, and long messages made from the corpus: reports pasted in, of 1,000 to 4,096 characters
(Telegram's limit), harmless sentences of one language with, in half of them, one disclosure of
that language somewhere inside; and how many of those long disclosures are still raised (alert or
possible concern) and how many harmless reports are. Texts are never printed.
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import machine_line, pin_self, usable_cores
from bench.safeguarding_eval import HELDOUT, SEALED, SEALED2, SEALED3, load
from bot.knowledge.detector import Detector, Example, load_corpus
from bot.knowledge.safeguarding import Safeguarding

LONG_SIZES = (1000, 1500, 2500, 4000, 4096)
LONG_PER_SIZE = 8  # per language and size


def reports(examples: list[Example], seed: int = 0) -> list[tuple[str, str, bool]]:
    """Long messages (text, language, has a disclosure): harmless texts of one language one
    after another up to a size, and in every other one a disclosure of that language put at a
    random place among them."""
    chance = random.Random(seed)
    harmless: dict[str, list[str]] = {}
    disclosures: dict[str, list[str]] = {}
    for e in examples:
        (disclosures if e.alert else harmless).setdefault(e.lang, []).append(e.text)
    made = []
    for lang in sorted(harmless):
        for size in LONG_SIZES:
            for n in range(LONG_PER_SIZE):
                told = n % 2 == 1 and lang in disclosures
                said = chance.choice(disclosures[lang]).strip() if told else ""
                parts: list[str] = []
                room = size - len(said) - 1
                while True:
                    part = chance.choice(harmless[lang]).strip()
                    if sum(len(p) + 1 for p in parts) + len(part) > room:
                        break
                    parts.append(part)
                if told:  # between two of the texts, anywhere
                    parts.insert(chance.randrange(len(parts) + 1), said)
                text = " ".join(parts)
                made.append((text.strip(), lang, told))
    return made


def mix(safeguarding: Safeguarding, rounds: int) -> None:
    """The whole detection per message on the mix (see the module's doc)."""
    examples = load_corpus()
    messages = [(e.text, e.lang) for e in examples]
    for path in (HELDOUT, SEALED, SEALED2, SEALED3):
        if path.exists():
            messages += [(str(m["text"]), str(m["lang"])) for m in load(path)]
    long = reports(examples)
    spent: dict[str, list[float]] = {"short": [], "long": []}
    cpu: dict[str, list[float]] = {"short": [], "long": []}
    raised = {True: 0, False: 0}
    for _ in range(rounds):
        for name, sample in (("short", messages), ("long", [(t, lang) for t, lang, _ in long])):
            for text, lang in sample:
                began, worked = time.perf_counter(), time.thread_time()
                safeguarding.assess(text, [lang, "en"])
                spent[name].append(time.perf_counter() - began)
                cpu[name].append(time.thread_time() - worked)
    for text, lang, told in long:
        raised[told] += safeguarding.assess(text, [lang, "en"]) is not None
    told = sum(1 for *_, t in long if t)
    sizes = [len(t) for t, *_ in long]
    print(f"mix: {len(messages)} messages as written (up to {max(len(t) for t, _ in messages)} "
          f"characters) and {len(long)} long ones ({min(sizes)}-{max(sizes)} characters), "
          f"{rounds} rounds")  # fmt: skip
    # wall-clock time, and the time this thread was on a core (the same on a busy machine)
    print(f"{'whole detection per message':40} {'p50 ms':>8} {'p99 ms':>8} {'worst ms':>9}"
          f" | {'on a core: p50':>14} {'p99':>6} {'worst':>6}")  # fmt: skip
    for name, parts in (
        ("the mix", ("short", "long")),
        ("messages as written", ("short",)),
        ("long messages (reports pasted in)", ("long",)),
    ):
        ms = np.array([v for part in parts for v in spent[part]]) * 1000
        on = np.array([v for part in parts for v in cpu[part]]) * 1000
        print(f"{name:40} {np.percentile(ms, 50):8.2f} {np.percentile(ms, 99):8.2f} "
              f"{ms.max():9.2f} | {np.percentile(on, 50):14.2f} {np.percentile(on, 99):6.2f} "
              f"{on.max():6.2f}")  # fmt: skip
    print(f"long messages raised: {raised[True]} of {told} with a disclosure inside, "
          f"{raised[False]} of {len(long) - told} harmless")  # fmt: skip


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
    parser.add_argument("--mix", action="store_true", help="the whole detection on a mix only")
    args = parser.parse_args()
    pin_self(usable_cores()[:1])
    print(machine_line())
    if args.mix:
        safeguarding = Safeguarding()
        gc.freeze()  # as the service does once it has loaded everything (app/service.py)
        return mix(safeguarding, args.rounds)
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
    print()
    mix(safeguarding, args.rounds)


if __name__ == "__main__":
    main()
