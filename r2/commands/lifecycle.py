"""`python -m r2 lifecycle get|set FILE|rollback [VERSION]|history`: the bucket's lifecycle rules (admins)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from r2 import lifecycle
from r2.commands.common import Context

ACTOR = "cli"


def cmd_get(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    rules = lifecycle.read(client, settings.bucket)
    if args.json or rules:
        ctx.print_json({"Rules": rules})
    else:
        ctx.print("(no lifecycle rules)")
    return 0


def _report(ctx: Context, args: argparse.Namespace, applied: lifecycle.Applied) -> int:
    change = lifecycle.diff(applied.before, applied.after)
    if applied.audit_error:
        print(f"warning: {applied.audit_error}", file=ctx.err)
    if args.json:
        ctx.print_json({"version": applied.version, "before": applied.before, "after": applied.after})
    else:
        ctx.print(change or "(no change)")
        ctx.print(f"applied and read back; the previous rules are saved as version {applied.version}")
    return 0


def cmd_set(args: argparse.Namespace, ctx: Context) -> int:
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    rules = lifecycle.parse(text)
    lifecycle.require_valid(rules)  # before connecting
    settings, client = ctx.connect()
    if args.dry_run:
        ctx.print(lifecycle.diff(lifecycle.read(client, settings.bucket), rules) or "(no change)")
        return 0
    return _report(ctx, args, lifecycle.apply(client, settings.bucket, rules, actor=ACTOR))


def cmd_rollback(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    applied = lifecycle.rollback(client, settings.bucket, actor=ACTOR, version=args.version or "")
    return _report(ctx, args, applied)


def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    entries = lifecycle.history(client, settings.bucket, limit=args.limit)
    if args.json:
        ctx.print_json([e.to_dict() for e in entries])
    elif not entries:
        ctx.print("No lifecycle history yet: every change made through the app or this command is saved here first.")
    for e in entries if not args.json else ():
        ctx.print(
            f"{e.version}  {e.at:%Y-%m-%d %H:%M:%S} UTC  {e.action}  by {e.actor}  "
            f"(before: {len(e.before or [])} rule(s))"
        )
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("lifecycle", help="view and change the bucket's lifecycle rules (R2's subset)")
    cmds = parser.add_subparsers(dest="lifecycle_command", metavar="ACTION")
    cmds.required = True
    p = cmds.add_parser("get", help="print the live rules as S3 JSON")
    p.add_argument("--json", action="store_true", help="print JSON even when there are no rules")
    p.set_defaults(func=cmd_get)
    p = cmds.add_parser("set", help="validate, snapshot, apply and read back the rules in FILE ('-': stdin)")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="print the diff with the live rules only")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_set)
    p = cmds.add_parser("rollback", help="restore the rules live before VERSION (default: the last change)")
    p.add_argument("version", nargs="?", default="")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_rollback)
    p = cmds.add_parser("history", help="list the saved versions (the rules live before each change), newest first")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_history)
