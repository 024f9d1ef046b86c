"""Topics: what broadcasts are about, defined by the secretariat, and each member's choice of
which they receive. Only explicit choices are stored; without one, the topic's default holds."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.countries import COUNTRY_LOCALE
from bot.i18n import DEFAULT_LOCALE, LOCALES, Translator
from bot.i18n.markers import C_
from bot.storage.models import Contact, Subscription, Topic, utcnow

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
NAME_LIMIT = 60  # a button's label on every channel

# The topics every new installation starts with; their names come from the catalogs.
# Translators: a kind of news members can subscribe to, shown on a button; keep it short.
SEEDED: tuple[tuple[str, str], ...] = (
    ("news", C_("topic", "News")),
    ("events", C_("topic", "Events")),
    ("calls", C_("topic", "Calls for proposals")),
    ("surveys", C_("topic", "Surveys")),
)
SURVEYS = "surveys"  # survey invitations go to those who receive this topic


def seeded() -> list[tuple[str, dict[str, str]]]:
    """The starting topics with their names in every locale."""
    return [
        (key, {loc: Translator(loc).pgettext("topic", name) for loc in LOCALES})
        for key, name in SEEDED
    ]


class TopicError(ValueError):
    """What the secretariat must change; ``code`` is stable for the dashboard to translate."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def name_of(topic: Topic, locale: str, country: str | None = None) -> str:
    """The topic's name as a member reads it: their language, their country's, English."""
    names = topic.names or {}
    for candidate in (locale, COUNTRY_LOCALE.get(country or ""), DEFAULT_LOCALE):
        name = str(names.get(candidate or "") or "").strip()
        if name:
            return name
    return topic.key


def clean_names(names: dict[str, str]) -> dict[str, str]:
    """Names per locale, checked: known locales, not too long; an empty name is left out."""
    found: dict[str, str] = {}
    for locale, name in names.items():
        if locale not in LOCALES:
            raise TopicError("locale", f"unknown locale {locale!r}")
        # Neither database stores NUL, and PostgreSQL refuses half a UTF-16 pair.
        name = " ".join(str(name).replace("\x00", "").split())
        name = name.encode("utf-8", "replace").decode("utf-8")
        if len(name) > NAME_LIMIT:
            raise TopicError("too_long", f"a topic's name has at most {NAME_LIMIT} characters")
        if name:
            found[locale] = name
    return found


async def listed(session: AsyncSession, *, archived: bool = False) -> list[Topic]:
    """The topics in their order; the archived ones too when asked."""
    stmt = select(Topic).order_by(Topic.position, Topic.id)
    if not archived:
        stmt = stmt.where(Topic.archived_at.is_(None))
    return list(await session.scalars(stmt))


async def by_key(session: AsyncSession, key: str) -> Topic | None:
    return await session.scalar(select(Topic).where(Topic.key == key))


async def not_offered(session: AsyncSession, keys: list[str]) -> list[str]:
    """Of these keys, those that name no topic, or an archived one."""
    if not keys:
        return []
    found = await session.scalars(
        select(Topic.key).where(Topic.key.in_(keys), Topic.archived_at.is_(None))
    )
    live = set(found)
    return [k for k in keys if k not in live]


async def create(
    session: AsyncSession,
    key: str,
    names: dict[str, str],
    *,
    default_on: bool = True,
    position: int | None = None,
) -> Topic:
    if not KEY.match(key):
        raise TopicError("key", "a key is lower-case letters, digits and _, at most 40")
    names = clean_names(names)
    if not names.get(DEFAULT_LOCALE):
        raise TopicError("no_english", "give the English name: it is what every fallback ends at")
    if await by_key(session, key) is not None:
        raise TopicError("exists", f"there is already a topic {key!r}")
    if position is None:
        last = max((t.position for t in await listed(session, archived=True)), default=0)
        position = last + 1
    topic = Topic(key=key, names=names, default_on=default_on, position=position)
    session.add(topic)
    await session.flush()
    return topic


def update(topic: Topic, changes: dict[str, Any]) -> None:
    """Change names (merged per locale; an empty name removes it), default, order, archived."""
    if "names" in changes and changes["names"] is not None:
        merged = {**(topic.names or {}), **{k: v for k, v in changes["names"].items()}}
        names = clean_names(merged)
        if not names.get(DEFAULT_LOCALE):
            raise TopicError("no_english", "the English name cannot be removed")
        topic.names = names
    if changes.get("default_on") is not None:
        topic.default_on = bool(changes["default_on"])
    if changes.get("position") is not None:
        topic.position = int(changes["position"])
    if changes.get("archived") is not None:
        archive(topic, bool(changes["archived"]))


def archive(topic: Topic, archived: bool = True) -> None:
    """An archived topic leaves the members' list and the composer; choices are kept, and a
    broadcast already aimed at it still reaches who receives it."""
    if archived and topic.archived_at is None:
        topic.archived_at = utcnow()
    elif not archived:
        topic.archived_at = None


# ---------------------------------------------------------------- a member's choices


async def choices(session: AsyncSession, contact_id: int) -> dict[int, bool]:
    """The member's explicit choices, by topic id."""
    rows = await session.execute(
        select(Subscription.topic_id, Subscription.subscribed).where(
            Subscription.contact_id == contact_id
        )
    )
    return {topic_id: subscribed for topic_id, subscribed in rows.all()}


def receives(topic: Topic, chosen: dict[int, bool]) -> bool:
    return chosen.get(topic.id, topic.default_on)


async def choose(session: AsyncSession, contact_id: int, topic_id: int, subscribed: bool) -> None:
    """Record the member's choice, replacing an earlier one."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = insert(Subscription).values(
        contact_id=contact_id, topic_id=topic_id, subscribed=subscribed, chosen_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["contact_id", "topic_id"],
        set_={"subscribed": subscribed, "chosen_at": now},
    )
    await session.execute(stmt)


def receiving_any(keys: list[str]) -> ColumnElement[bool]:
    """For a query of contacts: the member receives at least one of these topics, by their
    own choice or, when they have made none, by the topic's default."""
    own = and_(Subscription.topic_id == Topic.id, Subscription.contact_id == Contact.id)
    return (
        select(Topic.id)
        .outerjoin(Subscription, own)
        .where(
            Topic.key.in_(keys),
            or_(
                Subscription.subscribed.is_(True),
                and_(Subscription.topic_id.is_(None), Topic.default_on.is_(True)),
            ),
        )
        .exists()
    )
