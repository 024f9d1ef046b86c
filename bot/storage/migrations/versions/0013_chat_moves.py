"""chat moves: a Telegram group that became a supergroup, and the id its messages now go to

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_moves",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("moved_to", sa.String(length=64), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "address"),
    )


def downgrade() -> None:
    op.drop_table("chat_moves")
