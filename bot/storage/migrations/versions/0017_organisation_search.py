"""the organisation as staff search it: Latin letters, no case, no accents

Revision ID: 0017
Revises: 0016
"""

import unicodedata

import sqlalchemy as sa
from alembic import op
from anyascii import anyascii

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _searchable(text: str) -> str:
    # As bot.i18n.searchable is at this revision; the migration keeps its own copy.
    return " ".join(anyascii(unicodedata.normalize("NFKC", text)).casefold().split())


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_search", sa.String(length=400)))
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.BigInteger()),
        sa.column("organisation", sa.String()),
        sa.column("organisation_search", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(contacts.c.id, contacts.c.organisation).where(
            contacts.c.organisation.is_not(None)
        )
    ).all()
    for contact_id, organisation in rows:
        bind.execute(
            contacts.update()
            .where(contacts.c.id == contact_id)
            .values(organisation_search=_searchable(organisation))
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("organisation_search")
