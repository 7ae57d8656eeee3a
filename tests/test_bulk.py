"""Bulk move / copy / delete and ZIP download against the local S3 server over HTTP."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator

import pytest

from r2 import bulk, bulk_actions, bulk_delete, zipdown
from r2.audit import AUDIT_PREFIX
from r2.client import CallCounter, S3Client, make_client
from r2.errors import AccessDenied, InvalidInput, R2Error
from r2.naming import thumbnail_key
from r2.roles import roles_for
from r2.settings import RESERVED_PREFIX, Settings
from tests.support.cli import run
from tests.support.env import TEST_BUCKET, env_for, settings_for
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.zip_memory import zip_growth

B = TEST_BUCKET


def put(s3: S3Client, key: str, body: bytes, name: str = "", thumb: bool = True) -> None:
    meta = {"original-name": name} if name else {}
    s3.put_object(Bucket=B, Key=key, Body=body, Metadata=meta, ContentType="image/png")
    if thumb:
        s3.put_object(Bucket=B, Key=thumbnail_key(key), Body=b"thumb:" + body)


def keys(s3: S3Client, prefix: str = "") -> dict[str, bytes]:
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=B, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].startswith(RESERVED_PREFIX):  # audit events, the catalog
                found[obj["Key"]] = s3.get_object(Bucket=B, Key=obj["Key"])["Body"].read()
    return found


def audit_events(s3: S3Client) -> list[dict[str, object]]:
    listed = s3.list_objects_v2(Bucket=B, Prefix=AUDIT_PREFIX).get("Contents", [])
    return [json.loads(s3.get_object(Bucket=B, Key=o["Key"])["Body"].read()) for o in listed]


@pytest.fixture
def seeded(s3: S3Client) -> dict[str, bytes]:
    bodies = {f"uploads/{n}.png": f"image {n}".encode() for n in range(5)}
    for key, body in bodies.items():
        put(s3, key, body, name=f"photo%20{key[-5]}.png")
    return bodies


def move(s3: S3Client, sources: list[str], dest: str) -> bulk.TransferResult:
    selection = bulk.select_keys(s3, B, sources)
    return bulk.run_transfer(s3, B, bulk.plan_transfer(s3, B, selection, dest))


# ------------------------------------------------------------------------------------------ move / copy
def test_move_copies_server_side_then_deletes_sources_with_thumbnails(
    s3: S3Client, s3_calls: CallCounter, seeded: dict[str, bytes]
) -> None:
    selection = bulk.select_keys(s3, B, ["uploads/"])
    plan = bulk.plan_transfer(s3, B, selection, "archive/")
    s3_calls.reset()
    result = bulk.run_transfer(s3, B, plan)
    assert result.ok and len(result.done) == 5
    # one CopyObject per image and per thumbnail, one DeleteObjects for all; no GET, no PUT of bytes
    assert s3_calls.calls["CopyObject"] == 10 and s3_calls.calls["DeleteObjects"] == 1
    assert s3_calls.calls.get("GetObject", 0) == 0 and s3_calls.calls.get("PutObject", 0) == 0
    assert plan.operations == s3_calls.total
    after = keys(s3)
    for key, body in seeded.items():
        moved = key.replace("uploads/", "archive/")
        assert key not in after and thumbnail_key(key) not in after
        assert after[moved] == body and after[thumbnail_key(moved)] == b"thumb:" + body
        assert s3.head_object(Bucket=B, Key=moved)["Metadata"]["original-name"].startswith("photo")


def test_move_never_overwrites_an_existing_destination(s3: S3Client, seeded: dict[str, bytes]) -> None:
    s3.put_object(Bucket=B, Key="archive/0.png", Body=b"someone else's")
    result = move(s3, ["uploads/0.png"], "archive/")
    assert result.ok
    [(_, dest)] = result.done
    assert dest != "archive/0.png" and dest.startswith("archive/") and dest.endswith(".png")
    assert keys(s3)["archive/0.png"] == b"someone else's"
    assert keys(s3)[dest] == seeded["uploads/0.png"]


def test_copy_keeps_the_sources_and_rerun_does_not_duplicate(s3: S3Client, seeded: dict[str, bytes]) -> None:
    selection = bulk.select_keys(s3, B, ["uploads/1.png", "uploads/2.png"])
    first = bulk.run_transfer(s3, B, bulk.plan_transfer(s3, B, selection, "team/", action="copy"))
    assert first.ok and len(first.done) == 2
    again = bulk.plan_transfer(s3, B, selection, "team/", action="copy")
    assert all(s.done for s in again.steps) and again.operations == 2  # only the thumbnails again
    after = keys(s3)
    assert "uploads/1.png" in after and after["team/1.png"] == seeded["uploads/1.png"]
    assert len([k for k in after if k.startswith("team/")]) == 2


def test_reserved_keys_and_destinations_are_refused(s3: S3Client, seeded: dict[str, bytes]) -> None:
    with pytest.raises(InvalidInput):
        bulk.select_keys(s3, B, [".dashboard/audit/x.json"])
    selection = bulk.select_keys(s3, B, ["uploads/0.png"])
    for dest in (".thumbs/uploads/", ".dashboard/"):
        with pytest.raises(InvalidInput):
            bulk.plan_transfer(s3, B, selection, dest)
    with pytest.raises(InvalidInput):
        bulk.select_folder(s3, B, ".thumbs/")
    assert keys(s3, "uploads/") == {k: v for k, v in keys(s3).items() if k.startswith("uploads/")}


def test_members_move_only_within_their_folders(settings: Settings) -> None:
    member = roles_for("member")
    s = settings_for(settings.endpoint, R2_FOLDERS="uploads,team")
    bulk.authorize(member, s, ["uploads/a.png"], "team/")
    with pytest.raises(AccessDenied):
        bulk.authorize(member, s, ["uploads/a.png"], "private/")
    with pytest.raises(AccessDenied):
        bulk.authorize(member, s, ["private/a.png"], "team/")
    with pytest.raises(AccessDenied):
        bulk.authorize(roles_for("none"), s, ["uploads/a.png"], "team/")
    bulk.authorize(roles_for("admin"), s, ["private/a.png"], "elsewhere/")


def test_the_catalog_follows_a_move_and_its_failure_never_fails_the_move(
    s3: S3Client, settings: Settings, seeded: dict[str, bytes]
) -> None:
    from r2.catalog import Catalog, Row
    from r2.catalog_sync import iter_rows

    catalog = Catalog(settings)
    catalog.record([Row(key="uploads/0.png", size=7, etag="x", last_modified=__import__("datetime").datetime.now())])
    selection = bulk.select_keys(s3, B, ["uploads/0.png"])
    bulk.run_transfer(s3, B, bulk.plan_transfer(s3, B, selection, "archive/"), on_change=bulk.catalog_hook(settings))
    assert [r.key for r in iter_rows(Catalog(settings))] == ["archive/0.png"]
    broken = bulk.catalog_hook(settings_for("http://127.0.0.1:9"))  # nothing listens there
    selection = bulk.select_keys(s3, B, ["uploads/1.png"])
    result = bulk.run_transfer(s3, B, bulk.plan_transfer(s3, B, selection, "archive/"), on_change=broken)
    assert result.ok and "archive/1.png" in keys(s3)


# ------------------------------------------------------------------------------------------ fault tests
@pytest.fixture
def proxied(s3_endpoint: str, s3: S3Client) -> Iterator[tuple[FaultProxy, S3Client]]:
    with FaultProxy(s3_endpoint) as proxy:
        yield proxy, make_client(settings_for(proxy.endpoint), max_attempts=1)


def test_a_move_cut_half_way_loses_nothing_and_a_rerun_finishes(
    proxied: tuple[FaultProxy, S3Client], s3: S3Client, seeded: dict[str, bytes]
) -> None:
    proxy, client = proxied
    # copies after the third are cut before reaching the server; the batch delete is cut too
    proxy.inject(Fault("close", match=lambda m, p: m == "PUT" and proxy.count("PUT") > 3))
    proxy.inject(Fault("close", match=lambda m, p: m == "POST" and "delete" in p))
    result = move(client, ["uploads/"], "archive/")
    assert not result.ok and result.failed and not result.done
    after = keys(s3)
    for key, body in seeded.items():  # every object somewhere, never in no place
        moved = key.replace("uploads/", "archive/")
        assert after.get(key) == body
        assert (key, moved) in result.both or key in dict(result.failed)
    proxy.clear()
    again = move(client, ["uploads/"], "archive/")
    assert again.ok and len(again.done) == 5
    after = keys(s3)
    assert {k for k in after if not k.startswith(".thumbs/")} == {k.replace("uploads/", "archive/") for k in seeded}
    assert len([k for k in after if k.startswith(".thumbs/")]) == 5


def test_a_folder_delete_cut_half_way_is_reported_and_a_rerun_finishes(
    proxied: tuple[FaultProxy, S3Client], s3: S3Client
) -> None:
    from tests.support.seeding import seed

    seed(B, [(f"big/{n:05d}.png", 1) for n in range(1500)])
    proxy, client = proxied
    proxy.inject(Fault("close", times=1, match=lambda m, p: m == "POST" and "delete" in p))
    plan = bulk_delete.plan_delete(client, B, bulk.select_folder(client, B, "big/"))
    assert plan.operations == 2
    report = bulk_delete.run_delete(client, B, plan)
    assert len(report.failed) == 1000 and len(report.deleted) == 500 and not report.ok
    assert len(keys(s3, "big/")) == 1000
    again = bulk_delete.run_delete(client, B, bulk_delete.plan_delete(client, B, bulk.select_folder(client, B, "big/")))
    assert again.ok and len(again.deleted) == 1000 and keys(s3, "big/") == {}


def test_a_zip_read_cut_half_way_is_resumed_and_the_zip_is_whole(
    proxied: tuple[FaultProxy, S3Client], s3: S3Client
) -> None:
    body = bytes(range(256)) * 12_000  # ~3 MiB: several chunks
    put(s3, "uploads/big.png", body, name="big.png", thumb=False)
    proxy, client = proxied
    proxy.inject(Fault("cut", times=1, match=lambda m, p: m == "GET" and "big.png" in p))
    out = io.BytesIO()
    report = zipdown.write_zip(client, B, bulk.select_keys(client, B, ["uploads/"]), out)
    assert report.resumed_reads == 1
    assert zipfile.ZipFile(out).read("big.png") == body


# ------------------------------------------------------------------------------------------ delete
def test_folder_delete_uses_one_request_per_1000_keys_and_needs_the_typed_name(
    s3: S3Client, s3_calls: CallCounter
) -> None:
    from tests.support.seeding import seed

    seed(B, [(f"old/{n:05d}.png", 1) for n in range(2000)] + [("keep/a.png", 1)])
    plan = bulk_delete.plan_delete(s3, B, bulk.select_folder(s3, B, "old/"))
    assert plan.selection.count == 2000 and plan.operations == 2
    with pytest.raises(InvalidInput, match="permanent"):
        bulk_delete.check_confirmation(plan, "old/", "ol")
    bulk_delete.check_confirmation(plan, "old/", "old")
    s3_calls.reset()
    steps: list[tuple[int, int]] = []
    report = bulk_delete.run_delete(s3, B, plan, progress=lambda d, t: steps.append((d, t)))
    assert report.ok and len(report.deleted) == 2000
    assert s3_calls.calls["DeleteObjects"] == 2 and s3_calls.total == 2 and steps == [(1, 2), (2, 2)]
    assert list(keys(s3)) == ["keep/a.png"]


def test_delete_can_stop_between_batches(s3: S3Client) -> None:
    from tests.support.seeding import seed

    seed(B, [(f"old/{n:05d}.png", 1) for n in range(1500)])
    plan = bulk_delete.plan_delete(s3, B, bulk.select_folder(s3, B, "old/"))
    report = bulk_delete.run_delete(s3, B, plan, should_stop=lambda: len(keys(s3, "old/")) < 1500)
    assert len(report.deleted) == 1000 and report.remaining == 500 and not report.ok


# ------------------------------------------------------------------------------------------ zip
def test_zip_names_are_safe_on_every_os_and_unique() -> None:
    names = zipdown.Names()
    got = [
        names.claim(n)
        for n in ("../../etc/passwd", "/abs/a.png", "a.png", "A.PNG", "CON.png", "x<y>:z?.png", "end. ", "", "..")
    ]
    assert got == [
        *("passwd", "a.png", "a (2).png", "A (3).PNG", "_CON.png"),
        *("x_y__z_.png", "end", "unnamed", "unnamed (2)"),
    ]


def test_zip_streams_with_flat_memory_and_original_names(s3: S3Client, s3_endpoint: str) -> None:
    body = b"\x89PNG" + bytes(16 * 1024 * 1024)
    for n in range(4):
        put(s3, f"uploads/{n}.png", body, name="holiday.png", thumb=False)
    # 64 MiB through the process (the command line's path): it grows by a few chunks, not by the data
    growth, _ = zip_growth(env_for(s3_endpoint), "cli", "uploads/")
    assert growth < 16 * 1024**2, f"the process grew by {growth / 1024**2:.1f} MiB for 64 MiB"
    selection = bulk.select_folder(s3, B, "uploads/")
    out = io.BytesIO()
    zipdown.write_zip(s3, B, selection, out)
    archive = zipfile.ZipFile(out)
    assert archive.namelist() == ["holiday.png", "holiday (2).png", "holiday (3).png", "holiday (4).png"]
    assert archive.read("holiday (4).png") == body
    with pytest.raises(InvalidInput, match="limit"):
        zipdown.write_zip(s3, B, selection, io.BytesIO(), max_bytes=1024)


# ------------------------------------------------------------------------------------------ command line
def test_cli_mv_dry_run_changes_nothing_then_moves_and_audits(
    s3: S3Client, s3_endpoint: str, seeded: dict[str, bytes]
) -> None:
    env = env_for(s3_endpoint)
    code, out, _ = run(["mv", "uploads/0.png", "uploads/1.png", "archive/", "--dry-run", "--json"], env)
    assert code == 0 and json.loads(out)["operations"] == 5  # 2 copies, 2 thumbnails, 1 delete
    assert "archive/0.png" not in keys(s3)
    code, out, err = run(["mv", "uploads/0.png", "uploads/1.png", "archive/", "--json"], env)
    assert code == 0, err
    assert {d["dest"] for d in json.loads(out)["done"]} == {"archive/0.png", "archive/1.png"}
    [event] = audit_events(s3)
    assert event["action"] == "move" and "2 objects" in str(event["target"])
    assert "uploads/0.png" in str(event["detail"])
    code, _, err = run(["mv", "uploads/0.png", "archive/"], env)
    assert code == 1 and "does not exist" in err


def test_cli_rm_refuses_without_yes_and_folder_without_recursive(
    s3: S3Client, s3_endpoint: str, seeded: dict[str, bytes]
) -> None:
    env = env_for(s3_endpoint)
    assert run(["rm", "uploads/"], env)[0] == 2
    code, out, _ = run(["rm", "-r", "uploads/"], env)
    assert code == 2 and "permanent" in out and len(keys(s3, "uploads/")) == 5
    code, out, _ = run(["rm", "-r", "uploads/", "--dry-run", "--json"], env)
    assert code == 0 and json.loads(out)["operations"] == 1 and json.loads(out)["count"] == 5
    code, out, _ = run(["rm", "-r", "uploads/", "--yes"], env)
    assert code == 0 and keys(s3) == {}
    assert [e["action"] for e in audit_events(s3)] == ["delete"]


def test_cli_zip_writes_a_file_and_leaves_nothing_when_it_fails(
    s3: S3Client, s3_endpoint: str, seeded: dict[str, bytes], tmp_path: object
) -> None:
    from pathlib import Path

    target = Path(str(tmp_path)) / "out.zip"
    code, _, err = run(["zip", "uploads/", "-o", str(target)], env_for(s3_endpoint))
    assert code == 0, err
    assert sorted(zipfile.ZipFile(target).namelist())[:2] == ["photo 0.png", "photo 1.png"]
    target.unlink()
    with FaultProxy(s3_endpoint) as proxy:
        proxy.inject(Fault("close", match=lambda m, p: m == "GET" and "3.png" in p))
        code, _, err = run(["zip", "uploads/", "-o", str(target)], env_for(proxy.endpoint))
    assert code == 1 and "could not" in err.lower() and "Traceback" not in err
    assert list(target.parent.glob("*.zip")) == []


def test_the_apps_zip_holds_one_part_in_memory_whatever_its_size(s3: S3Client, s3_endpoint: str) -> None:
    for n in range(4):
        put(s3, f"uploads/{n}.png", b"\x89PNG" + os.urandom(8 * 1024 * 1024), name=f"{n}.png", thumb=False)
    growth, _ = zip_growth(env_for(s3_endpoint), "app", "uploads/")
    # 32 MiB through the process; a part is 8 MiB, and a copy of it would double that
    assert growth < zipdown.PART + 4 * 1024 * 1024, f"the process grew by {growth / 1024**2:.1f} MiB"
    (made,) = s3.list_objects_v2(Bucket=B, Prefix=zipdown.ZIP_PREFIX)["Contents"]
    assert made["Size"] > 4 * 8 * 1024 * 1024


def test_the_apps_zip_is_built_in_the_bucket_and_a_cut_leaves_no_half_zip(
    proxied: tuple[FaultProxy, S3Client], s3: S3Client
) -> None:
    body = bytes(range(256)) * 40_000  # ~10 MiB: two parts
    put(s3, "uploads/a.png", body, name="a.png", thumb=False)
    put(s3, "uploads/b.png", b"small", name="b.png", thumb=False)
    proxy, client = proxied
    selection = bulk.select_folder(client, B, "uploads/")
    key, report = zipdown.zip_to_bucket(client, B, selection)
    assert key.startswith(zipdown.ZIP_PREFIX) and report.bytes == len(body) + 5
    stored = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=B, Key=key)["Body"].read()))
    assert stored.read("a.png") == body and stored.read("b.png") == b"small"
    proxy.inject(Fault("close", match=lambda m, p: m == "PUT" and "partNumber=2" in p))
    with pytest.raises(R2Error):
        zipdown.zip_to_bucket(client, B, selection)
    zips = s3.list_objects_v2(Bucket=B, Prefix=zipdown.ZIP_PREFIX).get("Contents", [])
    assert [z["Key"] for z in zips] == [key]  # only the first, finished ZIP
    assert s3.list_multipart_uploads(Bucket=B).get("Uploads", []) == []


def test_rename_changes_the_display_name_only(s3: S3Client, settings: Settings, seeded: dict[str, bytes]) -> None:
    before = s3.head_object(Bucket=B, Key="uploads/0.png")
    assert bulk_actions.rename(s3, B, "uploads/0.png", "  ../Été 2026.png ") == "Été 2026.png"
    after = s3.head_object(Bucket=B, Key="uploads/0.png")
    assert after["Metadata"]["original-name"] == "%C3%89t%C3%A9%202026.png"
    assert after["ETag"] == before["ETag"] and after["ContentType"] == "image/png"
    assert keys(s3)["uploads/0.png"] == seeded["uploads/0.png"]
    with pytest.raises(InvalidInput):
        bulk_actions.rename(s3, B, "uploads/0.png", "   ")
    with pytest.raises(InvalidInput):
        bulk_actions.rename(s3, B, ".thumbs/uploads/0.png.webp", "x.png")


def test_the_zip_size_cap_is_a_setting(s3: S3Client, s3_endpoint: str, seeded: dict[str, bytes]) -> None:
    code, _, err = run(["zip", "uploads/", "-o", "-"], env_for(s3_endpoint, R2_ZIP_MAX_MB="0.00001"))
    assert code == 2 and "between" in err  # below the smallest cap: a settings problem
    assert settings_for(s3_endpoint, R2_ZIP_MAX_MB="1").zip_max_mb == 1
