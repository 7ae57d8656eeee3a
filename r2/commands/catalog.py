"""`python -m r2 find ...` and `python -m r2 catalog sync|stats|duplicates`: the catalog from a terminal.

`find` answers from the catalog (no listing of the bucket); `catalog sync` lists the bucket once,
says what it will cost, asks (or takes `--yes`), then records what other tools changed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from r2 import catalog_reports, catalog_sync
from r2.catalog import SORTS, Catalog, Search, search
from r2.commands.common import Context, UsageError, add_command, confirm


def _date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(sub: Any) -> None:
    p = add_command(
        sub, "find", cmd_find, "find images by name, uploader, folder, type, date or size (from the catalog)"
    )
    p.add_argument("--name", default="", help="part of the original file name, any case")
    p.add_argument("--uploader", default="", help="part of the uploader's email")
    p.add_argument("--folder", default="", help="a folder, with its sub-folders")
    p.add_argument("--type", default="", help="format (JPEG, PNG, …) or content type")
    p.add_argument("--since", type=_date, help="uploaded on or after (YYYY-MM-DD)")
    p.add_argument("--until", type=_date, help="uploaded before (YYYY-MM-DD)")
    p.add_argument("--min-size", type=int, help="bytes")
    p.add_argument("--max-size", type=int, help="bytes")
    p.add_argument("--sort", choices=tuple(SORTS), default="newest")
    p.add_argument("--limit", type=int, default=60, help="at most this many (1-1000, default 60)")

    cat = sub.add_parser("catalog", help="the catalog: sync it with the bucket, figures, duplicates")
    actions = cat.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    help_sync = "record what other tools changed (one listing, one HEAD per change)"
    add_command(actions, "sync", cmd_sync, help_sync, yes="do not ask for confirmation")
    add_command(actions, "stats", cmd_stats, "totals by folder, type, month and uploader, from the catalog")
    add_command(actions, "duplicates", cmd_duplicates, "groups of identical images and the bytes they waste")


def cmd_find(args: argparse.Namespace, ctx: Context) -> int:
    if not 1 <= args.limit <= 1000:
        raise UsageError("--limit must be between 1 and 1000")
    settings, client = ctx.connect()
    query = Search(
        name=args.name,
        uploader=args.uploader,
        folder=args.folder,
        type=args.type,
        since=args.since,
        until=args.until,
        min_size=args.min_size,
        max_size=args.max_size,
        sort=args.sort,
        limit=args.limit,
    )
    page = search(Catalog(settings, client), query)
    if args.json:
        ctx.print_json(
            {"total": page.total, "catalog_version": page.version, "results": [r.as_record() for r in page.rows]}
        )
        return 0
    if page.version is None:
        ctx.print("no catalog yet: run `python -m r2 catalog sync` to build it")
        return 1
    for row in page.rows:
        when = (row.uploaded_at or row.last_modified).strftime("%Y-%m-%d")
        ctx.print(f"{row.key}\t{row.display_name}\t{row.uploader or '-'}\t{when}\t{row.size:,}")
    ctx.print(f"{len(page.rows)} of {page.total} shown")
    return 0


def cmd_sync(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    catalog = Catalog(settings, client)
    plan = catalog_sync.plan(catalog, client, settings.bucket)
    if not args.json:
        ctx.print(plan.summary(settings))
    if plan.head_calls and not confirm(args, ctx, f"Read {plan.head_calls:,} objects and update the catalog?"):
        return 1

    def progress(p: catalog_sync.SyncProgress) -> None:
        if not args.json and ctx.err is sys.stderr and sys.stderr.isatty():
            print(f"\r{p.read:,} of {p.total:,} read", end="", file=ctx.err)

    result = catalog_sync.run(catalog, client, settings.bucket, plan, progress=progress)
    if args.json:
        ctx.print_json(
            {
                "listed": plan.listed,
                "list_calls": plan.list_calls,
                "head_calls": plan.head_calls,
                "recorded": result.recorded,
                "removed": result.removed,
                "vanished": result.vanished,
                "catalog_version": catalog.version(refresh=True),
            }
        )
    else:
        ctx.print(f"recorded {result.recorded:,}, removed {result.removed:,}, vanished meanwhile {result.vanished:,}")
    return 0


def cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    figures = catalog_reports.stats(Catalog(settings, client))
    if args.json:
        ctx.print_json(figures.to_dict())
        return 0
    age = figures.updated_at.strftime("%Y-%m-%d %H:%M UTC") if figures.updated_at else "never"
    ctx.print(f"objects: {figures.objects:,}  bytes: {figures.bytes:,}  (catalog updated {age})")
    for title, rows in (
        ("by folder", figures.by_folder),
        ("by type", figures.by_type),
        ("by uploader", figures.by_uploader),
    ):
        ctx.print(f"\n{title}:")
        for name, count, size in rows[:20]:
            ctx.print(f"  {name}  {count:,} objects  {size:,} bytes")
    return 0


def cmd_duplicates(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    groups = catalog_reports.duplicates(Catalog(settings, client))
    if args.json:
        ctx.print_json(
            [{"sha256": g.sha256, "keys": list(g.keys), "size": g.size, "wasted_bytes": g.wasted_bytes} for g in groups]
        )
        return 0
    for group in groups:
        ctx.print(f"{len(group.keys)} copies, {group.wasted_bytes:,} bytes wasted: {', '.join(group.keys)}")
    ctx.print(f"{len(groups)} group(s), {sum(g.wasted_bytes for g in groups):,} bytes wasted")
    return 0
