"""Step 5 of a direct upload: the sweep checks what no browser reported, once its links have expired."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from r2 import images
from r2.catalog import Catalog
from r2.catalog import note as catalog_note
from r2.client import S3Client
from r2.direct.tickets import STAGING_PREFIX, Ticket, record_key
from r2.direct.verification import ContentCheck, Outcome, audited, delete_staged, pipeline_check, verify
from r2.errors import InvalidInput, R2Error, s3_errors
from r2.images import FORMAT_TYPES
from r2.naming import check_key, is_hidden
from r2.settings import Settings

_log = logging.getLogger(__name__)

# After a batch's last signing, its links live `upload_url_ttl_seconds`; the page reports once every
# PUT of the batch has ended. The sweep leaves a batch alone for this long after its links expire,
# so that a slow but honest browser's report is the one that checks it (and clocks may differ).
SWEEP_GRACE_SECONDS = 600
_BATCH = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did: each staged upload it checked, how many wait for their time, records removed."""

    outcomes: tuple[Outcome, ...] = ()
    waiting: int = 0  # staged objects whose links may still be in use or reported
    records_removed: int = 0


@dataclass
class _Batch:
    record: datetime | None = None  # the record's LastModified: the batch's last signing
    staged: list[tuple[str, int, datetime]] = field(default_factory=list)  # final key, size, LastModified


SWEEP_NOTE = "Not reported by the browser: checked by the server's sweep."
_EXT_FORMAT = {ext: fmt for fmt, (ext, _) in FORMAT_TYPES.items()}


def _staging_listing(client: S3Client, settings: Settings) -> dict[str, _Batch]:
    """One LIST of the staging prefix (per 1,000 keys), grouped by batch. Anything malformed is ignored."""
    batches: dict[str, _Batch] = {}
    with s3_errors("list the staged direct uploads", target=STAGING_PREFIX):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=STAGING_PREFIX)
        for page in pages:
            for obj in page.get("Contents", []):
                rest = str(obj["Key"])[len(STAGING_PREFIX) :]
                batch, slash, final = rest.partition("/")
                if not slash and batch.endswith(".json") and _BATCH.match(batch[:-5]):
                    batches.setdefault(batch[:-5], _Batch()).record = obj["LastModified"]
                elif slash and _BATCH.match(batch) and final:
                    batches.setdefault(batch, _Batch()).staged.append((final, int(obj["Size"]), obj["LastModified"]))
    return batches


NO_RECORD = "unknown (no upload record)"


def _read_record(client: S3Client, settings: Settings, batch: str) -> tuple[str, dict[str, str]] | None:
    """(actor, {final key: original name}), or None when the record cannot be read now."""
    try:
        with s3_errors("read the upload record", target=record_key(batch)):
            body = client.get_object(Bucket=settings.bucket, Key=record_key(batch))["Body"].read()
        data = json.loads(body)
        return str(data["actor"]), {str(k): str(v) for k, v in dict(data["files"]).items()}
    except (R2Error, ValueError, KeyError, TypeError):
        return None


def sweep(
    client: S3Client,
    settings: Settings,
    check: ContentCheck = pipeline_check,
    *,
    now: Callable[[], float] = time.time,
    tmp_dir: str | None = None,
    catalog: Catalog | None = None,
) -> SweepResult:
    """Verify and promote (or delete) staged direct uploads that nobody reported, once they are due.

    A batch is due when its links have expired (its record's LastModified + the link lifetime) and
    `SWEEP_GRACE_SECONDS` more have passed. Cost: one LIST when nothing is due; per due batch with
    staged objects one GET of its record, then what `verify()` costs per object; records are deleted
    (free on R2). Raises R2Error only when the staging prefix cannot be listed. What it stores is
    recorded in `catalog` in one commit (a failure there is logged; the next catalog sync repairs it).
    """
    outcomes: list[Outcome] = []
    waiting = removed_records = 0
    life = settings.upload_url_ttl_seconds + SWEEP_GRACE_SECONDS
    for batch, found in sorted(_staging_listing(client, settings).items()):
        signed = found.record or min((at for _, _, at in found.staged), default=None)
        if signed is None or signed.timestamp() + life > now():
            waiting += len(found.staged)
            continue
        record = _read_record(client, settings, batch) if found.staged and found.record else (NO_RECORD, {})
        if record is None:  # unreadable for now: never decide without it
            waiting += len(found.staged)
            continue
        actor, names = record
        for final, size, _ in found.staged:
            outcomes.append(_sweep_one(client, settings, check, batch, final, size, actor, names, tmp_dir))
        if found.record is not None and not delete_staged(client, settings, record_key(batch)):
            removed_records += 1
    warning = catalog_note(catalog, [o.row for o in outcomes if o.row is not None])
    if warning:
        _log.warning("direct-upload sweep: %s", warning)
    return SweepResult(tuple(outcomes), waiting, removed_records)


def _sweep_one(
    client: S3Client,
    settings: Settings,
    check: ContentCheck,
    batch: str,
    final: str,
    size: int,
    actor: str,
    names: Mapping[str, str],
    tmp_dir: str | None,
) -> Outcome:
    stem, _, ext = final.rpartition(".")
    fmt = _EXT_FORMAT.get(ext, "")
    if fmt and images.stored_format(fmt) != fmt:  # staged as sent (….heic), stored converted (….jpg)
        final = f"{stem}.{FORMAT_TYPES[images.stored_format(fmt)][0]}"
    name = names.get(final, final.rpartition("/")[2])
    ticket = Ticket("sweep", name, final, size, fmt, FORMAT_TYPES.get(fmt, ("", ""))[1], 0.0, "", batch=batch)
    try:
        check_key(final)
        valid = bool(fmt) and not is_hidden(final) and final in names
    except InvalidInput:
        valid = False
    if not valid:  # no link of ours was signed for it: never promoted anywhere
        base = Outcome(ticket.id, name, ticket.staged, "removed", size=size)
        why = "A staged object that no upload link was signed for was removed."
        return audited(
            client, settings, actor, replace(base, message=why + delete_staged(client, settings, ticket.staged))
        )
    return verify(client, settings, ticket, check, actor=actor, tmp_dir=tmp_dir, note=SWEEP_NOTE)
