"""`python -m r2 usage [--json] [--depth N]`: scan the bucket and print what it holds and costs."""

from __future__ import annotations

import argparse
from typing import Any

from r2.commands.common import Context, UsageError
from r2.usage import Progress, estimate_cost, scan
from r2.usage_listing import make_lister


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
    p.add_argument("--save", action="store_true", help="also save the result as a snapshot in the bucket")
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
    if args.save:
        from r2.usage_snapshots import save

        save(client, settings.bucket, report)
    data = report.to_dict(settings)
    if args.json:
        ctx.print_json(data)
        return 0
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
    return 0
