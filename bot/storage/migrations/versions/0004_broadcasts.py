"""broadcasts, and the outbox rows that carry them

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", Id, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("base_locale", sa.String(length=16), nullable=False),
        sa.Column("texts", Json, nullable=False),
        sa.Column("image_url", sa.String(length=1000), nullable=True),
        sa.Column("buttons", Json, nullable=False),
        sa.Column("audience", Json, nullable=False),
        sa.Column("templates", Json, nullable=False),
        sa.Column("parent_id", Id, nullable=True),
        sa.Column("created_by", Id, nullable=True),
        sa.Column("approved_by", Id, nullable=True),
        sa.Column("scheduled_at", When, nullable=True),
        sa.Column("local_hour", sa.Integer(), nullable=True),
        sa.Column("expanded_to", Id, nullable=False),
        sa.Column("expanded_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("started_at", When, nullable=True),
        sa.Column("finished_at", When, nullable=True),
        sa.Column("cancelled_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcasts_status", "broadcasts", ["status", "scheduled_at"])
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("broadcast_id", Id, nullable=True))
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(
            "uq_outbox_broadcast_contact", ["broadcast_id", "contact_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("uq_outbox_broadcast_contact", type_="unique")
        batch_op.drop_column("locale")
        batch_op.drop_column("broadcast_id")
    op.drop_index("ix_broadcasts_status", table_name="broadcasts")
    op.drop_table("broadcasts")
