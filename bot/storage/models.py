"""The tables: people and their contacts, inbound messages, the outbox of deliveries, the
secretariat's inbox, and the secretariat's accounts, sessions, API tokens and audit log; surveys
and their answers; the members' consents; the topics members subscribe to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.i18n import searchable

Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC, aware on both databases: SQLite keeps no offset and hands back naive
    datetimes, which cannot be compared with ``utcnow()``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Person(Base):
    """A member with several linked chat addresses: the contacts that share its id are one
    person, who gets a broadcast once, on their preferred channel when it can deliver."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(16))  # None: the latest used
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Contact(Base):
    """One chat address of a member on one channel, with their settings and flow state;
    linked addresses share a ``person_id`` and keep their settings in step."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_contacts_address"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new active declined stopped
    locale: Mapped[str | None] = mapped_column(String(16))
    lang_hint: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str | None] = mapped_column(String(8))
    country_hint: Mapped[str | None] = mapped_column(String(8))
    organisation: Mapped[str | None] = mapped_column(String(200))
    # The organisation as staff search it: Latin letters, no case, no accents (kept on write).
    organisation_search: Mapped[str | None] = mapped_column(String(400))
    # An IANA zone the member chose ("Asia/Tbilisi", "Etc/GMT-4"); None: their country's.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    unreachable_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    flow: Mapped[str | None] = mapped_column(String(32))
    flow_data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    choices: Mapped[list[str]] = mapped_column(Json, default=list)  # payloads of the last options
    last_inbound_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    # The person this address is linked into (``people.id``); None: an address on its own.
    # No foreign key: adding one to an existing SQLite table means copying the table, and
    # dropping the old copy would cascade to every row that points at a contact.
    person_id: Mapped[int | None] = mapped_column(Id, index=True)
    # When the member last changed a setting (language, country, organisation, news, their
    # answer to the privacy notice): on linking, the most recent settings win.
    settings_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# What a person has once, whichever of their chats they write from; a change stamps
# ``settings_at``, and on linking or later the newest change wins. Agreeing to the privacy
# notice is one of them: an agreement in one chat holds in all, and is their newest change.
SETTINGS: tuple[str, ...] = (
    "locale", "country", "organisation", "status", "time_zone", "consent_version", "consent_at",
)  # fmt: skip


def _settings_changed(target: Contact, value: object, old: object, initiator: object) -> None:
    target.settings_at = utcnow()


for _setting in SETTINGS:
    event.listen(getattr(Contact, _setting), "set", _settings_changed)


def _organisation_changed(
    target: Contact, value: str | None, old: object, initiator: object
) -> None:
    target.organisation_search = searchable(value)


event.listen(Contact.organisation, "set", _organisation_changed)


class LinkCode(Base):
    """A one-time code that links the chat that asked for it with the chat it is sent from.
    Only a hash of the code is kept."""

    __tablename__ = "link_codes"
    __table_args__ = (Index("ix_link_codes_hash", "code_hash"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        Id, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LinkFailure(Base):
    """Wrong link codes sent from one chat: a few of them lock that chat out for a while."""

    __tablename__ = "link_failures"

    contact_id: Mapped[int] = mapped_column(
        Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Inbound(Base):
    """A member's message, stored before the webhook answers and processed exactly once."""

    __tablename__ = "inbound"
    __table_args__ = (
        UniqueConstraint("channel", "platform_id", name="uq_inbound_platform_id"),
        Index("ix_inbound_pending", "status", "id"),
        Index("ix_inbound_contact", "channel", "address", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    message: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending done failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ChatMove(Base):
    """A chat that lives at another address now: a Telegram group upgraded to a supergroup
    (Telegram answers ``migrate_to_chat_id``). Messages to ``address`` go to ``moved_to``,
    and what comes from ``moved_to`` counts as from ``address``, the configured id."""

    __tablename__ = "chat_moves"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    moved_to: Mapped[str] = mapped_column(String(64))
    moved_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Delivery(Base):
    """One outgoing message: a row in the outbox first, then its life on the platform."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "id"),
        Index("ix_outbox_chat", "channel", "address", "status", "id"),
        Index("ix_outbox_platform_id", "platform_id"),
        # A member gets one row per broadcast: expanding the audience again adds nothing.
        UniqueConstraint("broadcast_id", "contact_id", name="uq_outbox_broadcast_contact"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    inbound_id: Mapped[int | None] = mapped_column(Id)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=1)  # lower goes first
    message: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    status_rank: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[float] = mapped_column(Float, default=0.0)  # epoch seconds
    lease_until: Mapped[float | None] = mapped_column(Float)
    platform_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    broadcast_id: Mapped[int | None] = mapped_column(Id)
    locale: Mapped[str | None] = mapped_column(String(16))  # of a broadcast's text


class Broadcast(Base):
    """News for members, written once with its translations and sent to an audience."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        Index("ix_broadcasts_status", "status", "scheduled_at"),
        # One broadcast per occurrence of a series, however many workers make it.
        Index("uq_broadcasts_occurrence", "repeat_of", "occurrence", unique=True),
        Index("ix_broadcasts_repeat_pending", "repeat_pending", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")  # for the secretariat only
    # draft awaiting_approval scheduled sending sent cancelled
    status: Mapped[str] = mapped_column(String(24), default="draft")
    base_locale: Mapped[str] = mapped_column(String(16), default="en")
    texts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # locale: {text, base}
    image_url: Mapped[str | None] = mapped_column(String(1000))
    # The photo as Telegram stored it after its first send by URL: later members get it by
    # this id, without Telegram fetching the URL again.
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    audience: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    templates: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # locale: content SID
    parent_id: Mapped[int | None] = mapped_column(Id)  # the broadcast this one follows up
    created_by: Mapped[int | None] = mapped_column(Id)
    approved_by: Mapped[int | None] = mapped_column(Id)
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    local_hour: Mapped[int | None] = mapped_column(Integer)  # in each member's own time zone
    expanded_to: Mapped[int] = mapped_column(Id, default=0)  # last contact id in the outbox
    expanded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A Telegram message kept up to date with the progress: the outbox row that posted it.
    progress_delivery_id: Mapped[int | None] = mapped_column(Id)
    # A repeating broadcast: the rule lives on the series' first broadcast; every occurrence is
    # a broadcast of its own, linked to the first by ``repeat_of`` (null on the first itself).
    repeat: Mapped[str | None] = mapped_column(String(8))  # daily weekly monthly
    repeat_zone: Mapped[str | None] = mapped_column(String(64))  # whose clock "09:00" is
    repeat_until: Mapped[date | None] = mapped_column(Date)  # the last day, in that zone
    repeat_times: Mapped[int | None] = mapped_column(Integer)  # occurrences in all
    repeat_stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    repeat_of: Mapped[int | None] = mapped_column(Id)
    occurrence: Mapped[int | None] = mapped_column(Integer)  # 1 for the first
    # The series' latest occurrence, whose next one is still to be made once it is due.
    repeat_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hours after a member receives it during which what they write back is a reply for the
    # secretariat's inbox (not a question for the bot); 0: replies are not collected.
    collect_replies_hours: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Conversation(Base):
    """A member's thread with the secretariat: from the menu, an unanswered question, or a
    safeguarding alert."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_contact", "contact_id", "status"),
        Index("ix_conversations_status", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(Id, ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # secretariat question safeguarding reply
    status: Mapped[str] = mapped_column(String(16), default="open")  # open closed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    assignee_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("staff_users.id", ondelete="SET NULL")
    )


class ConversationMessage(Base):
    """One message of a conversation, from the member or from the secretariat."""

    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        Id, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))  # member secretariat
    text: Mapped[str] = mapped_column(Text)
    # The outbox row that put this message in the staff chat: a reply to it finds the thread.
    delivery_id: Mapped[int | None] = mapped_column(Id, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # A member's reply to this broadcast, written within its reply window.
    broadcast_id: Mapped[int | None] = mapped_column(Id, index=True)


class ConversationNote(Base):
    """A note of the secretariat on a conversation, for staff only: never sent to the member,
    never in their own copy of their data; it goes, or stays, with its conversation."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        Id, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(Id)  # no foreign key: outlives accounts
    author: Mapped[str] = mapped_column(String(254))  # the name (or e-mail) when written
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AssignmentRule(Base):
    """Who a new conversation of a member of ``country`` goes to, unless someone else takes it."""

    __tablename__ = "assignment_rules"

    country: Mapped[str] = mapped_column(String(8), primary_key=True)
    staff_id: Mapped[int] = mapped_column(Id, ForeignKey("staff_users.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class SavedAudience(Base):
    """A broadcast audience (its filters) kept under a name, to pick when composing."""

    __tablename__ = "saved_audiences"
    __table_args__ = (Index("uq_saved_audiences_name", "name", unique=True),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    audience: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The country of whoever saved it, when they work for one: only its staff (and those of
    # every country) see it.
    country: Mapped[str | None] = mapped_column(String(8))
    created_by: Mapped[int | None] = mapped_column(Id)  # no foreign key: outlives accounts
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class SavedReply(Base):
    """An answer the secretariat gives often, written once per language, inserted into an
    answer to a member from the inbox or a broadcast's replies."""

    __tablename__ = "saved_replies"
    __table_args__ = (Index("ix_saved_replies_locale", "locale", "title"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    locale: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))  # for the secretariat only
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(Id)  # no foreign key: outlives accounts
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class UnansweredQuestion(Base):
    """A question the bot could not answer, counted each time a member asks it again."""

    __tablename__ = "unanswered_questions"
    __table_args__ = (
        UniqueConstraint(
            "locale", "country", "normalised", name="uq_unanswered_questions_normalised"
        ),
        Index("ix_unanswered_questions_count", "count"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    locale: Mapped[str] = mapped_column(String(16))
    # The asker's country ("" when not known): a country's staff see their country's only.
    country: Mapped[str] = mapped_column(String(8), default="", server_default="")
    question: Mapped[str] = mapped_column(Text)  # as first asked, at most 500 characters
    normalised: Mapped[str] = mapped_column(String(500))  # case, accents and punctuation folded
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class UnansweredAsker(Base):
    """A member who asked an unanswered question, on the chat (one channel's address) they
    asked from: told the answer there once staff teach the bot the question."""

    __tablename__ = "unanswered_askers"
    __table_args__ = (
        UniqueConstraint("question_id", "contact_id", name="uq_unanswered_askers"),
        Index("ix_unanswered_askers_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        Id, ForeignKey("unanswered_questions.id", ondelete="CASCADE")
    )
    contact_id: Mapped[int] = mapped_column(Id, ForeignKey("contacts.id", ondelete="CASCADE"))
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class StaffUser(Base):
    """A person of the secretariat: an administrator, editor or viewer, optionally limited to
    the members of one country."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin editor viewer
    country: Mapped[str | None] = mapped_column(String(8))  # None: every country
    locale: Mapped[str] = mapped_column(String(16), default="en")  # of the dashboard
    status: Mapped[str] = mapped_column(String(16), default="active")  # invited active disabled
    password_hash: Mapped[str | None] = mapped_column(String(200))
    invite_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The person's own Telegram chat with the bot, once linked with a one-time code: there
    # they can compose a short broadcast and follow it.
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class StaffSession(Base):
    """A signed-in browser. Only a hash of the cookie's token is stored."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiToken(Base):
    """A personal API token: it acts with its owner's role and country."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))  # shown, so the owner can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginFailure(Base):
    """Failed sign-ins per e-mail address, known or not: they slow down, then lock, sign-in."""

    __tablename__ = "login_failures"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    """Who did what, when: every sign-in and every change or send. Rows are never updated or
    deleted (the database refuses it); the actor's e-mail is copied so the row outlives them."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Id)  # no foreign key: the log outlives accounts
    actor: Mapped[str] = mapped_column(String(254))  # e-mail, or "system"
    action: Mapped[str] = mapped_column(String(64))  # e.g. "login", "member.delete"
    target: Mapped[str | None] = mapped_column(String(64))  # e.g. "member:12"; ids, never texts
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class Survey(Base):
    """A quick survey: its texts per locale, questions, and when members may answer it."""

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_status", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")  # for the secretariat only
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft open closed
    base_locale: Mapped[str] = mapped_column(String(16), default="en")
    title: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # locale: text
    intro: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    closing: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    reminder: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # its own text, if any
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_again: Mapped[bool] = mapped_column(Boolean, default=False)
    closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    country: Mapped[str | None] = mapped_column(String(8))  # a coordinator's survey
    # The invitation broadcast and, once, the reminder to those who have not finished.
    broadcast_id: Mapped[int | None] = mapped_column(Id)
    remind_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reminder_broadcast_id: Mapped[int | None] = mapped_column(Id)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # done, even to nobody
    created_by: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SurveyQuestion(Base):
    """One question of a survey, in its place; ``key`` names it in conditions and exports."""

    __tablename__ = "survey_questions"
    __table_args__ = (
        UniqueConstraint("survey_id", "key", name="uq_survey_questions_key"),
        Index("ix_survey_questions_order", "survey_id", "position"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_id: Mapped[int] = mapped_column(Id, ForeignKey("surveys.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))
    # single multiple yes_no rating5 rating10 number short_text date
    kind: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    text: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # locale: text
    options: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)  # {key, label}
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    show_if: Mapped[dict[str, Any] | None] = mapped_column(Json)  # on an earlier answer
    hint: Mapped[dict[str, Any] | None] = mapped_column(Json)  # locale: text, under the question
    # Numbers: whole; dates: earliest, latest (YYYY-MM-DD or "today"); both: message, a text
    # per locale said when an answer is out of range (an XLSForm's constraint message).
    rules: Mapped[dict[str, Any] | None] = mapped_column(Json)


class SurveyResponse(Base):
    """One member answering one survey: where they are, and a snapshot of who they were
    (country, organisation, language, channel) for the results.

    One per contact; one per person once a member's channels are linked (issue 7). For an
    anonymous survey ``contact_id`` only serves resuming and refusing a second answer:
    results and exports never show it."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("survey_id", "contact_id", "attempt", name="uq_survey_responses_member"),
        Index("ix_survey_responses_survey", "survey_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_id: Mapped[int] = mapped_column(Id, ForeignKey("surveys.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # above 1 when answering again
    status: Mapped[str] = mapped_column(String(16), default="started")  # started finished
    current_question_id: Mapped[int | None] = mapped_column(Id)
    path: Mapped[list[int]] = mapped_column(Json, default=list)  # questions shown, for "back"
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    country: Mapped[str | None] = mapped_column(String(8))
    organisation: Mapped[str | None] = mapped_column(String(200))
    invited: Mapped[bool] = mapped_column(Boolean, default=False)  # came from the invitation
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SurveyAnswer(Base):
    """One answer, stored the moment it is given; changed in place when the member goes back."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question_id", name="uq_survey_answers_question"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    response_id: Mapped[int] = mapped_column(
        Id, ForeignKey("survey_responses.id", ondelete="CASCADE")
    )
    question_id: Mapped[int] = mapped_column(
        Id, ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    # option keys (a list), True/False, a number, an ISO date or the text; None when skipped
    value: Mapped[Any] = mapped_column(Json, nullable=True)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Consent(Base):
    """A member's answer to the privacy text: given, declined, or withdrawn (a member who had
    agreed and then said no). The text itself is kept as a digest, beside its version."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_contact", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(Id, ForeignKey("contacts.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))  # given declined withdrawn
    version: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    text_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the text as shown
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Topic(Base):
    """What broadcasts are about (news, events, calls for proposals, surveys): the secretariat
    defines them, members choose which they receive."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # named by audiences; never changes
    names: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # locale: name
    default_on: Mapped[bool] = mapped_column(Boolean, default=True)  # for who has not chosen
    position: Mapped[int] = mapped_column(Integer, default=0)  # in the member's list
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Subscription(Base):
    """A member's own choice about one topic. Only choices are stored: without one, the
    topic's default applies, so a new topic or a new member needs no rows."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_topic", "topic_id", "subscribed"),)

    contact_id: Mapped[int] = mapped_column(
        Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        Id, ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    subscribed: Mapped[bool] = mapped_column(Boolean)
    chosen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SafeguardingFlag(Base):
    """A message the safeguarding detector raised (an alert or a possible concern) and what it
    made of it; a focal point's "Not a concern" puts it in the review list. Nothing here ever
    changes the detector: people read the list and decide what the training corpus needs."""

    __tablename__ = "safeguarding_flags"
    __table_args__ = (Index("ix_safeguarding_flags_dismissed", "dismissed_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(Id, ForeignKey("contacts.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))  # alert concern
    kind: Mapped[str] = mapped_column(String(32))  # the detector's kind of danger
    words: Mapped[str] = mapped_column(String(300))  # the words behind it, comma-separated
    danger: Mapped[float] = mapped_column(Float)  # the classifier's probability
    text: Mapped[str] = mapped_column(Text)  # the member's message (erased with the others)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dismissed_by: Mapped[str | None] = mapped_column(String(200))  # an account, or a Telegram id


class KnowledgeTopic(Base):
    """A topic the bot answers about; its texts per language are ``KnowledgeText`` rows. The
    key never changes: buttons, broadcasts' "tell me more" and the history name it."""

    __tablename__ = "knowledge_topics"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # in the members' list
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class KnowledgeText(Base):
    """A topic in one language: title, answer, "tell me more", and the example questions the
    matcher learns from."""

    __tablename__ = "knowledge_texts"

    topic_id: Mapped[int] = mapped_column(
        Id, ForeignKey("knowledge_topics.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    more: Mapped[str | None] = mapped_column(Text)
    examples: Mapped[list[str]] = mapped_column(Json, default=list)
    # a digest of the English title, answer and more this text was written from: when the
    # English changes, the translation is stale until written again (or the English reverted)
    follows: Mapped[str] = mapped_column(String(16), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class KnowledgeChange(Base):
    """One change of a topic: who, when, and the topic's texts before and after, so that any
    change can be read back and reverted."""

    __tablename__ = "knowledge_changes"
    __table_args__ = (Index("ix_knowledge_changes_topic", "topic_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    topic_id: Mapped[int] = mapped_column(Id, ForeignKey("knowledge_topics.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))  # e-mail, or "system"
    action: Mapped[str] = mapped_column(String(32))  # create update archive restore revert
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any]] = mapped_column(Json)


class Helpline(Base):
    """Where a member who discloses harm is sent, per country (ISO code, or DEFAULT)."""

    __tablename__ = "helplines"

    country: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(64))
    hours: Mapped[str | None] = mapped_column(String(200))
    emergency: Mapped[list[str]] = mapped_column(Json, default=list)  # most general first
    source: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[str | None] = mapped_column(String(254))  # None: not verified
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class KnowledgeState(Base):
    """One row: the knowledge's revision, raised by every change, so that each process knows
    whether what it answers from is current."""

    __tablename__ = "knowledge_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    revision: Mapped[int] = mapped_column(Integer, default=1)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class WhatsAppContent(Base):
    """A WhatsApp interactive message (quick replies or a list) made once through Twilio's
    Content API and reused: found by the digest of what it shows, so that every process and
    every restart sends the same one. ``content_sid`` None: Twilio refused to make it, and the
    choices go as numbered text."""

    __tablename__ = "whatsapp_contents"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_sid: Mapped[str | None] = mapped_column(String(34))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
