"""Account numbers without scanning: Cloudflare's GraphQL Analytics API (optional).

Needs `CLOUDFLARE_API_TOKEN` (permission Account Analytics Read) and the account id. Reads the
bucket's stored bytes and objects (`r2StorageAdaptiveGroups`, latest value) and its operations over
the last 31 days (`r2OperationsAdaptiveGroups`, summed by action type, split into Class A / B / free
as R2 bills them). https://developers.cloudflare.com/r2/platform/metrics-analytics/
The token is sent only as a header and never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from r2.errors import AccessDenied, InvalidInput, R2Error, Unavailable, redact
from r2.settings import Settings

# https://developers.cloudflare.com/r2/pricing/#class-a-operations
CLASS_A = frozenset(
    {
        "ListBuckets",
        "PutBucket",
        "ListObjects",
        "PutObject",
        "CopyObject",
        "CompleteMultipartUpload",
        "CreateMultipartUpload",
        "LifecycleStorageTierTransition",
        "ListMultipartUploads",
        "UploadPart",
        "UploadPartCopy",
        "ListParts",
        "PutBucketEncryption",
        "PutBucketCors",
        "PutBucketLifecycleConfiguration",
    }
)
CLASS_B = frozenset(
    {
        "HeadBucket",
        "HeadObject",
        "GetObject",
        "UsageSummary",
        "GetBucketEncryption",
        "GetBucketLocation",
        "GetBucketCors",
        "GetBucketLifecycleConfiguration",
    }
)

QUERY = """
query R2Usage($accountTag: string!, $bucket: string!, $start: Time!, $end: Time!) {
  viewer {
    accounts(filter: {accountTag: $accountTag}) {
      r2StorageAdaptiveGroups(
        limit: 1
        filter: {datetime_geq: $start, datetime_leq: $end, bucketName: $bucket}
        orderBy: [datetime_DESC]
      ) {
        max { objectCount payloadSize metadataSize uploadCount }
        dimensions { datetime }
      }
      r2OperationsAdaptiveGroups(
        limit: 1000
        filter: {datetime_geq: $start, datetime_leq: $end, bucketName: $bucket}
      ) {
        sum { requests }
        dimensions { actionType }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class AccountUsage:
    objects: int
    bytes: int
    class_a: int
    class_b: int
    free_ops: int
    by_action: dict[str, int]
    since: datetime
    until: datetime


def enabled(settings: Settings) -> bool:
    return bool(settings.cloudflare_api_token and settings.account_id)


def bucket_name(settings: Settings) -> str:
    """Jurisdiction buckets are named `<jurisdiction>_<bucket>` in analytics."""
    return f"{settings.jurisdiction}_{settings.bucket}" if settings.jurisdiction else settings.bucket


def fetch(settings: Settings, *, now: datetime | None = None, timeout: float = 15) -> AccountUsage:
    if not enabled(settings):
        raise InvalidInput(
            "Cloudflare analytics are not configured.",
            "Set CLOUDFLARE_API_TOKEN (Account Analytics Read) and R2_ACCOUNT_ID.",
        )
    until = (now or datetime.now(UTC)).replace(microsecond=0)
    since = until - timedelta(days=31)
    payload = {
        "query": QUERY,
        "variables": {
            "accountTag": settings.account_id,
            "bucket": bucket_name(settings),
            "start": since.isoformat().replace("+00:00", "Z"),
            "end": until.isoformat().replace("+00:00", "Z"),
        },
    }
    url = f"{settings.cloudflare_api_base}/graphql"
    try:
        response = requests.post(
            url,
            json=payload,
            headers={"Authorization": f"Bearer {settings.cloudflare_api_token}"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise Unavailable(
            f"Could not reach Cloudflare's analytics API ({type(exc).__name__}).",
            "Check the network and CLOUDFLARE_API_BASE.",
            code=type(exc).__name__,
        ) from exc
    if response.status_code in (401, 403):
        raise AccessDenied(
            "Cloudflare's analytics API refused the token.",
            "CLOUDFLARE_API_TOKEN needs the Account Analytics Read permission for this account.",
            code=str(response.status_code),
        )
    if response.status_code != 200:
        raise Unavailable(
            f"Cloudflare's analytics API answered {response.status_code}.", "Try again later.", code="HTTP"
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise Unavailable("Cloudflare's analytics API sent an unreadable answer.", code="JSON") from exc
    return parse(body, since=since, until=until, token=settings.cloudflare_api_token)


def parse(body: dict[str, Any], *, since: datetime, until: datetime, token: str = "") -> AccountUsage:
    errors = body.get("errors") or []
    if errors:
        first = str(errors[0].get("message", "unknown error")) if isinstance(errors[0], dict) else str(errors[0])
        kind: type[R2Error] = AccessDenied if "auth" in first.lower() else Unavailable
        raise kind(f"Cloudflare's analytics API reported: {redact(first, [token])[:200]}", code="GraphQL")
    try:
        account = body["data"]["viewer"]["accounts"][0]
    except (KeyError, IndexError, TypeError) as exc:
        raise AccessDenied(
            "Cloudflare's analytics API returned no data for this account.",
            "Check R2_ACCOUNT_ID and that CLOUDFLARE_API_TOKEN may read its analytics.",
            code="NoAccount",
        ) from exc
    storage = account.get("r2StorageAdaptiveGroups") or []
    latest = storage[0]["max"] if storage else {}
    by_action: dict[str, int] = {}
    for group in account.get("r2OperationsAdaptiveGroups") or []:
        action = str(group["dimensions"]["actionType"])
        by_action[action] = by_action.get(action, 0) + int(group["sum"]["requests"])
    class_a = sum(n for a, n in by_action.items() if a in CLASS_A)
    class_b = sum(n for a, n in by_action.items() if a in CLASS_B)
    return AccountUsage(
        objects=int(latest.get("objectCount", 0)),
        bytes=int(latest.get("payloadSize", 0)) + int(latest.get("metadataSize", 0)),
        class_a=class_a,
        class_b=class_b,
        free_ops=sum(by_action.values()) - class_a - class_b,
        by_action=dict(sorted(by_action.items(), key=lambda kv: -kv[1])),
        since=since,
        until=until,
    )
