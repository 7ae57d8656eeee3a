import io

import pytest
from PIL import EpsImagePlugin, Image

from r2.audit import recent
from r2.errors import AlreadyExists
from r2.local import sample_image
from r2.naming import thumbnail_key
from r2.settings import Settings
from r2.thumbnails import make_thumbnail, regenerate, store_thumbnail
from tests.support import corpus
from tests.support.env import settings_for

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\nnewpath 0 0 moveto 100 100 lineto stroke\n"


def test_thumbnail_is_small_upright_webp() -> None:
    image = Image.new("RGB", (1200, 600), "red")
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° to display
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    thumb = Image.open(io.BytesIO(make_thumbnail(out.getvalue())))
    assert thumb.format == "WEBP"
    assert thumb.size == (160, 320)  # rotated: portrait


def test_regenerate_stores_thumbnails_and_reports_failures(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=settings.bucket, Key="a/ok.jpg", Body=sample_image(1))
    s3.put_object(Bucket=settings.bucket, Key="a/bad.png", Body=b"<html>not an image</html>")
    progress: list[int] = []
    result = regenerate(
        s3, settings, ["a/ok.jpg", "a/bad.png"], actor="ann", on_progress=lambda done, total, key: progress.append(done)
    )
    assert result.made == ("a/ok.jpg",)
    assert result.failed[0][0] == "a/bad.png" and "HTML page or script" in result.failed[0][1]
    assert progress == [1, 2]
    head = s3.head_object(Bucket=settings.bucket, Key=thumbnail_key("a/ok.jpg"))
    assert head["ContentType"] == "image/webp"


def test_regenerate_holds_the_upload_limits(s3_endpoint: str, s3, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # Regenerating must not open whatever Pillow can open: no file past the pixel cap, never Ghostscript.
    settings = settings_for(s3_endpoint, R2_MAX_MEGAPIXELS="1", R2_MAX_UPLOAD_MB="1")
    ghostscript: list[object] = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *args, **kwargs: ghostscript.append(args))
    objects = {
        "a/huge.png": corpus.plain("PNG", (2000, 1000)),  # 2 MP: over the 1 MP cap
        "a/doc.png": EPS,  # an EPS named .png
        "a/scan.png": _tiff(),  # a format Pillow reads and uploads refuse
        "a/big.png": corpus.plain("PNG", (600, 600)) + b"\0" * (1024 * 1024),  # over the 1 MiB size limit
        "a/fine.png": corpus.plain("PNG", (600, 400)),
    }
    for key, body in objects.items():
        s3.put_object(Bucket=settings.bucket, Key=key, Body=body)
    result = regenerate(s3, settings, list(objects), actor="ann")
    reasons = dict(result.failed)
    assert result.made == ("a/fine.png",)
    assert "megapixels" in reasons["a/huge.png"]
    assert "not accepted" in reasons["a/doc.png"] or "not an image of an accepted format" in reasons["a/doc.png"]
    assert "TIFF image (not accepted)" in reasons["a/scan.png"]
    assert "the limit is 1 MiB" in reasons["a/big.png"]
    assert ghostscript == [], "no outside program may be run on a stored object"
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket, Prefix=".thumbs/").get("Contents", [])}
    assert stored == {thumbnail_key("a/fine.png")}


def test_regenerate_writes_one_audit_event(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=settings.bucket, Key="a/ok.jpg", Body=sample_image(1))
    s3.put_object(Bucket=settings.bucket, Key="a/bad.png", Body=b"not an image")
    result = regenerate(s3, settings, ["a/ok.jpg", "a/bad.png"], actor="ann@example.com", target="a/")
    assert result.audit_error == ""
    (event,) = recent(s3, settings.bucket)
    assert (event.actor, event.action, event.target, event.outcome) == ("ann@example.com", "thumbnails", "a/", "failed")
    assert "made 1 of 2" in event.detail and "a/bad.png" in event.detail


def _tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, "TIFF")
    return out.getvalue()


def test_a_new_thumbnail_never_replaces_one_that_exists(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    store_thumbnail(s3, settings.bucket, "uploads/a.jpg", b"first", if_new=True)
    with pytest.raises(AlreadyExists) as refused:
        store_thumbnail(s3, settings.bucket, "uploads/a.jpg", b"second", if_new=True)
    assert "already exists" in str(refused.value) and "changed meanwhile" not in str(refused.value)
    assert s3.get_object(Bucket=settings.bucket, Key=thumbnail_key("uploads/a.jpg"))["Body"].read() == b"first"
