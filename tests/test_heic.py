"""HEIC/HEIF uploads: accepted by content, stored as a JPEG every browser shows, no location.

Photos are made by pillow-heif here (tests/support/heic.py), plus Pillow's own `hopper.heif`. The stored
bytes are judged by exiftool, not by our own parsers.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from r2 import images
from r2.client import S3Client
from r2.direct import SWEEP_GRACE_SECONDS, Offer, plan, sweep, verify
from r2.images import ImagePolicy, ImageRejected
from r2.naming import thumbnail_key
from r2.settings import Settings
from r2.thumbnails import THUMB_SIZE, thumbnail_of
from r2.uploads import Rejected, Uploaded, plan_upload, upload_file
from tests.support.env import settings_for
from tests.support.heic import DATE, MAKE, MODEL, heic_photo, heif_corpus
from tests.support.outside import exiftool, locations, pillow_images

POLICY = ImagePolicy()


def _judged(tmp_path: Path, body: bytes) -> dict[str, object]:
    path = tmp_path / "stored.jpg"
    path.write_bytes(body)
    # Sony's FocusLocation (maker notes) is the autofocus point in pixels, not a place: the rest must be empty
    found = {k: v for k, v in locations(path).items() if not k.endswith(":FocusLocation")}
    assert found == {}, f"a location survived the conversion: {found}"
    return exiftool(path)


def _upright_blue_top_right(body: bytes) -> None:
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "JPEG"
        assert image.size == (48, 64)  # the photo was 64x48 turned by orientation 6
        r, _g, b = image.convert("RGB").getpixel((image.width - 2, 1))  # type: ignore[misc]
        assert b > 150 and r < 80, "the blue corner is where the phone showed it"


# ---------------------------------------------------------------- the conversion


def test_a_heic_photo_is_stored_as_an_upright_jpeg_without_location(tmp_path: Path) -> None:
    photo = heic_photo()
    clean = images.clean(photo, POLICY)
    assert (clean.info.format, clean.info.content_type, clean.info.ext) == ("JPEG", "image/jpeg", "jpg")
    assert clean.info.converted_from == "HEIC"
    assert (clean.info.width, clean.info.height) == (48, 64)
    assert any("converted from HEIC" in w for w in clean.removed) and "XMP" in clean.removed
    _upright_blue_top_right(clean.body)
    tags = _judged(tmp_path, clean.body)
    assert not any(k.startswith("XMP") for k in tags), "XMP survived"
    assert tags["IFD0:Make"] == MAKE and tags["IFD0:Model"] == MODEL
    assert tags["ExifIFD:DateTimeOriginal"] == DATE
    assert tags.get("IFD0:Orientation", 1) == 1  # the pixels are turned: no second turn by a viewer
    with Image.open(io.BytesIO(photo)) as original, Image.open(io.BytesIO(clean.body)) as image:
        icc = original.info.get("icc_profile")
        assert icc and image.info.get("icc_profile") == icc  # colours as the phone meant them


def test_strip_all_keeps_no_exif_at_all(tmp_path: Path) -> None:
    clean = images.clean(heic_photo(), ImagePolicy(strip="all"))
    tags = _judged(tmp_path, clean.body)
    assert "IFD0:Make" not in tags and "ExifIFD:DateTimeOriginal" not in tags
    _upright_blue_top_right(clean.body)  # orientation applied to the pixels, so nothing is needed


def test_quality_setting_is_used() -> None:
    photo = heic_photo((640, 480))
    low = images.clean(photo, ImagePolicy(jpeg_quality=40))
    high = images.clean(photo, ImagePolicy(jpeg_quality=95))
    assert low.size < high.size


def test_pillows_own_heif_sample_is_converted(tmp_path: Path) -> None:
    clean = images.clean(pillow_images() / "avif" / "hopper.heif", POLICY)
    assert (clean.info.format, clean.info.width, clean.info.height) == ("JPEG", 128, 128)
    _judged(tmp_path, clean.body)


# Of pillow-heif's 51 test files these are refused, each with a reason; every other one is stored.
REFUSED = {
    "heif_corrupted/corrupted.heic": "truncated or corrupt",
    "heif_corrupted/corrupted.hif": "truncated or corrupt",
    "heif_corrupted/empty.heic": "empty",
    "heif_special/200MP.heic": "200 megapixels",
    "heif_truncated/truncated.heic": "truncated or corrupt",
}


def test_every_real_heif_is_stored_without_location_or_refused_with_a_reason(tmp_path: Path) -> None:
    files = heif_corpus()
    root = files[0].parents[1]
    stored = 0
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            clean = images.clean(path, ImagePolicy(max_bytes=50 * 1024 * 1024))
        except ImageRejected as exc:
            assert name in REFUSED and REFUSED[name] in str(exc), (name, str(exc))
            continue
        assert name not in REFUSED, name
        assert clean.info.format == "JPEG" and clean.info.converted_from == "HEIC", name
        tags = _judged(tmp_path, clean.body)  # exiftool: no location in any group
        assert not any(k.startswith("XMP") for k in tags), name
        stored += 1
    assert stored == len(files) - len(REFUSED) >= 40


def test_a_phone_photo_with_a_rotation_is_stored_upright() -> None:
    (guitar,) = [p for p in heif_corpus() if p.name == "guitar_cw90.hif"]
    with Image.open(guitar) as raw:
        assert raw.size == (4672, 7008)  # libheif applies the HEIF rotation
    clean = images.clean(guitar, ImagePolicy(max_bytes=50 * 1024 * 1024))
    with Image.open(io.BytesIO(clean.body)) as image:
        assert image.size == (4672, 7008) and image.getexif().get(0x0112, 1) == 1


@pytest.mark.parametrize("name", ["zPug_3.heic", "alpha.heic"])
def test_the_thumbnail_shows_the_primary_image_that_is_stored(name: str) -> None:
    (path,) = [p for p in heif_corpus() if p.name == name]  # their primary image is not the first
    clean = images.clean(path, POLICY, thumb_size=THUMB_SIZE, thumbnail=thumbnail_of)
    assert clean.thumbnail is not None
    with Image.open(io.BytesIO(clean.body)) as stored:
        expected = np.asarray(Image.open(io.BytesIO(thumbnail_of(stored))).convert("RGB"), dtype=float)
    with Image.open(io.BytesIO(clean.thumbnail)) as thumb:
        got = np.asarray(thumb.convert("RGB"), dtype=float)
    assert got.shape == expected.shape and np.abs(got - expected).mean() < 4, "another picture than the stored one"


def test_clean_file_converts_file_to_file(tmp_path: Path) -> None:
    source = tmp_path / "IMG_1234.HEIC"
    source.write_bytes(heic_photo())
    result = images.clean_file(source, POLICY, tmp_path / "out")
    assert result.changed and result.path == tmp_path / "out" and result.info.format == "JPEG"
    assert result.size == result.path.stat().st_size
    _upright_blue_top_right(result.path.read_bytes())


# ---------------------------------------------------------------- limits and refusals


def test_heic_can_be_switched_off_and_is_then_refused_with_a_reason(s3_endpoint: str) -> None:
    settings = settings_for(s3_endpoint, R2_IMAGE_FORMATS="JPEG,PNG")
    with pytest.raises(ImageRejected, match="HEIC"):
        images.clean(heic_photo(), ImagePolicy.from_settings(settings))
    assert "HEIC" in settings_for(s3_endpoint).image_formats  # on by default
    assert settings_for(s3_endpoint, R2_IMAGE_FORMATS="heif,jpg").image_formats == ("HEIC", "JPEG")


def test_the_jpeg_quality_setting_is_validated(s3_endpoint: str) -> None:
    assert settings_for(s3_endpoint).heic_jpeg_quality == 90
    assert settings_for(s3_endpoint, R2_HEIC_JPEG_QUALITY="75").heic_jpeg_quality == 75
    with pytest.raises(Exception, match="R2_HEIC_JPEG_QUALITY"):
        settings_for(s3_endpoint, R2_HEIC_JPEG_QUALITY="101")


def test_pixel_cap_applies(s3_endpoint: str) -> None:
    with pytest.raises(ImageRejected, match="megapixels"):
        images.clean(heic_photo((200, 100)), ImagePolicy(max_pixels=10_000))


def test_all_images_of_a_heif_count_against_the_limit() -> None:
    photo = heic_photo((100, 100), frames=5)  # 5 x 10,000 pixels
    with pytest.raises(ImageRejected, match="too many pixels"):
        images.clean(photo, ImagePolicy(max_pixels=12_000))  # each fits, all together (x4) do not
    assert images.clean(photo, ImagePolicy(max_pixels=20_000)).info.format == "JPEG"  # the primary image


def test_a_truncated_heic_is_refused_with_a_reason() -> None:
    photo = heic_photo((256, 256))
    with pytest.raises(ImageRejected) as caught:
        images.clean(photo[: len(photo) // 2], POLICY)
    assert "HEIC" in str(caught.value) or "HEIF" in str(caught.value)


# ---------------------------------------------------------------- the app path and the CLI


def test_the_app_path_stores_a_jpeg_key_with_the_original_name(
    settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    result = upload_file(s3, settings, "IMG_1234.HEIC", heic_photo(), actor="ana@example.com")
    assert isinstance(result, Uploaded), result
    assert result.key.endswith(".jpg") and result.content_type == "image/jpeg" and result.format == "JPEG"
    head = s3.head_object(Bucket=settings.bucket, Key=result.key)
    assert head["ContentType"] == "image/jpeg"
    assert head["Metadata"]["original-name"] == "IMG_1234.HEIC" and head["Metadata"]["format"] == "JPEG"
    s3.head_object(Bucket=settings.bucket, Key=thumbnail_key(result.key))
    _upright_blue_top_right(s3.get_object(Bucket=settings.bucket, Key=result.key)["Body"].read())
    _judged(tmp_path, s3.get_object(Bucket=settings.bucket, Key=result.key)["Body"].read())


def test_the_app_path_refuses_a_damaged_heic_with_a_reason(settings: Settings, s3: S3Client) -> None:
    photo = heic_photo((256, 256))
    result = upload_file(s3, settings, "IMG_1.HEIC", photo[:200], actor="a")
    assert isinstance(result, Rejected) and result.reason
    assert not s3.list_objects_v2(Bucket=settings.bucket).get("Contents")


def test_the_cli_uploads_heic(s3: S3Client, s3_endpoint: str, tmp_path: Path) -> None:
    from tests.support.cli import run
    from tests.support.env import env_for

    source = tmp_path / "IMG_0001.heic"
    source.write_bytes(heic_photo())
    code, out, err = run(["upload", str(source)], env_for(s3_endpoint))
    assert code == 0, err + out
    key = out.split()[1]
    assert key.endswith(".jpg")
    assert s3.head_object(Bucket=settings_for(s3_endpoint).bucket, Key=key)["ContentType"] == "image/jpeg"


# ---------------------------------------------------------------- the direct path


def test_a_heic_offer_is_signed_for_heic_bytes_and_a_jpeg_final_key(settings: Settings) -> None:
    planned = plan_upload(settings, "IMG_1234.HEIC", 1000, "")
    assert planned.format == "HEIC" and planned.content_type == "image/heic" and planned.key.endswith(".jpg")


def _staged_heic(s3: S3Client, settings: Settings, body: bytes) -> object:
    (ticket,), refused = plan(s3, settings, [Offer("b-0", "IMG_1234.HEIC", len(body), "image/heic")], None, actor="a")
    assert not refused
    assert ticket.key.endswith(".jpg") and ticket.staged.endswith(".heic")
    response = requests.put(ticket.url, data=body, headers=ticket.headers, timeout=30)
    assert response.status_code == 200, response.text
    return ticket


def test_a_direct_heic_upload_is_converted_by_the_servers_check(
    settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    ticket = _staged_heic(s3, settings, heic_photo())
    outcome = verify(s3, settings, ticket, actor="ana@example.com")  # type: ignore[arg-type]
    assert outcome.status == "stored", outcome.message
    assert outcome.key.endswith(".jpg") and outcome.format == "JPEG" and (outcome.width, outcome.height) == (48, 64)
    head = s3.head_object(Bucket=settings.bucket, Key=outcome.key)
    assert head["ContentType"] == "image/jpeg" and head["Metadata"]["original-name"] == "IMG_1234.HEIC"
    body = s3.get_object(Bucket=settings.bucket, Key=outcome.key)["Body"].read()
    _upright_blue_top_right(body)
    _judged(tmp_path, body)
    left = s3.list_objects_v2(Bucket=settings.bucket, Prefix=".dashboard/direct/").get("Contents", [])
    assert not [o for o in left if not o["Key"].endswith(".json")], "the staged HEIC stays"


def test_the_sweep_converts_an_unreported_heic(settings: Settings, s3: S3Client, tmp_path: Path) -> None:
    ticket = _staged_heic(s3, settings, heic_photo())
    due = time.time() + settings.upload_url_ttl_seconds + SWEEP_GRACE_SECONDS + 5
    (outcome,) = sweep(s3, settings, now=lambda: due).outcomes
    assert outcome.status == "stored", outcome.message
    assert outcome.key == ticket.key  # type: ignore[attr-defined]
    assert s3.head_object(Bucket=settings.bucket, Key=outcome.key)["ContentType"] == "image/jpeg"


def test_a_jpeg_sent_as_heic_is_removed_with_a_reason(settings: Settings, s3: S3Client) -> None:
    from tests.support.corpus import jpeg_gps

    ticket = _staged_heic(s3, settings, jpeg_gps())
    outcome = verify(s3, settings, ticket, actor="a")  # type: ignore[arg-type]
    assert outcome.status == "removed" and "JPEG" in outcome.message
