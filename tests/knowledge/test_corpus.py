"""The training corpus (``locales/faq_corpus/<locale>.yaml``): its questions teach the matcher
while their topic is live, never show as the topic's examples, and a bad row or an unknown
topic is skipped with a warning instead of stopping the bot."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from bot.i18n import LOCALES, LOCALES_DIR
from bot.knowledge import library
from bot.knowledge.load import CORPUS, load_knowledge
from bot.knowledge.matcher import Matcher
from bot.storage.db import Database

# No example of any topic asks it this way: only the corpus row below makes it a topic's.
QUESTION = "zorblax quintuple frambozle grid of the coalition"


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    for locale in LOCALES:
        (tmp_path / locale).mkdir()
        shutil.copy(LOCALES_DIR / locale / "knowledge.yaml", tmp_path / locale / "knowledge.yaml")
    (tmp_path / CORPUS).mkdir()
    return tmp_path


def write(folder: Path, locale: str, rows: object) -> None:
    text = yaml.safe_dump(rows, allow_unicode=True)
    (folder / CORPUS / f"{locale}.yaml").write_text(text, encoding="utf-8")


def test_bad_rows_and_unknown_topics_are_skipped_with_a_warning(
    locales: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(locales, "en", [
        {"q": "how do we join the coalition", "topic": "get_involved"},
        {"q": "what is the price of bread", "topic": None},
        {"q": "when is the forum", "topic": "forum"},  # no such topic
        {"q": "", "topic": "contact"},
        {"question": "who are you", "topic": "who_we_are"},
        {"q": "who are you"},  # no topic given: not taken for out of scope
        "just a line",
    ])  # fmt: skip
    write(locales, "ro", {"q": "cine sunteti", "topic": "who_we_are"})  # not a list
    with caplog.at_level(logging.WARNING, logger="bot.knowledge.load"):
        knowledge = load_knowledge(locales)
    assert knowledge.corpus["en"] == (
        ("how do we join the coalition", "get_involved"),
        ("what is the price of bread", None),
    )
    assert "ro" not in knowledge.corpus
    warned = [r.getMessage() for r in caplog.records]
    assert any("en.yaml: 5 of 7 rows skipped" in m and "unknown topic 'forum'" in m for m in warned)
    assert any("ro.yaml skipped" in m for m in warned)


def test_no_corpus_folder_is_no_corpus(locales: Path) -> None:
    shutil.rmtree(locales / CORPUS)
    assert load_knowledge(locales).corpus == {}


def test_corpus_questions_teach_the_matcher_its_topic_and_what_is_out_of_scope() -> None:
    knowledge = load_knowledge()
    taught = replace(knowledge, corpus={"en": ((QUESTION, "contact"),)})
    assert Matcher(knowledge).match(QUESTION, "en").topic != "contact"
    assert Matcher(taught).match(QUESTION, "en").topic == "contact"
    outside = replace(knowledge, corpus={"en": ((QUESTION, None),)})
    assert Matcher(outside).match(QUESTION, "en").topic is None


async def test_an_archived_topics_corpus_questions_no_longer_answer(clean_db: Database) -> None:
    fixed = replace(load_knowledge(), corpus={"en": ((QUESTION, "contact"),)})
    async with clean_db.session() as session, session.begin():
        live = await library.load(session, fixed)
        # the dashboard and the export show the topic's own examples, not the corpus
        assert QUESTION not in (await library.get(session, "contact")).examples.get("en", [])
    assert Matcher(live).match(QUESTION, "en").topic == "contact"
    async with clean_db.session() as session, session.begin():
        await library.set_archived(session, "editor", "contact", True)
    async with clean_db.session() as session, session.begin():
        archived = await library.load(session, fixed)
    assert "contact" not in archived.topics["en"]
    assert Matcher(archived).match(QUESTION, "en").topic is None
