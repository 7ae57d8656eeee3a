"""Load benchmark (docs/bench/load.md): the same concurrent browser sessions as the load test
(tests/support/load.py drives them), twice on one app instance each: with Streamlit's defaults, then
with this app's `.streamlit/config.toml`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bench.common import local_bucket
from tests.support.browser import streamlit_app
from tests.support.load import LoadResult, drive, report, seed, stored_uploads, streamlit_pid

# Both settings the profile found (docs/reliability.md, Load), as Streamlit's defaults: for "before".
STREAMLIT_DEFAULTS = {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "auto", "STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"}


@contextmanager
def _bench_app(bucket: str, extra_env: Mapping[str, str]) -> Iterator[tuple[str, Any, str]]:
    """A local S3 server with a new seeded bucket and one app on it: (url, client, bucket). moto's
    state is per process, so each run needs a bucket name of its own."""
    with local_bucket(bucket, R2_DEFAULT_ROLE="member") as (env, _, client):
        seed(client, bucket)
        with streamlit_app({**env, **extra_env}) as url:
            yield url, client, bucket


def _one_run(
    bucket: str, sessions: int, seconds: float, ramp: float, extra_env: Mapping[str, str]
) -> tuple[LoadResult, int]:
    with _bench_app(bucket, extra_env) as (url, client, bucket):
        result = drive(url, sessions, seconds, ramp=ramp, server_pid=streamlit_pid())
        stored = stored_uploads(client, bucket)
    return result, sum(1 for name in result.uploaded if stored[name] == 1)


def run(quick: bool) -> str:
    # Quick: 20 sessions arriving over 40 s, paging until 50 s; full: a 60 s ramp, 120 s.
    sessions, seconds, ramp = (20, 50.0, 40.0) if quick else (20, 120.0, 60.0)
    runs: list[tuple[str, LoadResult, int]] = []
    plans = (
        ("before: Streamlit's defaults", "load-before", STREAMLIT_DEFAULTS),
        ("after: this app's config", "load-after", {}),
    )
    for label, bucket, extra in plans:
        result, once = _one_run(bucket, sessions, seconds, ramp, extra)
        runs.append((label, result, once))
    return report(runs)
