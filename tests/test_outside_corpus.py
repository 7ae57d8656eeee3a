"""Pillow's own test images (1,086 files at 13.0.0: camera photos, EXIF/XMP edge cases, truncated files,
fuzzing crashers), every one through the whole upload pipeline (`r2.uploads.upload_file`, in process,
against the real local S3 server), judged by what a user relies on:

- each file is stored or refused with a reason; nothing crashes, nothing hangs (a generous bound per
  file, in a worker thread: it detects a hang, it is not a speed assert);
- the bucket holds exactly what was reported stored (and its thumbnail);
- no stored file carries a location, as exiftool (not this project's code) reads the stored bytes;
- each thumbnail is the same way up as its stored image (aspect ratio, and a downscaled pixel
  comparison with the stored image after `exif_transpose` against its other seven orientations).

Files that colleagues' JPEG work will make pass (MPOs, stray bytes in JPEGs) may be refused here:
a refusal with a reason is an answer. The counts (stored, refused by reason) are printed; with
`CORPUS_SUMMARY=FILE` they are written there too (docs/reliability.md quotes them).
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from r2.audit import AUDIT_PREFIX
from r2.settings import Settings
from r2.uploads import UNEXPECTED_ERROR, Rejected, Result, Uploaded, upload_file
from tests.support.outside import corpus_files, locations_many, pillow_images

PER_FILE_SECONDS = 60  # a hang, not slowness: the whole corpus takes ~30 s on a quiet machine
TURNED_MARGIN = 12  # grey levels (of 255) by which another orientation must match better to count as turned


def bounded(call: Callable[[], Result], seconds: float) -> Result:
    """`call()` in a daemon thread: its result, or a test failure naming the hang (the thread is left)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # reported as a crash below
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="corpus-file")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds} s")
    if "error" in box:
        raise box["error"]
    result: Result = box["result"]
    return result


_FORMAT_REFUSED = re.compile(
    r"^The file is (?:a|an) (?:image in the )?(\w+) (?:image|format|document)\b.*not (?:an )?accepted"
)


def reason_class(reason: str) -> str:
    """A refusal's reason without its particulars (numbers, quoted details, the format), for counting."""
    if _FORMAT_REFUSED.match(reason) or "not an image of an accepted format" in reason:
        return "not an accepted format (identified by content)"
    first = reason.split(". ")[0].split("; the limit")[0]
    first = re.sub(r"\s*\([^)]*\)?", "", first)
    first = re.sub(r"\d[\d,.]*", "N", first)
    return re.sub(r"\s+", " ", first).strip().rstrip(".:) ")[:100]


def refused_format(reason: str) -> str:
    found = _FORMAT_REFUSED.match(reason)
    return found.group(1) if found else "unidentified"


def _grey(image: Image.Image, size: tuple[int, int] = (16, 16)) -> Image.Image:
    rgba = image.convert("RGBA")
    backdrop = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
    return Image.alpha_composite(backdrop, rgba).convert("L").resize(size, Image.Resampling.BOX)


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(ImageStat.Stat(ImageChops.difference(a, b)).mean[0])


def turned_differently(stored: bytes, thumbnail: bytes) -> str:
    """ "" when the thumbnail is the stored image (first frame) the same way up, else what differs."""
    with Image.open(io.BytesIO(stored)) as image:
        upright = ImageOps.exif_transpose(image)
    with Image.open(io.BytesIO(thumbnail)) as thumb:
        thumb.load()
    (uw, uh), (tw, th) = upright.size, thumb.size
    expected = upright.copy()
    expected.thumbnail((max(tw, th), max(tw, th)))  # Pillow's own rounding of the aspect ratio
    ew, eh = expected.size
    if abs(ew - tw) > 1 or abs(eh - th) > 1:
        if abs(eh - tw) <= 1 and abs(ew - th) <= 1:
            return f"turned: stored {uw}x{uh} upright, thumbnail {tw}x{th}"
        return f"another shape: stored {uw}x{uh} upright, thumbnail {tw}x{th}"
    seen = _grey(thumb)
    same = _mean_difference(seen, _grey(upright))
    for method in Image.Transpose:
        other = _mean_difference(seen, _grey(upright.transpose(method)))
        if other < same - TURNED_MARGIN:
            return f"turned: matches the stored image after {method.name} ({other:.0f} vs {same:.0f})"
    return ""


