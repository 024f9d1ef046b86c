"""Cells that go into a spreadsheet (CSV or XLSX): what members typed stays text there."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Sheets
# (=HYPERLINK(...), +cmd|...); a quote in front keeps it text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet shows it and never runs it."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def printable(value: Any) -> Any:
    """``value`` without control characters, which openpyxl refuses (a member may type one)."""
    if isinstance(value, str):
        return "".join(c for c in value if c in "\t\n" or ord(c) >= 32)
    return value


def csv_row(values: Sequence[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


async def csv_stream(
    columns: Sequence[str], rows: AsyncIterable[dict[str, Any]], *, chunk: int = 16_384
) -> AsyncIterator[str]:
    """A CSV file in pieces of about ``chunk`` characters, every cell made safe, so that a
    large export never sits in memory at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    async for row in rows:
        writer.writerow(csv_row([row.get(c, "") for c in columns]))
        if buffer.tell() > chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
