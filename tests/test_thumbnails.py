import io

from PIL import Image

from r2.local import sample_image
from r2.naming import thumbnail_key
from r2.settings import Settings
from r2.thumbnails import make_thumbnail, regenerate


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
    result = regenerate(s3, settings.bucket, ["a/ok.jpg", "a/bad.png"], lambda done, total, key: progress.append(done))
    assert result.made == ("a/ok.jpg",)
    assert result.failed[0][0] == "a/bad.png" and "not a readable image" in result.failed[0][1]
    assert progress == [1, 2]
    head = s3.head_object(Bucket=settings.bucket, Key=thumbnail_key("a/ok.jpg"))
    assert head["ContentType"] == "image/webp"
