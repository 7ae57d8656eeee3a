"""`python -m r2 health [--json]`: run the health checks; exit 0 if nothing failed, 1 if any failed.

Usable from cron or CI: warnings do not fail the run. Settings problems are reported as the failed
first check (exit 2, like every settings error of the command line). The checks print as they
complete; `--json` prints one document `{"status": ..., "checks": [{name, status, detail, fix, ms}]}`.
"""

from __future__ import annotations

import argparse
from typing import Any

from r2.commands.common import NEEDS_CREDENTIALS, Context, UsageError
from r2.errors import SettingsError
from r2.health import Check, Deps, overall, report, run_checks

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def cmd_health(args: argparse.Namespace, ctx: Context) -> int:
    try:
        deps = Deps(settings=ctx.settings)
    except SettingsError as exc:
        deps = Deps(settings=None, problems=tuple(exc.problems))
    if deps.settings is not None and deps.settings.is_local:
        raise UsageError(NEEDS_CREDENTIALS)
    checks: list[Check] = []
    for check in run_checks(deps):
        checks.append(check)
        if not args.json:
            ctx.print(f"[{MARKS[check.status]}] {check.name}: {check.detail} ({check.ms:.0f} ms)")
            if check.fix and check.status in ("warn", "fail"):
                ctx.print(f"       fix: {check.fix}")
    status = overall(checks)
    if args.json:
        ctx.print_json(report(checks))
    else:
        ctx.print(f"health: {status}")
    if deps.settings is None:
        return 2
    return 1 if status == "fail" else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "health",
        help="check settings, endpoint, clock, credentials, permissions, signed URLs and CORS",
        description="Run every health check. Exit 0 when nothing failed (warnings allowed), 1 when a check "
        "failed, 2 on a usage or settings error.",
    )
    p.add_argument("--json", action="store_true", help='print {"status": ..., "checks": [...]} as JSON')
    p.set_defaults(func=cmd_health)
