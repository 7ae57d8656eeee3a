"""`python -m r2 upload FILE... [--folder NAME] [--json]`: the upload pipeline from the command line."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from r2.catalog import Catalog
from r2.commands.common import Context, UsageError
from r2.direct import sweep
from r2.errors import InvalidInput
from r2.uploads import Rejected, Result, Uploaded, choose_folder, upload_files


def register(sub: Any) -> None:
    p = sub.add_parser(
        "upload",
        help="upload images (checked by content, GPS removed, never overwriting, with thumbnails)",
        description="Upload image files to {folder}/{uuid}.{ext}. Exit 0 when every file was uploaded, "
        "1 when any was rejected, 2 on a usage or settings error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="image files")
    p.add_argument("--folder", help="one of R2_FOLDERS (default: the first)")
    p.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="store a file even when the same image (same SHA-256 after cleaning) is already stored; "
        "by default such files are reported and skipped",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of {file, status, key, reason}")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser(
        "direct-sweep",
        help="check direct uploads that no browser reported (staged under .dashboard/direct/): keep or delete",
        description="Verify and promote, or delete, staged direct uploads whose links have expired and that "
        "nobody reported; each gets an audit event. One LIST when nothing is due. Run it from cron as a "
        "backstop. Exit 0 when none failed, 1 when any check failed (it is tried again next time).",
    )
    p.add_argument("--json", action="store_true", help="print JSON: {outcomes: [...], waiting, records_removed}")
    p.set_defaults(func=cmd_direct_sweep)


def cmd_upload(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    try:  # a wrong folder is a usage error, refused before any file is read
        folder = choose_folder(settings, args.folder)
    except InvalidInput as exc:
        raise UsageError(str(exc)) from exc
    actor = f"cli:{_user()}"

    def report(done: int, result: Result) -> None:  # as each file ends: an interrupted batch has said what it stored
        if args.json:
            return
        path = args.files[done - 1]  # the command line names files as given (the result's is the bare name)
        if isinstance(result, Uploaded):
            ctx.print(f"uploaded {result.key}")
            for problem in result.problems:
                ctx.print(f"  warning: {problem}")
        elif result.duplicate_of:
            ctx.print(f"skipped {path}: the same image is already stored as {result.duplicate_of}")
        else:
            ctx.print(f"rejected {path}: {result.reason}")
        ctx.out.flush()

    files = [(f, Path(f)) for f in args.files]
    results = upload_files(
        client,
        settings,
        files,
        folder=folder,
        actor=actor,
        on_progress=report,
        catalog=Catalog(settings, client),
        duplicates=args.allow_duplicates,
    )
    if args.json:
        ctx.print_json([_as_json(path, r) for path, r in zip(args.files, results, strict=True)])
    # A skipped duplicate is not a failure: the image is in the bucket (--allow-duplicates stores it again).
    return 0 if all(isinstance(r, Uploaded) or r.duplicate_of for r in results) else 1


def cmd_direct_sweep(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    result = sweep(client, settings, catalog=Catalog(settings, client))
    if args.json:
        ctx.print_json(
            {
                "outcomes": [{"key": o.key, "status": o.status, "message": o.message} for o in result.outcomes],
                "waiting": result.waiting,
                "records_removed": result.records_removed,
            }
        )
    else:
        for o in result.outcomes:
            ctx.print(f"{o.status} {o.key}: {o.message}".rstrip(": "))
        ctx.print(f"{len(result.outcomes)} checked, {result.waiting} waiting for their links to expire")
    return 1 if any(o.status == "failed" for o in result.outcomes) else 0


def _as_json(path: str, result: Result) -> dict[str, object]:
    out: dict[str, object] = {"file": path, "status": result.status, "key": result.key or None, "reason": None}
    if isinstance(result, Rejected):
        out["reason"] = result.reason
        out["duplicate_of"] = result.duplicate_of or None
    else:
        out.update(
            size=result.size,
            format=result.format,
            width=result.width,
            height=result.height,
            thumbnail=result.thumbnail_key,
            removed=list(result.removed),
            warnings=list(result.problems),
        )
    return out


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
