"""Issue #16, items 1-7: what a member acting in bad faith tried, and what now holds (docs/reliability.md,
Access). Browser halves of items 1 and 5 are in tests/test_access_browser.py."""

from __future__ import annotations

import csv
import io

import pandas as pd

from ui.usage_view import csv_bytes


# ---- 7. every CSV the app writes is spreadsheet-safe ------------------------------------------------
def test_usage_csv_neutralises_formulas_in_keys_written_by_other_tools() -> None:
    frame = pd.DataFrame(
        {
            "key": ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "plain.jpg"],
            "bytes": [1, 2, 3, 4, 5],
        }
    )
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode("utf-8"))))
    assert rows[0] == ["key", "bytes"]
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://evil","x")',
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1)",
        "plain.jpg",
    ]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4", "5"], "numbers stay numbers"
