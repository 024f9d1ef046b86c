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
import yaml

from bench.safeguarding_eval import (
    HELDOUT,
    LONG,
    LONG2,
    SEALED,
    SEALED2,
    SEALED3,
    Figures,
    evaluate,
    load,
    pasted,
)
from bot.knowledge.detector import (
    CORPUS_DIR,
    DIRECT,
    Detector,
    Example,
    LongText,
    load_examples,
    long_parts,
    pasted_in,
)
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


@pytest.mark.parametrize("path", [LONG, LONG2], ids=lambda p: p.name)
def test_long_professional_texts_keep_their_disclosures_and_raise_few_false_alarms(
    safeguarding: Safeguarding, path: Path
) -> None:
    """Long texts of professionals pasted in, read by the model for long messages
    (docs/safeguarding.md, "Long messages pasted in"): every child in danger mentioned inside
    one is raised, and the harmless ones, full of the words of the trade, raise alerts and
    concerns no more often than the issue allows harmless look-alikes to (5 %, 15 %). At their
    first reads by the model of one text at a time: 34 alerts and 37 concerns of 78; by the model
    for long messages: eval_long2.yaml 1 and 7 of 78 (eval_long.yaml had been read before)."""
    total = _figures(safeguarding, path).total
    assert total.caught == total.disclosures, f"{total.caught} of {total.disclosures} caught"
    assert total.alert_fp <= 0.05, f"{total.false_alerts} of {total.harmless} alerted"
    assert total.concern_fp <= 0.15, f"{total.false_concerns} of {total.harmless} a concern"


def test_a_members_few_words_inside_a_long_message_are_still_raised(
    safeguarding: Safeguarding,
) -> None:
    """Long messages of the bot's answers with a sealed set's disclosure put in every other one
    (``bench.safeguarding_eval --pasted``): the model for long messages raises those
    disclosures about as often as the model of one text did (188 of 195 then, 185 now). Its
    harmless half is made of answers the model learnt: no estimate of false alarms, a guard."""
    total = evaluate(safeguarding, pasted()).total
    assert total.recall >= 0.94, f"{total.caught} of {total.disclosures} caught"
    raised = total.false_alerts + total.false_concerns
    assert total.false_alerts == 0 and raised <= 0.05 * total.harmless, f"{raised} raised"


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


TOLD = "The boy (7) has new bruises again and says he fell."
REPORT = f"The budget was spent on time. The training went well in May. {TOLD} We meet in June."


def test_a_long_text_is_learnt_part_by_part() -> None:
    """Each part a long message is read in (a sentence, two together, a window of a sentence
    typed without full stops) is labelled by the sentences told of the child: inside them it
    tells, outside it does not, and a window that only touches them is left out; each part is
    learnt with the words around it."""
    parts = long_parts([LongText(REPORT, "en", TOLD, "signs_excuse")])
    label = {part.text: part.alert for part, _ in parts}
    assert label[TOLD] is True
    assert label["The training went well in May."] is False
    assert label[f"The training went well in May. {TOLD}"] is True
    assert label["The budget was spent on time. The training went well in May."] is False
    assert {part.kind for part, _ in parts if part.alert} == {"signs_excuse"}
    around = dict((part.text, context) for part, context in parts)
    assert around[TOLD] == "The budget was spent on time. The training went well in May. " + (
        f"{TOLD} We meet in June."
    )
    assert all(not part.alert for part, _ in long_parts([LongText(REPORT, "en", "", "harmless")]))
    flat = " ".join(["we planned the budget and the trainings for the regions"] * 6)
    typed = LongText(f"{flat} {TOLD[:-1]} {flat}", "en", TOLD[:-1], "signs_excuse")
    windows = [part for part, _ in long_parts([typed])]
    assert any(w.alert for w in windows) and any(not w.alert for w in windows)
    told = set(TOLD[:-1].split()) - set(flat.split())
    touching = [w for w in windows if 0 < len(told & set(w.text.split())) < 4]
    assert touching == [], "a window that only touches the told sentence is learnt"


def test_the_corpus_is_learnt_inside_long_texts_too() -> None:
    texts = [LongText(REPORT, "en", "", "harmless"), LongText(REPORT, "ro", "", "harmless")]
    examples = [Example("he hits her every night, she is 9", "en", True, "abuse"),
                Example("the weather is fine", "en", False, "harmless"),
                Example("nu are cine să-l ia de la școală", "bg", True, "left_alone")]  # fmt: skip
    made = pasted_in(texts, examples)
    assert [(t.lang, t.told, t.kind) for t in made] == [
        ("en", "he hits her every night, she is 9", "abuse"),
        ("en", "the weather is fine", "harmless"),
    ]
    assert all(t.told in t.text and t.text != REPORT for t in made)
    assert made == pasted_in(texts, examples), "not the same texts each time"
    told, harmless = ([part for part, _ in long_parts([t], told_only=True)] for t in made)
    assert told and all(part.alert and examples[0].text in part.text for part in told)
    assert harmless and not any(part.alert for part in harmless)


def test_the_long_texts_parts_are_counted_as_scikit_learn_counts_them() -> None:
    """The parts of long texts are turned into TF-IDF rows without scikit-learn's transform (see
    ``_tfidf``): the same numbers, or the model for long messages learns other features than it
    reads."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.knowledge.detector import (
        _char_row,
        _term_row,
        _tfidf,
        char_grams,
        spelling,
        word_grams,
    )

    corpus = [spelling(e.text).split() for e in load_examples(CORPUS_DIR / "train_c.yaml")]
    report = LongText(REPORT, "en", TOLD, "signs_excuse")
    parts = [spelling(part.text).split() for part, _ in long_parts([report])]
    parts += [["unknown", "words", "only"], [], corpus[0] * 3]
    for analyzer, row, min_df in ((char_grams, _char_row, 2), (word_grams, _term_row, 1)):
        fitted = TfidfVectorizer(analyzer=analyzer, min_df=min_df, sublinear_tf=True).fit(corpus)
        expected, made = fitted.transform(parts), _tfidf(parts, fitted, row)
        assert made.shape == expected.shape
        assert abs(made - expected).max() < 1e-12


def test_the_long_texts_make_another_model(tmp_path: Path) -> None:
    """A corpus with long texts is another model (and another cache file) than the same without,
    and each long text, its told sentences too, names the model."""
    corpus = tmp_path / "corpus"
    (corpus / "long").mkdir(parents=True)
    (corpus / "heldout.yaml").write_bytes((CORPUS_DIR / "heldout.yaml").read_bytes())
    plain = Detector.from_corpus(corpus, tmp_path / "cache", questions={})
    entry = {"lang": "en", "alert": True, "kind": "signs_excuse", "told": TOLD, "text": REPORT}
    (corpus / "long" / "a.yaml").write_text(yaml.safe_dump([entry]))
    read_long = Detector.from_corpus(corpus, tmp_path / "cache", questions={}, answers=[])
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    assert not np.array_equal(plain.arrays["long_coef"], read_long.arrays["long_coef"])
    assert np.array_equal(plain.arrays["danger_coef"], read_long.arrays["danger_coef"])
    entry["told"] = "The training went well in May."
    (corpus / "long" / "a.yaml").write_text(yaml.safe_dump([entry]))
    Detector.from_corpus(corpus, tmp_path / "cache", questions={}, answers=[])
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 3


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
