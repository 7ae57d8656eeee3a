"""The embedded demo bucket: a real moto server on loopback with CORS enforced as on R2."""

import requests

from r2 import local
from r2.settings import parse_settings


def test_demo_bucket_is_seeded_with_cors_for_the_app_origin(s3_endpoint: str) -> None:
    base = parse_settings({"R2_APP_ORIGIN": "http://localhost:8765"})
    server, _, client = local.start_demo(base)
    try:
        assert server.host == "127.0.0.1"
        listing = client.list_objects_v2(Bucket="app-images")
        keys = [o["Key"] for o in listing["Contents"]]
        assert len(keys) == 12
        assert all(k.rsplit(".", 1)[1] in ("jpg", "png", "webp") for k in keys)
        rules = client.get_bucket_cors(Bucket="app-images")["CORSRules"]
        assert rules[0]["AllowedOrigins"][0] == "http://localhost:8765"
        assert {"PUT", "GET", "HEAD"} <= set(rules[0]["AllowedMethods"])
        assert {"content-type", "if-none-match"} <= {h.lower() for h in rules[0]["AllowedHeaders"]}
        assert rules[0]["ExposeHeaders"] == ["ETag"]
        head = client.head_object(Bucket="app-images", Key=keys[0])
        assert head["ContentType"].startswith("image/")
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
