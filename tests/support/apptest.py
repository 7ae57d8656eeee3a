"""Streamlit AppTest helpers shared by the page tests: the visitor's settings, reading what rendered."""

from __future__ import annotations

import re
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.env import ROOT, TEST_BUCKET

# Each page and the weakest role that may open it: the expectation, written apart from the app's own
# table (r2.roles.PAGE_ROLES) on purpose, so that a wrong entry there fails the role tests.
PAGES = {
    "browse": "member",
    "search": "member",
    "upload": "member",
    "cors": "developer",
    "health": "developer",
    "usage": "admin",
    "audit": "admin",
    "lifecycle": "admin",
}


def configure(monkeypatch: pytest.MonkeyPatch, endpoint: str, role: str) -> None:
    """The app's settings for the test bucket on `endpoint`, every visitor getting `role`."""
    monkeypatch.setenv("R2_ENDPOINT", endpoint)
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "test-secret-key-SHOULD-NOT-RENDER")
    monkeypatch.setenv("R2_BUCKET", TEST_BUCKET)
    monkeypatch.setenv("R2_DEFAULT_ROLE", role)


def rendered_text(at: AppTest) -> str:
    """Everything a visitor reads on the page and in the sidebar, one element a line."""
    parts = [
        e.value
        for kind in ("markdown", "error", "info", "warning", "caption", "title", "success")
        for e in getattr(at, kind)
    ]
    parts += [e.value for e in at.sidebar.markdown]
    return "\n".join(str(p) for p in parts)


def markdown_tables(at: AppTest, column: str) -> list[list[dict[str, str]]]:
    """Every Markdown table on the page with a column named `column`: its rows, cells unescaped (as the
    visitor reads them)."""
    found = []
    for element in at.markdown:
        lines = str(element.value).splitlines()
        if len(lines) >= 2 and lines[0].startswith("| ") and column in (header := _cells(lines[0])):
            found.append([dict(zip(header, _cells(row), strict=True)) for row in lines[2:]])
    return found


def markdown_rows(at: AppTest, column: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table on the page with a column named `column` ([] when none)."""
    return next(iter(markdown_tables(at, column)), [])


def _cells(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [re.sub(r"\\(.)", r"\1", cell.strip()) for cell in cells]


def texts(at: AppTest, kind: str) -> str:
    """The text of every element of one kind ("error", "success", ...), one a line."""
    return "\n".join(str(e.value) for e in getattr(at, kind))


def button(at: AppTest, label: str) -> Any:
    """The first button labelled `label`; fails naming the buttons there are when there is none."""
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in at.button]}"
    return matches[0]


def open_browse(monkeypatch: pytest.MonkeyPatch, s3: Any, role: str = "member", **query: str) -> AppTest:
    """The Browse page as a visitor with `role` opens it, with `query` as its URL's query parameters."""
    configure(monkeypatch, s3.meta.endpoint_url, role)
    at = AppTest.from_file(str(ROOT / "pages" / "browse.py"), default_timeout=30)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run(timeout=30)


def open_panel(at: AppTest, key: str) -> AppTest:
    """Open an expander whose content is drawn only while it is open (`ui.light.drawn_when_open`), as a
    click on it does: its state turns true and the page runs again."""
    at.session_state[key] = True
    return at.run()
