"""The secretariat's knowledge in the database: topics with their texts per language, each
change kept with who made it and what it replaced (so that it can be reverted), and what the
bot answers from, read back as one ``Knowledge``.

Every change raises the knowledge's revision in the same transaction; processes compare it
with the one they answer from (``bot.knowledge.live``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LOCALES
from bot.knowledge.load import Knowledge, Topic, load_knowledge
from bot.knowledge.seed import english_digest
from bot.storage.models import (
    KnowledgeChange,
    KnowledgeState,
    KnowledgeText,
    KnowledgeTopic,
    utcnow,
)

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TITLE_LIMIT = 200
TEXT_LIMIT = 4000  # an answer or "tell me more": one message on every platform
EXAMPLE_LIMIT = 300
EXAMPLES_LIMIT = 200  # per language
FIELDS = ("titles", "answers", "more", "examples")
ENGLISH_FIELDS = ("titles", "answers", "more")  # a translation follows these, not the examples


class KnowledgeEditError(ValueError):
    """A change the knowledge refuses; ``code`` names why, for the page to say it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class TopicRecord:
    """A topic as the secretariat edits it: every language's texts, and which are missing or
    were written before the English last changed."""

    key: str
    position: int
    archived: bool
    titles: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    more: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    updated_at: Any = None

    @property
    def missing(self) -> list[str]:
        """Languages without a title or an answer: their members read the English."""
        return [loc for loc in LOCALES if not (self.titles.get(loc) and self.answers.get(loc))]

    def texts(self) -> dict[str, Any]:
        """What the history keeps, and the API's shape."""
        return {
            "titles": dict(self.titles), "answers": dict(self.answers), "more": dict(self.more),
            "examples": {loc: list(found) for loc, found in self.examples.items()},
            "position": self.position, "archived": self.archived,
        }  # fmt: skip


@cache
def _fixed() -> Knowledge:
    """What stays in the YAML: small talk, out-of-scope examples, synonyms and the corpus."""
    return load_knowledge()


def _record(topic: KnowledgeTopic, texts: list[KnowledgeText]) -> TopicRecord:
    found = TopicRecord(topic.key, topic.position, topic.archived_at is not None,
                        updated_at=topic.updated_at)  # fmt: skip
    english = next((t for t in texts if t.locale == "en"), None)
    follows = english_digest(vars(english)) if english else ""
    for text in sorted(texts, key=lambda t: LOCALES.index(t.locale) if t.locale in LOCALES else 99):
        if text.title:
            found.titles[text.locale] = text.title
        if text.answer:
            found.answers[text.locale] = text.answer
        if text.more:
            found.more[text.locale] = text.more
        if text.examples:
            found.examples[text.locale] = list(text.examples)
        if text.locale != "en" and text.follows != follows and (text.title or text.answer):
            found.stale.append(text.locale)
    return found


async def _texts(session: AsyncSession, topic_ids: list[int]) -> dict[int, list[KnowledgeText]]:
    by_topic: dict[int, list[KnowledgeText]] = {i: [] for i in topic_ids}
    if topic_ids:
        rows = await session.scalars(
            select(KnowledgeText).where(KnowledgeText.topic_id.in_(topic_ids))
        )
        for row in rows:
            by_topic[row.topic_id].append(row)
    return by_topic


async def listed(session: AsyncSession, *, archived: bool = True) -> list[TopicRecord]:
    """The topics in the members' order (archived ones last when asked for)."""
    stmt = select(KnowledgeTopic).order_by(
        KnowledgeTopic.archived_at.is_not(None), KnowledgeTopic.position, KnowledgeTopic.id
    )
    if not archived:
        stmt = stmt.where(KnowledgeTopic.archived_at.is_(None))
    topics = list(await session.scalars(stmt))
    texts = await _texts(session, [t.id for t in topics])
    return [_record(topic, texts[topic.id]) for topic in topics]


async def _topic(session: AsyncSession, key: str, *, lock: bool = False) -> KnowledgeTopic:
    stmt = select(KnowledgeTopic).where(KnowledgeTopic.key == key)
    found = await session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise KnowledgeEditError("missing", "no such topic")
    return found


async def get(session: AsyncSession, key: str) -> TopicRecord:
    topic = await _topic(session, key)
    return _record(topic, (await _texts(session, [topic.id]))[topic.id])


async def revision(session: AsyncSession) -> int:
    return int(
        await session.scalar(select(KnowledgeState.revision).where(KnowledgeState.id == 1)) or 0
    )


