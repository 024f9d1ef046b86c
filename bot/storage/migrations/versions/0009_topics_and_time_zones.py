"""topics and members' subscriptions to them; a member's own time zone

Revision ID: 0009
Revises: 0008
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    from bot.members.topics import seeded  # the names come from the catalogs, in every locale

    # A plain ALTER: a batch copy of contacts on SQLite would drop the rows that refer to it.
    op.add_column("contacts", sa.Column("time_zone", sa.String(length=64), nullable=True))
    topics = op.create_table(
        "topics",
        sa.Column("id", Id, nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("names", Json, nullable=False),
        sa.Column("default_on", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("archived_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("topic_id", Id, nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("chosen_at", When, nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["topic_id"], ["topics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "topic_id"),
    )
    op.create_index("ix_subscriptions_topic", "subscriptions", ["topic_id", "subscribed"])
    now = datetime.now(UTC)
    op.bulk_insert(
        topics,
        [
            {"key": key, "names": names, "default_on": True, "position": position,
             "archived_at": None, "created_at": now, "updated_at": now}
            for position, (key, names) in enumerate(seeded(), start=1)
        ],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_subscriptions_topic", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("topics")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
