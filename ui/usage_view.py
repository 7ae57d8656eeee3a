"""Rendering for the Usage page: metrics, charts, tables and CSV downloads of a UsageReport.

Keys and folder names come from the bucket: they are shown only in dataframes and charts (plain
text) or escaped, never as Markdown/HTML.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from r2 import spreadsheet
from r2.client import S3Client
from r2.errors import R2Error
from r2.presign import sign_get
from r2.settings import Settings
from r2.usage import (
    FREE_CLASS_A,
    AccountUsage,
    Aggregator,
    Progress,
    SnapshotInfo,
    UsageReport,
    estimate_cost,
    scan_cost_usd,
    scan_list_calls,
)
from ui.lifecycle_actions import incomplete_upload_actions
from ui.light import on_demand, show_rows
from ui.text import escape_md, human_bytes


def age(then: datetime, now: datetime | None = None) -> str:
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def groups_frame(groups: dict[str, dict[str, int]], label: str) -> pd.DataFrame:
    rows = [{label: name, "objects": g["objects"], "bytes": g["bytes"]} for name, g in groups.items()]
    frame = pd.DataFrame(rows, columns=[label, "objects", "bytes"])
    frame["size"] = [human_bytes(b) for b in frame["bytes"]]
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as spreadsheet-safe CSV (keys written by other tools must not become formulas)."""
    rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
    return spreadsheet.to_csv([str(c) for c in frame.columns], rows).encode("utf-8")


def scan_cost_caption(settings: Settings, last: UsageReport | None) -> str:
    if last is None:
        return (
            "A scan makes one LIST call (Class A) per 1,000 objects, plus a few to find the folders; "
            f"Class A costs ${settings.class_a_price_per_million:.2f} per million after the free million a month."
        )
    calls = scan_list_calls(last.objects, len(last.by_prefix))
    usd = scan_cost_usd(last.objects, settings, len(last.by_prefix))
    return (
        f"One full scan of about {last.objects:,} objects makes about {calls:,} LIST calls (Class A): "
        f"${usd:.4f} at list price, {calls / FREE_CLASS_A:.4%} of the free million a month."
    )


def progress_text(p: Progress) -> str:
    folders = f", {p.folders_done}/{p.folders_total} folders" if p.folders_total else ""
    return f"{p.objects:,} objects · {human_bytes(p.bytes)} · {p.rate:,.0f} objects/s{folders}"


def show_groups(frame: pd.DataFrame) -> None:
    show_rows(
        [{str(c): v for c, v in row.items()} for row in frame.to_dict("records")], [str(c) for c in frame.columns]
    )


def chart(key: str, draw: Callable[..., object], data: pd.DataFrame, **options: object) -> None:
    """`draw(data, **options)` when its "Chart" is opened (the same figures are in the table beside it).
    Bound now: the expander's own rerun (a fragment's) draws it from this run's data."""
    on_demand("Chart", key, functools.partial(draw, data, **options), icon=":material/bar_chart:")


def show_partial(agg: Aggregator) -> None:
    st.caption(f"Counted so far: {agg.total.objects:,} objects, {human_bytes(agg.total.bytes)}.")


