"""Deleting folders and selections (admins): plan (count, size, exact request count), confirm, run.

`DeleteObjects` takes 1,000 keys per call; an object and its thumbnail always go in the same call, so
a stop or a failure never leaves a thumbnail without its image or the reverse. R2 has no versioning:
a delete is permanent, hence the typed confirmation beyond CONFIRM_OVER objects. A delete cut half way
is reported (failed and remaining keys); running it again deletes what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from r2.bulk import CatalogHook, Progress, Selection, _refuse_reserved, batches_of, existing_thumbnails
from r2.bulk_actions import audit_quietly
from r2.client import S3Client
from r2.errors import InvalidInput
from r2.naming import thumbnail_key
from r2.objects import delete_batch

CONFIRM_OVER = 100  # deleting more objects than this needs the folder's name typed


@dataclass(frozen=True)
class DeletePlan:
    selection: Selection
    thumbnails: frozenset[str]
    list_calls: int

    @property
    def batches(self) -> list[list[str]]:
        return batches_of([(i.key, thumbnail_key(i.key) in self.thumbnails) for i in self.selection.items])

    @property
    def operations(self) -> int:
        """Exactly the DeleteObjects calls the run makes (one per 1,000 keys, thumbnails included)."""
        return len(self.batches)

    def needs_typed_confirmation(self) -> bool:
        return self.selection.count > CONFIRM_OVER


def plan_delete(client: S3Client, bucket: str, selection: Selection) -> DeletePlan:
    """What a delete will remove: the objects and the thumbnails that exist (one listing per folder)."""
    _refuse_reserved(selection.keys)
    if not selection.items:
        raise InvalidInput("Nothing was selected to delete.")
    thumbs, calls = existing_thumbnails(client, bucket, selection.keys)
    return DeletePlan(selection, thumbs, selection.list_calls + calls)


def check_confirmation(plan: DeletePlan, expected: str, typed: str, what: str = "the folder's name") -> None:
    """More than CONFIRM_OVER objects: `expected` (`what` it is: the folder's name, the number of
    objects) must be typed (R2 has no undo)."""
    if plan.needs_typed_confirmation() and typed.strip().strip("/") != expected.strip().strip("/"):
        raise InvalidInput(
            f"Deleting {plan.selection.count} objects needs {what} typed to confirm.",
            "Nothing was deleted. R2 has no versioning: a delete is permanent.",
        )


@dataclass(frozen=True)
class DeleteReport:
    deleted: tuple[str, ...]
    failed: tuple[tuple[str, str], ...] = ()
    remaining: int = 0  # not attempted (stopped, or a failure)
    calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.remaining


def run_delete(
    client: S3Client,
    bucket: str,
    plan: DeletePlan,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_change: CatalogHook | None = None,
) -> DeleteReport:
    """DeleteObjects in batches of 1,000, progress after each, a stop between batches."""
    objects = set(plan.selection.keys)
    deleted: list[str] = []
    failed: list[tuple[str, str]] = []
    batches = plan.batches
    calls = 0
    for number, batch in enumerate(batches):
        if should_stop():
            break
        errors = delete_batch(client, bucket, batch)
        calls += 1
        failed += [(k, errors[k]) for k in batch if k in objects and k in errors]
        deleted += [k for k in batch if k in objects and k not in errors]
        if progress:
            progress(number + 1, len(batches))
    if on_change is not None:
        on_change([], deleted, {})
    remaining = len(objects) - len(deleted) - len(failed)
    return DeleteReport(tuple(deleted), tuple(failed), remaining, calls)


def audit_report(client: S3Client, bucket: str, actor: str, plan: DeletePlan, report: DeleteReport) -> str:
    """The one audit event of a delete ('' when written, else why not)."""
    return audit_quietly(
        client,
        bucket,
        actor,
        "delete",
        f"{plan.selection.count} objects",
        deleted=list(report.deleted),
        failed=[list(f) for f in report.failed],
        remaining=report.remaining,
    )
