"""Per-process resources (settings, the S3 client, the embedded demo bucket), cached for all sessions."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import streamlit as st

from r2 import local
from r2.client import S3Client, make_client
from r2.errors import SettingsError, redact
from r2.settings import DEFAULT_APP_ORIGIN, Settings, gather, parse_settings
from ui.text import escape_md
from ui.upload_gate import follow_upload_limit

if TYPE_CHECKING:  # the catalog pulls in pyarrow, DuckDB and deltalake (~0.35 s): only for pages that use it
    from r2.catalog import Catalog


def secret_values() -> tuple[str, ...]:
    """The configured secrets, for `r2.errors.redact` (empty when the settings do not parse)."""
    try:
        return parse_settings(gather(os.environ)).secret_values()
    except SettingsError:
        return ()


_log_secrets: dict[str, tuple[str, ...]] = {"values": ()}


def redact_logs(secrets: tuple[str, ...]) -> None:
    """Every log record of this process (Streamlit's, uvicorn's, ours; loggers made later too) passes
    through `r2.errors.redact` when it is created: one record factory per process, installed on first
    use, redacting the secrets of the settings read last."""
    _log_secrets["values"] = secrets
    make = logging.getLogRecordFactory()
    if getattr(make, "redacts", False):
        return

    def redacted(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        values = _log_secrets["values"]
        record.msg, record.args = redact(record.getMessage(), values), None
        if record.exc_info:  # a traceback can quote a secret too: format it now, redacted
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), values)
            record.exc_info = None
        return record

    redacted.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacted)


def base_settings() -> Settings:
    """Validated settings without connecting; on a problem, show every problem and stop the page."""
    try:
        raw = gather(os.environ)
        settings = parse_settings(raw)
    except SettingsError as exc:
        st.error("The dashboard's settings have problems, so it cannot connect:")
        st.markdown("\n".join(f"- {escape_md(p)}" for p in exc.problems))
        st.info(
            "Fix them in the environment, `.env` or `.streamlit/secrets.toml`, then reload. See docs/configuration.md."
        )
        st.stop()
    try:
        follow_upload_limit(settings)
    except SettingsError as exc:
        st.error(escape_md(exc.problems[0]))
        st.stop()
    if "R2_APP_ORIGIN" not in raw and settings.app_origin == DEFAULT_APP_ORIGIN:
        # The browser's origin is this server's: derive it from the port Streamlit listens on.
        settings = replace(settings, app_origin=f"http://localhost:{st.get_option('server.port')}")
    redact_logs(settings.secret_values())
    return settings


@st.cache_resource(show_spinner="Starting the local demo bucket…")
def _demo(_base: Settings, key: int) -> tuple[local.LocalServer, Settings, S3Client]:
    return local.start_demo(_base)


@st.cache_resource(show_spinner=False)
def _client(_settings: Settings, key: int) -> S3Client:
    return make_client(_settings)


def connection() -> tuple[Settings, S3Client]:
    """Settings with a live endpoint and the shared client (the demo bucket starts on first use)."""
    base = base_settings()
    if base.is_local:
        _, settings, client = _demo(base, hash(base))
        return settings, client
    return base, _client(base, hash(base))


@st.cache_resource(show_spinner=False)
def _catalog(_settings: Settings, _client: S3Client, key: int) -> Catalog:
    from r2.catalog import Catalog

    return Catalog(_settings, _client)


def catalog() -> Catalog:
    """The bucket's catalog, one per process (its rows are cached per table version for all sessions)."""
    settings, client = connection()
    return _catalog(settings, client, hash(settings))
