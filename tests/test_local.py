"""The embedded demo bucket: a real moto server on loopback with CORS enforced as on R2."""

import io

import requests
from PIL import ExifTags, Image

from r2 import local
from r2.naming import is_hidden, thumbnail_key
from r2.settings import THUMB_PREFIX, parse_settings


def test_demo_bucket_is_seeded_with_cors_for_the_app_origin(s3_endpoint: str) -> None:
    base = parse_settings({"R2_APP_ORIGIN": "http://localhost:8765"})
    server, _, client = local.start_demo(base)
    try:
        assert server.host == "127.0.0.1"
        listing = client.list_objects_v2(Bucket="app-images")
        keys = [o["Key"] for o in listing["Contents"] if not is_hidden(o["Key"])]
        assert len(keys) == 12
        assert all(k.rsplit(".", 1)[1] in ("jpg", "png", "webp") for k in keys)
        thumbs = client.list_objects_v2(Bucket="app-images", Prefix=THUMB_PREFIX)["Contents"]
        assert sorted(o["Key"] for o in thumbs) == sorted(thumbnail_key(k) for k in keys)
        rules = client.get_bucket_cors(Bucket="app-images")["CORSRules"]
        assert rules[0]["AllowedOrigins"][0] == "http://localhost:8765"
        assert {"PUT", "GET", "HEAD"} <= set(rules[0]["AllowedMethods"])
        assert {"content-type", "if-none-match"} <= {h.lower() for h in rules[0]["AllowedHeaders"]}
        assert rules[0]["ExposeHeaders"] == ["ETag"]
        head = client.head_object(Bucket="app-images", Key=keys[0])
        assert head["ContentType"].startswith("image/")
        assert head["Metadata"]["thumbnail"] == "yes" and head["Metadata"]["width"] == "1200"
        jpeg = next(k for k in keys if k.endswith(".jpg"))
        body = client.get_object(Bucket="app-images", Key=jpeg)["Body"].read()
        with Image.open(io.BytesIO(body)) as image:
            assert image.getexif()[ExifTags.Base.Make] == "Demo camera"
            assert ExifTags.IFD.GPSInfo not in image.getexif()  # the pipeline removed the location
    finally:
        server.stop()


def test_local_server_enforces_cors_on_preflight(s3_endpoint: str) -> None:
    base = parse_settings({"R2_APP_ORIGIN": "http://localhost:8765"})
    server, settings, _ = local.start_demo(base)
    try:
        url = f"{settings.endpoint}/app-images/uploads/x.png"
        headers = {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"}
        allowed = requests.options(url, headers={**headers, "Origin": "http://localhost:8765"}, timeout=5)
        assert allowed.headers.get("Access-Control-Allow-Origin") == "http://localhost:8765"
        blocked = requests.options(url, headers={**headers, "Origin": "https://evil.example"}, timeout=5)
        assert blocked.headers.get("Access-Control-Allow-Origin") is None
    finally:
        server.stop()
