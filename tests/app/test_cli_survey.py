"""``childpact survey`` as an operator runs it: an XLSForm imported (or refused row by row,
nothing saved), the survey written back as an XLSForm pyxform converts, its responses exported."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from pyxform.xls2xform import convert
from sqlalchemy import func, select

from bot.storage.db import Database
from bot.storage.models import Survey
from tests.surveys.xlsforms import TWO_LANGUAGES, UNSUPPORTED, xlsx

ROOT = Path(__file__).resolve().parents[2]


async def childpact(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_", "REDIS_"))
    }
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "app.cli", "survey", *args], cwd=ROOT,
        env={**env, "DATABASE_URL": url}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def surveys_stored(url: str) -> int:
    db = Database(url)
    try:
        async with db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(Survey)) or 0)
    finally:
        await db.dispose()


async def test_import_refuse_write_back_and_export(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    form, bad = tmp_path / "followup.xlsx", tmp_path / "household.xlsx"
    form.write_bytes(xlsx(TWO_LANGUAGES))
    bad.write_bytes(xlsx(UNSUPPORTED))

    checked = await childpact(url, "import", str(form), "--check")
    assert checked.returncode == 0 and "7 questions" in checked.stdout, checked.stderr
    refused = await childpact(url, "import", str(bad))
    assert refused.returncode == 1 and "nothing was saved" in refused.stderr
    assert "row 6 (where): geopoint" in refused.stderr and "row 12 (why)" in refused.stderr
    imported = await childpact(url, "import", str(form))
    assert imported.returncode == 0, imported.stderr
    assert await surveys_stored(url) == 1  # neither the check nor the refusal saved anything
    survey_id = imported.stdout.split()[1]

    back = tmp_path / "back.xlsx"
    written = await childpact(url, "xlsform", survey_id, "-o", str(back))
    assert written.returncode == 0, written.stderr
    assert "Între 0 și 500" in convert(back.read_bytes(), file_type=".xlsx").xform

    results = tmp_path / "results.csv"
    exported = await childpact(url, "export", survey_id, "-o", str(results), "--values", "names")
    assert exported.returncode == 0, exported.stderr
    header = next(csv.reader(io.StringIO(results.read_text("utf-8-sig"))))
    assert header[3:5] == ["start", "end"] and "topics/online" in header
