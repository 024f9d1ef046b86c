"""The coalition's knowledge: topics and small talk per locale, loaded and checked once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.i18n import LOCALES, LOCALES_DIR

log = logging.getLogger(__name__)
MIN_EXAMPLES = 5
CORPUS = "faq_corpus"  # locales/faq_corpus/<locale>.yaml: more ways of asking, for the matcher
CORPUS_QUESTION_LIMIT = 300  # as an example typed on the dashboard
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when there: 6 times faster


class KnowledgeError(RuntimeError):
    """The knowledge base is incomplete; the message lists every gap."""


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str
    answer: str
    more: str | None
    examples: tuple[str, ...]
    # False: the language has no text of its own and shows the English one (the matcher does
    # not learn its title twice)
    own: bool = True


@dataclass(frozen=True, slots=True)
class SmallTalk:
    id: str
    answer: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Knowledge:
    """Every locale's topics and small talk; the same ids everywhere."""

    topics: dict[str, dict[str, Topic]] = field(default_factory=dict)  # locale -> id -> topic
    smalltalk: dict[str, dict[str, SmallTalk]] = field(default_factory=dict)
    # locale -> questions the bot must not answer with a topic (weather, prices, the time...):
    # they teach the matcher what "outside" looks like, so "how much is bread" does not meet
    # "how many children"
    outside: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # locale -> word -> the words members use for it ("funds", "donor" -> "supports"): a question
    # with a variant also reads as if it had the word, so one example covers them all
    synonyms: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    # locale -> (question, topic id or None for out of scope): the training corpus of
    # ``locales/faq_corpus/``, many more ways members ask. The matcher learns a question as an
    # example of its topic while the topic is live (an archived one's questions no longer
    # answer), or as an out-of-scope example; they are never shown or exported as the topic's.
    corpus: dict[str, tuple[tuple[str, str | None], ...]] = field(default_factory=dict)

    @property
    def topic_ids(self) -> list[str]:
        return list(self.topics["en"])

    def topic(self, locale: str, topic_id: str) -> Topic:
        return self.topics[locale][topic_id]


def load_knowledge(directory: Path = LOCALES_DIR) -> Knowledge:
    """Read and check every ``knowledge.yaml``; raise listing every missing or empty entry."""
    problems: list[str] = []
    raw: dict[str, dict] = {}  # type: ignore[type-arg]
    for locale in LOCALES:
        path = directory / locale / "knowledge.yaml"
        if not path.exists():
            problems.append(f"{locale}: {path.name} is missing")
            continue
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        except yaml.YAMLError as exc:
            problems.append(f"{locale}: not valid YAML: {exc}")
            continue
        if not _well_formed(data):
            problems.append(f"{locale}: expected a mapping with topics: and smalltalk: mappings")
            continue
        raw[locale] = data
    if "en" not in raw:
        raise KnowledgeError(_report(problems))
    wanted_topics = list((raw["en"].get("topics") or {}).keys())
    wanted_talk = list((raw["en"].get("smalltalk") or {}).keys())
    knowledge = Knowledge()
    for locale, data in raw.items():
        topics = data.get("topics") or {}
        talk = data.get("smalltalk") or {}
        knowledge.topics[locale] = {}
        knowledge.smalltalk[locale] = {}
        for topic_id in wanted_topics:
            entry = topics.get(topic_id)
            problem = _problem(entry, ("title", "answer"))
            if problem:
                problems.append(f"{locale}: topic {topic_id}: {problem}")
                continue
            knowledge.topics[locale][topic_id] = Topic(
                topic_id,
                str(entry["title"]).strip(),
                str(entry["answer"]).strip(),
                str(entry["more"]).strip() if entry.get("more") else None,
                tuple(str(e) for e in entry.get("examples") or ()),
            )
        for talk_id in wanted_talk:
            entry = talk.get(talk_id)
            problem = _problem(entry, ("answer",))
            if problem:
                problems.append(f"{locale}: small talk {talk_id}: {problem}")
                continue
            knowledge.smalltalk[locale][talk_id] = SmallTalk(
                talk_id,
                str(entry["answer"]).strip(),
                tuple(str(e) for e in entry.get("examples") or ()),
            )
        knowledge.outside[locale] = tuple(str(e) for e in data.get("outside") or ())
        knowledge.synonyms[locale] = {
            str(word): tuple(str(v) for v in variants or ())
            for word, variants in (data.get("synonyms") or {}).items()
        }
        extra = set(topics) - set(wanted_topics)
        if extra:
            problems.append(f"{locale}: topics not in English: {sorted(extra)}")
    if problems:
        raise KnowledgeError(_report(problems))
    knowledge.corpus.update(load_corpus(directory / CORPUS, set(wanted_topics)))
    return knowledge


def load_corpus(
    directory: Path, topic_ids: set[str]
) -> dict[str, tuple[tuple[str, str | None], ...]]:
    """Each locale's ``<locale>.yaml`` of ``directory``: a list of ``{q: question, topic: key}``
    (``topic: null``: a question the bot does not answer). A missing file is no corpus; a row
    that is not such a mapping, has no question, or names a topic the knowledge does not have
    is skipped, and a file that is not a list of them is skipped whole, each with a warning."""
    corpus: dict[str, tuple[tuple[str, str | None], ...]] = {}
    for locale in LOCALES:
        path = directory / f"{locale}.yaml"
        if not path.exists():
            continue
        try:
            rows = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or []
        except yaml.YAMLError as exc:
            log.warning("knowledge corpus %s skipped: not valid YAML: %s", path.name, exc)
            continue
        if not isinstance(rows, list):
            log.warning("knowledge corpus %s skipped: not a list of {q, topic}", path.name)
            continue
        kept: list[tuple[str, str | None]] = []
        skipped: list[str] = []
        for number, row in enumerate(rows, 1):
            problem = _corpus_problem(row, topic_ids)
            if problem:
                skipped.append(f"row {number}: {problem}")
                continue
            kept.append((" ".join(str(row["q"]).split()), row.get("topic") or None))
        if skipped:
            log.warning(
                "knowledge corpus %s: %d of %d rows skipped (%s)",
                path.name, len(skipped), len(rows), "; ".join(skipped[:5]),
            )  # fmt: skip
        corpus[locale] = tuple(dict.fromkeys(kept))
    return corpus


def _corpus_problem(row: object, topic_ids: set[str]) -> str | None:
    if not isinstance(row, dict) or set(row) != {"q", "topic"}:
        return "not {q, topic}"
    question = row.get("q")
    if not isinstance(question, str) or not question.strip():
        return "no question"
    if len(question) > CORPUS_QUESTION_LIMIT:
        return "question too long"
    topic = row.get("topic")
    if topic is not None and topic not in topic_ids:
        return f"unknown topic {topic!r}"
    return None


def _report(problems: list[str]) -> str:
    return "the knowledge base is incomplete:\n  - " + "\n  - ".join(problems)


def _well_formed(data: object) -> bool:
    return (
        isinstance(data, dict)
        and all(isinstance(data.get(key) or {}, dict) for key in ("topics", "smalltalk"))
        and isinstance(data.get("outside") or [], list)
        and isinstance(data.get("synonyms") or {}, dict)
    )


def _problem(entry: object, required: tuple[str, ...]) -> str | None:
    if not isinstance(entry, dict):
        return "missing"
    for key in required:
        if not str(entry.get(key) or "").strip():
            return f"empty {key}"
    if len(entry.get("examples") or ()) < MIN_EXAMPLES:
        return f"fewer than {MIN_EXAMPLES} examples"
    return None
