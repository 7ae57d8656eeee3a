"""Settings: loaded from the environment, a `.env` file and `.streamlit/secrets.toml` `[r2]`.

Precedence: environment variables, then `.env` (python-dotenv), then the `[r2]` table of
`.streamlit/secrets.toml` (keys written either as `R2_BUCKET` or `bucket`). Everything is validated
before any network call, and every problem is reported at once in words a person can act on.
Secret values never appear in `repr`, logs or rendered pages: use `masked()`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values

from r2.errors import SettingsError

Mode = Literal["local", "r2", "custom"]
ROLES = ("member", "developer", "admin")
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "AVIF", "HEIC")  # HEIC is stored as JPEG
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # R2's (and SigV4's) maximum presigned URL lifetime
LOCAL_BUCKET = "app-images"
RESERVED_PREFIX = ".dashboard/"  # the app's own data (audit, CORS history, usage snapshots, probes)
THUMB_PREFIX = ".thumbs/"  # thumbnails, keyed by the original's key
DEFAULT_APP_ORIGIN = "http://localhost:8501"

_JURISDICTIONS = ("eu", "fedramp", "us")
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_R2_HOST = re.compile(r"^(?P<account>[^.]+)\.(?:(?P<jur>[a-z]+)\.)?r2\.cloudflarestorage\.com$")
_HEADER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")
_SECRET_FIELDS = ("secret_access_key", "cloudflare_api_token")


def mask(value: str) -> str:
    """Show enough of a secret to recognise it, never enough to use it: `abcd…wxyz`."""
    if not value:
        return ""
    if len(value) <= 12:
        return "…" * 3
    return f"{value[:4]}…{value[-4:]}"


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with `load_settings()`; `mode` says which server we talk to."""

    mode: Mode
    bucket: str
    endpoint: str = ""  # empty in local mode until the embedded server is running
    account_id: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    jurisdiction: str = ""
    max_upload_mb: float = 10.0
    zip_max_mb: float = 2048.0  # a ZIP download larger than this is refused before any byte is read
    folders: tuple[str, ...] = ("uploads",)
    image_formats: tuple[str, ...] = IMAGE_FORMATS
    max_megapixels: float = 50.0
    strip_metadata: Literal["gps", "all"] = "gps"
    heic_jpeg_quality: int = 90  # HEIC uploads are stored as JPEG at this quality
    preview_ttl_seconds: int = 300
    upload_url_ttl_seconds: int = 60
    share_ttl_seconds: int = 3600
    app_origin: str = DEFAULT_APP_ORIGIN
    default_role: str = "member"
    trusted_email_header: str = ""  # e.g. Cf-Access-Authenticated-User-Email; empty = mode off
    cloudflare_api_token: str = field(default="", repr=False)
    cloudflare_api_base: str = "https://api.cloudflare.com/client/v4"
    storage_price_gb_month: float = 0.015
    class_a_price_per_million: float = 4.50
    class_b_price_per_million: float = 0.36

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return f"Settings({shown})"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)

    @property
    def is_local(self) -> bool:
        return self.mode == "local"

    def with_endpoint(self, endpoint: str, access_key_id: str, secret_access_key: str) -> Settings:
        """A copy pointing at another server (used for the embedded local bucket)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(endpoint=endpoint, access_key_id=access_key_id, secret_access_key=secret_access_key)
        return Settings(**values)

    def secret_values(self) -> tuple[str, ...]:
        """The values `r2.errors.redact` removes from every outward text: the S3 secret key and the
        Cloudflare API token (with its SHA-256, which is a secret key too)."""
        token = self.cloudflare_api_token
        derived = hashlib.sha256(token.encode()).hexdigest() if token else ""
        return tuple(v for v in (self.secret_access_key, token, derived) if v)

    def masked(self) -> dict[str, object]:
        """Every setting, with secrets masked: safe to render, log or print."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS or (f.name == "access_key_id" and self.mode != "local"):
                value = mask(value)
            out[f.name] = value
        return out

    def describe_target(self) -> str:
        """One line for the sidebar: where the data lives."""
        if self.mode == "local":
            return "Local demo bucket"
        if self.mode == "r2":
            jur = f" ({self.jurisdiction} jurisdiction)" if self.jurisdiction else ""
            return f"R2 account {mask(self.account_id)}{jur}"
        return f"Custom S3 endpoint {self.endpoint}"


