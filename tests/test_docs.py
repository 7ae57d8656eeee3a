"""The documentation stays true: every setting the code reads is documented, every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from r2.settings import ENV_NAMES
from tests.support.env import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
EXTRA_SETTINGS = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_BASE")


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"(?m)^#{1,6} +(.+?) *$", markdown):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_setting_the_code_reads_is_documented() -> None:
    configuration = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    settings = set(ENV_NAMES.values()) | set(EXTRA_SETTINGS)
    missing = sorted(name for name in settings if f"`{name}`" not in configuration)
    assert not missing, f"settings read by the code but not described in docs/configuration.md: {missing}"


def test_the_code_reads_no_undocumented_r2_variable() -> None:
    """Any R2_*/CLOUDFLARE_* name spelled in the app's code is a known setting (or documented)."""
    code = "\n".join(p.read_text(encoding="utf-8") for d in ("r2", "ui", "pages") for p in (ROOT / d).rglob("*.py"))
    code += (ROOT / "app.py").read_text(encoding="utf-8")
    names = set(re.findall(r"\b(?:R2|CLOUDFLARE)_[A-Z0-9_]*[A-Z0-9]\b", code))
    configuration = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    undocumented = sorted(n for n in names if n not in configuration)
    assert not undocumented, f"named in the code, missing from docs/configuration.md: {undocumented}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists() or (
            anchor and path.suffix == ".md" and anchor not in _anchors(path.read_text(encoding="utf-8"))
        ):
            broken.append(target)
    assert not broken, f"{doc.name}: links that do not resolve: {broken}"


def test_readme_stays_short() -> None:
    """A newcomer finishes it: what it is, the two commands, the main settings, links."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 160, f"README.md has {lines} lines; move detail into docs/"
