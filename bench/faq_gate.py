"""The matcher's gate, trained again: python -m bench.faq_gate (about 10 s) writes
bot/knowledge/faq_gate.json.

Every example of the knowledge (topics, small talk, out-of-scope examples) and of the training
corpus is asked of a matcher built without its fold (5 folds); each that gets a topic gives the
figures of its scores (``matcher.GATE_FIGURES``), labelled by whether the knowledge answers it
(a topic's example, right topic or not) or not (small talk, out of scope). Gradient-boosted trees
learn to tell them apart; the file keeps their nodes, which the matcher reads without
scikit-learn. Out-of-scope rows weigh OUTSIDE_WEIGHT: they are a twentieth of the rows. Trained
on the knowledge's own examples only, never on an evaluation set: the evaluation sets'
figures (python -m bench.faq_eval --grid) chose the depth, the number of trees, the weight and
``matcher.GATE``. The trees read no topic's id, so an edit of the knowledge on the dashboard
leaves the file valid. The file keeps a digest of the YAML and the corpus it learnt from, and a
test fails when they have changed since: train it again then, and after any change of what the
matcher scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from bot.knowledge import matcher as faq
from bot.knowledge.load import Knowledge, load_knowledge

FOLDS = 5
DEPTH = 2  # measured against 3 and 4: as good on the held-out figures, and a fifth of the nodes
TREES = 100
LEARNING_RATE = 0.1
OUTSIDE_WEIGHT = 5.0  # measured against 1, 10 and 20 (python -m bench.faq_eval --grid)


def trained_on(knowledge: Knowledge) -> str:
    """What the gate learnt from, as a digest: the file keeps it, and a test tells when the
    knowledge's YAML or the corpus changed since (train it again)."""
    parts = (knowledge.topics, knowledge.smalltalk, knowledge.outside, knowledge.synonyms)
    seen = repr([sorted(part.items()) for part in parts] + [sorted(knowledge.corpus.items())])
    return hashlib.sha256(seen.encode()).hexdigest()


def _split(items: tuple[Any, ...], fold: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """All but one fold of the items, and that fold."""
    kept = tuple(item for i, item in enumerate(items) if i % FOLDS != fold)
    return kept, tuple(item for i, item in enumerate(items) if i % FOLDS == fold)


def _without(
    entries: dict[str, dict[str, Any]], fold: int, answers: bool, asked: list[tuple[str, bool]]
) -> dict[str, dict[str, Any]]:
    """Every locale's topics (or small talk) without one fold of their examples; the fold's
    examples go to ``asked``, with whether the knowledge answers them."""
    kept: dict[str, dict[str, Any]] = {}
    for locale, items in entries.items():
        kept[locale] = {}
        for key, item in items.items():
            examples, held = _split(item.examples, fold)
            kept[locale][key] = replace(item, examples=examples)
            asked += [(text, answers) for text in held]
    return kept


def out_of_fold(knowledge: Knowledge) -> tuple[np.ndarray, np.ndarray]:
    """The figures of every example that gets a topic from a matcher built without it, and
    whether the knowledge answers it."""
    rows, answered = [], []
    for fold in range(FOLDS):
        asked: list[tuple[str, bool]] = []
        topics = _without(knowledge.topics, fold, True, asked)
        talks = _without(knowledge.smalltalk, fold, False, asked)
        outside = {}
        for locale, texts in knowledge.outside.items():
            outside[locale], held = _split(texts, fold)
            asked += [(text, False) for text in held]
        corpus = {}
        for locale, pairs in knowledge.corpus.items():
            corpus[locale], held = _split(pairs, fold)
            asked += [(text, topic is not None) for text, topic in held]
        matcher = faq.Matcher(Knowledge(topics, talks, outside, knowledge.synonyms, corpus))
        for text, answers in asked:
            figures = matcher.gate_figures(text)
            if figures is not None:
                rows.append(figures)
                answered.append(answers)
    return np.array(rows), np.array(answered)


def train(figures: np.ndarray, answered: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """The trees, as the matcher reads them, and scikit-learn's probabilities for the first rows."""
    model = HistGradientBoostingClassifier(
        max_depth=DEPTH, max_iter=TREES, learning_rate=LEARNING_RATE, early_stopping=False
    )
    model.fit(figures, answered, sample_weight=np.where(answered, 1.0, OUTSIDE_WEIGHT))
    trees = []
    for (predictor,) in model._predictors:
        trees.append(
            [
                [
                    -1 if node["is_leaf"] else int(node["feature_idx"]),
                    float(node["num_threshold"]),
                    int(node["left"]),
                    int(node["right"]),
                    float(node["value"]) if node["is_leaf"] else 0.0,
                ]
                for node in predictor.nodes
            ]
        )
    baseline = float(np.ravel(model._baseline_prediction)[0])
    found = {"figures": list(faq.GATE_FIGURES), "baseline": baseline, "trees": trees}
    wanted = model.predict_proba(figures[:500])[:, 1]
    return found, wanted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    began = time.process_time()
    knowledge = load_knowledge()
    figures, answered = out_of_fold(knowledge)
    found, wanted = train(figures, answered)
    found["trained_on"] = trained_on(knowledge)
    faq.GATE_FILE.write_text(json.dumps(found, separators=(",", ":")) + "\n", encoding="utf-8")
    faq._trees.cache_clear()
    read = np.array([faq._gate(row) for row in figures[:500]])
    if not np.allclose(read, wanted, atol=1e-9):  # the file must say what scikit-learn says
        raise SystemExit("the trees as the matcher reads them disagree with scikit-learn's")
    print(
        f"{len(answered)} examples given a topic ({int((~answered).sum())} not answered by "
        f"the knowledge), {len(found['trees'])} trees, {time.process_time() - began:.1f} s of CPU: "
        f"{faq.GATE_FILE}"
    )


if __name__ == "__main__":
    main()
