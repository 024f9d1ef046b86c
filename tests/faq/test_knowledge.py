"""The knowledge base: every topic in every locale, nothing empty, gaps reported clearly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot.i18n import LOCALES, LOCALES_DIR
from bot.knowledge import load as knowledge_module
from bot.knowledge.load import Knowledge, KnowledgeError, load_knowledge

TOPICS_DOC = LOCALES_DIR / "KNOWLEDGE.md"
SMALLTALK = {"greeting", "thanks", "bye", "bot"}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    """A copy of every locale's knowledge.yaml, to break."""
    for locale in LOCALES:
        (tmp_path / locale).mkdir()
        shutil.copy(LOCALES_DIR / locale / "knowledge.yaml", tmp_path / locale / "knowledge.yaml")
    return tmp_path


def edit(folder: Path, locale: str, change) -> None:  # type: ignore[no-untyped-def]
    path = folder / locale / "knowledge.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_every_locale_has_every_topic_and_small_talk(knowledge: Knowledge) -> None:
    assert set(knowledge.topics) == set(LOCALES)
    ids = knowledge.topic_ids
    for locale in LOCALES:
        assert list(knowledge.topics[locale]) == ids, locale
        assert set(knowledge.smalltalk[locale]) == SMALLTALK, locale


def test_the_topics_are_the_documented_ones(knowledge: Knowledge) -> None:
    documented = re.findall(r"^\| `(\w+)` \|", TOPICS_DOC.read_text(encoding="utf-8"), re.M)
    assert knowledge.topic_ids == documented


def test_no_empty_answer_and_phone_sized(knowledge: Knowledge) -> None:
    for locale in LOCALES:
        for topic in knowledge.topics[locale].values():
            where = f"{locale}/{topic.id}"
            assert topic.title.strip() and topic.answer.strip(), where
            assert len(topic.title.split()) <= 5, where  # a button label
            assert len(topic.answer) <= 600, where  # a phone screen; the rest goes behind "more"
            assert topic.more is None or topic.more.strip(), where
            assert len(topic.examples) >= knowledge_module.MIN_EXAMPLES, where
            assert all(example.strip() for example in topic.examples), where
        for talk in knowledge.smalltalk[locale].values():
            assert talk.answer.strip() and talk.examples, f"{locale}/{talk.id}"


def test_answers_are_written_for_each_locale(knowledge: Knowledge) -> None:
    """No locale left with the English text pasted in."""
    english = {topic.id: topic.answer for topic in knowledge.topics["en"].values()}
    for locale in LOCALES:
        if locale == "en":
            continue
        copied = [t.id for t in knowledge.topics[locale].values() if t.answer == english[t.id]]
        assert not copied, f"{locale}: English answers in {copied}"


def test_the_copy_loads(locales: Path) -> None:
    assert load_knowledge(locales).topic_ids == load_knowledge().topic_ids


def test_a_missing_locale_is_named(locales: Path) -> None:
    (locales / "ka" / "knowledge.yaml").unlink()
    with pytest.raises(KnowledgeError, match=r"ka: knowledge\.yaml is missing"):
        load_knowledge(locales)


def test_a_missing_topic_is_named_with_its_locale(locales: Path) -> None:
    edit(locales, "tr", lambda data: data["topics"].pop("world_vision"))
    with pytest.raises(KnowledgeError, match=r"tr: topic world_vision: missing"):
        load_knowledge(locales)


def test_an_empty_answer_is_named(locales: Path) -> None:
    def empty(data: dict) -> None:  # type: ignore[type-arg]
        data["topics"]["history"]["answer"] = "  "

    edit(locales, "hy", empty)
    with pytest.raises(KnowledgeError, match=r"hy: topic history: empty answer"):
        load_knowledge(locales)


def test_missing_small_talk_and_extra_topics_are_named(locales: Path) -> None:
    def change(data: dict) -> None:  # type: ignore[type-arg]
        data["smalltalk"].pop("thanks")
        data["topics"]["weather"] = data["topics"]["history"]

    edit(locales, "az", change)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(locales)
    message = str(caught.value)
    assert "az: small talk thanks: missing" in message
    assert "az: topics not in English: ['weather']" in message


def test_every_gap_is_listed_at_once(locales: Path) -> None:
    (locales / "bg" / "knowledge.yaml").unlink()
    edit(locales, "uk", lambda data: data["topics"].pop("contact"))
    (locales / "sq" / "knowledge.yaml").write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(locales)
    message = str(caught.value)
    for expected in (
        "bg: knowledge.yaml is missing",
        "uk: topic contact: missing",
        "sq: not valid YAML",
    ):
        assert expected in message


def test_too_few_examples_are_named(locales: Path) -> None:
    def trim(data: dict) -> None:  # type: ignore[type-arg]
        data["topics"]["values"]["examples"] = data["topics"]["values"]["examples"][:2]

    edit(locales, "ro", trim)
    with pytest.raises(KnowledgeError, match=r"ro: topic values: fewer than \d+ examples"):
        load_knowledge(locales)


def test_a_file_of_the_wrong_shape_is_named(locales: Path) -> None:
    (locales / "ru" / "knowledge.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"ru: expected a mapping"):
        load_knowledge(locales)


def test_without_english_the_other_gaps_are_still_named(locales: Path) -> None:
    (locales / "en" / "knowledge.yaml").unlink()
    (locales / "sr" / "knowledge.yaml").unlink()
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(locales)
    assert "en: knowledge.yaml is missing" in str(caught.value)
    assert "sr: knowledge.yaml is missing" in str(caught.value)


def test_synonyms_stand_for_a_word_of_the_english_examples(knowledge: Knowledge) -> None:
    """Every locale's synonyms lead to an English word that the examples use, one word each,
    and the same words in every locale."""
    english = {
        word
        for topic in knowledge.topics["en"].values()
        for example in topic.examples
        for word in example.lower().split()
    }
    words = set(knowledge.synonyms["en"])
    assert words and words <= english
    for locale in LOCALES:
        assert set(knowledge.synonyms[locale]) == words, locale
        for word, variants in knowledge.synonyms[locale].items():
            assert variants, (locale, word)
            assert all(len(variant.split()) == 1 for variant in variants), (locale, word)
