"""The embedded local S3 server (moto in server mode on 127.0.0.1) and its demo bucket.

Used when no R2 credentials are configured, so `make run` works on a fresh machine. Data lives in
memory and is gone when the process stops. moto's global permissive CORS is disabled so the bucket's
CORS policy is enforced as on R2 (otherwise every preflight passes and CORS bugs hide).
"""

from __future__ import annotations

import io
import logging
import os
import random
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from r2.client import S3Client, make_client
from r2.cors import preset_rules as demo_cors_rules  # the demo bucket's policy is the preset
from r2.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CORSRuleTypeDef, CreateBucketConfigurationTypeDef

LOCAL_ACCESS_KEY = "local-demo"
LOCAL_SECRET_KEY = "local-demo-secret"  # noqa: S105  not a secret: the embedded server accepts any key
LOCAL_BANNER = (
    "Local demo bucket — data lives in memory and is gone when the app stops; set R2_* to connect to Cloudflare R2."
)

_lock = threading.Lock()


@dataclass
class LocalServer:
    """A moto S3 server on 127.0.0.1 with a free port. `start()` once; `stop()` at exit."""

    host: str = "127.0.0.1"
    port: int = 0
    _server: Any = None

    def start(self) -> LocalServer:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # it would log signed URLs per request
        # Without this moto answers every preflight permissively and CORS bugs hide. moto reads
        # the variable when first imported and copies it into werkzeug_app, which reads it whenever it
        # builds a server's S3 app: set both, so the order of imports in the process does not matter.
        os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
        from moto.moto_server import werkzeug_app
        from moto.server import ThreadedMotoServer

        werkzeug_app.DISABLE_GLOBAL_CORS = True  # type: ignore[attr-defined]  # moto re-exports it from settings

        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        return self

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def local_settings(base: Settings, server: LocalServer) -> Settings:
    return base.with_endpoint(server.endpoint, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)


def start_demo(base: Settings) -> tuple[LocalServer, Settings, S3Client]:
    """Start the embedded server, create and seed the demo bucket. Returns server, settings, client."""
    with _lock:
        server = LocalServer().start()
        settings = local_settings(base, server)
        client = make_client(settings)
        create_demo_bucket(client, settings)
        _catalog_demo(client, settings)
        return server, settings, client


def _catalog_demo(client: S3Client, settings: Settings) -> None:
    """Build the demo bucket's catalog, so Search and Browse's names work from the first page."""
    from r2 import catalog_sync
    from r2.catalog import Catalog
    from r2.errors import R2Error

    try:
        catalog_sync.sync(Catalog(settings, client), client, settings.bucket)
    except R2Error as exc:  # the demo still works without it: Search says there is no catalog yet
        logging.getLogger(__name__).warning("demo catalog not built: %s", exc.message)


def create_demo_bucket(client: S3Client, settings: Settings, *, samples: int = 12) -> None:
    # "auto" is R2's one location; the stubs know only AWS regions.
    location = cast("CreateBucketConfigurationTypeDef", {"LocationConstraint": "auto"})
    client.create_bucket(Bucket=settings.bucket, CreateBucketConfiguration=location)
    rules = cast("list[CORSRuleTypeDef]", demo_cors_rules(settings.app_origin))
    client.put_bucket_cors(Bucket=settings.bucket, CORSConfiguration={"CORSRules": rules})
    seed_samples(client, settings, samples)


def sample_image(seed: int, size: tuple[int, int] = (1200, 800), fmt: str = "JPEG", exif: bytes = b"") -> bytes:
    """A generated picture (no downloads): a colour gradient with a few shapes."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)  # noqa: S311  pictures, not cryptography
    width, height = size
    base = tuple(rng.randrange(40, 215) for _ in range(3))
    image = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 8):
        shade = tuple(min(255, c + y * 60 // height) for c in base)
        draw.rectangle((0, y, width, y + 8), fill=shade)
    for _ in range(6):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(40, 220)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    out = io.BytesIO()
    image.save(out, format=fmt, quality=85, **({"exif": exif} if exif else {}))
    return out.getvalue()


def seed_samples(client: S3Client, settings: Settings, count: int) -> list[str]:
    """Put `count` generated images under the configured folders and a nested sample folder.

    They go through the upload pipeline (checks, GPS removal, thumbnails, metadata) like any upload;
    the JPEG samples carry a made-up GPS position that the pipeline removes. Keys are stable. Images
    are prepared and stored on a few threads (Pillow and HTTP release the GIL): the app waits for this.
    """
    from concurrent.futures import ThreadPoolExecutor

    from PIL import ExifTags, Image

    from r2.images import ImagePolicy, clean
    from r2.thumbnails import THUMB_SIZE, thumbnail_of
    from r2.uploads import store

    policy = ImagePolicy.from_settings(settings)
    formats: list[str] = [f for f in ("JPEG", "PNG", "WEBP") if f in policy.formats] or [policy.formats[0]]
    folders = [*settings.folders, "samples/landscapes"]
    exif = Image.Exif()  # a photo as phones take them: with a location, which the pipeline removes
    exif[ExifTags.Base.Make] = "Demo camera"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (46.0, 57.0, 0.0), 3: "E", 4: (7.0, 26.0, 0.0)}
    gps_exif = exif.tobytes()

    def seed_one(i: int) -> str:
        fmt = formats[i % len(formats)]
        data = sample_image(i, fmt=fmt, exif=gps_exif if fmt == "JPEG" else b"")
        image_file = clean(data, policy, thumb_size=THUMB_SIZE, thumbnail=thumbnail_of)
        name = uuid.UUID(int=random.Random(i).getrandbits(128), version=4)  # noqa: S311  stable demo keys
        key = f"{folders[i % len(folders)]}/{name}.{image_file.info.ext}"
        original = f"sample-{i + 1}.{image_file.info.ext}"
        store(client, settings.bucket, key, image_file, original_name=original, uploaded_by="demo")
        return key

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(seed_one, range(count)))
