"""`python -m r2 audit`: the audit log, newest first, filtered like the Audit page; CSV or JSON out."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date
from typing import Any

from r2 import audit


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_audit(args: argparse.Namespace, ctx: Any) -> int:
    settings, client = ctx.connect()
    keep = audit.matching(args.user or "", args.action or (), args.outcome or "")
    page = audit.query(client, settings.bucket, limit=args.limit, since=args.since, until=args.until, keep=keep)
    if args.csv:
        ctx.out.write(audit.to_csv(page.events))
    elif args.json:
        ctx.print_json(
            {
                "events": [{**asdict(e), "at": e.at.isoformat()} for e in page.events],
                "scanned": page.scanned,
                "complete": page.complete,
            }
        )
    else:
        for e in page.events:
            ctx.print(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.actor}  {e.action}  {e.outcome}  {e.target}")
        if not page.events:
            ctx.print("no events")
    if not page.complete:
        print(f"note: stopped after reading {page.scanned} events; use --since/--until", file=ctx.err)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="list the audit log, newest first")
    p.add_argument("--user", help="only events whose user contains this text")
    p.add_argument("--action", action="append", help="only this action (repeatable), e.g. delete")
    p.add_argument("--outcome", choices=audit.OUTCOMES, help="only this outcome")
    p.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (UTC)")
    p.add_argument("--limit", type=int, default=200, help="at most this many events (default 200)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print CSV (spreadsheet-safe)")
    out.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_audit)
