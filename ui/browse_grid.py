"""The Browse grid as HTML: every key and URL is escaped with `html.escape` (attributes quoted).

Rendered by `st.html` without JavaScript (its default sanitises the HTML), so the missing-thumbnail
fallback is pure CSS: a placeholder sits *behind* the image; an `<img alt="">` that fails to load is
drawn transparent, so the placeholder shows through (no onerror handler, no extra request).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from r2.browse import Tile
from ui.text import human_bytes

_GRID = (
    "display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px;"
    "font-family:sans-serif;font-size:12px"
)
_BOX = (
    "position:relative;aspect-ratio:1/1;border-radius:6px;overflow:hidden;background:#f0f2f6;"
    "display:flex;align-items:center;justify-content:center;text-align:center;color:#6b6f76;padding:4px"
)
_IMG = "position:absolute;top:0;left:0;width:100%;height:100%;object-fit:cover"
_CAPTION = "margin-top:4px;overflow-wrap:anywhere;line-height:1.3"

PLACEHOLDER = {
    "thumbnail": "No thumbnail yet",
    "original": "Preview unavailable",
    "none": "No preview",
}


def tile_html(tile: Tile, *, selected: bool = False) -> str:
    label = PLACEHOLDER[tile.source]
    if tile.source == "none" and tile.reason:
        label += f" ({tile.reason})"
    image = ""
    if tile.url:
        image = f'<img src="{escape(tile.url, quote=True)}" alt="" loading="lazy" style="{_IMG}">'
    border = "outline:3px solid #ff4b4b;" if selected else ""
    return (
        f'<figure style="margin:0" data-key="{escape(tile.key, quote=True)}" data-source="{tile.source}">'
        f'<div style="{_BOX}{border}"><span>{escape(label)}</span>{image}</div>'
        f'<figcaption style="{_CAPTION}" title="{escape(tile.key, quote=True)}"><span>{escape(tile.name)}</span>'
        + (f"<br><span>{escape(tile.by)}</span>" if tile.by else "")
        + f'<br><span style="color:#6b6f76">{escape(human_bytes(tile.size))}</span></figcaption>'
        "</figure>"
    )


def grid_html(tiles: Sequence[Tile], selected: str = "") -> str:
    return f'<div style="{_GRID}">' + "".join(tile_html(t, selected=t.key == selected) for t in tiles) + "</div>"