async def _bump(session: AsyncSession) -> None:
    await session.execute(
        update(KnowledgeState)
        .where(KnowledgeState.id == 1)
        .values(revision=KnowledgeState.revision + 1, changed_at=utcnow())
    )


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    """The texts of a change, trimmed and checked: known languages, sane lengths."""
    cleaned: dict[str, Any] = {}
    for name in FIELDS:
        given = changes.get(name)
        if given is None:
            continue
        if not isinstance(given, dict):
            raise KnowledgeEditError("shape", f"{name} is a mapping of language to text")
        cleaned[name] = {}
        for locale, value in given.items():
            if locale not in LOCALES:
                raise KnowledgeEditError("locale", f"{locale!r} is not a language the bot speaks")
            if name == "examples":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise KnowledgeEditError("shape", "examples are lists of questions")
                questions = list(dict.fromkeys(" ".join(v.split()) for v in value if v.strip()))
                if len(questions) > EXAMPLES_LIMIT or any(
                    len(q) > EXAMPLE_LIMIT for q in questions
                ):
                    raise KnowledgeEditError("too_long", "too many or too long example questions")
                cleaned[name][locale] = questions
                continue
            if not isinstance(value, str):
                raise KnowledgeEditError("shape", f"{name} are texts")
            text = value.strip()
            if len(text) > (TITLE_LIMIT if name == "titles" else TEXT_LIMIT):
                raise KnowledgeEditError("too_long", f"a text of {name} is too long")
            cleaned[name][locale] = text
    return cleaned


