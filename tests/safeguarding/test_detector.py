"""The safeguarding detector (classifier and lexicon) on evaluation sets it never learnt from.

eval_heldout.yaml and eval_sealed.yaml were written by people who never saw the code, the lexicon
nor the training corpus. Their texts are never printed here (a failing test shows figures only),
so that nobody tunes on them one by one. `python -m bench.safeguarding_eval` prints the same
figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.safeguarding_eval import HELDOUT, LONG, SEALED, SEALED2, SEALED3, Figures, evaluate, load
from bot.knowledge.detector import CORPUS_DIR, DIRECT, Detector, load_examples
from bot.knowledge.safeguarding import (
    ALERT,
    FRAMED_CONCERN_AT,
    KINDS,
    LEXICON_CONCERN_AT,
    Safeguarding,
    decide,
)

# Floors a little below what the detector reaches (docs/safeguarding.md has the figures): a
# change that loses real disclosures or raises false alarms fails; noise does not.
# (recall of alert-or-concern per language with at least 10 disclosures, alerts on harmless,
# concerns on harmless, direct disclosures caught)
FLOORS: dict[str, tuple[float, float, float, float] | None] = {
    HELDOUT.name: (0.95, 0.03, 0.13, 1.0),
    # read four times with an adopted model (the first round's thresholds, the second's, batch
    # D, then once more) and once with batch E, not adopted (docs/safeguarding.md): Romanian
    # and Turkish 17 of 18, 7 alerts and 15 concerns of 182 harmless texts; since a lexicon match
    # counts from 0.35, every language 18 of 18, alerts 4 % and concerns 9 % of harmless texts
    SEALED.name: (0.95, 0.04, 0.11, 1.0),
    # read three times with an adopted model (the second round's thresholds, batch D, then once
    # more) and once with batch E: four languages at 17 of 18, no alert, 2 concerns of 182
    # (since a lexicon match counts from 0.35, every language 18 of 18, concerns 2 %)
    SEALED2.name: (0.95, 0.01, 0.03, 1.0),
    # read twice with an adopted model and once with batch E: every language 20 of 20, 1 alert and 8
    # concerns of 182
    SEALED3.name: (0.95, 0.01, 0.06, 1.0),
}


@pytest.fixture(scope="module")
def safeguarding() -> Safeguarding:
    return Safeguarding()


def _figures(safeguarding: Safeguarding, path: Path) -> Figures:
    if not path.exists():
        pytest.skip(f"{path.name} is not there")
    return evaluate(safeguarding, load(path))


@pytest.mark.parametrize("path", [HELDOUT, SEALED, SEALED2, SEALED3], ids=lambda p: p.name)
def test_evaluation_sets(safeguarding: Safeguarding, path: Path) -> None:
    floors = FLOORS[path.name]
    if floors is None:
        pytest.skip(f"{path.name}: no floors yet")
    recall_floor, alert_ceiling, concern_ceiling, direct_floor = floors
    figures = _figures(safeguarding, path)
    low = {
        lang: f"{tally.caught} of {tally.disclosures}"
        for lang, tally in figures.languages.items()
        if tally.disclosures >= 10 and tally.recall < recall_floor
    }
    assert not low, f"disclosures caught, below {recall_floor:.0%}: {low}"
    total = figures.total
    assert total.alert_fp <= alert_ceiling, f"{total.false_alerts} of {total.harmless} alerted"
    assert total.concern_fp <= concern_ceiling, (
        f"{total.false_concerns} of {total.harmless} marked a concern"
    )
    direct = figures.kinds.get(DIRECT)
    if direct:
        assert direct.recall >= direct_floor, f"{direct.caught} of {direct.disclosures} direct"


def test_long_professional_texts_keep_their_disclosures_and_raise_no_more_false_alarms(
    safeguarding: Safeguarding,
) -> None:
    """eval_long.yaml: long texts of professionals pasted in (docs/safeguarding.md, "Long
    messages pasted in", open). Every child in danger mentioned inside one is raised; the
    harmless ones' false alarms, far above the short sets' (34 alerts and 37 concerns of 78 at
    its first read), may only fall."""
    total = _figures(safeguarding, LONG).total
    assert total.caught == total.disclosures, f"{total.caught} of {total.disclosures} caught"
    assert total.false_alerts <= 34, f"{total.false_alerts} of {total.harmless} alerted"
    raised = total.false_alerts + total.false_concerns
    assert raised <= 71, f"{raised} of {total.harmless} raised"


def test_leaving_the_lexicon_unread_changes_no_level(safeguarding: Safeguarding) -> None:
    """The lexicon is read only when the classifier finds a message likely enough for a match to
    matter: every message gets the level it would get with both read."""
    messages = [(str(m["text"]), str(m["lang"])) for m in load(HELDOUT)]
    messages += [(e.text, e.lang) for e in load_examples(CORPUS_DIR / "train_c.yaml")]
    skipped = differ = 0
    for text, lang in messages:
        danger = safeguarding.detector.danger(text)
        matched = safeguarding.is_disclosure(text, [lang, "en"])
        if danger < FRAMED_CONCERN_AT and safeguarding._framed(text, [lang, "en"]):
            matched = False  # a childhood long past, a script: the match counts from 0.50
        full = decide(danger, matched)
        found = safeguarding.assess(text, [lang, "en"])
        skipped += danger < LEXICON_CONCERN_AT
        differ += (found.level if found else None) != full
    assert skipped > len(messages) // 4  # the shortcut is taken, and often
    assert differ == 0, f"{differ} of {len(messages)} messages got another level"


def test_an_alert_says_why(safeguarding: Safeguarding) -> None:
    """The focal point reads the kind of danger and the words behind it."""
    text = "The coach asks the 13 year old girl to send him photos and not tell her mother."
    found = safeguarding.assess(text, ["en"])
    assert found is not None and found.level == ALERT
    assert found.kind == "grooming"
    assert found.words and all(word in text for word in found.words)
    assert KINDS["grooming"] in found.reason


def test_everyday_questions_are_no_concern(safeguarding: Safeguarding) -> None:
    for text in ("When is the next general assembly?", "Cum pot deveni membru al coaliției?"):
        assert safeguarding.assess(text, ["en"]) is None, text


def test_the_model_is_cached_by_corpus(tmp_path: Path) -> None:
    """The cached model reads as the trained one; another corpus is another model."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    examples = load_examples(CORPUS_DIR / "heldout.yaml")
    (corpus / "heldout.yaml").write_bytes((CORPUS_DIR / "heldout.yaml").read_bytes())
    trained = Detector.from_corpus(corpus, tmp_path / "cache", questions={})
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    cached = Detector.from_corpus(corpus, tmp_path / "cache", questions={})
    for e in examples[:40]:
        assert math.isclose(trained.danger(e.text), cached.danger(e.text), rel_tol=1e-9)
        assert trained.kind(e.text) == cached.kind(e.text)
    assert np.array_equal(trained.arrays["danger_coef"], cached.arrays["danger_coef"])
    (corpus / "more.yaml").write_text(
        '- {text: "the boy has not been home for two days", lang: en, alert: true}\n'
    )
    Detector.from_corpus(corpus, tmp_path / "cache", questions={})
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_a_disclosure_inside_a_long_report_is_raised_with_its_own_words(
    safeguarding: Safeguarding,
) -> None:
    """A report pasted in (thousands of characters, read in parts) with one disclosure inside:
    raised, and the focal point reads the disclosure's words, not the report's."""
    report = " ".join(
        [
            "The quarterly report covers the training of 40 social workers in three regions.",
            "The budget line for travel was spent at 80 percent and the rest moves to spring.",
            "Partners asked for the translated materials before the end of the month.",
        ]
        * 14
    )
    told = "My neighbour's girl is 14 and her father is marrying her to a man of 40 next week."
    middle = len(report) // 2
    cut = report.index(". ", middle) + 2
    text = f"{report[:cut]}{told} {report[cut:]}"
    assert len(text) > 3000
    assert safeguarding.assess(report, ["en"]) is None
    found = safeguarding.assess(text, ["en"])
    assert found is not None
    assert found.words and all(word.lower() in told.lower() for word in found.words), found.words
