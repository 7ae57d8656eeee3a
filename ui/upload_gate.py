"""Streamlit's upload endpoint, held to the app's rules.

`PUT /_stcore/upload_file/<session id>/<file id>` stores the file in the server's memory for that
session. Streamlit accepts it for any *active* session (any open tab, signed in or not) and any file id,
up to `server.maxUploadSize` per request, as often as asked. Two rules close that:

- The server's limit follows the app's: `server.maxUploadSize` is set to R2_MAX_UPLOAD_MB (rounded up
  to whole MB, Streamlit's unit) when the settings are read, and checked to have taken.
- Only a session whose visitor may upload counts as active for the upload endpoint. The endpoint asks
  `Runtime.is_active_session` (its only caller in Streamlit 1.67); that method is wrapped so that a
  session is accepted only after its own script run found an upload role. Every other session gets
  Streamlit's "Invalid session_id" 400 before a byte of the body is read.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from streamlit import config
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from r2.errors import SettingsError
from r2.settings import Settings

_lock = threading.Lock()
_may_upload: set[str] = set()  # ids of sessions whose visitor holds the upload role


def server_limit_mb(settings: Settings) -> int:
    """`server.maxUploadSize` for these settings: R2_MAX_UPLOAD_MB in whole MB, rounded up."""
    return max(1, math.ceil(settings.max_upload_mb))


def follow_upload_limit(settings: Settings) -> None:
    """Set Streamlit's server-side upload limit to the app's; refuse to run when it does not take."""
    wanted = server_limit_mb(settings)
    if config.get_option("server.maxUploadSize") != wanted:
        config.set_option("server.maxUploadSize", wanted, "R2_MAX_UPLOAD_MB")
    if config.get_option("server.maxUploadSize") != wanted:
        raise SettingsError([f"server.maxUploadSize could not be set to R2_MAX_UPLOAD_MB ({wanted} MB)"])


def _gate(runtime: Runtime) -> None:
    if getattr(runtime, "_r2_upload_gate", False):
        return
    active = runtime.is_active_session

    def is_active_session(session_id: str) -> bool:
        with _lock:
            allowed = session_id in _may_upload
        return allowed and active(session_id)

    runtime.is_active_session = is_active_session  # type: ignore[method-assign]
    runtime._r2_upload_gate = True  # type: ignore[attr-defined]
    runtime._r2_active_session = active  # type: ignore[attr-defined]


def gate_uploads(may_upload: bool) -> None:
    """Accept uploads for this session only when `may_upload` (its visitor holds the upload role)."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return  # a bare script run (AppTest, python app.py): no upload endpoint to guard
    runtime = Runtime.instance()
    _gate(runtime)
    active: Any = runtime._r2_active_session  # type: ignore[attr-defined]
    with _lock:
        if may_upload:
            _may_upload.add(ctx.session_id)
        else:
            _may_upload.discard(ctx.session_id)
        for gone in [s for s in _may_upload if not active(s)]:  # sessions that ended
            _may_upload.discard(gone)
