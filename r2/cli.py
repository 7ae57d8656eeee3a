"""`python -m r2 ...`: the command line over the same library the app uses.

Exit status: 0 success, 1 the operation failed or found a problem, 2 usage or settings error.
Commands live in `r2/commands/<topic>.py`, each module with `register(subparsers)` that adds its
parsers with `set_defaults(func=...)`; a command is `func(args, ctx) -> exit status`. Commands that
need the bucket call `ctx.connect()`. Output is plain text, or JSON with `--json`.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO, cast

from r2.commands import COMMAND_MODULES
from r2.commands.common import Context, UsageError

__all__ = ["Context", "UsageError", "build_parser", "main", "main_exit"]  # scripts and tests use these
from r2.errors import R2Error, SettingsError, redact


class Redacting(io.TextIOBase):
    """A text stream that passes everything through `r2.errors.redact` (the configured secrets; with
    `signatures`, also URL signatures). The command line's stdout and stderr are wrapped in it, so no
    command can print a secret that an API or a server echoed back."""

    def __init__(self, stream: TextIO, ctx: Context, *, signatures: bool) -> None:
        self.stream, self.ctx, self.signatures = stream, ctx, signatures

    def write(self, text: str) -> int:
        self.stream.write(redact(text, self.ctx.secret_values(), signatures=self.signatures))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


Command = Callable[[argparse.Namespace, Context], int]


def cmd_config(args: argparse.Namespace, ctx: Context) -> int:
    """Show the effective settings (secrets masked) and where the app will connect."""
    settings = ctx.settings
    if args.json:
        ctx.print_json({"target": settings.describe_target(), "settings": settings.masked()})
        return 0
    ctx.print(f"target: {settings.describe_target()}")
    for name, value in settings.masked().items():
        ctx.print(f"{name}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=Path(sys.argv[0]).name if sys.argv[0].endswith("r2-dashboard") else "python -m r2",
        description="Manage a private Cloudflare R2 image bucket (the dashboard's command line).",
        epilog="Settings come from R2_* environment variables, .env or .streamlit/secrets.toml [r2]. "
        "Exit status: 0 ok, 1 failed, 2 usage or settings error.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("config", help="show the effective settings, secrets masked")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_config)

    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> int:
    ctx = ctx or Context()
    if not isinstance(ctx.out, Redacting):
        # stdout may carry a signed URL (`sign`), which is the output itself; stderr may not.
        ctx.out = cast(TextIO, Redacting(ctx.out, ctx, signatures=False))
        ctx.err = cast(TextIO, Redacting(ctx.err, ctx, signatures=True))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        func: Command = args.func
        return func(args, ctx)
    except SettingsError as exc:
        print("error: the settings have problems:", file=ctx.err)
        for problem in exc.problems:
            print(f"  - {problem}", file=ctx.err)
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=ctx.err)
        return 2
    except R2Error as exc:
        print(f"error: {exc.message}", file=ctx.err)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=ctx.err)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=ctx.err)
        return 130


def main_exit() -> None:
    """Console-script entry point (`r2-dashboard`): exit with the command's status."""
    sys.exit(main())
