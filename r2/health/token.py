"""The Cloudflare API token: is it active, when does it expire, do the S3 keys derive from it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests

from r2.errors import redact
from r2.health.model import TOKEN_WARN_DAYS, Outcome, Run, Skip
from r2.settings import mask


def _verify_token(run: Run, token: str) -> tuple[int, Mapping[str, Any]]:
    s = run.settings
    urls = [f"{s.cloudflare_api_base}/user/tokens/verify"]
    if s.account_id:  # account-owned tokens verify only under their account
        urls.append(f"{s.cloudflare_api_base}/accounts/{s.account_id}/tokens/verify")
    status, data = 0, {}
    for url in urls:
        response = run.http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=run.timeout)
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = {}
        if status == 200 and data.get("success"):
            break
    return status, data


def check_token(run: Run) -> Outcome:
    s = run.settings
    token = s.cloudflare_api_token
    if not token:
        run.unverified_because = "CLOUDFLARE_API_TOKEN is not set"
        return (
            "skip",
            (
                "Not configured. With CLOUDFLARE_API_TOKEN set (the R2 API token's value), Health verifies the token "
                "is active, warns before it expires, and proves the S3 key pair derives from it."
            ),
            "",
        )
    run.unverified_because = "the token could not be verified"
    try:
        status, data = _verify_token(run, token)
    except requests.RequestException as exc:
        return (
            "fail",
            f"Cloudflare's API could not be reached ({type(exc).__name__}).",
            ("Check the network (and CLOUDFLARE_API_BASE if set)."),
        )
    result = data.get("result") if isinstance(data, Mapping) else None
    if status != 200 or not data.get("success") or not isinstance(result, Mapping):
        messages = [str(e.get("message", "")) for e in data.get("errors", []) if isinstance(e, Mapping)]
        said = redact("; ".join(m for m in messages if m), s.secret_values())[:200] or f"HTTP {status}"
        return (
            "fail",
            f"Cloudflare does not accept the token: {said}.",
            (
                "CLOUDFLARE_API_TOKEN must be the token value shown once when the R2 API token was created "
                "(not its Access Key ID or Secret Access Key)."
            ),
        )
    run.token_id = str(result.get("id", ""))
    state = str(result.get("status", ""))
    if state != "active":
        run.unverified_because = f"the token is {state or 'not active'}"
        return (
            "fail",
            f"The token is {state or 'not active'}.",
            ("Create a new R2 API token (R2 > Manage API tokens) and update every R2_* value."),
        )
    expires = result.get("expires_on")
    if not expires:
        return "ok", "The token is active and does not expire.", ""
    try:
        when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    except ValueError:
        return "warn", "The token is active; its expiry date could not be read.", ""
    days = (when.timestamp() - run.deps.clock()) / 86400
    if days < 0:
        return "fail", f"The token expired on {when:%Y-%m-%d}.", "Create a new R2 API token and update R2_* values."
    if days < TOKEN_WARN_DAYS:
        return (
            "warn",
            f"The token is active but expires on {when:%Y-%m-%d} (in {days:.0f} day(s)).",
            ("Roll or recreate the token before then, and update R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY."),
        )
    return "ok", f"The token is active; it expires on {when:%Y-%m-%d} (in {days:.0f} days).", ""


def check_token_keys(run: Run) -> Outcome:
    s = run.settings
    if not s.cloudflare_api_token:
        raise Skip("CLOUDFLARE_API_TOKEN is not set")
    if not run.token_id:
        raise Skip(run.unverified_because or "the token could not be verified")
    problems = []
    if s.access_key_id != run.token_id:
        problems.append(f"R2_ACCESS_KEY_ID ({mask(s.access_key_id)}) is not this token's id ({mask(run.token_id)})")
    expected = hashlib.sha256(s.cloudflare_api_token.encode()).hexdigest()
    if s.secret_access_key != expected:
        problems.append("R2_SECRET_ACCESS_KEY is not the SHA-256 of this token's value")
    if problems:
        return (
            "fail",
            "The S3 key pair is not from this token: " + "; ".join(problems) + ".",
            (
                "Use the Access Key ID and Secret Access Key shown when this token was created (or set "
                "CLOUDFLARE_API_TOKEN to the value of the token the keys came from)."
            ),
        )
    return "ok", "The access key id is the token's id and the secret is the SHA-256 of its value.", ""
