"""a staff member's linked Telegram chat, and a broadcast's progress message

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_chat_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("link_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint("uq_staff_users_telegram_chat_id", ["telegram_chat_id"])
        batch_op.create_unique_constraint("uq_staff_users_link_hash", ["link_hash"])
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_delivery_id", Id, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("progress_delivery_id")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_staff_users_link_hash", type_="unique")
        batch_op.drop_constraint("uq_staff_users_telegram_chat_id", type_="unique")
        batch_op.drop_column("link_expires_at")
        batch_op.drop_column("link_hash")
        batch_op.drop_column("telegram_chat_id")
