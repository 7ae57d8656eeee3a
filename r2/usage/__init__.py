"""What the bucket holds: a streaming, parallel, resumable scan and its aggregates, plus cost.

- `Aggregator` folds listing entries into groups as they stream by: memory grows with the number of
  groups (folders, types, months, storage classes: capped at `max_groups` each) plus the top-N heap,
  never with the number of objects.
- `UsageScan` lists the bucket: one delimiter LIST finds the top-level folders, then each folder is
  listed on its own thread (R2's latency, not CPU, bounds a sequential scan). Each folder keeps its
  own partial aggregate and the last key it counted, so after a failure or a cancel `run()` again
  continues where it stopped and the final totals are exact (nothing counted twice or missed).
- Progress is reported from the calling thread (safe for Streamlit), cancel via `should_stop`.
- Keys under the app's reserved prefixes (`r2.naming.HIDDEN_PREFIXES`) are counted in the totals
  (they are billed) but kept out of the folder/type/month breakdowns and reported separately.

Modules: `aggregate` (groups as entries stream by), `report` (the result and its cost), `scan` (the
scan), `listing` (boto3 and obstore listers), `checkpoint` (a paused scan saved in the bucket),
`snapshots` (saved results, and `save_scan`: snapshot plus audit event), `analytics` (Cloudflare's
account-level numbers).
"""

from r2.usage import analytics, checkpoint, listing, snapshots
from r2.usage.aggregate import NO_EXTENSION, OTHER, ROOT, Aggregator, Group, prefix_of, type_of
from r2.usage.analytics import AccountUsage
from r2.usage.listing import Boto3Lister, Entry, Lister, ObstoreLister, PathNotSupported, make_lister
from r2.usage.report import (
    FREE_CLASS_A,
    FREE_CLASS_B,
    FREE_STORAGE_GB,
    GB,
    CostEstimate,
    IncompleteUpload,
    LargeObject,
    UsageReport,
    estimate_cost,
    scan_cost_usd,
    scan_list_calls,
)
from r2.usage.scan import (
    DEFAULT_WORKERS,
    MAX_DISCOVERY_LEVELS,
    Progress,
    ScanStopped,
    UsageScan,
    incomplete_uploads,
    scan,
)
from r2.usage.snapshots import ScanSaved, SnapshotInfo, latest, save_scan

__all__ = [
    "DEFAULT_WORKERS",
    "FREE_CLASS_A",
    "FREE_CLASS_B",
    "FREE_STORAGE_GB",
    "GB",
    "MAX_DISCOVERY_LEVELS",
    "NO_EXTENSION",
    "OTHER",
    "ROOT",
    "AccountUsage",
    "Aggregator",
    "Boto3Lister",
    "CostEstimate",
    "Entry",
    "Group",
    "IncompleteUpload",
    "LargeObject",
    "Lister",
    "ObstoreLister",
    "PathNotSupported",
    "Progress",
    "ScanSaved",
    "ScanStopped",
    "SnapshotInfo",
    "UsageReport",
    "UsageScan",
    "analytics",
    "checkpoint",
    "estimate_cost",
    "incomplete_uploads",
    "latest",
    "listing",
    "make_lister",
    "prefix_of",
    "save_scan",
    "scan",
    "scan_cost_usd",
    "scan_list_calls",
    "snapshots",
    "type_of",
]
