"""replies to a broadcast: how long a broadcast collects them, and which broadcast a member's
message in a conversation answers

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("collect_replies_hours", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("broadcast_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
        )
        batch_op.create_index(
            "ix_conversation_messages_broadcast_id", ["broadcast_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_messages_broadcast_id")
        batch_op.drop_column("broadcast_id")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("collect_replies_hours")
