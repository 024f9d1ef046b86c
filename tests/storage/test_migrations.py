"""The migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from bot.storage.db import Database
from bot.storage.models import Base


def _differences(connection: Connection) -> tuple[list[Any], set[str]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    # Against no models at all, every table shows as one to remove: proof that the comparison
    # looks at the schema the migrations built (the test schema on PostgreSQL).
    seen = {d[1].name for d in compare_metadata(context, MetaData()) if d[0] == "remove_table"}
    return list(compare_metadata(context, Base.metadata)), seen


async def test_the_upgraded_database_matches_the_models(backend):
    db = Database(backend.database_url, schema=backend.schema)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            differences, seen = await conn.run_sync(_differences)
    finally:
        await db.dispose()
    assert set(Base.metadata.tables) <= seen
    # alembic_version is the migrations' own table, not a model's.
    differences = [d for d in differences if "alembic_version" not in str(d)]
    assert differences == [], "\n".join(map(str, differences))
