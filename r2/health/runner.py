"""The checks in their order, what each depends on, and the run that executes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import requests

from r2.errors import R2Error, redact
from r2.health.admin import check_cors, check_list_buckets, check_read_cors, check_tier
from r2.health.endpoint import check_auth, check_clock, check_reachability, check_settings
from r2.health.model import Check, Deps, Outcome, Run, Skip, Status
from r2.health.objects import check_delete, check_read, check_signed_get, check_signed_put, check_write
from r2.health.token import check_token, check_token_keys

CHECKS: tuple[tuple[str, Callable[[Run], Outcome]], ...] = (
    ("Settings", check_settings),
    ("Endpoint reachable", check_reachability),
    ("Clock", check_clock),
    ("Authentication (list)", check_auth),
    ("Write object", check_write),
    ("Read object", check_read),
    ("Signed GET URL", check_signed_get),
    ("Signed PUT URL", check_signed_put),
    ("Delete object", check_delete),
    ("Read CORS policy (Admin)", check_read_cors),
    ("List buckets (Admin)", check_list_buckets),
    ("Token tier", check_tier),
    ("CORS for this app", check_cors),
    ("Cloudflare API token", check_token),
    ("S3 keys derive from token", check_token_keys),
)
CHECK_NAMES = tuple(name for name, _ in CHECKS)

# What each check reads of what earlier checks learned. A check starts once these are done, so checks
# that do not depend on each other run at the same time (the Cloudflare API beside the S3 probes, the
# Admin probes beside the object probes). Delete waits for everything that uses the probe objects.
AFTER: dict[str, tuple[str, ...]] = {
    "Settings": (),
    "Endpoint reachable": ("Settings",),
    "Clock": ("Endpoint reachable",),
    "Authentication (list)": ("Endpoint reachable",),
    "Write object": ("Authentication (list)",),
    "Read object": ("Write object",),
    "Signed GET URL": ("Write object",),
    "Signed PUT URL": ("Write object",),
    "Delete object": ("Read object", "Signed GET URL", "Signed PUT URL"),
    "Read CORS policy (Admin)": ("Authentication (list)",),
    "List buckets (Admin)": ("Authentication (list)",),
    "Token tier": ("Delete object", "Read CORS policy (Admin)", "List buckets (Admin)"),
    "CORS for this app": ("Read CORS policy (Admin)", "Signed GET URL"),
    "Cloudflare API token": ("Settings",),
    "S3 keys derive from token": ("Cloudflare API token",),
}
WORKERS = 4  # the most checks that can be ready at once; the health client is thread-safe

# The guide's four known problems, and the checks that catch each.
KNOWN_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    (
        "CORS error on a browser PUT (upload)",
        "CORS for this app; Signed PUT URL",
        "the app's origin, PUT or content-type missing from the bucket's CORS policy (a 401/403 on the PUT "
        "itself is a signature problem, not CORS)",
    ),
    (
        "XML error when opening an image's URL directly",
        "Signed GET URL",
        "the bucket is private: a plain object URL answers AccessDenied XML; the app shows images only "
        "through signed URLs",
    ),
    (
        "Token confusion (which id, which secret, which tier)",
        "Authentication (list); Token tier; Cloudflare API token; S3 keys derive from token",
        "access key id = token id, secret = SHA-256 of the token value; CORS and ListBuckets need Admin",
    ),
    (
        "Missing allowed headers",
        "CORS for this app",
        "AllowedHeaders must list content-type and if-none-match (what direct uploads send)",
    ),
)


def run_checks(deps: Deps) -> Iterator[Check]:
    """Run every check, each as soon as the checks it depends on are done (independent ones at the
    same time), and yield the results in the order of CHECKS as they become available. Probe objects
    are always removed, also when the caller stops early."""
    run = Run(deps=deps, http=deps.session or requests.Session())
    secrets = deps.settings.secret_values() if deps.settings is not None else ()
    start = deps.monotonic()
    funcs = dict(CHECKS)
    done: dict[str, Check] = {}
    running: dict[Future[Check], str] = {}

    def one(name: str) -> Check:
        began = deps.monotonic()
        status: Status
        try:
            status, detail, fix = funcs[name](run)
        except Skip as why:
            status, detail, fix = "skip", f"Skipped: {why}.", ""
        except R2Error as err:
            status, detail, fix = "fail", err.message, err.fix
        except Exception as exc:  # one broken check must not hide the others
            status, detail, fix = "fail", f"The check itself failed ({type(exc).__name__}).", ""
        detail, fix = redact(detail, secrets), redact(fix, secrets)
        return Check(name, status, detail, fix, round((deps.monotonic() - began) * 1000, 1))

    def start_ready(pool: ThreadPoolExecutor) -> None:
        started = set(done) | set(running.values())
        for name in CHECK_NAMES:
            if name in started or not all(d in done for d in AFTER[name]):
                continue
            if deps.monotonic() - start > deps.budget_s:
                done[name] = Check(name, "skip", f"Not run: the health run's {deps.budget_s:g} s budget was spent.")
            else:
                running[pool.submit(one, name)] = name

    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="health")
    try:
        for name in CHECK_NAMES:
            while name not in done:
                start_ready(pool)
                if name in done:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[running.pop(future)] = future.result()
            start_ready(pool)  # let what this result unblocks run while the caller shows it
            yield done[name]
        left = _cleanup(run)
        if left:
            yield Check(
                "Cleanup",
                "warn",
                f"{len(left)} probe object(s) could not be removed: {', '.join(left)}.",
                "Delete them by hand (they are hidden from Browse).",
            )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # no probe may be written after the cleanup
        _cleanup(run)  # also when the caller stops early (generator closed) or a check raised
        if deps.session is None:
            run.http.close()


def _cleanup(run: Run) -> list[str]:
    if run.client is None or run.deps.settings is None or not run.to_delete:
        return []
    return run.cleanup()


def run_all(deps: Deps) -> list[Check]:
    return list(run_checks(deps))
