"""Health checks: do the settings, endpoint, clock, credentials, permissions and CORS actually work?

Each check is a small function of one `Run` (the injected dependencies plus what earlier checks
learned) and returns a status (ok / warn / fail / skip), a detail and a fix. `run_checks()` is a
generator: it runs each check as soon as the checks it depends on are done (independent ones at the
same time, on one health client) and yields the results in a fixed order, so a page can show each as
it completes. Every network step has a short timeout, the health client makes one attempt only, and
the whole run has a time budget: an endpoint that accepts TCP and never answers costs one read
timeout, not a hang. A check that depends on an earlier one that failed is reported as skipped with
the reason, not as a cascade of failures. Probe objects live under the app's reserved prefix and are
always removed (`finally`). S3 errors become messages through `r2.errors.s3_errors`, with Health's
own wording passed per call where its diagnosis says more.

No detail or fix ever contains a secret or a signed URL: secrets are shown masked, URLs not at all.

Modules: `model` (Check, Deps, Run), `endpoint` (settings, reachability, clock, authentication),
`objects` (object permissions and signed URLs), `admin` (Admin permissions, token tier, CORS),
`token` (the Cloudflare API token), `runner` (order, dependencies, the run).
"""

from r2.health.model import (
    PROBE_PREFIX,
    SKEW_FAIL_S,
    SKEW_WARN_S,
    STATUSES,
    TOKEN_WARN_DAYS,
    Check,
    Deps,
    Outcome,
    Run,
    Skip,
    Status,
    health_client,
    overall,
    report,
)
from r2.health.runner import AFTER, CHECK_NAMES, CHECKS, KNOWN_PROBLEMS, run_all, run_checks

__all__ = [
    "AFTER",
    "CHECKS",
    "CHECK_NAMES",
    "KNOWN_PROBLEMS",
    "PROBE_PREFIX",
    "SKEW_FAIL_S",
    "SKEW_WARN_S",
    "STATUSES",
    "TOKEN_WARN_DAYS",
    "Check",
    "Deps",
    "Outcome",
    "Run",
    "Skip",
    "Status",
    "health_client",
    "overall",
    "report",
    "run_all",
    "run_checks",
]
