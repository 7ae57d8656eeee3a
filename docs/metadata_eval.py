"""libexiv2 (python `exiv2` 0.19.2) vs r2.images on JPEGs: what each leaves, keeps and costs (docs/metadata.md).

Both remove GPS and XMP ("gps" mode) from every JPEG/MPO of Pillow's test images plus the hand-built
structures of tests/support/jpeg_structures.py; exiftool (the independent judge) then reads the results.
exiv2 is not a project dependency; run it from a scratch environment that also sees the project's:

    python3 -m venv /tmp/exiv2eval && /tmp/exiv2eval/bin/pip install exiv2==0.19.2
    PYTHONPATH=.venv/lib/python3.11/site-packages:. /tmp/exiv2eval/bin/python docs/metadata_eval.py
"""

from __future__ import annotations

import io
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import exiv2  # type: ignore[import-not-found]
from PIL import Image, ImageChops

from r2.images import ImageRejected, strip_jpeg
from tests.support import jpeg_structures as js
from tests.support.outside import CORPUS, exiftool_path

exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.mute)


def with_exiv2(data: bytes) -> bytes:
    image = exiv2.ImageFactory.open(data)
    image.readMetadata()
    exif = image.exifData()
    for key in [d.key() for d in exif if d.groupName() == "GPSInfo" or d.key() == "Exif.Image.GPSTag"]:
        exif.erase(exif.findKey(exiv2.ExifKey(key)))
    image.clearXmpData()
    image.writeMetadata()
    source = image.io()
    return bytes(source.mmap()[: source.size()])


def with_ours(data: bytes) -> bytes:
    return strip_jpeg(data, "gps")[0]


def hand_built() -> dict[str, bytes]:
    thumb = js.pixels_jpeg((16, 12), 5)
    gps = (js.GPS_POINTER, js.LONG, js.gps_ifd())
    orientation = (0x0112, js.SHORT, js.short(1))
    return {
        "gps-linked-from-ifd1.jpg": js.with_segments(
            js.pixels_jpeg(), js.exif_segment(js.tiff([orientation], [orientation, gps], thumbnail=thumb))
        ),
        "gps-linked-from-exif-ifd.jpg": js.with_segments(
            js.pixels_jpeg(),
            js.exif_segment(js.tiff([(js.EXIF_POINTER, js.LONG, [gps])], [orientation], thumbnail=thumb)),
        ),
        "photoshop-irb-xmp-gps.jpg": js.with_segments(
            js.pixels_jpeg(), js.photoshop_segment(js.irb(0x0424, js.GPS_XMP))
        ),
        "flir-app1-gps.jpg": js.with_segments(js.pixels_jpeg(), js.flir_segment()),
    }


def exiftool(paths: list[Path]) -> dict[str, dict[str, object]]:
    command = [exiftool_path(), "-json", "-a", "-G3:1", "-n", "-ee", "-q", *map(str, paths)]
    out = subprocess.run(command, capture_output=True, check=False)  # noqa: S603 (our own temporary files)
    return {Path(str(r["SourceFile"])).name: r for r in json.loads(out.stdout or b"[]")}


def locations(tags: dict[str, object]) -> list[str]:
    pattern = re.compile("gps|location|latitude|longitude", re.I)
    return [k for k in tags if pattern.search(k) and not k.startswith(("ExifTool:", "File:", "Composite:"))]


def same_pixels(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        return ImageChops.difference(x.convert("RGB"), y.convert("RGB")).getbbox() is None


def groups(tags: dict[str, object], name: str) -> dict[str, object]:
    return {k: v for k, v in tags.items() if k.count(":") and k.split(":")[-2] == name}


def run(name: str, clean: Callable[[bytes], bytes], sources: dict[str, bytes], work: Path) -> dict[str, object]:
    out_dir, src_dir = work / name, work / "sources"
    out_dir.mkdir()
    times, refused = [], []
    for file, data in sources.items():
        start = time.process_time()
        try:
            cleaned = clean(data)
        except (ImageRejected, exiv2.Exiv2Error) as exc:
            refused.append(f"{file} ({str(exc)[:60]})")
            continue
        times.append((time.process_time() - start) * 1000)
        (out_dir / file).write_bytes(cleaned)
    written = sorted(out_dir.iterdir())
    before, after = exiftool([src_dir / p.name for p in written]), exiftool(written)
    report: dict[str, object] = {"refused": refused, "median ms": round(statistics.median(times), 3)}
    report["location left"] = [p.name for p in written if locations(after.get(p.name, {}))]
    report["IFD1 lost"] = [
        p.name for p in written if groups(before[p.name], "IFD1") and not groups(after[p.name], "IFD1")
    ]
    report["maker-note warning"] = [
        p.name for p in written if "maker notes" in str(after[p.name].get("ExifTool:Warning", ""))
    ]
    report["pixels changed"] = []
    for p in written:
        try:
            if not same_pixels(sources[p.name], p.read_bytes()):
                report["pixels changed"].append(p.name)  # type: ignore[attr-defined]
        except OSError:
            pass  # the original itself does not decode (a truncated test file)
    return report


def main() -> None:
    sources = {
        p.name: p.read_bytes()
        for p in sorted(CORPUS.iterdir())
        if p.is_file() and p.read_bytes()[:3] == b"\xff\xd8\xff"
    }
    sources.update(hand_built())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "sources").mkdir()
        for file, data in sources.items():
            (work / "sources" / file).write_bytes(data)
        result = {
            "files": len(sources),
            "exiv2": run("exiv2", with_exiv2, sources, work),
            "ours": run("ours", with_ours, sources, work),
        }
    json.dump(result, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
