"""The catalog's rows: the table's schema in the bucket, one `Row`, and the lean form held in memory.

On disk (Delta Lake, Parquet) the schema is plain, so other engines read it as it is: strings, the
SHA-256 as 64 hex characters. In memory (what a search scans, once per table version) the same rows
are held leaner: folder, uploader, content type and format dictionary-encoded (a few distinct values
over a million rows), the SHA-256 as 32 bytes, plus the lowered name (original name, else the key)
and the lowered uploader, so a search lowers nothing per row. The conversion happens while reading,
one record batch at a time, so a full plain copy is never held.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("folder", pa.string()),
        ("size", pa.int64()),
        ("etag", pa.string()),
        ("last_modified", pa.timestamp("us", tz="UTC")),
        ("content_type", pa.string()),
        ("original_name", pa.string()),
        ("uploader", pa.string()),
        ("uploaded_at", pa.timestamp("us", tz="UTC")),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("has_thumbnail", pa.bool_()),
        ("sha256", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)
DICTIONARY_COLUMNS = ("folder", "content_type", "uploader", "format")
_TEXT_KEYS = pa.dictionary(pa.int32(), pa.string())
SHA256_BYTES = pa.binary(32)

_READ_SCHEMA = pa.schema([pa.field(f.name, _TEXT_KEYS) if f.name in DICTIONARY_COLUMNS else f for f in SCHEMA])
MEMORY_SCHEMA = pa.schema(
    [
        *(pa.field("sha256", SHA256_BYTES) if f.name == "sha256" else f for f in _READ_SCHEMA),
        pa.field("name_lc", pa.string()),  # lower(original name, else key): "name contains", sort by name
        pa.field("uploader_lc", _TEXT_KEYS),
    ]
)
_FORMAT = pds.ParquetFileFormat(read_options=pds.ParquetReadOptions(dictionary_columns=list(DICTIONARY_COLUMNS)))
BATCH_ROWS = 131_072


@dataclass(frozen=True)
class Row:
    """What the catalog knows about one object. Unknown values are None (objects written by other tools)."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str | None = None
    original_name: str | None = None
    uploader: str | None = None
    uploaded_at: datetime | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    has_thumbnail: bool | None = None
    sha256: str | None = None

    @property
    def folder(self) -> str:
        return self.key.rsplit("/", 1)[0] + "/" if "/" in self.key else ""

    @property
    def display_name(self) -> str:
        return self.original_name or self.key.rsplit("/", 1)[-1]

    @property
    def by_line(self) -> str:
        """ "ann@example.com · 2026-11-01": who uploaded it and when (the modification date if not known)."""
        when = (self.uploaded_at or self.last_modified).strftime("%Y-%m-%d")
        return f"{self.uploader} · {when}" if self.uploader else when

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["folder"] = self.folder
        record["etag"] = self.etag.strip('"')
        return {name: record[name] for name in COLUMNS}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Row:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in names}
        if isinstance(values.get("sha256"), bytes):  # the in-memory form
            values["sha256"] = values["sha256"].hex()
        return cls(**values)


def rows_of(table: pa.Table) -> list[Row]:
    """Rows from the in-memory (or the on-disk) form: only the columns a Row has are converted."""
    return [Row.from_record(r) for r in table.select(list(COLUMNS)).to_pylist()]


def read_lean(files: list[str], filesystem: Any) -> pa.Table:
    """The table's data files (from the Delta log's current version) in the in-memory form.

    Columns missing from older files read as nulls, so a catalog written before a column existed loads.
    """
    dataset = pds.dataset(files, format=_FORMAT, filesystem=filesystem, schema=_READ_SCHEMA)
    batches = [_lean(batch) for batch in _batches(dataset)]
    data = pa.Table.from_batches(batches, schema=MEMORY_SCHEMA)
    pa.default_memory_pool().release_unused()  # the decoding's buffers go back to the system (~80 MiB at 1M)
    return data


def _batches(dataset: pds.Dataset) -> Iterator[pa.RecordBatch]:
    for batch in dataset.to_batches(batch_size=BATCH_ROWS):
        if batch.num_rows:
            yield batch


def _lean(batch: pa.RecordBatch) -> pa.RecordBatch:
    uploader = batch["uploader"]
    assert isinstance(uploader, pa.DictionaryArray)
    columns = {name: batch[name] for name in COLUMNS}
    columns["sha256"] = _sha256_bytes(batch["sha256"])
    columns["name_lc"] = pc.utf8_lower(pc.coalesce(batch["original_name"], batch["key"]))
    columns["uploader_lc"] = pa.DictionaryArray.from_arrays(uploader.indices, pc.utf8_lower(uploader.dictionary))
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=MEMORY_SCHEMA)


_HEX = np.full(256, 255, dtype=np.uint8)  # ASCII byte -> its hex digit's value; 255: not a hex digit
for _digits, _first in ((b"0123456789", 0), (b"abcdef", 10), (b"ABCDEF", 10)):
    _HEX[np.frombuffer(_digits, dtype=np.uint8)] = np.arange(_first, _first + len(_digits), dtype=np.uint8)
_NO_HASH = "0" * 64


def _sha256_bytes(hexes: pa.Array) -> pa.Array:
    """64 hex characters -> 32 bytes; anything else (another tool's metadata) -> null. Vectorised."""
    if len(hexes) == 0:
        return pa.array([], SHA256_BYTES)
    sized = pc.fill_null(pc.equal(pc.binary_length(hexes), 64), False)
    text = pc.if_else(sized, hexes, _NO_HASH).cast(pa.binary())  # every value 64 bytes now
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4)
    raw = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 64)
    digits = _HEX[raw]
    ok = sized.to_numpy(zero_copy_only=False) & (digits != 255).all(axis=1)
    packed = (digits[:, 0::2] << 4) | digits[:, 1::2]
    data = pa.FixedSizeBinaryArray.from_buffers(SHA256_BYTES, len(text), [None, pa.py_buffer(packed.tobytes())])
    return pc.if_else(pa.array(ok), data, pa.scalar(None, SHA256_BYTES))


def empty_memory() -> pa.Table:
    return MEMORY_SCHEMA.empty_table()
