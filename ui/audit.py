"""Audit glue for pages: record an event and tell the user when it could not be written; the audit
page's cached reads."""

from __future__ import annotations

import threading
from datetime import date

import streamlit as st

from r2 import audit
from r2.client import S3Client
from r2.errors import R2Error
from ui.auth import Visitor
from ui.text import escape_md

_EVENT_CACHE_MAX = 50_000
_lock = threading.Lock()


@st.cache_resource
def _state() -> dict[str, object]:
    """Per process: a change counter and the events already read (they are never rewritten)."""
    return {"version": 0, "events": {}}


def audit_version() -> int:
    return int(_state()["version"])  # type: ignore[call-overload]


def audit_changed() -> None:
    with _lock:
        state = _state()
        state["version"] = int(state["version"]) + 1  # type: ignore[call-overload]


def event_cache() -> dict[str, audit.AuditEvent]:
    cache: dict[str, audit.AuditEvent] = _state()["events"]  # type: ignore[assignment]
    if len(cache) > _EVENT_CACHE_MAX:
        cache.clear()
    return cache


def log_event(
    client: S3Client,
    bucket: str,
    visitor: Visitor,
    action: str,
    target: str,
    outcome: str = "ok",
    detail: str = "",
) -> bool:
    """Record who did what. Never raises: when the event cannot be written, the user is told (the
    action itself already happened) and False is returned."""
    event = audit.AuditEvent(visitor.actor, action, target, outcome, detail)
    try:
        audit.record(client, bucket, event)
    except R2Error as err:
        st.warning(
            f"Done, but the audit log could not record it ({escape_md(err.message)}). "
            "Tell an admin: this change is not in the audit log.",
            icon=":material/warning:",
        )
        return False
    audit_changed()
    return True


@st.cache_data(ttl=30, show_spinner="Reading the audit log…", max_entries=64)
def load_events(
    _client: S3Client,
    bucket: str,
    *,
    actor: str,
    actions: tuple[str, ...],
    outcome: str,
    since: date | None,
    until: date | None,
    limit: int,
    version: int,
) -> audit.AuditPage:
    """Filtered events, newest first. `version` (audit_version()) makes this process's writes show."""
    keep = audit.matching(actor.strip(), actions, outcome)
    return audit.query(_client, bucket, limit=limit, since=since, until=until, keep=keep, cache=event_cache())
