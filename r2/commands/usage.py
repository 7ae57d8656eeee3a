"""`python -m r2 usage [--json] [--depth N]`: scan the bucket and print what it holds and costs."""

from __future__ import annotations

import argparse
from typing import Any

from r2.commands.common import Context, UsageError, actor
from r2.usage import Progress, ScanSaved, estimate_cost, make_lister, save_scan, scan


def register(sub: Any) -> None:
    p = sub.add_parser(
        "usage",
        help="scan the bucket: totals, by folder, type and month, largest objects, cost",
        description="List the whole bucket (one Class A LIST per 1,000 keys) and aggregate as it streams.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--depth", type=int, default=1, help="folder depth for the by-folder breakdown (default 1)")
    p.add_argument("--top", type=int, default=20, help="how many of the largest objects to list (default 20)")
    p.add_argument(
        "--engine",
        choices=("obstore", "boto3"),
        default="obstore",
        help="listing engine: obstore (fast, default) or boto3 (slower, reports storage classes)",
    )
    p.add_argument(
        "--save",
        action="store_true",
        help="also save the result as a snapshot in the bucket and record it in the audit log",
    )
    p.set_defaults(func=cmd_usage)


def cmd_usage(args: argparse.Namespace, ctx: Context) -> int:
    if not 1 <= args.depth <= 10:
        raise UsageError("--depth must be between 1 and 10")
    if not 1 <= args.top <= 1000:
        raise UsageError("--top must be between 1 and 1000")
    settings, client = ctx.connect()

    def progress(p: Progress) -> None:
        if not args.json and ctx.err.isatty():
            print(f"\r{p.objects:,} objects, {p.bytes:,} bytes, {p.rate:,.0f}/s", end="", file=ctx.err)

    report = scan(
        make_lister(args.engine, settings, client),
        settings.bucket,
        client=client,
        depth=args.depth,
        top_n=args.top,
        progress=progress,
    )
    saved = save_scan(client, settings.bucket, report, actor=actor()) if args.save else None
    status = _say_saved(saved, ctx)
    data = report.to_dict(settings)
    if args.json:
        ctx.print_json(data)
        return status
    cost = estimate_cost(report.bytes, settings)
    ctx.print(f"bucket: {report.bucket}")
    ctx.print(f"objects: {report.objects:,}  bytes: {report.bytes:,} ({cost.stored_gb:.3f} GB)")
    ctx.print(
        f"estimated storage cost: ${cost.storage_usd:.2f}/month; free tier left: {cost.free_storage_left_gb:.2f} GB"
    )
    ctx.print(f"scan: {report.list_calls} LIST calls, {report.seconds:.1f} s ({report.engine})")
    for title, table in (("by folder", report.by_prefix), ("by type", report.by_type), ("by month", report.by_month)):
        ctx.print(f"\n{title}:")
        for name, group in table.items():
            ctx.print(f"  {name}  {group['objects']:,} objects  {group['bytes']:,} bytes")
    if report.reserved:
        ctx.print("\nthe app's own data (counted in the totals):")
        for name, group in report.reserved.items():
            ctx.print(f"  {name}  {group['objects']:,} objects  {group['bytes']:,} bytes")
    ctx.print("\nlargest:")
    for obj in report.largest:
        ctx.print(f"  {obj.bytes:,}  {obj.key}")
    ctx.print(f"\nincomplete multipart uploads: {len(report.incomplete_uploads)}")
    for upload in report.incomplete_uploads[:20]:
        ctx.print(f"  {upload.key} (started {upload.initiated})")
    return status


def _say_saved(saved: ScanSaved | None, ctx: Context) -> int:
    """Tell on stderr what of `--save` failed (the numbers still print); 1 when anything did."""
    if saved is None:
        return 0
    for what, err in (("its snapshot", saved.snapshot_error), ("the audit event", saved.audit_error)):
        if err is not None:
            print(f"usage: the scan finished but {what} could not be saved: {err}", file=ctx.err)
    return 1 if saved.snapshot_error or saved.audit_error else 0
