"""The upload pipeline against the real local S3 server: what is stored, what is refused, what it costs."""

from __future__ import annotations

import io
import re

import pytest
from PIL import ExifTags, Image

from r2 import images, uploads
from r2.audit import AUDIT_PREFIX, AuditEvent
from r2.client import CallCounter
from r2.errors import AlreadyExists, Unavailable
from r2.naming import (
    META_FORMAT,
    META_HEIGHT,
    META_ORIGINAL_NAME,
    META_THUMBNAIL,
    META_UPLOADED_BY,
    META_WIDTH,
    thumbnail_key,
)
from r2.settings import Settings
from r2.thumbnails import thumbnail_of
from r2.uploads import Rejected, Uploaded, decode_name, upload_file, upload_files
from tests.support import corpus
from tests.support.env import settings_for

KEY = re.compile(r"^uploads/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.(jpg|png|webp|gif|avif)$")


def all_keys(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_jpeg_with_gps_is_stored_clean_with_thumbnail_metadata_and_audit(
    settings: Settings,
    s3,  # type: ignore[no-untyped-def]
    s3_calls: CallCounter,
) -> None:
    result = upload_file(s3, settings, corpus.HOSTILE_NAME, corpus.jpeg_gps((800, 600)), actor="ana@example.com")
    assert isinstance(result, Uploaded), result
    assert KEY.match(result.key) and result.key.endswith(".jpg")
    assert (result.format, result.width, result.height) == ("JPEG", 800, 600)
    assert set(result.removed) == {"GPS location", "XMP"} and result.problems == ()
    # Three writes: thumbnail, original, audit event. No reads, no listing.
    assert s3_calls.calls == {"PutObject": 3}

    stored = s3.get_object(Bucket=settings.bucket, Key=result.key)
    body = stored["Body"].read()
    assert stored["ContentType"] == "image/jpeg"
    assert stored["CacheControl"] == "private, max-age=31536000, immutable"
    with Image.open(io.BytesIO(body)) as image:
        exif = image.getexif()
        assert ExifTags.IFD.GPSInfo not in exif and exif[ExifTags.Base.Orientation] == 6
        assert "xmp" not in image.info
    meta = stored["Metadata"]
    assert meta[META_WIDTH] == "800" and meta[META_HEIGHT] == "600" and meta[META_FORMAT] == "JPEG"
    assert meta[META_THUMBNAIL] == "yes" and meta[META_UPLOADED_BY] == "ana@example.com"
    assert meta[META_ORIGINAL_NAME].isascii()
    assert decode_name(meta[META_ORIGINAL_NAME]).startswith("ü" * 80)

    thumb = s3.get_object(Bucket=settings.bucket, Key=thumbnail_key(result.key))
    assert result.thumbnail_key == thumbnail_key(result.key)
    assert thumb["ContentType"] == "image/webp"
    with Image.open(io.BytesIO(thumb["Body"].read())) as image:
        assert image.size == (240, 320)  # orientation 6 applied: portrait

    events = [k for k in all_keys(s3, settings.bucket) if k.startswith(AUDIT_PREFIX)]
    assert len(events) == 1
    event = AuditEvent.from_json(s3.get_object(Bucket=settings.bucket, Key=events[0])["Body"].read())
    assert (event.actor, event.action, event.target, event.outcome) == ("ana@example.com", "upload", result.key, "ok")
    assert "GPS location" in event.detail


def test_strip_all_is_visible_on_the_stored_object(s3_endpoint: str, s3) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(s3_endpoint, R2_STRIP_METADATA="all")
    result = upload_file(s3, settings, "p.jpg", corpus.jpeg_gps(), actor="t")
    assert isinstance(result, Uploaded)
    body = s3.get_object(Bucket=settings.bucket, Key=result.key)["Body"].read()
    with Image.open(io.BytesIO(body)) as image:
        assert dict(image.getexif()) == {ExifTags.Base.Orientation: 6}
        assert "comment" not in image.info and "xmp" not in image.info


@pytest.mark.parametrize(
    ("make", "ext", "ctype"),
    [
        (corpus.png_gps, "png", "image/png"),
        (corpus.webp_gps, "webp", "image/webp"),
        (corpus.gif_xmp, "gif", "image/gif"),
        (corpus.avif_gps, "avif", "image/avif"),
    ],
)
def test_extension_and_content_type_come_from_the_content(  # type: ignore[no-untyped-def]
    make, ext: str, ctype: str, settings: Settings, s3
) -> None:
    result = upload_file(s3, settings, "named-wrongly.png", make(), actor="t")
    assert isinstance(result, Uploaded) and result.key.endswith(f".{ext}")
    head = s3.head_object(Bucket=settings.bucket, Key=result.key)
    assert head["ContentType"] == ctype
    body = s3.get_object(Bucket=settings.bucket, Key=result.key)["Body"].read()
    with Image.open(io.BytesIO(body)) as image:
        assert ExifTags.IFD.GPSInfo not in image.getexif() and not image.info.get("xmp")


def test_second_put_of_an_existing_key_is_refused_and_the_first_is_unchanged(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    first = upload_file(s3, settings, "a.png", corpus.plain("PNG"), actor="t")
    assert isinstance(first, Uploaded)
    before = s3.get_object(Bucket=settings.bucket, Key=first.key)
    thumb_before = s3.head_object(Bucket=settings.bucket, Key=thumbnail_key(first.key))["ETag"]
    keys_before = all_keys(s3, settings.bucket)

    second = upload_file(s3, settings, "b.png", corpus.png_gps(), actor="t", key=first.key)
    assert isinstance(second, Rejected)
    assert "already" in second.reason and "Nothing was overwritten" in second.reason
    after = s3.get_object(Bucket=settings.bucket, Key=first.key)
    assert after["ETag"] == before["ETag"] and after["Body"].read() == before["Body"].read()
    assert s3.head_object(Bucket=settings.bucket, Key=thumbnail_key(first.key))["ETag"] == thumb_before
    assert all_keys(s3, settings.bucket) == keys_before  # no audit event, no new thumbnail


def test_a_refused_original_takes_its_new_thumbnail_with_it(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    # An object that exists without a thumbnail: the new thumbnail is written, then the original's
    # conditional PUT fails (412), and the thumbnail must be deleted again: nothing half-done.
    s3.put_object(Bucket=settings.bucket, Key="uploads/taken.jpg", Body=b"first")
    result = upload_file(s3, settings, "x.jpg", corpus.plain("JPEG"), actor="t", key="uploads/taken.jpg")
    assert isinstance(result, Rejected) and "already exists" in result.reason
    assert "changed meanwhile" not in result.reason  # only If-None-Match was sent: the key is taken, that's all
    assert all_keys(s3, settings.bucket) == ["uploads/taken.jpg"]
    assert s3.get_object(Bucket=settings.bucket, Key="uploads/taken.jpg")["Body"].read() == b"first"


def test_batch_with_bad_files_stores_the_good_ones_and_nothing_of_the_bad(  # type: ignore[no-untyped-def]
    settings: Settings, s3, tmp_path
) -> None:
    disk = tmp_path / "on-disk.webp"
    disk.write_bytes(corpus.plain("WEBP"))
    files = [
        ("ok.jpg", corpus.plain("JPEG")),
        ("evil.png", corpus.HTML),
        ("bomb.png", corpus.png_bomb()),
        ("empty.gif", b""),
        ("drawing.svg", corpus.SVG),
        ("cut.jpg", corpus.truncated_jpeg()),
        ("disk.webp", disk),
    ]
    progress: list[int] = []
    results = upload_files(s3, settings, files, actor="t", on_progress=lambda done, r: progress.append(done))
    assert progress == list(range(1, 8))
    assert [r.status for r in results] == ["uploaded", *["rejected"] * 5, "uploaded"]
    assert "HTML" in results[1].reason and "megapixels" in results[2].reason and "empty" in results[3].reason
    assert "SVG" in results[4].reason and "truncated" in results[5].reason
    stored = [r.key for r in results if isinstance(r, Uploaded)]
    listed = [k for k in all_keys(s3, settings.bucket) if not k.startswith(AUDIT_PREFIX)]
    assert sorted(listed) == sorted([*stored, *(thumbnail_key(k) for k in stored)])


def test_an_unexpected_error_in_one_file_is_reported_and_the_batch_goes_on(  # type: ignore[no-untyped-def]
    settings: Settings, s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever a decoder or a bug raises, the batch reports every file and stores nothing unreported.
    real = images.clean

    def flaky(source, policy, **kwargs):  # type: ignore[no-untyped-def]
        if source == b"boom":
            raise RuntimeError("a decoder bug")
        return real(source, policy, **kwargs)

    monkeypatch.setattr(images, "clean", flaky)
    files = [("a.png", corpus.plain("PNG")), ("b.png", b"boom"), ("c.jpg", corpus.plain("JPEG"))]
    results = upload_files(s3, settings, files, actor="t")
    assert [r.status for r in results] == ["uploaded", "rejected", "uploaded"]
    assert results[1].reason == uploads.UNEXPECTED_ERROR
    stored = [r.key for r in results if isinstance(r, Uploaded)]
    listed = [k for k in all_keys(s3, settings.bucket) if not k.startswith(AUDIT_PREFIX)]
    assert sorted(listed) == sorted([*stored, *(thumbnail_key(k) for k in stored)])


def test_a_thumbnail_failure_keeps_the_original_and_says_so(  # type: ignore[no-untyped-def]
    settings: Settings, s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Unavailable("Could not store the thumbnail: the endpoint cannot be reached.")

    monkeypatch.setattr(uploads.storing, "store_thumbnail", failing)
    result = upload_file(s3, settings, "a.jpg", corpus.plain("JPEG"), actor="t")
    assert isinstance(result, Uploaded) and result.thumbnail_key is None
    assert any("thumbnail was not stored" in p and "regenerate" in p for p in result.problems)
    head = s3.head_object(Bucket=settings.bucket, Key=result.key)
    assert head["Metadata"][META_THUMBNAIL] == "no"


def test_an_audit_failure_is_reported_not_dropped(settings: Settings, s3, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Unavailable("Could not write the audit event: the endpoint cannot be reached.")

    monkeypatch.setattr(uploads.batch, "record", failing)
    result = upload_file(s3, settings, "a.jpg", corpus.plain("JPEG"), actor="t")
    assert isinstance(result, Uploaded)
    assert any("audit event was not written" in p for p in result.problems)


def test_folder_allow_list(s3_endpoint: str, s3) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(s3_endpoint, R2_FOLDERS="clinics,products")
    ok = upload_file(s3, settings, "a.png", corpus.plain("PNG"), folder="products", actor="t")
    assert isinstance(ok, Uploaded) and ok.key.startswith("products/")
    bad = upload_file(s3, settings, "a.png", corpus.plain("PNG"), folder="../secret", actor="t")
    assert isinstance(bad, Rejected) and "may not go to the folder" in bad.reason
    assert upload_file(s3, settings, "a.png", corpus.plain("PNG"), actor="t").key.startswith("clinics/")


def test_an_original_that_arrived_another_way_is_stored_clean_under_its_final_key_never_overwriting(  # type: ignore[no-untyped-def]
    settings: Settings, s3, tmp_path
) -> None:
    # What a direct browser upload does next: plan (key, limits), the browser PUTs the raw bytes to a
    # staging key, the app checks the file on disk and writes the cleaned version to the final key.
    plan = uploads.plan_upload(settings, "phone photo.jpg", len(corpus.jpeg_gps()), "image/jpeg")
    staged = f".dashboard/direct/0123456789abcdef0123456789abcdef/{plan.key}"
    etag = s3.put_object(Bucket=settings.bucket, Key=staged, Body=corpus.jpeg_gps(), IfNoneMatch="*")["ETag"]
    raw = tmp_path / "download.jpg"
    raw.write_bytes(s3.get_object(Bucket=settings.bucket, Key=staged)["Body"].read())
    checked = images.clean(raw, plan.policy, thumb_size=320, thumbnail=thumbnail_of)
    thumb_key, problems = uploads.store(
        s3,
        settings.bucket,
        plan.key,
        checked,
        original_name=plan.original_name,
        uploaded_by="t",
        copy_from=(staged, etag),
    )
    assert thumb_key == thumbnail_key(plan.key) and problems == ()
    stored = s3.get_object(Bucket=settings.bucket, Key=plan.key)
    assert stored["Metadata"][META_ORIGINAL_NAME] == "phone%20photo.jpg"
    with Image.open(io.BytesIO(stored["Body"].read())) as image:
        assert ExifTags.IFD.GPSInfo not in image.getexif()
    # A final key that is taken (by anything else) is never overwritten, and the new thumbnail is removed again.
    s3.delete_object(Bucket=settings.bucket, Key=thumb_key)
    s3.put_object(Bucket=settings.bucket, Key=plan.key, Body=b"someone else's")
    with pytest.raises(AlreadyExists, match="already exists"):
        uploads.store(
            s3, settings.bucket, plan.key, checked, original_name="x", uploaded_by="t", copy_from=(staged, etag)
        )
    assert s3.get_object(Bucket=settings.bucket, Key=plan.key)["Body"].read() == b"someone else's"
    assert s3.list_objects_v2(Bucket=settings.bucket, Prefix=".thumbs/").get("KeyCount", 0) == 0
