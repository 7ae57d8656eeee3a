"""Formatting helpers. Anything that came from a user or the bucket is shown literally, never as HTML."""

from __future__ import annotations

import re
from collections.abc import Mapping

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def escape_md(text: str) -> str:
    """Escape Markdown (and HTML openers) so `text` renders literally inside st.markdown/st.error."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


# Characters that would end a Markdown link's <destination> early; a URL means the same with them encoded.
_URL_UNSAFE = str.maketrans({c: f"%{ord(c):02X}" for c in "<>()[] |\\`\n\r"})


def markdown_table(rows: list[dict[str, object]], links: Mapping[str, str] | None = None) -> str:
    """Rows as a Markdown table, every cell shown literally. Draws as a plain HTML table, which the browser
    shows at once, where `st.dataframe`/`st.table` first load over 1 MB of script (docs/bench/page_speed.md).

    `links`: columns that hold URLs, each with the text its links show (an empty or None cell: no link)."""
    if not rows:
        return ""
    columns = list(rows[0])
    links = links or {}

    def cell(column: str, value: object) -> str:
        if column in links:
            return f"[{escape_md(links[column])}](<{str(value).translate(_URL_UNSAFE)}>)" if value else ""
        return escape_md(" ".join(str(value).split()))

    lines = ["| " + " | ".join(cell("", c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
