"""Reading an upload's bytes within the size limit, and bounded access to them for the format walkers."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import BinaryIO, overload

from r2.images.model import ImageRejected


def read_source(source: bytes | Path | BinaryIO, max_bytes: int) -> bytes:
    """The bytes of `source`, refusing empty and oversized input before reading more than the limit."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, Path):
        check_size(size_of(source), max_bytes)
        try:
            data = source.read_bytes()
        except OSError as exc:  # a folder, no permission, gone meanwhile: a refusal, never a traceback
            raise ImageRejected(f"The file cannot be read ({type(exc).__name__}).") from exc
    else:
        data = source.read(max_bytes + 1)
    check_size(len(data), max_bytes)
    return data


def check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise ImageRejected("The file is empty (0 bytes).")
    if size > max_bytes:
        raise ImageRejected(
            f"The file is {size / 1024 / 1024:.1f} MiB; the limit is {max_bytes / 1024 / 1024:g} MiB.",
            "Resize or compress it first.",
        )


CHUNK = 1024 * 1024  # bytes read at a time when copying or searching a file


class ByteView:
    """Read-only access to an image's bytes, in memory or in a file on disk, with bounded buffers.

    It answers what the strippers ask of `bytes` (`len`, `view[i]`, `view[a:b]`, a pattern search)
    without ever holding more of a file than a small window or the slice asked for, so the same
    segment walkers clean a 10 KiB upload in memory and a 100 MiB file on disk.
    """

    WINDOW = 64 * 1024

    def __init__(self, data: bytes | None = None, file: BinaryIO | None = None, size: int = 0) -> None:
        self._data, self._file = data, file
        self._size = len(data) if data is not None else size
        self._start, self._buf = 0, b""

    @classmethod
    def of(cls, data: bytes) -> ByteView:
        return cls(data=data)

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> bytes: ...
    def __getitem__(self, index: int | slice) -> int | bytes:
        if self._data is not None:
            return self._data[index]
        if isinstance(index, slice):
            start, stop, _ = index.indices(self._size)
            if stop <= start:
                return b""
            if not (self._start <= start and stop <= self._start + len(self._buf)):
                if stop - start > self.WINDOW:
                    return self._read(start, stop - start)
                self._fill(start)
            return self._buf[start - self._start : stop - self._start]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError("index out of range")
        if not self._start <= index < self._start + len(self._buf):
            self._fill(index)
        return self._buf[index - self._start]

    def _read(self, pos: int, size: int) -> bytes:
        assert self._file is not None
        self._file.seek(pos)
        return self._file.read(size)

    def _fill(self, pos: int) -> None:
        self._buf, self._start = self._read(pos, self.WINDOW), pos

    def search(self, pattern: re.Pattern[bytes], pos: int, width: int) -> int:
        """Where `pattern` (which always matches exactly `width` bytes) first occurs from `pos`, or -1."""
        if self._data is not None:
            found = pattern.search(self._data, pos)
            return found.start() if found else -1
        while pos < self._size:
            chunk = self._read(pos, CHUNK)
            found = pattern.search(chunk)
            if found:
                return pos + found.start()
            if pos + len(chunk) >= self._size or not chunk:
                return -1
            pos += len(chunk) - (width - 1)  # a match across the chunk boundary is found in the next one
        return -1

    def stream(self) -> BinaryIO:
        """A file object for Pillow (the caller's file, rewound; or the bytes wrapped)."""
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._file is not None
        self._file.seek(0)
        return self._file

    def bytes_of(self, start: int, end: int) -> bytes | memoryview:
        if self._data is not None:
            return memoryview(self._data)[start:end]  # no copy until the final join
        return self._read(start, end - start)

    def copy_to(self, start: int, end: int, target: BinaryIO) -> None:
        while start < end:
            block = self.bytes_of(start, min(end, start + CHUNK))
            if not block:
                raise ImageRejected("The file changed while it was being cleaned.")
            target.write(block)
            start += len(block)


class CleanPlan:
    """The cleaned file as a plan: spans copied from the source and new bytes, in order."""

    def __init__(self) -> None:
        self.pieces: list[bytes | tuple[int, int]] = []

    def copy(self, start: int, end: int) -> None:
        if end <= start:
            return
        last = self.pieces[-1] if self.pieces else None
        if isinstance(last, tuple) and last[1] == start:
            self.pieces[-1] = (last[0], end)
        else:
            self.pieces.append((start, end))

    def add(self, data: bytes) -> None:
        if data:
            self.pieces.append(data)

    def unchanged(self, size: int) -> bool:
        """The plan is the source itself: nothing removed, nothing rewritten, not even a fill byte."""
        return self.pieces == [(0, size)]

    @property
    def size(self) -> int:
        return sum(p[1] - p[0] if isinstance(p, tuple) else len(p) for p in self.pieces)

    def to_bytes(self, source: ByteView, original: bytes) -> bytes:
        if self.unchanged(len(original)):
            return original  # the very same object: no copy
        return b"".join(source.bytes_of(*p) if isinstance(p, tuple) else p for p in self.pieces)

    def write(self, source: ByteView, target: BinaryIO) -> None:
        for piece in self.pieces:
            if isinstance(piece, tuple):
                source.copy_to(*piece, target)
            else:
                target.write(piece)


def size_of(data: bytes | Path) -> int:
    if isinstance(data, bytes):
        return len(data)
    try:
        return data.stat().st_size
    except OSError as exc:
        raise ImageRejected(f"The file cannot be read ({type(exc).__name__}).") from exc
