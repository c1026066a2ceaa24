"""CSV files staff and shops open in Excel (Japan): UTF-8 with a BOM (without it Excel reads Shift_JIS and
shows mojibake), CRLF lines, and no cell Excel would run as a formula (CSV injection: a shop or driver
name such as ``=HYPERLINK(…)`` must arrive as text)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# Excel runs a cell that starts with one of these as a formula: such a cell is quoted with 「'」.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None


def safe_cell(text: str) -> str:
    """A text cell Excel shows as it is: one starting like a formula (or with the quote itself, so the
    quote can be taken off again on import) gets a leading 「'」. Numbers are never passed here: a
    negative amount is a number, not a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) or text.startswith("'") else text


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """Rows as CSV text, every text cell through ``safe_cell``; None is an empty cell."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if cell is None else safe_cell(cell) if isinstance(cell, str) else cell
                         for cell in row])
    return out.getvalue()


def excel_csv_bytes(rows: Iterable[Sequence[Cell]]) -> bytes:
    """Rows as the bytes of a CSV file for Excel: UTF-8 with a BOM, CRLF lines."""
    return csv_text(rows).encode("utf-8-sig")
