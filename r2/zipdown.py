"""Download a selection or a folder as one ZIP, streamed with flat memory whatever the total size.

Each object is read from the bucket in chunks and written straight into the ZIP (stored, not deflated:
images are compressed already), so memory holds one chunk at a time. The output may be a file, a
pipe (stdout: zipfile writes data descriptors when it cannot seek) or a temporary file served by the
app. A read cut half way is resumed with a Range request pinned to the object's ETag, so the ZIP never
mixes two versions of an object. Names inside are the original names, made safe for every OS.
"""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from r2.bulk import Selection
from r2.client import S3Client
from r2.errors import InvalidInput, R2Error, Unavailable, s3_errors
from r2.naming import META_ORIGINAL_NAME, is_hidden
from r2.settings import RESERVED_PREFIX
from r2.uploads import decode_name, display_name

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

CHUNK = 1024 * 1024
DEFAULT_MAX_BYTES = 2 * 1024**3  # a ZIP larger than this is refused before any byte is read
READ_ATTEMPTS = 4  # a cut read is resumed from where it stopped this many times
MAX_NAME = 200

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}
_UNSAFE = re.compile(r'[<>:"/\\|?*]')


def safe_name(name: str) -> str:
    """A file name that extracts as itself on Windows, macOS and Linux: no directories, no '..', no
    reserved device names, no characters Windows refuses, no trailing dots or spaces."""
    name = display_name(name)
    name = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    name = _UNSAFE.sub("_", name).strip().rstrip(". ")
    if not name or set(name) <= {"."}:
        name = "unnamed"
    stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    if len(stem) + len(dot) + len(ext) > MAX_NAME:
        stem = stem[: max(1, MAX_NAME - len(dot) - len(ext))]
    return f"{stem}{dot}{ext}"


class Names:
    """Unique names inside one ZIP (case-insensitively: Windows and macOS fold case)."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def claim(self, wanted: str) -> str:
        name = safe_name(wanted)
        stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
        number = 1
        while name.casefold() in self._used:
            number += 1
            name = f"{stem} ({number}){dot}{ext}"
        self._used.add(name.casefold())
        return name


def check_size(selection: Selection, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    if not selection.items:
        raise InvalidInput("Nothing was selected to download.")
    if any(is_hidden(k) for k in selection.keys):
        raise InvalidInput("Reserved keys cannot be downloaded here.")
    if selection.total_size > max_bytes:
        raise InvalidInput(
            f"The selection holds {selection.total_size:,} bytes, more than the ZIP limit of {max_bytes:,}.",
            "Select fewer objects, or raise the limit (R2_ZIP_MAX_MB / --max-size).",
        )


@dataclass(frozen=True)
class ZipReport:
    entries: tuple[tuple[str, str], ...]  # (key, name inside the ZIP)
    bytes: int
    resumed_reads: int


def _chunks(client: S3Client, bucket: str, key: str, resumes: list[int]) -> Iterator[tuple[bytes, dict[str, str]]]:
    """The object's bytes in chunks; a read cut half way is resumed (Range + If-Match on the ETag)."""
    offset = 0
    etag = ""
    for attempt in range(READ_ATTEMPTS):
        extra: dict[str, Any] = {"Range": f"bytes={offset}-", "IfMatch": etag} if etag else {}
        try:
            with s3_errors("read the object for the ZIP", target=key):
                response = client.get_object(Bucket=bucket, Key=key, **extra)
                etag = etag or str(response.get("ETag", ""))
                meta = {str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()}
                for chunk in response["Body"].iter_chunks(CHUNK):
                    offset += len(chunk)
                    yield chunk, meta
            return
        except (Unavailable, OSError) as exc:  # OSError: a connection cut below botocore while streaming
            if attempt < READ_ATTEMPTS - 1:
                resumes.append(1)
            elif isinstance(exc, R2Error):
                raise
            else:
                raise Unavailable(f"Could not read {key} for the ZIP: the connection broke.") from exc
    raise Unavailable(f"Could not read {key} for the ZIP.")  # pragma: no cover  (loop returns or raises)


