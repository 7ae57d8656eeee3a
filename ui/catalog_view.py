"""Streamlit glue for the catalog: names for a page of keys, its freshness, a sync with progress."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from r2.catalog import Row
from r2.errors import R2Error
from ui.state import catalog

_log = logging.getLogger(__name__)


def known_rows(keys: Sequence[str]) -> dict[str, Row]:
    """What the catalog knows about these keys, looked up in process (no request per key).

    A catalog that cannot be read leaves the page as it was (keys, no names): logged, never fatal.
    """
    try:
        return catalog().lookup(keys)
    except R2Error as exc:
        _log.warning("catalog lookup skipped: %s", exc.message)
        return {}


def freshness_text() -> str:
    """ "Catalog updated 3 min ago (version 12)" or why there is none."""
    cat = catalog()
    version = cat.version()
    if version is None:
        return "No catalog yet: an admin builds it with a sync (Usage page or `python -m r2 catalog sync`)."
    at = cat.updated_at()
    if at is None:
        return f"Catalog version {version}."
    minutes = max(0, int((datetime.now(UTC) - at).total_seconds() // 60))
    age = "just now" if minutes < 1 else f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"
    return (
        f"Catalog updated {age} (version {version}); this app's own uploads and deletes are in it at once, "
        "changes by other tools after the next sync."
    )
