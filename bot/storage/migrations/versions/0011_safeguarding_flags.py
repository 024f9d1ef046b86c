"""safeguarding flags: what the detector raised, and the focal point's "Not a concern"

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "safeguarding_flags",
        sa.Column("id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("words", sa.String(length=300), nullable=False),
        sa.Column("danger", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("dismissed_at", When, nullable=True),
        sa.Column("dismissed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_safeguarding_flags_dismissed", "safeguarding_flags", ["dismissed_at"])


def downgrade() -> None:
    op.drop_index("ix_safeguarding_flags_dismissed", table_name="safeguarding_flags")
    op.drop_table("safeguarding_flags")
