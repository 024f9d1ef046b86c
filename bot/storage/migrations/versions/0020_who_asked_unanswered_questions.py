"""who asked each unanswered question, so that they can be told the answer once staff teach it

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Questions counted before name nobody: their askers cannot be told.
    op.create_table(
        "unanswered_askers",
        sa.Column("id", Id, nullable=False),
        sa.Column("question_id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"], ["unanswered_questions.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "contact_id", name="uq_unanswered_askers"),
    )
    op.create_index("ix_unanswered_askers_contact", "unanswered_askers", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_unanswered_askers_contact", table_name="unanswered_askers")
    op.drop_table("unanswered_askers")
