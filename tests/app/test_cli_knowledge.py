"""``childpact knowledge export|import`` and ``childpact ask`` on the database the service
answers from: SQLite, and a PostgreSQL database of its own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from tests.app.test_cli import childpact
from tests.backends import require_postgres
from tests.processes import postgres_database
from tests.webhook.api.test_api_knowledge import FORUM


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/childpact.db"
        return
    async with postgres_database(require_postgres()) as url:
        yield url


def _write_forum(folder: Path) -> None:
    for locale in ("en", "ro"):
        entry = {"title": FORUM["titles"][locale], "answer": FORUM["answers"][locale],
                 "examples": FORUM["examples"][locale]}  # fmt: skip
        (folder / locale).mkdir(parents=True)
        (folder / locale / "knowledge.yaml").write_text(
            yaml.safe_dump({"topics": {"forum": entry}}, allow_unicode=True), encoding="utf-8"
        )


# Five runs of the command, each loading the knowledge afresh (each may take up to a minute on
# a busy machine): more than the suite's three minutes a test.
@pytest.mark.timeout(420)
async def test_an_imported_topic_is_answered_by_ask_and_exported_again(database_url, tmp_path):
    asked = ("ask", "--json", "--lang", "ro", "când este forumul anual?")
    before = await childpact(*asked, DATABASE_URL=database_url)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["topic"] != "forum"

    _write_forum(tmp_path / "in")
    done = await childpact("knowledge", "import", str(tmp_path / "in"), DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    assert "1 topics created" in done.stdout
    after = json.loads((await childpact(*asked, DATABASE_URL=database_url)).stdout)
    assert after["topic"] == "forum" and after["answer"].startswith("Forumul anual")

    out = tmp_path / "out"
    done = await childpact("knowledge", "export", str(out), DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    english = yaml.safe_load((out / "en" / "knowledge.yaml").read_text(encoding="utf-8"))
    assert list(english["topics"])[0] == "who_we_are" and len(english["topics"]) == 23
    assert english["topics"]["forum"]["examples"] == FORUM["examples"]["en"]
    russian = yaml.safe_load((out / "ru" / "knowledge.yaml").read_text(encoding="utf-8"))
    assert "forum" not in russian["topics"]  # no Russian text yet
    again = await childpact("knowledge", "import", str(out), DATABASE_URL=database_url)
    assert "0 topics created, 0 changed" in again.stdout