# name of the setting -> environment variable
ENV_NAMES: dict[str, str] = {
    "account_id": "R2_ACCOUNT_ID",
    "access_key_id": "R2_ACCESS_KEY_ID",
    "secret_access_key": "R2_SECRET_ACCESS_KEY",
    "bucket": "R2_BUCKET",
    "endpoint": "R2_ENDPOINT",
    "jurisdiction": "R2_JURISDICTION",
    "max_upload_mb": "R2_MAX_UPLOAD_MB",
    "zip_max_mb": "R2_ZIP_MAX_MB",
    "folders": "R2_FOLDERS",
    "image_formats": "R2_IMAGE_FORMATS",
    "max_megapixels": "R2_MAX_MEGAPIXELS",
    "strip_metadata": "R2_STRIP_METADATA",
    "heic_jpeg_quality": "R2_HEIC_JPEG_QUALITY",
    "preview_ttl_seconds": "R2_PREVIEW_TTL_SECONDS",
    "upload_url_ttl_seconds": "R2_UPLOAD_URL_TTL_SECONDS",
    "share_ttl_seconds": "R2_SHARE_TTL_SECONDS",
    "app_origin": "R2_APP_ORIGIN",
    "default_role": "R2_DEFAULT_ROLE",
    "trusted_email_header": "R2_TRUSTED_EMAIL_HEADER",
    "cloudflare_api_token": "CLOUDFLARE_API_TOKEN",
    "cloudflare_api_base": "CLOUDFLARE_API_BASE",
    "storage_price_gb_month": "R2_PRICE_STORAGE_GB_MONTH",
    "class_a_price_per_million": "R2_PRICE_CLASS_A_PER_MILLION",
    "class_b_price_per_million": "R2_PRICE_CLASS_B_PER_MILLION",
}
SECRET_ENV_NAMES = ("R2_SECRET_ACCESS_KEY", "CLOUDFLARE_API_TOKEN")
_CREDENTIAL_NAMES = ("account_id", "access_key_id", "secret_access_key", "endpoint")


