"""`python -m r2 ls [PREFIX] [--json]` and `python -m r2 sign KEY [--expires SECONDS]`."""

from __future__ import annotations

import argparse
import unicodedata
from typing import Any

from r2.browse import list_level
from r2.commands.common import Context
from r2.presign import check_expiry, sign_get


def printable(key: str) -> str:
    """A key for a terminal: control characters (escape sequences) shown as \\xNN, never sent raw."""
    return "".join(f"\\x{ord(ch):02x}" if unicodedata.category(ch) == "Cc" else ch for ch in key)


def cmd_ls(args: argparse.Namespace, ctx: Context) -> int:
    """One level of the bucket: sub-folders, then objects with size and date (reserved prefixes hidden)."""
    settings, client = ctx.connect()
    level = list_level(client, settings.bucket, args.prefix or "")
    if args.json:
        rows: list[dict[str, Any]] = [{"type": "folder", "key": f.key} for f in level.folders]
        rows += [
            {
                "type": "object",
                "key": o.key,
                "size": o.size,
                "last_modified": o.last_modified.isoformat() if o.last_modified else None,
                "etag": o.etag,
            }
            for o in level.objects
        ]
        ctx.print_json({"bucket": settings.bucket, "prefix": level.folder, "entries": rows})
        return 0
    for folder in level.folders:
        ctx.print(f"{'PRE':>25} {'':>12}  {printable(folder.key)}")
    for obj in level.objects:
        when = obj.last_modified.strftime("%Y-%m-%d %H:%M:%S") if obj.last_modified else "-"
        ctx.print(f"{when:>25} {obj.size:>12}  {printable(obj.key)}")
    if level.is_empty:
        ctx.print(f"(nothing under {level.folder or 'the bucket root'})")
    return 0


def cmd_sign(args: argparse.Namespace, ctx: Context) -> int:
    """Print a signed GET URL (refused with exit 1 beyond 7 days, before connecting)."""
    expires = check_expiry(args.expires if args.expires is not None else ctx.settings.share_ttl_seconds)
    settings, client = ctx.connect()
    ctx.print(sign_get(client, settings.bucket, args.key, expires))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ls", help="list one level of the bucket: folders, then objects with size and date")
    p.add_argument("prefix", nargs="?", default="", help="folder to list, e.g. uploads/ (default: the root)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("sign", help="print a signed GET URL for an object (at most 7 days)")
    p.add_argument("key", help="the object's key")
    p.add_argument(
        "--expires",
        type=int,
        default=None,
        metavar="SECONDS",
        help="lifetime in seconds, 1..604800 (default: R2_SHARE_TTL_SECONDS)",
    )
    p.set_defaults(func=cmd_sign)