def write_zip(
    client: S3Client,
    bucket: str,
    selection: Selection,
    out: BinaryIO,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> ZipReport:
    """Stream every selected object into a ZIP written to `out` (a file or a pipe)."""
    check_size(selection, max_bytes)
    names = Names()
    entries: list[tuple[str, str]] = []
    resumes: list[int] = []
    done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for item in selection.items:
            chunks = _chunks(client, bucket, item.key, resumes)
            try:
                first, meta = next(chunks)
            except StopIteration:
                first, meta = b"", {}
            wanted = decode_name(meta.get(META_ORIGINAL_NAME, "")) or PurePosixPath(item.key).name
            name = names.claim(wanted)
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = item.size  # lets zipfile pick ZIP64 for big members before writing
            with archive.open(info, "w", force_zip64=item.size >= 2**31) as member:
                member.write(first)
                done += len(first)
                for chunk, _ in chunks:
                    member.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, selection.total_size)
            entries.append((item.key, name))
            if progress:
                progress(done, selection.total_size)
    return ZipReport(tuple(entries), done, len(resumes))


# ------------------------------------------------------------------------------------------ for the app
ZIP_PREFIX = f"{RESERVED_PREFIX}zips/"  # the app's own; a lifecycle rule (docs/guide.md) expires them after a day
PART = 8 * 1024 * 1024  # R2 wants equal part sizes (all but the last): one fixed size, one part in memory


class MultipartSink(io.RawIOBase):
    """A write-only stream that uploads what it is given as a multipart upload, one part at a time.

    Memory holds at most one part. `close()` completes the upload; `abort()` removes it (a cut ZIP
    never becomes an object). Not seekable, so zipfile writes data descriptors.
    """

    def __init__(self, client: S3Client, bucket: str, key: str, content_type: str = "application/zip") -> None:
        super().__init__()
        self._client, self._bucket, self.key = client, bucket, key
        self._buffer = bytearray()
        self._parts: list[CompletedPartTypeDef] = []
        self._position = 0
        with s3_errors("start the ZIP", target="the ZIP"):
            answer = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)
        self._upload_id = answer["UploadId"]

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def write(self, data: bytes) -> int:  # type: ignore[override]
        rest = memoryview(data)
        while rest:  # fill the part exactly, send the buffer itself: one part in memory, never a copy of it
            room = PART - len(self._buffer)
            self._buffer += rest[:room]
            rest = rest[room:]
            if len(self._buffer) == PART:
                self._send(self._buffer)
                self._buffer = bytearray()
        self._position += len(data)
        return len(data)

    def _send(self, body: bytes | bytearray) -> None:
        number = len(self._parts) + 1
        with s3_errors("store the ZIP", target="the ZIP"):
            answer = self._client.upload_part(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
            )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        if self._buffer or not self._parts:
            self._send(self._buffer)
            self._buffer = bytearray()
        with s3_errors("finish the ZIP", target="the ZIP"):
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )

    def abort(self) -> None:
        with suppress(R2Error), s3_errors("abort the ZIP", target="the ZIP"):  # best effort
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self.key, UploadId=self._upload_id)


def zip_to_bucket(
    client: S3Client,
    bucket: str,
    selection: Selection,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[str, ZipReport]:
    """Build the ZIP into the bucket (under ZIP_PREFIX) with flat memory; returns its key and report.

    Streamlit's download button holds the whole file in the server's memory; a signed link to this
    object lets the browser download it straight from the bucket instead.
    """
    check_size(selection, max_bytes)
    sink = MultipartSink(client, bucket, f"{ZIP_PREFIX}{uuid.uuid4()}.zip")
    try:
        report = write_zip(client, bucket, selection, sink, max_bytes=max_bytes, progress=progress)  # type: ignore[arg-type]
        sink.complete()
    except BaseException:
        sink.abort()
        raise
    return sink.key, report


__all__ = [
    "DEFAULT_MAX_BYTES",
    "Names",
    "R2Error",
    "ZipReport",
    "check_size",
    "safe_name",
    "write_zip",
    "zip_to_bucket",
]
