"""unanswered questions counted per country too, so that a country's staff see only theirs

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Questions counted before are of no known country (""): only staff of every country
    # see them.
    with op.batch_alter_table("unanswered_questions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("country", sa.String(length=8), nullable=False, server_default="")
        )
        batch_op.drop_constraint("uq_unanswered_questions_normalised", type_="unique")
        batch_op.create_unique_constraint(
            "uq_unanswered_questions_normalised", ["locale", "country", "normalised"]
        )


def downgrade() -> None:
    with op.batch_alter_table("unanswered_questions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_unanswered_questions_normalised", type_="unique")
        batch_op.execute(
            "DELETE FROM unanswered_questions WHERE id NOT IN "
            "(SELECT MIN(id) FROM unanswered_questions GROUP BY locale, normalised)"
        )
        batch_op.create_unique_constraint(
            "uq_unanswered_questions_normalised", ["locale", "normalised"]
        )
        batch_op.drop_column("country")
