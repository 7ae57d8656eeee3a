"""CSV that is safe to open in a spreadsheet: the one writer for every CSV the app or CLI produces.

Keys are chosen by whoever wrote the object (other tools too), so a key such as `=HYPERLINK(...)` would
become a live formula in Excel or LibreOffice (CSV injection, OWASP). Every text cell that starts with a
formula character gets a leading apostrophe, which spreadsheets show as text. Numbers are left alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """A text that starts like a formula gets a leading apostrophe; anything else is returned as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with `header` and `rows`, every text cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else cell(v) for v in row])
    return out.getvalue()
