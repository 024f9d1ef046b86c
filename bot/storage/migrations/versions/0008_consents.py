"""consents: each member's answers to the privacy text

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("text_digest", sa.String(length=64), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consents_contact", "consents", ["contact_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_consents_contact", table_name="consents")
    op.drop_table("consents")
