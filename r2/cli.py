"""`python -m r2 ...`: the command line over the same library the app uses.

Exit status: 0 success, 1 the operation failed or found a problem, 2 usage or settings error.
Commands live in `r2/commands/<topic>.py`, each module with `register(subparsers)` that adds its
parsers with `set_defaults(func=...)`; a command is `func(args, ctx) -> exit status`. Commands that
need the bucket call `ctx.connect()`. Output is plain text, or JSON with `--json`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from r2.client import S3Client, make_client
from r2.errors import R2Error, SettingsError, redact
from r2.settings import SECRET_ENV_NAMES, Settings, gather, load_settings

NEEDS_CREDENTIALS = (
    "No R2 credentials are configured. Set R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY and "
    "R2_BUCKET (or R2_ENDPOINT for another S3-compatible server) in the environment, .env or "
    ".streamlit/secrets.toml. The command line has no embedded demo bucket."
)


class UsageError(Exception):
    """Exit status 2 with this message."""


@dataclass
class Context:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    environ: dict[str, str] | None = None
    _settings: Settings | None = None
    _client: S3Client | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.environ)
        return self._settings

    def connect(self) -> tuple[Settings, S3Client]:
        """Settings and a client for the configured bucket, or exit 2 when none is configured."""
        if self.settings.is_local:
            raise UsageError(NEEDS_CREDENTIALS)
        if self._client is None:
            self._client = make_client(self.settings)
        return self.settings, self._client

    def secret_values(self) -> tuple[str, ...]:
        try:
            return self.settings.secret_values()
        except SettingsError:  # reported as such; whatever did parse is still not printed
            return tuple(
                v
                for k, v in gather(os.environ if self.environ is None else self.environ).items()
                if k in SECRET_ENV_NAMES
            )

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)

    def print_json(self, value: Any) -> None:
        json.dump(value, self.out, indent=2, default=str, ensure_ascii=False)
        self.out.write("\n")


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

    from r2.commands import COMMAND_MODULES  # imported here: command modules import Context from us

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
