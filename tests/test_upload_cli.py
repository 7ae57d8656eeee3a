"""`python -m r2 upload`: one line per file, JSON, exit codes."""

from __future__ import annotations

import json
import re

from r2.naming import thumbnail_key
from tests.support import corpus
from tests.support.cli import run
from tests.support.env import TEST_BUCKET, env_for


def test_upload_prints_one_line_per_file_and_exits_1_on_any_rejection(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "photo.jpg"
    good.write_bytes(corpus.jpeg_gps())
    evil = tmp_path / "evil.png"
    evil.write_bytes(corpus.HTML)
    code, out, err = run(["upload", str(good), str(evil)], env_for(s3.meta.endpoint_url))
    assert code == 1, err
    lines = out.splitlines()
    assert re.fullmatch(r"uploaded uploads/[0-9a-f-]{36}\.jpg", lines[0])
    assert lines[1].startswith(f"rejected {evil}: The file is an HTML page or script")
    key = lines[0].split()[1]
    s3.head_object(Bucket=TEST_BUCKET, Key=key)
    s3.head_object(Bucket=TEST_BUCKET, Key=thumbnail_key(key))


def test_upload_json_and_exit_0_when_all_uploaded(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = []
    for fmt in ("PNG", "WEBP"):
        path = tmp_path / f"x.{fmt.lower()}"
        path.write_bytes(corpus.plain(fmt))
        files.append(str(path))
    environ = env_for(s3.meta.endpoint_url, R2_FOLDERS="clinics,products")
    code, out, _ = run(["upload", *files, "--folder", "products", "--json"], environ)
    assert code == 0
    data = json.loads(out)
    assert [d["file"] for d in data] == files
    assert all(d["status"] == "uploaded" and d["reason"] is None for d in data)
    assert data[0]["key"].startswith("products/") and data[0]["key"].endswith(".png")
    assert data[1]["key"].endswith(".webp")


def test_upload_json_reports_rejections_and_missing_files(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.jpg"
    code, out, _ = run(["upload", str(missing), "--json"], env_for(s3.meta.endpoint_url))
    assert code == 1
    (entry,) = json.loads(out)
    assert entry["status"] == "rejected" and entry["key"] is None and "cannot be read" in entry["reason"]


def test_upload_usage_errors_exit_2(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.png"
    path.write_bytes(corpus.plain("PNG"))
    code, _, err = run(["upload", str(path), "--folder", "elsewhere"], env_for(s3.meta.endpoint_url))
    assert code == 2 and "may not go to the folder" in err
    code, _, err = run(["upload", str(path)], {})
    assert code == 2 and "No R2 credentials" in err
    code, _, _ = run(["upload"], env_for(s3.meta.endpoint_url))
    assert code == 2
    assert s3.list_objects_v2(Bucket=TEST_BUCKET).get("KeyCount", 0) == 0


def test_a_batch_with_files_whose_decoders_raise_reports_every_file(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A DDS (NotImplementedError) and an FLI bomb (DecompressionBombWarning) between good files must not
    # end the command with a traceback that leaves the earlier file stored but never reported.
    names = ["first.jpg", "texture.dds", "anim.fli", "last.png"]
    bodies = [corpus.plain("JPEG"), corpus.dds_unimplemented(), corpus.fli_bomb(), corpus.plain("PNG")]
    paths = []
    for name, body in zip(names, bodies, strict=True):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(body)
    code, out, err = run(["upload", *map(str, paths), "--json"], env_for(s3.meta.endpoint_url))
    assert code == 1 and "Traceback" not in err
    entries = json.loads(out)
    assert [e["status"] for e in entries] == ["uploaded", "rejected", "rejected", "uploaded"]
    assert all(e["reason"] for e in entries[1:3])
    stored = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=TEST_BUCKET, Prefix="uploads/").get("Contents", []))
    assert stored == sorted(e["key"] for e in entries if e["status"] == "uploaded")


def test_a_directory_or_unreadable_path_is_a_rejection_not_a_traceback(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "a-folder.jpg"
    folder.mkdir()
    good = tmp_path / "good.png"
    good.write_bytes(corpus.plain("PNG"))
    code, out, err = run(["upload", str(folder), str(good)], env_for(s3.meta.endpoint_url))
    assert code == 1 and "Traceback" not in err
    lines = out.splitlines()
    assert lines[0].startswith(f"rejected {folder}: The file cannot be read")
    assert lines[1].startswith("uploaded uploads/")
