"""Audit glue for pages: record an event and tell the user when it could not be written; the audit
page's cached reads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date

import streamlit as st

from r2 import audit
from r2.client import S3Client
from r2.errors import R2Error
from ui.auth import Visitor
from ui.text import escape_md

_EVENT_CACHE_MAX = 50_000
_lock = threading.Lock()


@dataclass
class _AuditState:
    """Per process: a change counter and the events already read (they are never rewritten)."""

    version: int = 0
    events: dict[str, audit.AuditEvent] = field(default_factory=dict)


@st.cache_resource
def _state() -> _AuditState:
    return _AuditState()


def audit_version() -> int:
    return _state().version


def audit_changed() -> None:
    with _lock:
        _state().version += 1


def event_cache() -> dict[str, audit.AuditEvent]:
    cache = _state().events
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
