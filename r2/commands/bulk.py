"""`mv`, `cp`, `rm` and `zip`: bulk work from the command line (the operator acts as an admin).

Every command prints what it did (or, with --dry-run, exactly what it would do and its request count)
and records one audit event. Exit 1 when anything failed or is left in both places (rerun to finish).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from r2 import bulk, bulk_actions, bulk_delete, zipdown
from r2.commands.browse import printable
from r2.commands.common import Context, UsageError, add_command

ACTOR = "cli"


def _transfer(args: argparse.Namespace, ctx: Context, action: str) -> int:
    settings, client = ctx.connect()
    selection = bulk.select_keys(client, settings.bucket, args.sources)
    for key in selection.missing:
        print(f"warning: {printable(key)} does not exist (already moved?)", file=ctx.err)
    if not selection.items:
        if args.json:
            ctx.print_json({"action": action, "done": [], "missing": list(selection.missing)})
        return 1 if selection.missing else 0
    plan = bulk.plan_transfer(client, settings.bucket, selection, args.dest, action=action)
    if args.dry_run:
        if args.json:
            steps = [{"source": s.source, "dest": s.dest, "already_copied": s.done} for s in plan.steps]
            ctx.print_json({"action": action, "dry_run": True, "steps": steps, "operations": plan.operations})
        else:
            for line in plan.describe():
                ctx.print(printable(line))
            ctx.print(f"{len(plan.steps)} objects, {plan.operations} requests (nothing changed: --dry-run)")
        return 0
    result = bulk.run_transfer(client, settings.bucket, plan, on_change=bulk.catalog_hook(settings))
    warning = bulk_actions.audit_transfer(client, settings.bucket, ACTOR, plan, result)
    if warning:
        print(f"warning: {warning}", file=ctx.err)
    if args.json:
        ctx.print_json(
            {
                "action": action,
                "done": [{"source": s, "dest": d} for s, d in result.done],
                "both": [{"source": s, "dest": d} for s, d in result.both],
                "failed": [{"source": s, "reason": r} for s, r in result.failed],
                "missing": list(selection.missing),
            }
        )
    else:
        for source, dest in result.done:
            ctx.print(f"{action}: {printable(source)} -> {printable(dest)}")
        for source, dest in result.both:
            ctx.print(f"in both places (run again to finish): {printable(source)} and {printable(dest)}")
        for source, reason in result.failed:
            print(f"failed: {printable(source)}: {reason}", file=ctx.err)
    return 0 if result.ok and not selection.missing else 1


def cmd_mv(args: argparse.Namespace, ctx: Context) -> int:
    return _transfer(args, ctx, "move")


def cmd_cp(args: argparse.Namespace, ctx: Context) -> int:
    return _transfer(args, ctx, "copy")


def cmd_rm(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    folders = [t for t in args.targets if t.endswith("/")]
    if folders and not args.recursive:
        raise UsageError(f"{folders[0]} is a folder: add --recursive to delete everything under it.")
    selection = bulk.select_keys(client, settings.bucket, args.targets)
    if not selection.items:
        print("nothing to delete", file=ctx.err)
        return 1 if selection.missing else 0
    plan = bulk_delete.plan_delete(client, settings.bucket, selection)
    summary = (
        f"{selection.count} objects, {selection.total_size:,} bytes, {len(plan.thumbnails)} thumbnails: "
        f"{plan.operations} DeleteObjects requests. R2 has no versioning: this is permanent."
    )
    if args.dry_run or not args.yes:
        if args.json:
            ctx.print_json(
                {
                    "dry_run": True,
                    "keys": list(selection.keys),
                    "count": selection.count,
                    "bytes": selection.total_size,
                    "operations": plan.operations,
                }
            )
        else:
            for key in selection.keys:
                ctx.print(f"delete {printable(key)}")
            ctx.print(summary)
        if not args.dry_run:
            print("refused: add --yes to delete (or --dry-run to only look)", file=ctx.err)
            return 2
        return 0
    report = bulk_delete.run_delete(client, settings.bucket, plan, on_change=bulk.catalog_hook(settings))
    warning = bulk_delete.audit_report(client, settings.bucket, ACTOR, plan, report)
    if warning:
        print(f"warning: {warning}", file=ctx.err)
    if args.json:
        ctx.print_json(
            {"deleted": list(report.deleted), "failed": [list(f) for f in report.failed], "remaining": report.remaining}
        )
    else:
        ctx.print(f"deleted {len(report.deleted)} objects in {report.calls} requests")
        for key, reason in report.failed:
            print(f"failed: {printable(key)}: {reason}", file=ctx.err)
        if report.remaining:
            print(f"{report.remaining} objects left: run the same command again", file=ctx.err)
    return 0 if report.ok else 1


def cmd_zip(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    sources = args.sources
    selection = bulk.select_keys(client, settings.bucket, sources)
    if selection.missing:
        raise UsageError(f"{selection.missing[0]} does not exist.")
    max_bytes = int((args.max_size or settings.zip_max_mb) * 1024 * 1024)
    zipdown.check_size(selection, max_bytes)
    report: zipdown.ZipReport
    if args.output == "-":
        report = zipdown.write_zip(client, settings.bucket, selection, sys.stdout.buffer, max_bytes=max_bytes)
    else:
        target = Path(args.output)
        # Written beside the target and renamed when complete: a cut download never leaves half a ZIP.
        fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=".zip", dir=target.parent or Path())
        try:
            with os.fdopen(fd, "wb") as out:
                report = zipdown.write_zip(client, settings.bucket, selection, out, max_bytes=max_bytes)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    warning = bulk_actions.audit_quietly(
        client, settings.bucket, ACTOR, "zip", f"{len(report.entries)} objects", keys=[k for k, _ in report.entries]
    )
    if warning:
        print(f"warning: {warning}", file=ctx.err)
    summary: dict[str, Any] = {"objects": len(report.entries), "bytes": report.bytes, "output": args.output}
    if args.json:
        summary["entries"] = [{"key": k, "name": n} for k, n in report.entries]
        print_to = ctx.err if args.output == "-" else ctx.out
        Context(out=print_to).print_json(summary)
    else:
        print(f"wrote {len(report.entries)} objects ({report.bytes:,} bytes) to {args.output}", file=ctx.err)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, func, verb in (("mv", cmd_mv, "move"), ("cp", cmd_cp, "copy")):
        help_text = f"{verb} objects or folders (ending in /) to a folder, server-side"
        p = add_command(sub, name, func, help_text, dry_run="print what would happen and its request count")
        p.add_argument("sources", nargs="+", metavar="SRC", help="object keys, or folders ending in /")
        p.add_argument("dest", metavar="DEST_FOLDER", help="destination folder, e.g. team/2026/")

    p = add_command(
        sub,
        "rm",
        cmd_rm,
        "delete objects (and their thumbnails); folders with --recursive",
        dry_run="print what would be deleted and the request count",
        yes="really delete (permanent: R2 has no versioning)",
    )
    p.add_argument("targets", nargs="+", metavar="KEY_OR_FOLDER/")
    p.add_argument("--recursive", "-r", action="store_true", help="delete everything under folders")

    p = add_command(
        sub, "zip", cmd_zip, "download objects or a folder (ending in /) as one ZIP",
        json="print a JSON summary (to stderr with -o -)",
    )  # fmt: skip
    p.add_argument("sources", nargs="+", metavar="PREFIX/|KEY")
    p.add_argument("-o", "--output", required=True, help="the ZIP file to write, or - for stdout")
    p.add_argument(
        "--max-size", type=float, default=None, metavar="MiB", help="refuse larger selections (default: R2_ZIP_MAX_MB)"
    )