@pytest.mark.timeout(1800)
def test_every_pillow_test_image_is_stored_clean_or_refused_with_a_reason(  # type: ignore[no-untyped-def]
    settings: Settings, s3, tmp_path: Path
) -> None:
    root = pillow_images()
    files = corpus_files()
    problems: list[str] = []
    stored: dict[str, Uploaded] = {}  # name -> result
    refused: Counter[str] = Counter()
    formats: Counter[str] = Counter()  # of the files refused as not accepted
    for path in files:
        name = str(path.relative_to(root))
        try:
            result = bounded(lambda p=path, n=name: upload_file(s3, settings, n, p, actor="corpus"), PER_FILE_SECONDS)
        except TimeoutError as exc:
            pytest.fail(f"{name}: {exc} (a hang)")
        except Exception as exc:
            problems.append(f"{name}: crashed: {type(exc).__name__}: {exc}")
            continue
        if isinstance(result, Rejected):
            if not result.reason.strip() or result.reason == UNEXPECTED_ERROR:
                problems.append(f"{name}: refused without a reason of its own: {result.reason!r}")
            refused[reason_class(result.reason)] += 1
            if reason_class(result.reason).startswith("not an accepted format"):
                formats[refused_format(result.reason)] += 1
        else:
            stored[name] = result

    # The bucket holds what was reported stored, and its thumbnails: nothing else.
    listed = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket)
        for o in page.get("Contents", [])
        if not o["Key"].startswith(AUDIT_PREFIX)
    }
    reported = {r.key for r in stored.values()} | {r.thumbnail_key for r in stored.values() if r.thumbnail_key}
    if listed != reported:
        problems.append(
            f"stored but not reported: {sorted(listed - reported)[:10]}; "
            f"reported but missing: {sorted(reported - listed)[:10]}"
        )

    # No location in the stored bytes (exiftool, one process for all); thumbnails the same way up.
    folder = tmp_path / "stored"
    folder.mkdir()
    on_disk: dict[Path, str] = {}
    no_thumbnail = 0
    for index, (name, result) in enumerate(sorted(stored.items())):
        body = s3.get_object(Bucket=settings.bucket, Key=result.key)["Body"].read()
        target = folder / f"{index:04d}.{result.key.rsplit('.', 1)[1]}"
        target.write_bytes(body)
        on_disk[target] = name
        if result.thumbnail_key is None:
            no_thumbnail += 1
            continue
        thumb = s3.get_object(Bucket=settings.bucket, Key=result.thumbnail_key)["Body"].read()
        if why := turned_differently(body, thumb):
            problems.append(f"{name}: thumbnail {why}")
    for path, tags in locations_many(list(on_disk)).items():
        problems.append(f"{on_disk[path]}: stored with a location: {tags}")

    kinds = Counter(r.format for r in stored.values())
    summary = [
        f"Pillow {Image.__version__} test images: {len(files)} files; stored {len(stored)} "
        f"({', '.join(f'{k} {n}' for k, n in kinds.most_common())}; {no_thumbnail} without a thumbnail), "
        f"refused {sum(refused.values())}.",
        "",
        "| refused because | files |",
        "|---|---|",
        *(f"| {reason} | {count} |" for reason, count in refused.most_common()),
        "",
        "Not accepted, by format: " + ", ".join(f"{k} {n}" for k, n in formats.most_common()) + ".",
    ]
    print("\n".join(summary))
    if out := os.environ.get("CORPUS_SUMMARY"):
        Path(out).write_text("\n".join(summary) + "\n", encoding="utf-8")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:60])