def show_report(
    report: UsageReport,
    history: list[SnapshotInfo],
    settings: Settings,
    client: S3Client,
    account: AccountUsage | None = None,
) -> None:
    cost = estimate_cost(report.bytes, settings)
    cols = st.columns(5)
    cols[0].metric("Objects", f"{report.objects:,}")
    cols[1].metric("Stored", human_bytes(report.bytes), help=f"{report.bytes:,} bytes ({cost.stored_gb:.3f} GB)")
    cols[2].metric(
        "Storage cost / month",
        f"${cost.storage_usd:,.2f}",
        help=f"At ${settings.storage_price_gb_month}/GB-month (Standard) after the free 10 GB-month.",
    )
    headroom = cost.free_storage_left_gb
    cols[3].metric(
        "Free tier left" if headroom >= 0 else "Over free tier",
        f"{abs(headroom):,.2f} GB",
        help="R2's free tier: 10 GB-month storage, 1M Class A and 10M Class B operations a month, per account.",
    )
    cols[4].metric("Incomplete uploads", f"{len(report.incomplete_uploads):,}")
    if report.incomplete_uploads:
        st.warning(
            "Incomplete multipart uploads hold storage that is billed and invisible when browsing. "
            "Abort them, or add a lifecycle rule that aborts them after a few days.",
            icon=":material/warning:",
        )
        incomplete_upload_actions(client, settings)

    # Every tab's figures are plain tables at once (Streamlit draws hidden tabs too); each chart is drawn
    # when its "Chart" is opened: a chart or a data grid makes the browser load over 1 MB of script first.
    folders, types, growth, largest, other = st.tabs(["Folders", "Types", "Growth", "Largest", "More"])
    with folders:
        frame = groups_frame(report.by_prefix, "folder")
        if frame.empty:
            st.info("No objects outside the app's own folders yet.")
        else:
            top = frame.head(30)
            chart("usage_chart_folders", st.bar_chart, top, x="folder", y="bytes", horizontal=True, sort="-bytes")
            show_groups(frame)
        st.download_button(
            "Folders as CSV", csv_bytes(frame), "usage-folders.csv", "text/csv", on_click="ignore", key="csv_folders"
        )
    with types:
        frame = groups_frame(report.by_type, "type")
        if not frame.empty:
            chart("usage_chart_types", st.bar_chart, frame, x="type", y="bytes", horizontal=True, sort="-bytes")
            show_groups(frame)
        st.caption("From the key's extension: listing has no content type, and a HEAD per object costs Class B.")
        st.download_button(
            "Types as CSV", csv_bytes(frame), "usage-types.csv", "text/csv", on_click="ignore", key="csv_types"
        )
    with growth:
        if len(history) >= 2:
            totals = [{"scanned": f"{h.at:%Y-%m-%d %H:%M}", "GB stored": f"{h.bytes / 1e9:,.3f}"} for h in history]
            line = pd.DataFrame(
                {"scanned": [h.at for h in history], "GB stored": [h.bytes / 1e9 for h in history]}
            ).set_index("scanned")
            chart("usage_chart_history", st.line_chart, line)
            show_rows(totals, ["scanned", "GB stored"])
            st.caption(f"Totals of {len(history)} saved scans.")
        else:
            st.caption("The line of totals over time appears after a second scan.")
        frame = groups_frame(report.by_month, "month")
        if not frame.empty:
            frame["cumulative bytes"] = frame["bytes"].cumsum()
            chart("usage_chart_months", st.bar_chart, frame, x="month", y="bytes")
            show_groups(frame)
            st.caption("Bytes by month of last modification (objects that still exist).")
        st.download_button(
            "Months as CSV", csv_bytes(frame), "usage-months.csv", "text/csv", on_click="ignore", key="csv_months"
        )
    with largest:
        rows = []
        for obj in report.largest:
            try:
                link = sign_get(client, settings.bucket, obj.key, settings.preview_ttl_seconds)
            except R2Error:
                link = None  # a key the app refuses to sign (e.g. a '..' segment): listed without a link
            rows.append({"key": obj.key, "size": human_bytes(obj.bytes), "bytes": obj.bytes,
                         "modified": obj.last_modified, "open": link})  # fmt: skip
        frame = pd.DataFrame(rows, columns=["key", "size", "bytes", "modified", "open"])
        show_rows(rows, list(frame.columns), links={"open": "open"})
        st.caption(f"Links are signed for {settings.preview_ttl_seconds} s.")
        st.download_button(
            "Largest as CSV",
            csv_bytes(frame.drop(columns=["open"])),
            "usage-largest.csv",
            "text/csv",
            on_click="ignore",
            key="csv_largest",
        )
    with other:
        st.markdown("**The app's own data** (thumbnails, audit log, snapshots), counted in the totals:")
        show_groups(groups_frame(report.reserved, "prefix"))
        st.markdown("**Storage classes**")
        show_groups(groups_frame(report.by_storage_class, "class"))
        if "unreported" in report.by_storage_class:
            st.caption("The fast lister does not report storage classes; choose the detailed lister to split them.")
        if report.incomplete_uploads:
            st.markdown("**Incomplete multipart uploads**")
            show_rows([{"key": u.key, "started": u.initiated} for u in report.incomplete_uploads], ["key", "started"])
        st.caption(
            f"Scan: {report.list_calls:,} LIST calls, {report.seconds:.1f} s, lister {escape_md(report.engine)}, "
            f"folders at depth {report.depth}."
        )
    if account is not None:
        show_account(account, settings)


def show_account(account: AccountUsage, settings: Settings) -> None:
    st.subheader("Account numbers (Cloudflare analytics)")
    cols = st.columns(4)
    cols[0].metric("Objects (analytics)", f"{account.objects:,}")
    cols[1].metric("Stored (analytics)", human_bytes(account.bytes))
    cols[2].metric("Class A, 31 days", f"{account.class_a:,}", help="Free: 1M a month per account")
    cols[3].metric("Class B, 31 days", f"{account.class_b:,}", help="Free: 10M a month per account")
    extra_a = max(0, account.class_a - FREE_CLASS_A) * settings.class_a_price_per_million / 1e6
    extra_b = max(0, account.class_b - 10_000_000) * settings.class_b_price_per_million / 1e6
    st.caption(
        f"Operations cost beyond the free tier over these 31 days: ${extra_a + extra_b:,.2f}. "
        "Analytics lag behind by minutes to hours."
    )
