"""What a health run is made of: a check's result, the injected dependencies, and the run's state."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import requests

from r2.client import S3Client, make_client
from r2.errors import AccessDenied, Messages, NotFound
from r2.settings import RESERVED_PREFIX, Settings

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")

SKEW_WARN_S = 60.0  # NTP keeps clocks within milliseconds: a minute off means no time sync
SKEW_FAIL_S = 15 * 60.0  # SigV4: R2 refuses requests signed more than 15 minutes off
TOKEN_WARN_DAYS = 14
PROBE_PREFIX = f"{RESERVED_PREFIX}health/"
SETTINGS_FIX = "Fix them in the environment, .env or .streamlit/secrets.toml (see docs/configuration.md)."


@dataclass(frozen=True)
class Check:
    """The result of one check. `ms` is how long it took."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    ms: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def overall(checks: list[Check]) -> Status:
    """fail if any failed, warn if any warned, else ok (skips alone do not fail a run)."""
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return "fail"
    if "warn" in statuses:
        return "warn"
    return "ok"


def report(checks: list[Check]) -> dict[str, object]:
    """The JSON report: `{"status": ..., "checks": [{name, status, detail, fix, ms}, ...]}`."""
    return {"status": overall(checks), "checks": [c.as_dict() for c in checks]}


def health_client(settings: Settings, *, connect_timeout: float, read_timeout: float) -> S3Client:
    """A client that gives up fast: one attempt, short timeouts (never the app's patient client)."""
    return make_client(settings, connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=1)


@dataclass(frozen=True)
class Deps:
    """What the checks may touch; tests inject a skewed clock, short timeouts, fake servers."""

    settings: Settings | None
    problems: tuple[str, ...] = ()  # settings problems (SettingsError.problems) when settings is None
    client_factory: Callable[..., S3Client] = health_client
    clock: Callable[[], float] = time.time  # wall clock (epoch seconds), compared with the server's Date
    monotonic: Callable[[], float] = time.monotonic  # durations and the run's budget
    session: requests.Session | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    budget_s: float = 30.0  # checks not started within this many seconds are skipped


class Skip(Exception):
    """Raised by a check that cannot run because an earlier one failed; the message says why."""


Outcome = tuple[Status, str, str]  # status, detail, fix


@dataclass
class Run:
    """The state of one run: dependencies plus what earlier checks learned."""

    deps: Deps
    http: requests.Session
    client: S3Client | None = None
    reachable: bool = False
    unreachable_why: str = "the endpoint was not checked"
    server_date: datetime | None = None
    auth_ok: bool = False
    auth_why: str = "authentication was not checked"
    sample_key: str | None = None  # a key seen while listing (for a signed GET without a probe)
    probe_key: str | None = None  # written by "Write object"
    probe_body: bytes = b""
    to_delete: list[str] = field(default_factory=list)
    can: dict[str, bool | None] = field(default_factory=dict)  # permission -> allowed (None: unknown)
    cors_rules: list[dict[str, Any]] | None = None  # None: could not be read
    exposed_on_get: set[str] | None = None  # Access-Control-Expose-Headers of the signed GET, if any
    token_id: str | None = None
    unverified_because: str = ""

    @property
    def settings(self) -> Settings:
        if self.deps.settings is None:
            raise Skip("the settings have problems")
        return self.deps.settings

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.deps.connect_timeout, self.deps.read_timeout)

    def s3(self) -> S3Client:
        """The health client, only once the endpoint answered and the credentials work."""
        if not self.reachable:
            raise Skip(self.unreachable_why)
        if not self.auth_ok:
            raise Skip(self.auth_why)
        assert self.client is not None
        return self.client

    def cleanup(self) -> list[str]:
        """Delete every probe object still present; returns the keys that could not be deleted."""
        left = []
        for key in list(self.to_delete):
            try:
                assert self.client is not None
                self.client.delete_object(Bucket=self.settings.bucket, Key=key)
                self.to_delete.remove(key)
            except Exception:  # best effort: reported, never raised
                left.append(key)
        return left


class Refused(AccessDenied):
    """The token may not do what a probe tried (AccessDenied/403): a permission answer, not a breakage."""


class NoCorsPolicy(NotFound):
    """The bucket has no CORS policy (NoSuchCORSConfiguration): a readable answer, not a failure."""


def refused(message: str, fix: str, *, codes: tuple[str, ...] = ("AccessDenied", "403")) -> Messages:
    """`s3_errors(messages=...)` for a probe whose refusal Health explains in its own words."""
    return {code: (Refused, message, fix) for code in codes}
