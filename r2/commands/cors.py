"""`python -m r2 cors get|set|lint|check|history|rollback|delete`: the CORS page on the command line.

Destructive commands (set, rollback, delete) ask for confirmation on a terminal; `--yes` skips the
question; without a terminal and without `--yes` they refuse with exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from r2 import cors, cors_store
from r2.commands.common import Context, UsageError, actor, confirm
from r2.errors import InvalidInput, R2Error
from r2.preflight import preflight


def register(sub: Any) -> None:
    parser = sub.add_parser("cors", help="view, change, lint and test the bucket's CORS policy")
    cmds = parser.add_subparsers(dest="cors_command", metavar="ACTION")
    cmds.required = True

    p = cmds.add_parser("get", help="show the live CORS policy")
    p.add_argument("--json", action="store_true", help="print the policy as JSON")
    p.add_argument(
        "--format", choices=("s3", "dashboard"), default="s3", help="JSON form: S3 API (default) or R2 dashboard"
    )
    p.set_defaults(func=cmd_get)

    p = cmds.add_parser("set", help="validate, snapshot, apply and read back a policy from FILE ('-': stdin)")
    p.add_argument("file")
    p.add_argument("--reason", default="", help="why (kept in the history and audit log)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_set)

    p = cmds.add_parser("lint", help="validate and lint a policy file (exit 1 when invalid)")
    p.add_argument("file")
    p.add_argument("--app-origin", default=None, help="origin that must be able to upload (default: R2_APP_ORIGIN)")
    p.set_defaults(func=cmd_lint)

    p = cmds.add_parser("check", help="send a real preflight (exit 0 allowed, 1 blocked)")
    p.add_argument("--origin", required=True)
    p.add_argument("--method", required=True)
    p.add_argument(
        "--header", action="append", default=[], help="a request header, or a comma list of them (repeatable)"
    )
    p.set_defaults(func=cmd_check)

    p = cmds.add_parser("history", help="list the saved versions, newest first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_history)

    p = cmds.add_parser("rollback", help="restore the policy live before VERSION (default: undo the last change)")
    p.add_argument("version", nargs="?")
    p.add_argument("--reason", default="")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_rollback)

    p = cmds.add_parser("delete", help="remove the bucket's CORS policy (snapshotted first)")
    p.add_argument("--reason", default="")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)


def read_file(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {name}: it is not UTF-8 text (a CORS policy is JSON).") from exc


def show_rules(ctx: Context, policy: cors.CorsPolicy) -> None:
    for row in cors.rows(policy):
        ctx.print(f"rule {row['Rule']}" + (f" ({row['ID']})" if row["ID"] else ""))
        for name, value in row.items():
            if name not in ("Rule", "ID") and value:
                ctx.print(f"  {name}: {value}")


def show_problems(ctx: Context, problems: list[cors.Problem], warnings: list[cors.Problem]) -> None:
    for problem in problems:
        ctx.print(f"error: {problem}")
    for warning in warnings:
        ctx.print(f"warning: {warning}")


def report(ctx: Context, result: cors_store.ChangeResult[cors.CorsPolicy], done: str) -> int:
    ctx.print(f"{done}. The previous policy is saved as version {result.version}.")
    ctx.print(cors.PROPAGATION_NOTE)
    if result.audit_error:
        print(f"warning: {result.audit_error}", file=ctx.err)
    return 0


def cmd_get(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    policy = cors_store.read_policy(client, settings.bucket)
    if args.json:
        if policy is None:
            ctx.print_json(None)
        else:
            ctx.print_json(policy.to_s3() if args.format == "s3" else policy.to_dashboard())
        return 0
    if policy is None:
        ctx.print(
            f"The bucket {settings.bucket} has no CORS policy: browsers on other sites (including this app's "
            "direct upload) cannot call it. Signed <img> links still work."
        )
        return 0
    show_rules(ctx, policy)
    show_problems(ctx, [], cors.lint(policy, settings.app_origin))
    return 0


def cmd_lint(args: argparse.Namespace, ctx: Context) -> int:
    origin = args.app_origin if args.app_origin is not None else ctx.settings.app_origin
    policy, problems, warnings = cors.check(read_file(args.file), origin)
    show_problems(ctx, problems, warnings)
    if problems:
        ctx.print(f"invalid: {len(problems)} problem(s); R2 would refuse this policy.")
        return 1
    assert policy is not None
    ctx.print(f"valid: {len(policy.rules)} rule(s), {len(warnings)} warning(s).")
    return 0


def cmd_set(args: argparse.Namespace, ctx: Context) -> int:
    settings = ctx.settings
    policy, problems, warnings = cors.check(read_file(args.file), settings.app_origin)
    show_problems(ctx, problems, warnings)
    if problems or policy is None:
        ctx.print("refused: the policy is invalid; nothing was sent.")
        return 1
    settings, client = ctx.connect()
    live = cors_store.read_policy(client, settings.bucket)
    if cors.same_policy(live, policy):
        ctx.print("The live policy is already this one; nothing to do.")
        return 0
    ctx.print(cors.diff(live, policy, old_name="live", new_name=args.file) or "")
    if not confirm(args, ctx, f"Replace the CORS policy of {settings.bucket}?"):
        return 1
    result = cors_store.apply(client, settings.bucket, policy, actor=actor(), reason=args.reason, expected=live)
    return report(ctx, result, "Applied and read back")


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    headers = cors.normalise_headers(args.header)  # "--header 'a, b'" is two headers, as on the page
    try:
        method = cors.require_method(args.method)
    except InvalidInput as err:
        raise UsageError(str(err)) from err
    settings, client = ctx.connect()
    result = preflight(settings, args.origin, method, headers)
    if result.error:
        ctx.print(f"error: {result.error}")
        return 1
    ctx.print(f"{'allowed' if result.allowed else 'blocked'}: {result.method} from {result.origin}")
    ctx.print(f"  preflight answer: HTTP {result.status}")
    for name, value in result.response_headers.items():
        ctx.print(f"  {name}: {value}")
    for reason in result.reasons:
        ctx.print(f"  why: {reason}")
    try:
        local = cors.evaluate(cors_store.read_policy(client, settings.bucket), args.origin, method, headers)
    except R2Error as err:
        ctx.print(f"  (could not read the policy to name the rule: {err.message})")
    else:
        if local.rule:
            ctx.print(f"  matching rule: {local.rule}")
        for reason in local.reasons if not result.allowed else ():
            ctx.print(f"  policy: {reason}")
    if result.allowed:
        ctx.print(
            "  note: if the browser still fails with 401/403, that is a signature or credential problem, not CORS."
        )
    ctx.print(f"  {cors.PROPAGATION_NOTE}")
    return 0 if result.allowed else 1


def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    entries = cors_store.history(client, settings.bucket, limit=args.limit)
    if args.json:
        ctx.print_json([e.to_dict() for e in entries])
        return 0
    if not entries:
        ctx.print("No CORS history yet: every change made through the app or this command is saved here first.")
        return 0
    for e in entries:
        before = "no policy" if e.before is None else f"{len(e.before.rules)} rule(s)"
        ctx.print(f"{e.version}  {e.at:%Y-%m-%d %H:%M:%S} UTC  {e.action}  by {e.actor}  (before: {before})")
        if e.reason:
            ctx.print(f"    why: {e.reason}")
    return 0


def cmd_rollback(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    entries = (
        [cors_store.get_version(client, settings.bucket, args.version)]
        if args.version
        else cors_store.history(client, settings.bucket, limit=1)
    )
    if not entries:
        ctx.print("There is no CORS history yet: nothing to roll back to.")
        return 1
    entry = entries[0]
    live = cors_store.read_policy(client, settings.bucket)
    ctx.print(
        f"Roll back to the policy that was live before version {entry.version} ({entry.action} by {entry.actor}):"
    )
    ctx.print(cors.diff(live, entry.before, old_name="live", new_name=f"before {entry.version}") or "(no difference)")
    if not confirm(args, ctx, f"Restore that policy on {settings.bucket}?"):
        return 1
    result = cors_store.rollback(
        client, settings.bucket, entry.version, actor=actor(), reason=args.reason, expected=live
    )
    return report(ctx, result, "Rolled back and read back")


def cmd_delete(args: argparse.Namespace, ctx: Context) -> int:
    settings, client = ctx.connect()
    live = cors_store.read_policy(client, settings.bucket)
    if live is None:
        ctx.print("The bucket has no CORS policy; nothing to delete.")
        return 0
    show_rules(ctx, live)
    if not confirm(args, ctx, f"Delete the CORS policy of {settings.bucket}? Browser uploads will stop working."):
        return 1
    result = cors_store.delete(client, settings.bucket, actor=actor(), reason=args.reason, expected=live)
    return report(ctx, result, "Deleted")