def load_toml(path: Path) -> dict[str, Any]:
    """A TOML file's data. Raises `SettingsError` saying why it cannot be read (never its content)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message gives only the position, never the text around it.
        raise SettingsError([f"{path} is not valid TOML: {exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise SettingsError([f"{path} is not UTF-8 text"]) from exc
    except OSError as exc:
        raise SettingsError([f"{path} cannot be opened ({type(exc).__name__})"]) from exc


def unreadable_secrets(paths: Iterable[str | Path]) -> list[str]:
    """Why each existing secrets file among `paths` cannot be read (Streamlit's `secrets.files`: the
    user-level `~/.streamlit/secrets.toml` and the project's). Empty when all that exist parse."""
    problems: list[str] = []
    for path in map(Path, paths):
        if path.is_file():
            try:
                load_toml(path)
            except SettingsError as exc:
                problems.extend(exc.problems)
    return problems


def read_secrets_toml(path: Path) -> dict[str, str]:
    """The `[r2]` table of a Streamlit secrets file, keyed by environment variable name."""
    if not path.is_file():
        return {}
    data = load_toml(path)
    table = data.get("r2", {})
    if not isinstance(table, dict):
        raise SettingsError([f"{path}: [r2] must be a table"])
    by_setting = {v: k for k, v in ENV_NAMES.items()}
    out: dict[str, str] = {}
    for key, value in table.items():
        name = str(key).upper() if str(key).upper() in by_setting else ENV_NAMES.get(str(key).lower(), str(key))
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        out[name] = str(value)
    return out


def gather(
    environ: Mapping[str, str],
    dotenv_path: Path | None = Path(".env"),
    secrets_path: Path | None = Path(".streamlit/secrets.toml"),
) -> dict[str, str]:
    """Raw values by environment-variable name, highest precedence last applied."""
    merged: dict[str, str] = {}
    if secrets_path is not None:
        merged.update(read_secrets_toml(secrets_path))
    if dotenv_path is not None and dotenv_path.is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update({k: v for k, v in environ.items() if k in ENV_NAMES.values()})
    return {k: v.strip() for k, v in merged.items() if v is not None and v.strip() != ""}


def load_settings(
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
    secrets_path: Path | None = Path(".streamlit/secrets.toml"),
) -> Settings:
    """Load and validate. Raises `SettingsError` listing every problem."""
    import os

    raw = gather(os.environ if environ is None else environ, dotenv_path, secrets_path)
    return parse_settings(raw)


def parse_settings(raw: Mapping[str, str]) -> Settings:
    problems: list[str] = []

    def get(name: str) -> str:
        return raw.get(ENV_NAMES[name], "")

    values: dict[str, object] = {}
    configured = any(get(n) for n in _CREDENTIAL_NAMES)
    account_id = get("account_id").lower()
    access_key_id, secret = get("access_key_id"), get("secret_access_key")
    endpoint = get("endpoint").rstrip("/")
    jurisdiction = get("jurisdiction").lower()

    if jurisdiction and jurisdiction not in _JURISDICTIONS:
        problems.append(f"R2_JURISDICTION must be one of {', '.join(_JURISDICTIONS)} (or empty), not {jurisdiction!r}")

    mode: Mode = "local"
    if configured:
        if account_id and not _ACCOUNT_ID.match(account_id):
            problems.append(
                "R2_ACCOUNT_ID must be the 32 hexadecimal characters shown in the Cloudflare dashboard "
                "(R2 > Overview > Account ID)"
            )
        if access_key_id and not secret:
            problems.append("R2_ACCESS_KEY_ID is set but R2_SECRET_ACCESS_KEY is missing")
        if secret and not access_key_id:
            problems.append("R2_SECRET_ACCESS_KEY is set but R2_ACCESS_KEY_ID is missing")
        if not access_key_id and not secret:
            problems.append("R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY are missing (create an R2 API token)")
        if endpoint:
            parts = urlsplit(endpoint)
            host = parts.hostname or ""
            r2_host = _R2_HOST.match(host)
            if parts.scheme not in ("http", "https") or not host:
                problems.append(
                    f"R2_ENDPOINT must be a URL such as https://<account id>.r2.cloudflarestorage.com, not {endpoint!r}"
                )
            elif parts.path not in ("", "/"):
                problems.append("R2_ENDPOINT must not contain a path (the bucket goes in R2_BUCKET)")
            elif r2_host:
                mode = "r2"
                if parts.scheme != "https":
                    problems.append("R2_ENDPOINT must use https:// for Cloudflare R2")
                host_account, host_jur = r2_host.group("account"), r2_host.group("jur") or ""
                if account_id and host_account != account_id:
                    problems.append(
                        "R2_ENDPOINT's host does not match R2_ACCOUNT_ID: one of them is from another account"
                    )
                account_id = account_id or host_account
                if jurisdiction and host_jur != jurisdiction:
                    problems.append(
                        f"R2_ENDPOINT is not the {jurisdiction} jurisdiction endpoint that R2_JURISDICTION asks for"
                    )
                jurisdiction = jurisdiction or host_jur
            else:
                mode = "custom"
                if parts.scheme != "https" and not _is_loopback(host):
                    problems.append("R2_ENDPOINT must use https:// (plain http is accepted only for a local server)")
        elif account_id:
            mode = "r2"
            jur = f".{jurisdiction}" if jurisdiction else ""
            endpoint = f"https://{account_id}{jur}.r2.cloudflarestorage.com"
        else:
            problems.append("Set R2_ACCOUNT_ID (or R2_ENDPOINT for another S3-compatible server)")
        if not get("bucket"):
            problems.append("R2_BUCKET is missing (the name of your private bucket)")

    bucket = get("bucket") or LOCAL_BUCKET
    if not _BUCKET.match(bucket):
        problems.append(
            f"R2_BUCKET {bucket!r} is not a valid bucket name: 3-63 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )

    def number(name: str, cast: type, low: float, high: float) -> None:
        text = get(name)
        if not text:
            return
        try:
            value = cast(text)
        except ValueError:
            problems.append(f"{ENV_NAMES[name]} must be a number, not {text!r}")
            return
        if not low <= value <= high:
            problems.append(f"{ENV_NAMES[name]} must be between {low:g} and {high:g}, not {text}")
            return
        values[name] = value

    number("max_upload_mb", float, 0.001, 5 * 1024 - 5)
    number("max_megapixels", float, 0.01, 1000)
    number("heic_jpeg_quality", int, 1, 100)
    number("zip_max_mb", float, 1, 1024 * 1024)
    number("preview_ttl_seconds", int, 1, MAX_PRESIGN_SECONDS)
    number("upload_url_ttl_seconds", int, 1, MAX_PRESIGN_SECONDS)
    number("share_ttl_seconds", int, 1, MAX_PRESIGN_SECONDS)
    number("storage_price_gb_month", float, 0, 100)
    number("class_a_price_per_million", float, 0, 1000)
    number("class_b_price_per_million", float, 0, 1000)

    if get("folders"):
        folders = tuple(dict.fromkeys(f.strip().strip("/") for f in get("folders").split(",") if f.strip()))
        bad = [f for f in folders if not _FOLDER.match(f) or f.startswith(".")]
        if bad or not folders:
            problems.append(
                "R2_FOLDERS must be a comma-separated list of folder names (letters, digits, '.', '_', '-'; "
                f"not starting with '.'), problem with: {', '.join(bad) or '(empty)'}"
            )
        else:
            values["folders"] = folders
    if get("image_formats"):
        formats = tuple(
            f.strip().upper().replace("JPG", "JPEG").replace("HEIF", "HEIC")
            for f in get("image_formats").split(",")
            if f.strip()
        )
        unknown = [f for f in formats if f not in IMAGE_FORMATS]
        if unknown or not formats:
            problems.append(f"R2_IMAGE_FORMATS may list only {', '.join(IMAGE_FORMATS)}; unknown: {', '.join(unknown)}")
        else:
            values["image_formats"] = formats
    if get("strip_metadata"):
        strip = get("strip_metadata").lower()
        if strip not in ("gps", "all"):
            problems.append("R2_STRIP_METADATA must be 'gps' (remove location only) or 'all'")
        else:
            values["strip_metadata"] = strip
    if get("app_origin"):
        origin = get("app_origin").rstrip("/")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            problems.append(f"R2_APP_ORIGIN must be scheme://host[:port] with no path, not {get('app_origin')!r}")
        else:
            values["app_origin"] = origin
    if get("default_role"):
        role = get("default_role").lower()
        if role not in (*ROLES, "none"):
            problems.append(f"R2_DEFAULT_ROLE must be one of {', '.join(ROLES)} or none")
        else:
            values["default_role"] = role
    if get("trusted_email_header"):
        header = get("trusted_email_header")
        if not _HEADER.match(header):
            problems.append(
                f"R2_TRUSTED_EMAIL_HEADER must be an HTTP header name such as Cf-Access-Authenticated-User-Email, "
                f"not {header!r}"
            )
        else:
            values["trusted_email_header"] = header
    if get("cloudflare_api_token"):
        values["cloudflare_api_token"] = get("cloudflare_api_token")
    if get("cloudflare_api_base"):
        values["cloudflare_api_base"] = get("cloudflare_api_base").rstrip("/")

    if problems:
        raise SettingsError(problems)
    return Settings(
        mode=mode,
        bucket=bucket,
        endpoint=endpoint if configured else "",
        account_id=account_id,
        access_key_id=access_key_id,
        secret_access_key=secret,
        jurisdiction=jurisdiction,
        **values,  # type: ignore[arg-type]
    )


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
