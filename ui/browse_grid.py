"""The Browse grid as HTML: every key and URL is escaped with `html.escape` (attributes quoted).

Rendered by `st.html` without JavaScript (its default sanitises the HTML), so the missing-thumbnail
fallback is pure CSS: a placeholder sits *behind* the image; an image that fails to load draws no alt
text (transparent, size 0), so the placeholder shows through (no onerror handler, no extra request).

Each tile is a link to the object's details (`?…&object=key`, the page's deep link), so the grid is
reached with Tab and opened with Enter like any link; the selected tile is marked `aria-current`. The
image's alt text is the object's key (the original file name is known only after a HEAD, or once a
catalog exists), so a screen reader names every tile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from r2.browse import Tile
from ui.text import human_bytes

_GRID = (
    "display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px;"
    "font-family:sans-serif;font-size:12px"
)
# Placeholder text #5f6369 on #f0f2f6: 5.4:1 (WCAG 2 AA needs 4.5:1).
_BOX = (
    "position:relative;aspect-ratio:1/1;border-radius:6px;overflow:hidden;background:#f0f2f6;"
    "display:flex;align-items:center;justify-content:center;text-align:center;color:#5f6369;padding:4px;"
)
_IMG = "position:absolute;top:0;left:0;width:100%;height:100%;object-fit:cover;color:transparent;font-size:0"
_CAPTION = "margin-top:4px;overflow-wrap:anywhere;line-height:1.3"
_LINK = "display:block;color:inherit;text-decoration:none;border-radius:6px"
# The selected tile: a 3 px ring in the theme's primary colour (5.5:1 on white; 3:1 is needed).
_SELECTED = "outline:3px solid #B5450C;outline-offset:2px;"

PLACEHOLDER = {
    "thumbnail": "No thumbnail yet",
    "original": "Preview unavailable",
    "none": "No preview",
}


def tile_html(tile: Tile, *, selected: bool = False, href: str = "") -> str:
    label = PLACEHOLDER[tile.source]
    if tile.source == "none" and tile.reason:
        label += f" ({tile.reason})"
    image = ""
    if tile.url:
        image = (
            f'<img src="{escape(tile.url, quote=True)}" alt="{escape(tile.key, quote=True)}" loading="lazy" '
            f'style="{_IMG}">'
        )
    border = _SELECTED if selected else ""
    body = (
        f'<div style="{_BOX}{border}"><span>{escape(label)}</span>{image}</div>'
        f'<figcaption style="{_CAPTION}" title="{escape(tile.key, quote=True)}"><span>{escape(tile.name)}</span>'
        + (f"<br><span>{escape(tile.by)}</span>" if tile.by else "")
        + f'<br><span style="color:#5f6369">{escape(human_bytes(tile.size))}</span></figcaption>'
        "</figure>"
    )
    key = escape(tile.key, quote=True)
    figure = f'<figure style="margin:0" data-key="{key}" data-source="{tile.source}">{body}</figure>'
    if not href:
        return figure
    current = ' aria-current="true"' if selected else ""
    return f'<a href="{escape(href, quote=True)}" target="_self" style="{_LINK}"{current}>{figure}</a>'


def grid_html(tiles: Sequence[Tile], selected: str = "", link: Callable[[str], str] | None = None) -> str:
    """The grid; `link(key)`, when given, is the URL of a tile's details (each tile becomes a link)."""
    return (
        f'<div style="{_GRID}">'
        + "".join(tile_html(t, selected=t.key == selected, href=link(t.key) if link else "") for t in tiles)
        + "</div>"
    )
