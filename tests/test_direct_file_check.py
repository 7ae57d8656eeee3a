"""Direct upload's verification from the file on disk (r2.images.clean_file, r2.direct.verify).

- The file path gives the same verdicts and the same cleaned bytes as the in-memory path (the app's
  upload path), on the shared hostile/metadata corpus and on fuzzed damage.
- verify() sends no PUT of the original when nothing is removed (a server-side copy from the staging
  key), streams the cleaned copy when something is, and always removes its temporary files.
- Memory: Python-level allocations during verify of a file that is large in bytes but small in pixels
  stay far below the file's size (tracemalloc; Pillow's pixel buffers are outside it, and are bounded
  by the pixel cap anyway). The S3 server runs in another process so that only the app side counts.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from PIL import ExifTags, Image

from r2.client import CallCounter, S3Client, make_client
from r2.direct import Offer, Ticket, pipeline_check, plan, verify
from r2.images import CleanFile, CleanImage, ImagePolicy, ImageRejected, clean, clean_file
from r2.settings import Settings
from r2.thumbnails import thumbnail_of
from tests.support import corpus, isolated
from tests.support.env import TEST_BUCKET, settings_for
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.servers import free_port, wait_until_up

GPS = ExifTags.IFD.GPSInfo
MIB = 1024 * 1024


def damaged_exif_jpeg() -> bytes:
    exif = corpus.exif_with_gps().tobytes()[:-12]
    plain = corpus.plain("JPEG")
    return plain[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + plain[2:]


def jpeg_with_fill_bytes() -> bytes:
    """Fill bytes (0xFF) before a marker are legal and dropped by the walker: a change with nothing 'removed'."""
    data = corpus.plain("JPEG")
    return data[:2] + b"\xff\xff\xff" + data[2:]


def padded_jpeg(megabytes: int, *, gps: bool) -> bytes:
    """A small picture made big by comment segments (each at most 64 KiB): many bytes, few pixels."""
    data = corpus.jpeg_gps() if gps else corpus.plain("JPEG")
    comment = b"\xff\xfe" + (0xFFFF).to_bytes(2, "big") + os.urandom(0xFFFD)
    return data[:2] + comment * (megabytes * MIB // len(comment)) + data[2:]


def jpeg_then_junk(megabytes: int) -> bytes:
    """A small photo with GPS and megabytes of data after its end-of-image marker (removed when cleaned)."""
    return corpus.jpeg_gps() + os.urandom(megabytes * MIB)


def noise_png(megabytes: int, *, gps: bool) -> bytes:
    """An uncompressed PNG of random pixels: its size is its image data, which Pillow streams while it
    decodes into buffers of its own (outside Python's allocator, bounded by the pixel cap)."""
    side = int((megabytes * MIB / 3) ** 0.5)
    out = io.BytesIO()
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    image.save(out, "PNG", compress_level=0, **({"exif": corpus.exif_with_gps()} if gps else {}))
    return out.getvalue()


def png_with_big_chunk(
    megabytes: int, kind: bytes = b"prVt", base: bytes | None = None, piece: int = MIB // 2
) -> bytes:
    """A small PNG made big by ancillary chunks of `piece` bytes before IEND (private, or an XMP packet).

    Pillow reads each ancillary chunk into memory while it skips it, so one chunk's size is what a
    check may hold; the file's size is not (see `test_verify_memory_does_not_grow_with_the_file`).
    """
    data = base or corpus.plain("PNG")
    prefix = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" if kind == b"iTXt" else b""
    chunks = b"".join(corpus.png_chunk(kind, prefix + os.urandom(piece)) for _ in range(megabytes * MIB // piece))
    return data[:-12] + chunks + data[-12:]


SAMPLES: dict[str, Callable[[], bytes]] = {
    "jpeg-gps": corpus.jpeg_gps,
    "png-gps": corpus.png_gps,
    "webp-gps": corpus.webp_gps,
    "gif-xmp": corpus.gif_xmp,
    "avif-gps": corpus.avif_gps,
    "jpeg-plain": lambda: corpus.plain("JPEG"),
    "png-plain": lambda: corpus.plain("PNG"),
    "webp-plain": lambda: corpus.plain("WEBP"),
    "gif-plain": lambda: corpus.plain("GIF"),
    "jpeg-zip-polyglot": corpus.jpeg_then_zip,
    "jpeg-damaged-exif": damaged_exif_jpeg,
    "jpeg-fill-bytes": jpeg_with_fill_bytes,
    "jpeg-padded": lambda: padded_jpeg(1, gps=True),
    "png-big-xmp": lambda: png_with_big_chunk(1, b"iTXt"),
    "svg": lambda: corpus.SVG,
    "html": lambda: corpus.HTML,
    "pdf": lambda: corpus.PDF,
    "empty": lambda: b"",
    "png-garbage": corpus.png_header_then_garbage,
    "jpeg-truncated": corpus.truncated_jpeg,
    "bomb": corpus.png_bomb,
    "text": lambda: b"just some text, not an image",
}


def _both(data: bytes, policy: ImagePolicy, work: Path) -> tuple[CleanImage | str, CleanFile | str]:
    """The in-memory and the file verdicts: a result, or the rejection's text."""
    source = work / "object"
    source.write_bytes(data)
    out = work / "object.clean"
    out.unlink(missing_ok=True)
    try:
        in_memory: CleanImage | str = clean(data, policy, thumb_size=64, thumbnail=thumbnail_of)
    except ImageRejected as exc:
        in_memory = str(exc)
    try:
        on_disk: CleanFile | str = clean_file(source, policy, out, thumb_size=64, thumbnail=thumbnail_of)
    except ImageRejected as exc:
        on_disk = str(exc)
    return in_memory, on_disk


def _assert_same(data: bytes, in_memory: CleanImage | str, on_disk: CleanFile | str, work: Path) -> None:
    if isinstance(in_memory, str) or isinstance(on_disk, str):
        assert in_memory == on_disk  # the same rejection, word for word
        return
    assert (on_disk.info, on_disk.removed) == (in_memory.info, in_memory.removed)
    assert on_disk.thumbnail == in_memory.thumbnail and on_disk.thumbnail_error == in_memory.thumbnail_error
    assert on_disk.path.read_bytes() == in_memory.body and on_disk.size == in_memory.size
    assert on_disk.changed == (in_memory.body != data)
    assert on_disk.path == (work / "object.clean" if on_disk.changed else work / "object")
    assert (work / "object.clean").exists() == on_disk.changed  # no copy written when nothing changes


@pytest.mark.parametrize("strip", ["gps", "all"])
@pytest.mark.parametrize("name", list(SAMPLES))
def test_file_path_gives_the_same_verdict_and_bytes_as_the_bytes_path(name: str, strip: str, tmp_path: Path) -> None:
    data = SAMPLES[name]()
    policy = ImagePolicy(strip=strip)  # type: ignore[arg-type]
    in_memory, on_disk = _both(data, policy, tmp_path)
    _assert_same(data, in_memory, on_disk, tmp_path)


def test_the_comparison_sees_both_outcomes(tmp_path: Path) -> None:
    """The corpus above exercises rejections, unchanged files and rewrites alike (so the test can fail)."""
    kinds = set()
    for make in SAMPLES.values():
        data = make()
        _, on_disk = _both(data, ImagePolicy(), tmp_path)
        kinds.add("rejected" if isinstance(on_disk, str) else "changed" if on_disk.changed else "unchanged")
    assert kinds == {"rejected", "changed", "unchanged"}


_FUZZ_SEEDS = {
    "jpeg": corpus.jpeg_gps(),
    "png": corpus.png_gps(),
    "webp": corpus.webp_gps(),
    "gif": corpus.gif_xmp(),
}


@given(
    which=st.sampled_from(sorted(_FUZZ_SEEDS)),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=1)),
)
def test_damaged_files_get_the_same_verdict_from_the_file(
    which: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(_FUZZ_SEEDS[which])
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    with tempfile.TemporaryDirectory() as work:
        in_memory, on_disk = _both(bytes(data), ImagePolicy(), Path(work))
        _assert_same(bytes(data), in_memory, on_disk, Path(work))


def test_big_image_data_is_copied_through_a_small_window(tmp_path: Path) -> None:
    data = noise_png(8, gps=True)  # GPS out: the file is rewritten, the image data copied
    source = tmp_path / "object"
    source.write_bytes(data)
    with isolated.worker() as pool:
        run = isolated.traced(pool, clean_file, source, ImagePolicy(), tmp_path / "out")
    result, peak = run.value, run.peak
    assert result.changed and "GPS location" in result.removed and result.size > 8 * MIB
    assert result.path.read_bytes()[-8 * MIB :] == data[-8 * MIB :]  # image data and IEND intact
    assert peak < 4 * MIB  # 8 MiB went file to file in 1 MiB blocks


# ---------------------------------------------------------------- verify against the bucket


def _stored(s3: S3Client, settings: Settings, body: bytes, name: str, type_: str) -> tuple[Ticket, str]:
    (ticket,), _ = plan(s3, settings, [Offer("b-0", name, len(body), type_)], "uploads", actor="t")
    etag = s3.put_object(Bucket=settings.bucket, Key=ticket.staged, Body=body, ContentType=ticket.content_type)["ETag"]
    return ticket, etag


def _puts_by_key(client: S3Client) -> list[str]:
    keys: list[str] = []

    def seen(params: dict[str, object], model: object, **_: object) -> None:
        if getattr(model, "name", "") == "PutObject":
            keys.append(str(params["Key"]))

    client.meta.events.register("provide-client-params.s3.PutObject", seen)
    return keys


def test_verify_sends_no_put_of_the_original_when_nothing_is_removed(
    settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    body = corpus.plain("JPEG")
    ticket, etag = _stored(s3, settings, body, "plain.jpg", "image/jpeg")
    puts = _puts_by_key(s3)
    calls = CallCounter(s3)
    outcome = verify(s3, settings, ticket, actor="ana", tmp_dir=str(tmp_path))
    calls.close()
    assert outcome.status == "stored" and outcome.removed == ()
    assert ticket.key not in puts  # the thumbnail and the audit event only
    assert calls.calls["PutObject"] == 2 and calls.calls["CopyObject"] == 1
    head = s3.head_object(Bucket=settings.bucket, Key=ticket.key)  # the final key, copied on the server
    assert head["ETag"] == etag  # the very bytes the browser sent
    assert head["Metadata"]["original-name"] == "plain.jpg" and head["Metadata"]["thumbnail"] == "yes"
    assert head["CacheControl"].startswith("private")
    assert list(tmp_path.iterdir()) == []


def test_verify_streams_the_cleaned_file_back_when_something_is_removed(
    settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    body = corpus.jpeg_gps()
    ticket, _ = _stored(s3, settings, body, "photo.jpg", "image/jpeg")
    bodies: list[object] = []

    def seen(params: dict[str, object], **_: object) -> None:
        if params.get("Key") == ticket.key:
            bodies.append((type(params["Body"]).__name__, params.get("ContentLength"), params.get("IfMatch")))
            assert params.get("IfNoneMatch") == "*"

    s3.meta.events.register("provide-client-params.s3.PutObject", seen)
    outcome = verify(s3, settings, ticket, actor="ana", tmp_dir=str(tmp_path))
    assert outcome.status == "stored" and "GPS location" in outcome.removed
    stored = s3.get_object(Bucket=settings.bucket, Key=ticket.key)["Body"].read()
    assert bodies == [("BufferedReader", len(stored), None)]  # an open file, its exact size (If-None-Match)
    assert stored == clean(body, ImagePolicy.from_settings(settings)).body  # the same bytes as the app path
    assert list(tmp_path.iterdir()) == []


def _changed_meanwhile(settings: Settings, s3: S3Client, tmp_path: Path) -> None:
    """Nothing to remove, but the staged object changed after the check (a member's link still alive
    after the object was deleted, say): the copy's CopySourceIfMatch refuses it, nothing is published."""
    ticket, _ = _stored(s3, settings, corpus.plain("PNG"), "a.png", "image/png")
    other = corpus.plain("PNG", (9, 9))

    def check_while_someone_writes(path: Path, s: Settings) -> CleanFile:
        result = pipeline_check(path, s)
        s3.put_object(Bucket=settings.bucket, Key=ticket.staged, Body=other, ContentType="image/png")
        return result

    outcome = verify(s3, settings, ticket, check_while_someone_writes, actor="a", tmp_dir=str(tmp_path))
    assert outcome.status == "failed" and "changed after it was checked" in outcome.message
    finals = s3.list_objects_v2(Bucket=settings.bucket, Prefix="uploads/").get("Contents", [])
    assert finals == []  # the unchecked bytes were never published
    assert list(tmp_path.iterdir()) == []


def test_an_upload_replaced_between_its_check_and_its_download_is_reported_as_changed(
    settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    """The download asks for exactly the version that was checked (If-Match): when it is gone, the user
    reads that the upload changed, not that something "already exists", and nothing is published."""
    ticket, _ = _stored(s3, settings, corpus.plain("PNG"), "a.png", "image/png")
    other = corpus.plain("PNG", (9, 9))

    def replace_first(params: dict[str, object], **_: object) -> None:
        if params.get("Key") == ticket.staged and params.get("IfMatch"):
            s3.put_object(Bucket=settings.bucket, Key=ticket.staged, Body=other, ContentType="image/png")

    s3.meta.events.register("before-parameter-build.s3.GetObject", replace_first)
    outcome = verify(s3, settings, ticket, actor="a", tmp_dir=str(tmp_path))
    assert outcome.status == "failed" and "changed since it was read" in outcome.message
    assert "already exists" not in outcome.message
    assert s3.list_objects_v2(Bucket=settings.bucket, Prefix="uploads/").get("Contents", []) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.xfail(
    strict=True, reason="moto ignores x-amz-copy-source-if-match on CopyObject (R2 and LocalStack honour it)"
)
def test_verify_keeps_no_object_changed_meanwhile_moto(settings: Settings, s3: S3Client, tmp_path: Path) -> None:
    _changed_meanwhile(settings, s3, tmp_path)


def test_verify_keeps_no_object_changed_meanwhile_localstack(localstack_endpoint: str, tmp_path: Path) -> None:
    settings = settings_for(localstack_endpoint, R2_ACCESS_KEY_ID="test", R2_SECRET_ACCESS_KEY="test")
    client = make_client(settings)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=TEST_BUCKET)
    _changed_meanwhile(settings, client, tmp_path)


@pytest.mark.parametrize("failure", ["rejected", "error"])
def test_verify_removes_its_temporary_files_on_failure(
    settings: Settings, s3: S3Client, tmp_path: Path, failure: str
) -> None:
    ticket, _ = _stored(s3, settings, corpus.jpeg_gps(), "photo.jpg", "image/jpeg")
    written: list[Path] = []

    def check(path: Path, s: Settings) -> CleanFile:
        result = pipeline_check(path, s)
        written.extend(p for p in path.parent.iterdir())
        if failure == "error":
            s3.put_object(Bucket=settings.bucket, Key=ticket.key, Body=b"taken")  # the final PUT then fails (412)
            return result
        raise ImageRejected("Not today.")

    outcome = verify(s3, settings, ticket, check, actor="a", tmp_dir=str(tmp_path))
    assert outcome.status == ("removed" if failure == "rejected" else "failed")
    assert len(written) == 2  # the download and its cleaned copy existed ...
    assert list(tmp_path.iterdir()) == []  # ... and are gone


# ---------------------------------------------------------------- memory, structurally


@pytest.fixture(scope="module")
def outside_server() -> Iterator[str]:
    """A moto server in its own process: its copies of the object do not count against the app."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{endpoint}/moto-api/data.json", proc, what="moto")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def worker() -> Iterator[ProcessPoolExecutor]:
    with isolated.worker() as pool:
        yield pool


@pytest.mark.parametrize(
    ("name", "make", "type_", "rewritten", "stays_big"),
    [
        # GPS out: 24 MiB streamed back from disk
        ("gps.png", lambda: noise_png(24, gps=True), "image/png", True, True),
        # nothing out: the bytes are not sent again
        ("plain.png", lambda: noise_png(24, gps=False), "image/png", False, True),
        # GPS and 24 MiB of trailing data out: never read into memory, a small file sent back
        ("trailer.jpg", lambda: jpeg_then_junk(24), "image/jpeg", True, False),
    ],
    ids=["png-rewritten", "png-kept", "jpeg-trailer"],
)
def test_verify_memory_does_not_grow_with_the_file(
    worker: ProcessPoolExecutor,
    outside_server: str,
    name: str,
    make: Callable[[], bytes],
    type_: str,
    rewritten: bool,
    stays_big: bool,
) -> None:
    settings = settings_for(outside_server, R2_MAX_UPLOAD_MB="64")
    client = make_client(settings)
    requests.post(f"{outside_server}/moto-api/reset", timeout=30).raise_for_status()
    client.create_bucket(Bucket=TEST_BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    body = make()
    ticket, etag = _stored(client, settings, body, name, type_)
    del body
    run = isolated.run(worker, isolated.verify_once, settings, ticket, "a")
    outcome, peak = run.value, run.peak
    assert outcome.status == "stored", outcome.message
    head = client.head_object(Bucket=TEST_BUCKET, Key=ticket.key)
    assert (head["ETag"].strip('"') != etag.strip('"')) == rewritten and head["Metadata"]["thumbnail"] == "yes"
    assert (head["ContentLength"] > 23 * MIB) == stays_big
    assert peak < 6 * MIB, f"{peak / MIB:.1f} MiB of Python memory for a {head['ContentLength'] / MIB:.0f} MiB file"
    with Image.open(io.BytesIO(client.get_object(Bucket=TEST_BUCKET, Key=ticket.key)["Body"].read())) as image:
        assert GPS not in image.getexif()


def test_verify_whose_copy_answer_is_lost_is_retried_and_stored(
    settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    """The copy to the final key is safe to resend: it keeps the content, so where a server honours its
    If-None-Match (R2) the refused resend finds our own copy (same ETag), and the retry succeeds."""
    ticket, etag = _stored(s3, settings, corpus.plain("PNG"), "a.png", "image/png")
    with FaultProxy(settings.endpoint) as proxy:
        copy = f"/{TEST_BUCKET}/{ticket.key}"  # the final key (the thumbnail's and staged key end otherwise)
        proxy.inject(Fault("drop", times=1, match=lambda method, path: method == "PUT" and path.endswith(copy)))
        via_proxy = make_client(settings_for(proxy.url))
        calls = CallCounter(via_proxy)
        outcome = verify(via_proxy, settings, ticket, actor="a", tmp_dir=str(tmp_path))
        calls.close()
        originals = [p for m, p, _, _ in proxy.log if m == "PUT" and p.endswith(copy)]
        assert len(originals) == 2  # the copy, and its resend after the lost answer
    assert outcome.status == "stored", outcome.message
    assert calls.calls["CopyObject"] == 1 and calls.calls["PutObject"] == 2  # one logical copy
    assert ticket.staged not in {o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket).get("Contents", [])}
    head = s3.head_object(Bucket=settings.bucket, Key=ticket.key)
    assert head["ETag"] == etag and head["Metadata"]["original-name"] == "a.png"
