"""repeating broadcasts: the series' rule on its first broadcast, each occurrence linked to it

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTERs: nullable columns (and one with a default) need no copy of the table.
    op.add_column("broadcasts", sa.Column("repeat", sa.String(length=8), nullable=True))
    op.add_column("broadcasts", sa.Column("repeat_zone", sa.String(length=64), nullable=True))
    op.add_column("broadcasts", sa.Column("repeat_until", sa.Date(), nullable=True))
    op.add_column("broadcasts", sa.Column("repeat_times", sa.Integer(), nullable=True))
    op.add_column("broadcasts", sa.Column("repeat_stopped_at", When, nullable=True))
    op.add_column("broadcasts", sa.Column("repeat_of", Id, nullable=True))
    op.add_column("broadcasts", sa.Column("occurrence", sa.Integer(), nullable=True))
    op.add_column(
        "broadcasts",
        sa.Column("repeat_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "uq_broadcasts_occurrence", "broadcasts", ["repeat_of", "occurrence"], unique=True
    )
    op.create_index(
        "ix_broadcasts_repeat_pending", "broadcasts", ["repeat_pending", "scheduled_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_broadcasts_repeat_pending", table_name="broadcasts")
    op.drop_index("uq_broadcasts_occurrence", table_name="broadcasts")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        for column in ("repeat_pending", "occurrence", "repeat_of", "repeat_stopped_at",
                       "repeat_times", "repeat_until", "repeat_zone", "repeat"):  # fmt: skip
            batch_op.drop_column(column)
