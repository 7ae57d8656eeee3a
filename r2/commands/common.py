"""What every command shares: the context (settings, client, output) and the usage error.

Its own module, so that `r2.cli` (which registers the commands) and the command modules (which use
these) never import each other.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from r2.client import S3Client, make_client
from r2.errors import SettingsError
from r2.settings import SECRET_ENV_NAMES, Settings, gather, load_settings

NEEDS_CREDENTIALS = (
    "No R2 credentials are configured. Set R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY and "
    "R2_BUCKET (or R2_ENDPOINT for another S3-compatible server) in the environment, .env or "
    ".streamlit/secrets.toml. The command line has no embedded demo bucket."
)


def actor() -> str:
    """Who runs the command, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


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


def confirm(args: argparse.Namespace, ctx: Context, question: str) -> bool:
    """True when --yes was given or a person answered yes on a terminal; False (and say why) otherwise."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print("refused: not a terminal, so nobody can confirm; add --yes to proceed.", file=ctx.err)
        return False
    ctx.err.write(f"{question} [y/N] ")
    ctx.err.flush()
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    print("cancelled: nothing was changed.", file=ctx.err)
    return False


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace, Context], int],
    help: str,
    *,
    json: str = "print JSON",
    dry_run: str = "",
    yes: str = "",
) -> argparse.ArgumentParser:
    """A subcommand running `func`, with the flags every command spells alike: `--dry-run` and `--yes`
    when their help is given, `--json` unless its help is empty. The caller adds the rest."""
    parser = sub.add_parser(name, help=help)
    if dry_run:
        parser.add_argument("--dry-run", action="store_true", help=dry_run)
    if yes:
        parser.add_argument("--yes", action="store_true", help=yes)
    if json:
        parser.add_argument("--json", action="store_true", help=json)
    parser.set_defaults(func=func)
    return parser
