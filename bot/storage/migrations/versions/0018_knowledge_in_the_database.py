"""the knowledge in the database: topics, their texts per language, their history, the
helplines per country; seeded once from locales/*/knowledge.yaml and locales/helplines.yaml

Revision ID: 0018
Revises: 0017
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    # the YAML a new installation has
    from bot.knowledge.seed import english_digest, seed_helplines, seed_topics

    topics = op.create_table(
        "knowledge_topics",
        sa.Column("id", Id, nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("archived_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    texts = op.create_table(
        "knowledge_texts",
        sa.Column("topic_id", Id, nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("more", sa.Text(), nullable=True),
        sa.Column("examples", Json, nullable=False),
        sa.Column("follows", sa.String(length=16), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["topic_id"], ["knowledge_topics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("topic_id", "locale"),
    )
    op.create_table(
        "knowledge_changes",
        sa.Column("id", Id, nullable=False),
        sa.Column("topic_id", Id, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", Json, nullable=True),
        sa.Column("after", Json, nullable=False),
        sa.ForeignKeyConstraint(["topic_id"], ["knowledge_topics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_knowledge_changes_topic", "knowledge_changes", ["topic_id", "id"])
    helplines = op.create_table(
        "helplines",
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("hours", sa.String(length=200), nullable=True),
        sa.Column("emergency", Json, nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("verified_by", sa.String(length=254), nullable=True),
        sa.Column("verified_at", When, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("country"),
    )
    state = op.create_table(
        "knowledge_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    now = datetime.now(UTC)
    seeded = seed_topics()
    op.bulk_insert(
        topics,
        [
            {"id": n, "key": key, "position": n, "archived_at": None,
             "created_at": now, "updated_at": now}
            for n, (key, _) in enumerate(seeded, start=1)
        ],
    )  # fmt: skip
    op.bulk_insert(
        texts,
        [
            {"topic_id": n, "locale": locale, **text, "follows": english_digest(by_locale["en"]),
             "updated_at": now}
            for n, (_, by_locale) in enumerate(seeded, start=1)
            for locale, text in by_locale.items()
        ],
    )
    op.bulk_insert(helplines, [{**row, "updated_at": now} for row in seed_helplines()])
    op.bulk_insert(state, [{"id": 1, "revision": 1, "changed_at": now}])
    if op.get_bind().dialect.name == "postgresql":
        # the seed named its ids: the sequence starts after them
        op.execute(
            "SELECT setval(pg_get_serial_sequence('knowledge_topics', 'id'), "
            "(SELECT COALESCE(MAX(id), 1) FROM knowledge_topics))"
        )


def downgrade() -> None:
    op.drop_table("knowledge_state")
    op.drop_table("helplines")
    op.drop_index("ix_knowledge_changes_topic", table_name="knowledge_changes")
    op.drop_table("knowledge_changes")
    op.drop_table("knowledge_texts")
    op.drop_table("knowledge_topics")
