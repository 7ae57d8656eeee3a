"""`r2-dashboard serve` (or `python -m r2 serve`): start the dashboard with the project's own config.

Runs `streamlit run app.py` from the app's folder (the checkout or the container image, where
`app.py`, `pages/`, `ui/` and `.streamlit/config.toml` sit next to the `r2` package), so the packaged
server settings apply (no file watcher, XSRF on, upload limit). Settings come from the environment as
everywhere else; nothing secret is passed on the command line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from r2.commands.common import Context, UsageError

APP_DIR = Path(__file__).resolve().parent.parent.parent


def streamlit_command(app_dir: Path, port: int, address: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_dir / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        address,
    ]


def cmd_serve(args: argparse.Namespace, ctx: Context) -> int:
    app_dir = Path(args.app_dir) if args.app_dir else APP_DIR
    if not (app_dir / "app.py").is_file() or not (app_dir / ".streamlit" / "config.toml").is_file():
        raise UsageError(
            f"{app_dir} holds no app.py with .streamlit/config.toml. `serve` runs from a checkout of the "
            "dashboard or its container image; pass --app-dir to name the folder."
        )
    command = streamlit_command(app_dir, args.port, args.address)
    if args.dry_run:
        ctx.print(" ".join(command))
        return 0
    # From the app's folder, so Streamlit reads its .streamlit/config.toml (and secrets.toml, if any).
    return subprocess.call(command, cwd=app_dir, env=os.environ.copy())  # noqa: S603  our own argv


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="start the dashboard (streamlit run app.py with the packaged config)")
    p.add_argument("--port", type=int, default=int(os.environ.get("STREAMLIT_SERVER_PORT", "8501")))
    p.add_argument("--address", default="127.0.0.1", help="listen address (default 127.0.0.1; 0.0.0.0 in a container)")
    p.add_argument("--app-dir", help="the folder holding app.py (default: next to the r2 package)")
    p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    p.set_defaults(func=cmd_serve)
