"""The command line run in process, as a user's shell would, with its output captured."""

from __future__ import annotations

import io

from r2.cli import Context, main


def run(argv: list[str], environ: dict[str, str]) -> tuple[int, str, str]:
    """`python -m r2 ARGV` with `environ` as its whole environment: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, Context(out=out, err=err, environ=environ))
    return code, out.getvalue(), err.getvalue()
