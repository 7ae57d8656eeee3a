"""Material and judges that nobody on this project wrote: Pillow's own test images and exiftool.

The corpus comes from Pillow's source distribution at the pinned version (`make corpus`, run by
`make test`); exiftool is Debian's `libimage-exiftool-perl` (installed by `.ci/run`). Both are required
in CI and skipped with a reason elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import PIL

from tests.support.env import ROOT, require_tool

CORPUS = ROOT / ".corpus" / f"pillow-{PIL.__version__}" / "images"


def pillow_images() -> Path:
    """The folder of Pillow's test images (1,086 files at 13.0.0: camera photos, edge cases, crashers)."""
    folder = Path(os.environ.get("R2_PILLOW_CORPUS", CORPUS))
    if not (folder / "hopper.jpg").is_file():
        require_tool(f"Pillow's test images are missing at {folder} (run `make corpus`)")
    return folder


def corpus_files() -> list[Path]:
    """Every file of the corpus, sorted, so test ids are stable."""
    root = pillow_images()
    return sorted(p for p in root.rglob("*") if p.is_file())


def exiftool_path() -> str:
    found = shutil.which("exiftool")
    if found is None:
        require_tool("exiftool is not installed (apt-get install libimage-exiftool-perl)")
        raise AssertionError("unreachable")  # require_tool skips or fails
    return found


def exiftool(path: Path, *tags: str) -> dict[str, Any]:
    """exiftool's reading of one file: every group (-a -G1), numbers as numbers (-n), as a dict.

    With `tags`, only those (for example "-*gps*", which finds GPS in EXIF, XMP and maker blocks alike;
    "-gps:all" alone misses vendor blocks).
    """
    command = [exiftool_path(), "-json", "-a", "-G1", "-n", *tags, str(path)]
    out = subprocess.run(command, capture_output=True, check=False, timeout=60)
    if out.returncode not in (0, 1):  # 1: exiftool's "file had a minor problem", still answered
        raise AssertionError(f"exiftool failed on {path}: {out.stderr.decode(errors='replace')}")
    records = json.loads(out.stdout or b"[{}]")
    return dict(records[0])


def locations(path: Path) -> dict[str, Any]:
    """Every tag that carries a location, in any group, as exiftool sees it (empty when there is none)."""
    found = exiftool(path, "-*gps*", "-*location*", "-*latitude*", "-*longitude*")
    return {k: v for k, v in found.items() if k not in ("SourceFile",) and not k.startswith(("ExifTool:", "File:"))}


LOCATION_TAGS = ("-*gps*", "-*location*", "-*latitude*", "-*longitude*")


def exiftool_many(paths: list[Path], *tags: str) -> dict[Path, dict[str, Any]]:
    """`exiftool` for many files in one exiftool process (it starts in ~0.2 s: once, not per file)."""
    if not paths:
        return {}
    command = [exiftool_path(), "-json", "-a", "-G1", "-n", *tags, *map(str, paths)]
    out = subprocess.run(command, capture_output=True, check=False, timeout=600)
    if out.returncode not in (0, 1):
        raise AssertionError(f"exiftool failed: {out.stderr.decode(errors='replace')[:2000]}")
    by_name = {str(path): path for path in paths}
    return {by_name[record["SourceFile"]]: dict(record) for record in json.loads(out.stdout or b"[]")}


def locations_many(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    """`locations` for many files at once: only the files that carry a location are in the answer."""
    found = {}
    for path, record in exiftool_many(paths, *LOCATION_TAGS).items():
        tags = {k: v for k, v in record.items() if k != "SourceFile" and not k.startswith(("ExifTool:", "File:"))}
        if tags:
            found[path] = tags
    return found
