"""people: linked chat addresses of one member, their one-time link codes and wrong attempts

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", Id, nullable=False),
        sa.Column("preferred_channel", sa.String(length=16), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # Plain ALTER TABLE, not a batch: on SQLite a batch copies "contacts" and drops the old
    # table, which cascades to the outbox, conversations and answers that point at it.
    op.add_column("contacts", sa.Column("person_id", Id, nullable=True))
    op.add_column("contacts", sa.Column("settings_at", When, nullable=True))
    op.create_index(op.f("ix_contacts_person_id"), "contacts", ["person_id"])
    op.create_table(
        "link_codes",
        sa.Column("id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_codes_hash", "link_codes", ["code_hash"])
    op.create_index(op.f("ix_link_codes_contact_id"), "link_codes", ["contact_id"])
    op.create_table(
        "link_failures",
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", When, nullable=False),
        sa.Column("locked_until", When, nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id"),
    )


def downgrade() -> None:
    op.drop_table("link_failures")
    op.drop_table("link_codes")
    op.drop_index(op.f("ix_contacts_person_id"), table_name="contacts")
    op.drop_column("contacts", "settings_at")
    op.drop_column("contacts", "person_id")
    op.drop_table("people")