def _apply(record: TopicRecord, changes: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Merge ``changes`` into ``record`` (an empty text or list removes it); the languages
    whose texts or examples changed, and those whose title, answer or more changed."""
    touched: set[str] = set()
    written: set[str] = set()
    for name in FIELDS:
        target = getattr(record, name)
        for locale, value in changes.get(name, {}).items():
            if target.get(locale) == value or (not value and locale not in target):
                continue
            touched.add(locale)
            if name in ENGLISH_FIELDS:
                written.add(locale)
            if value:
                target[locale] = value
            else:
                target.pop(locale, None)
    if not (record.titles.get("en") and record.answers.get("en")):
        raise KnowledgeEditError(
            "no_english", "a topic needs an English title and answer: members read them when "
            "their language has none"
        )  # fmt: skip
    return touched, written


async def _write(
    session: AsyncSession, topic: KnowledgeTopic, record: TopicRecord, touched: set[str],
    written: set[str],
) -> None:  # fmt: skip
    """Store ``record``'s texts of the ``touched`` languages; a language whose texts are
    written now follows the current English (examples alone do not make it current)."""
    follows = english_digest({"title": record.titles.get("en"), "answer": record.answers.get("en"),
                              "more": record.more.get("en")})  # fmt: skip
    rows = {t.locale: t for t in (await _texts(session, [topic.id]))[topic.id]}
    for locale in touched:
        row = rows.get(locale)
        if row is None:
            row = KnowledgeText(topic_id=topic.id, locale=locale)
            session.add(row)
        row.title = record.titles.get(locale, "")
        row.answer = record.answers.get(locale, "")
        row.more = record.more.get(locale) or None
        row.examples = list(record.examples.get(locale, []))
        if locale in written or locale == "en" or not row.follows:
            row.follows = follows
        row.updated_at = utcnow()
    topic.updated_at = utcnow()


async def _log(
    session: AsyncSession, topic: KnowledgeTopic, actor: str, action: str,
    before: dict[str, Any] | None, after: dict[str, Any],
) -> None:  # fmt: skip
    session.add(KnowledgeChange(topic_id=topic.id, actor=actor, action=action,
                                before=before, after=after, at=utcnow()))  # fmt: skip
    await _bump(session)


async def create(
    session: AsyncSession, actor: str, key: str, changes: dict[str, Any],
    position: int | None = None,
) -> TopicRecord:  # fmt: skip
    """A new topic; English title and answer required, other languages as given."""
    if not KEY.match(key):
        raise KnowledgeEditError("key", "the key is lower-case letters, digits and _")
    if await session.scalar(select(KnowledgeTopic.id).where(KnowledgeTopic.key == key)):
        raise KnowledgeEditError("exists", "there is already a topic with that key")
    cleaned = _clean(changes)
    if position is None:
        position = int(await session.scalar(select(func.max(KnowledgeTopic.position))) or 0) + 1
    topic = KnowledgeTopic(key=key, position=position)
    record = TopicRecord(key, position, False)
    touched, written = _apply(record, cleaned)
    session.add(topic)
    await session.flush()
    await _write(session, topic, record, touched, written)
    await _log(session, topic, actor, "create", None, record.texts())
    return record


async def change(
    session: AsyncSession, actor: str, key: str, changes: dict[str, Any],
    position: int | None = None, action: str = "update",
) -> TopicRecord:  # fmt: skip
    """Merge texts per language (an empty text removes it; a language's examples are replaced
    by the list given); the English changing makes the other languages stale until written."""
    cleaned = _clean(changes)
    topic = await _topic(session, key, lock=True)
    record = _record(topic, (await _texts(session, [topic.id]))[topic.id])
    before = record.texts()
    touched, written = _apply(record, cleaned)
    if position is not None and position != topic.position:
        topic.position = record.position = position
    elif not touched:
        return _record(topic, (await _texts(session, [topic.id]))[topic.id])
    await _write(session, topic, record, touched, written)
    await session.flush()
    after = _record(topic, (await _texts(session, [topic.id]))[topic.id])
    await _log(session, topic, actor, action, before, after.texts())
    return after


async def add_examples(
    session: AsyncSession, actor: str, key: str, locale: str, questions: list[str]
) -> TopicRecord:
    """Teach a topic more ways of asking, in one language, keeping those it has."""
    current = await get(session, key)
    known = current.examples.get(locale, [])
    return await change(session, actor, key, {"examples": {locale: [*known, *questions]}})


async def set_archived(session: AsyncSession, actor: str, key: str, archived: bool) -> TopicRecord:
    """Archive (the bot stops answering with it; nothing is deleted) or restore."""
    topic = await _topic(session, key, lock=True)
    record = _record(topic, (await _texts(session, [topic.id]))[topic.id])
    if record.archived == archived:
        return record
    before = record.texts()
    topic.archived_at = utcnow() if archived else None
    record.archived = archived
    await _log(session, topic, actor, "archive" if archived else "restore", before, record.texts())
    return record


@dataclass(frozen=True)
class Change:
    id: int
    at: Any
    actor: str
    action: str
    languages: list[str]  # whose texts it changed
    before: dict[str, Any] | None
    after: dict[str, Any]


def _languages(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    before = before or {}
    found = {
        loc
        for name in FIELDS
        for loc in set(before.get(name, {})) | set(after.get(name, {}))
        if before.get(name, {}).get(loc) != after.get(name, {}).get(loc)
    }
    return [loc for loc in LOCALES if loc in found]


async def history(session: AsyncSession, key: str) -> list[Change]:
    """The topic's changes, newest first."""
    topic = await _topic(session, key)
    rows = await session.scalars(
        select(KnowledgeChange)
        .where(KnowledgeChange.topic_id == topic.id)
        .order_by(KnowledgeChange.id.desc())
    )
    return [
        Change(r.id, r.at, r.actor, r.action, _languages(r.before, r.after), r.before, r.after)
        for r in rows
    ]


async def revert(session: AsyncSession, actor: str, key: str, change_id: int) -> TopicRecord:
    """Bring the topic's texts back to what they were before change ``change_id`` (a topic's
    creation reverted is archived)."""
    topic = await _topic(session, key, lock=True)
    found = await session.get(KnowledgeChange, change_id)
    if found is None or found.topic_id != topic.id:
        raise KnowledgeEditError("missing", "no such change of this topic")
    if found.before is None:
        return await set_archived(session, actor, key, True)
    target = found.before
    current = _record(topic, (await _texts(session, [topic.id]))[topic.id])
    changes = {
        name: {
            loc: target.get(name, {}).get(loc, [] if name == "examples" else "")
            for loc in set(getattr(current, name)) | set(target.get(name, {}))
        }
        for name in FIELDS
    }
    record = await change(session, actor, key, changes, position=target.get("position"),
                          action="revert")  # fmt: skip
    if bool(target.get("archived")) != record.archived:
        record = await set_archived(session, actor, key, bool(target.get("archived")))
    return record


async def load(session: AsyncSession, fixed: Knowledge | None = None) -> Knowledge:
    """What the bot answers from: the live topics in order and, for a language without a
    topic's text, the English one (marked not its own, so the matcher does not learn it
    twice); small talk, out of scope, synonyms and the training corpus from the YAML
    (``fixed``'s when given)."""
    fixed = fixed or _fixed()
    records = await listed(session, archived=False)
    knowledge = Knowledge(
        smalltalk=fixed.smalltalk, outside=fixed.outside, synonyms=fixed.synonyms,
        corpus=fixed.corpus,
    )  # fmt: skip
    for locale in LOCALES:
        knowledge.topics[locale] = {}
        for record in records:
            own = bool(record.titles.get(locale) and record.answers.get(locale))
            lang = locale if own else "en"
            knowledge.topics[locale][record.key] = Topic(
                record.key,
                record.titles[lang],
                record.answers[lang],
                record.more.get(lang) if own else record.more.get("en"),
                tuple(record.examples.get(locale, ())),
                own=own,
            )
    return knowledge
