"""Bulk work on many objects: select, move, copy, rename, delete folders.

R2 has no rename and no versioning. A move is a server-side `CopyObject` (never download + upload) that
never overwrites (If-None-Match on the destination, sent to R2 as cf-copy-destination-if-none-match;
the destination folder is listed first so servers that ignore the condition, like moto, are covered
too), then the sources are deleted with `DeleteObjects` only once the copy is verified (the copy's ETag
equals the source's, or the sizes match for multipart sources). Thumbnails move with their images.

Interrupted anywhere, every object is in one place or in both (reported as such), never in none, and
running the same move again finishes it: destination keys are a pure function of the source key,
its ETag and the destination folder, so a rerun finds its own earlier copies (same ETag) and only
deletes what is left.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from r2.browse import check_folder
from r2.client import S3Client
from r2.errors import AccessDenied, AlreadyExists, InvalidInput, NotFound, R2Error, s3_errors
from r2.naming import check_key, is_hidden, thumbnail_key
from r2.objects import DELETE_BATCH, delete_batch
from r2.settings import THUMB_PREFIX, Settings
from r2.uploads.storing import COPY_HOOK, r2_copy_condition

if TYPE_CHECKING:
    from r2.catalog import Catalog

log = logging.getLogger(__name__)

WORKERS = 8  # copies run in parallel: each is one request that the server does alone


# ------------------------------------------------------------------------------------------ selecting
@dataclass(frozen=True)
class Item:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class Selection:
    """What an action will touch, known before anything runs (count and total size are shown)."""

    items: tuple[Item, ...]
    missing: tuple[str, ...] = ()  # keys asked for that do not exist
    list_calls: int = 0

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def total_size(self) -> int:
        return sum(i.size for i in self.items)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(i.key for i in self.items)


def _refuse_reserved(keys: Iterable[str]) -> None:
    reserved = [k for k in keys if is_hidden(k)]
    if reserved:
        raise InvalidInput(f"{reserved[0]} is reserved for the app and cannot be used here.")


def list_under(client: S3Client, bucket: str, prefix: str) -> tuple[dict[str, Item], int]:
    """Every object under `prefix` (recursively), reserved keys left out; one LIST per 1,000 keys."""
    found: dict[str, Item] = {}
    calls = 0
    with s3_errors("list the folder", target=prefix or "the bucket"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            calls += 1
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                found[key] = Item(key, int(obj.get("Size", 0)), str(obj.get("ETag", "")).strip('"'))
    return found, calls


def existing_thumbnails(client: S3Client, bucket: str, keys: Iterable[str]) -> tuple[frozenset[str], int]:
    """The thumbnails that exist for objects in the folders of `keys`: one listing per folder, no HEADs."""
    thumbs: set[str] = set()
    calls = 0
    folders = sorted({k.rsplit("/", 1)[0] + "/" if "/" in k else "" for k in keys})
    for folder in [f for f in folders if not any(f != g and f.startswith(g) for g in folders)]:
        found, more = list_under(client, bucket, THUMB_PREFIX + folder)
        thumbs.update(found)
        calls += more
    return frozenset(thumbs), calls


def select_folder(client: S3Client, bucket: str, folder: str) -> Selection:
    """'Everything matching this folder': every object under it, subfolders included."""
    folder = check_folder(folder)
    if not folder:
        raise InvalidInput("Choose a folder: the whole bucket cannot be selected at once.")
    _refuse_reserved([folder])
    found, calls = list_under(client, bucket, folder)
    return Selection(tuple(v for k, v in sorted(found.items()) if not is_hidden(k)), list_calls=calls)


def select_keys(client: S3Client, bucket: str, keys: Sequence[str]) -> Selection:
    """Named objects (a HEAD each) and folders (ending in '/', listed)."""
    items: dict[str, Item] = {}
    missing: list[str] = []
    calls = 0
    _refuse_reserved(keys)
    for key in dict.fromkeys(keys):
        if key.endswith("/"):
            sub = select_folder(client, bucket, key)
            items.update((i.key, i) for i in sub.items)
            calls += sub.list_calls
            continue
        key = check_key(key)
        try:
            with s3_errors("read the object's details", target=key):
                head = client.head_object(Bucket=bucket, Key=key)
        except NotFound:
            missing.append(key)
            continue
        items[key] = Item(key, int(head.get("ContentLength", 0)), str(head.get("ETag", "")).strip('"'))
    return Selection(tuple(items.values()), tuple(missing), calls)


def selection_of(items: Iterable[Item]) -> Selection:
    """A selection from rows the caller already listed (Browse): no request."""
    chosen = {i.key: i for i in items}
    _refuse_reserved(chosen)
    return Selection(tuple(chosen.values()))


# ------------------------------------------------------------------------------------------ who may
def folder_of(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def authorize(held: frozenset[str], settings: Settings, keys: Iterable[str], dest: str = "") -> None:
    """Admins act anywhere; members only inside the folders of R2_FOLDERS (sources and destination).

    Called when the action runs (not only when its button is drawn): a role that changed meanwhile,
    or a forged request, is refused here.
    """
    if "admin" in held:
        return
    if "member" not in held:
        raise AccessDenied("Signing in as a member is needed for this.")
    own = set(settings.folders)
    outside = [k for k in keys if folder_of(k) not in own]
    if dest and folder_of(check_folder(dest)) not in own:
        outside.insert(0, dest)
    if outside:
        raise AccessDenied(
            f"{outside[0]} is outside the folders members may change.",
            f"Members may move and copy within: {', '.join(settings.folders)} (setting R2_FOLDERS).",
        )


# ------------------------------------------------------------------------------------------ the catalog
CatalogHook = Callable[[Sequence[tuple[str, str]], Sequence[str], Mapping[str, str]], None]


def catalog_hook(settings: Settings, catalog: Catalog | None = None) -> CatalogHook:
    """The catalog follows moves, copies, renames and deletes: (copied (source, destination) pairs,
    removed keys, new display names by key).

    Rows of copies are the sources' rows under the new key (no request to the bucket). A catalog
    failure never fails the object operation: it is logged, and `catalog sync` repairs the catalog.
    Pass the process's own `catalog` (the app's) so its searches see the change at once.
    """

    def follow(copies: Sequence[tuple[str, str]], removed: Sequence[str], names: Mapping[str, str]) -> None:
        if not copies and not removed:
            return
        try:
            from r2.catalog import Catalog

            table = catalog or Catalog(settings)
            upserts = []
            if copies:
                known = table.lookup(source for source, _ in copies)  # the cached rows: no full read per move
                now = datetime.now(UTC)
                for source, dest in copies:
                    if source in known:
                        name = names.get(dest, known[source].original_name)
                        upserts.append(replace(known[source], key=dest, last_modified=now, original_name=name))
            destinations = {dest for _, dest in copies}
            table.record(upserts, [k for k in removed if k not in destinations])
        except Exception:  # the catalog is an index; the bucket is the truth
            log.warning("the catalog could not follow a bulk change; run `python -m r2 catalog sync`", exc_info=True)

    return follow


# ------------------------------------------------------------------------------------------ planning
@dataclass(frozen=True)
class Step:
    source: str
    dest: str
    size: int
    etag: str
    done: bool = False  # the destination already holds this copy (an earlier, interrupted run)
    thumbnail: bool = False  # the source has a thumbnail to carry along


@dataclass(frozen=True)
class TransferPlan:
    action: str  # "move" | "copy"
    dest: str
    steps: tuple[Step, ...]
    list_calls: int

    @property
    def delete_calls(self) -> int:
        if self.action != "move":
            return 0
        return len(batches_of([(s.source, s.thumbnail) for s in self.steps]))

    @property
    def operations(self) -> int:
        """Requests the run will make: a copy per object not yet copied and per thumbnail, the deletes."""
        copies = sum((not s.done) + s.thumbnail for s in self.steps)
        return copies + self.delete_calls

    def describe(self) -> list[str]:
        return [f"{self.action} {s.source} -> {s.dest}{' (already copied)' if s.done else ''}" for s in self.steps]


def fresh_key(source: str, etag: str, dest: str) -> str:
    """A new generated key for `source` in `dest`, the same on every run (so a rerun finds its copy)."""
    ext = PurePosixPath(source).suffix
    name = uuid.uuid5(uuid.NAMESPACE_URL, "\n".join((source, etag, dest)))
    return f"{dest}{name}{ext}"


def plan_transfer(
    client: S3Client, bucket: str, selection: Selection, dest: str, *, action: str = "move"
) -> TransferPlan:
    """Where each object goes, decided from one listing of the destination (and of the thumbnails)."""
    if action not in ("move", "copy"):
        raise InvalidInput(f"Unknown bulk action {action!r}.")
    dest = check_folder(dest)
    _refuse_reserved([dest, *selection.keys])
    if not selection.items:
        raise InvalidInput(f"Nothing was selected to {action}.")
    if not dest and action == "move":
        raise InvalidInput("Choose a destination folder.")
    taken, calls = list_under(client, bucket, dest)
    thumbs, more = existing_thumbnails(client, bucket, selection.keys)
    calls += more
    steps = []
    claimed: set[str] = set()
    for item in selection.items:
        if action == "move" and item.key.rsplit("/", 1)[0] + "/" == dest:
            continue  # already in that folder: nothing to do
        has_thumb = thumbnail_key(item.key) in thumbs
        for candidate in (dest + PurePosixPath(item.key).name, fresh_key(item.key, item.etag, dest)):
            there = taken.get(candidate)
            if candidate in claimed or candidate == item.key:
                continue
            if there is None or there.etag == item.etag:
                steps.append(Step(item.key, check_key(candidate), item.size, item.etag, there is not None, has_thumb))
                claimed.add(candidate)
                break
        else:
            raise AlreadyExists(f"No free destination key for {item.key} in {dest}.", "Nothing was changed.")
    return TransferPlan(action, dest, tuple(steps), calls)


# ------------------------------------------------------------------------------------------ running
@dataclass(frozen=True)
class TransferResult:
    action: str
    done: tuple[tuple[str, str], ...] = ()  # (source, destination): finished
    both: tuple[tuple[str, str], ...] = ()  # copied, source not deleted yet: in both places (rerun)
    failed: tuple[tuple[str, str], ...] = field(default=())  # (source, reason): still only at the source
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return not self.both and not self.failed and not self.stopped


def _copy(client: S3Client, bucket: str, source: str, dest: str, etag: str = "") -> str:
    """One server-side copy that never overwrites (and copies only version `etag`); returns the new ETag."""
    client.meta.events.register("before-sign.s3.CopyObject", r2_copy_condition, unique_id=COPY_HOOK)
    condition: dict[str, Any] = {"CopySourceIfMatch": etag} if etag else {}
    response = client.copy_object(
        Bucket=bucket,
        Key=dest,
        CopySource={"Bucket": bucket, "Key": source},
        IfNoneMatch="*",
        MetadataDirective="COPY",
        **condition,
    )
    return str(response.get("CopyObjectResult", {}).get("ETag", "")).strip('"')


def _verified(client: S3Client, bucket: str, step: Step, copied_etag: str) -> bool:
    if copied_etag == step.etag and "-" not in step.etag:
        return True
    head = client.head_object(Bucket=bucket, Key=step.dest)  # multipart source: the copy's ETag differs
    return int(head.get("ContentLength", -1)) == step.size


def _run_step(client: S3Client, bucket: str, step: Step) -> str:
    """Copy one object (and its thumbnail); '' when verified, else the reason."""
    try:
        if not step.done:
            with s3_errors("copy the object", target=step.source, precondition="if-none-match"):
                etag = _copy(client, bucket, step.source, step.dest, step.etag)
                verified = _verified(client, bucket, step, etag)
            if not verified:
                return "the copy does not match the source (size or ETag)"
        if step.thumbnail:
            try:
                with s3_errors("copy the thumbnail", target=step.source, precondition="if-none-match"):
                    _copy(client, bucket, thumbnail_key(step.source), thumbnail_key(step.dest))
            except (AlreadyExists, NotFound):  # an existing thumbnail of the same key is ours from a rerun
                pass
    except AlreadyExists:  # a 412: one of the two conditions the copy sent failed
        return "the destination appeared, or the source changed since it was selected; nothing was overwritten"
    except R2Error as err:
        return str(err)
    return ""


def batches_of(pairs: Sequence[tuple[str, bool]]) -> list[list[str]]:
    """Keys to delete in DeleteObjects batches of <= 1,000, an object and its thumbnail always together."""
    batches: list[list[str]] = [[]]
    for key, thumb in pairs:
        keys = [key, thumbnail_key(key)] if thumb else [key]
        if len(batches[-1]) + len(keys) > DELETE_BATCH:
            batches.append([])
        batches[-1].extend(keys)
    return [b for b in batches if b]


Progress = Callable[[int, int], None]  # (done, total)


def run_transfer(
    client: S3Client,
    bucket: str,
    plan: TransferPlan,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_change: CatalogHook | None = None,
) -> TransferResult:
    """Copy every step (in parallel), then delete the verified sources of a move in batches."""
    copied: list[Step] = []
    failed: list[tuple[str, str]] = []
    stopped = False
    with ThreadPoolExecutor(WORKERS) as pool:
        for start in range(0, len(plan.steps), DELETE_BATCH // 2):
            if should_stop():
                stopped = True
                break
            chunk = plan.steps[start : start + DELETE_BATCH // 2]
            for step, reason in zip(chunk, pool.map(lambda s: _run_step(client, bucket, s), chunk), strict=True):
                if reason:
                    failed.append((step.source, reason))
                else:
                    copied.append(step)
            if progress:
                progress(len(copied) + len(failed), len(plan.steps))
    done: list[tuple[str, str]] = []
    both: list[tuple[str, str]] = []
    if plan.action == "copy":
        done = [(s.source, s.dest) for s in copied]
    else:
        by_key = {s.source: s for s in copied}
        for batch in batches_of([(s.source, s.thumbnail) for s in copied]):
            errors = delete_batch(client, bucket, batch)
            for key in batch:
                if key in by_key:
                    (both if key in errors else done).append((key, by_key[key].dest))
    if on_change is not None:
        on_change([*done, *both], [s for s, _ in done] if plan.action == "move" else [], {})
    return TransferResult(plan.action, tuple(done), tuple(both), tuple(failed), stopped)
