"""survey question rules: a hint under the question, and limits with their message

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("survey_questions", sa.Column("hint", Json, nullable=True))
    op.add_column("survey_questions", sa.Column("rules", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_questions", schema=None) as batch_op:
        batch_op.drop_column("rules")
        batch_op.drop_column("hint")
