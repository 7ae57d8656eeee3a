"""Bucket change counter: pages cache listings keyed by it, writers bump it, so changes show at once."""

from __future__ import annotations

import threading

import streamlit as st


@st.cache_resource
def _counter() -> dict[str, int]:
    return {"version": 0}


_lock = threading.Lock()


def bucket_version() -> int:
    """Pass to cached listing functions as an argument: a new value means "list again"."""
    return _counter()["version"]


def bucket_changed() -> None:
    """Call after any write (upload, delete, thumbnail) made by this app process."""
    with _lock:
        _counter()["version"] += 1
