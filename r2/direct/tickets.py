"""Steps 1-2 of a direct upload: the browser's offers, refused or signed as tickets (PUT links to a
staging key), and the batch record that lets the server finish the job without the browser."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from r2 import images
from r2.client import S3Client
from r2.errors import InvalidInput, s3_errors
from r2.images import FORMAT_TYPES
from r2.presign import sign_put
from r2.settings import RESERVED_PREFIX, Settings
from r2.uploads import choose_folder, plan_upload

MAX_FILES = 50  # per batch: each file costs a signature and a verification
MAX_NAME_CHARS = 255
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # the browser's file ids
STAGING_PREFIX = f"{RESERVED_PREFIX}direct/"  # the browser's PUTs land here, hidden, until checked


def staged_key(batch: str, key: str, fmt: str = "") -> str:
    """Where the browser's PUT of `key` goes. The name ends in the extension of the bytes sent (`fmt`):
    a HEIC upload is staged as `….heic` and stored, converted, as `….jpg` (the final key), so the sweep
    knows from the name alone what was signed."""
    if fmt and images.stored_format(fmt) != fmt:
        key = f"{key.rpartition('.')[0]}.{FORMAT_TYPES[fmt][0]}"
    return f"{STAGING_PREFIX}{batch}/{key}"


def record_key(batch: str) -> str:
    return f"{STAGING_PREFIX}{batch}.json"


@dataclass(frozen=True)
class Offer:
    """What the browser says about a picked file (nothing of it is trusted: the content is checked later)."""

    id: str
    name: str
    size: int
    type: str = ""

    @classmethod
    def from_browser(cls, raw: Mapping[str, Any]) -> Offer:
        try:
            file_id, name, size, ctype = raw["id"], raw["name"], raw["size"], raw.get("type") or ""
        except (KeyError, TypeError) as exc:
            raise InvalidInput("The browser sent an incomplete file description.") from exc
        if not isinstance(file_id, str) or not ID_PATTERN.match(file_id):
            raise InvalidInput("The browser sent a malformed file id.")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput("The browser sent a malformed file size.")
        return cls(id=file_id, name=str(name)[:MAX_NAME_CHARS], size=size, type=str(ctype)[:100].lower())


@dataclass(frozen=True)
class Ticket:
    """A signed PUT for one file. The URL is a credential for 60 s: never log or render it."""

    id: str
    name: str
    key: str  # the final key, written only by the server after the check
    size: int
    format: str
    content_type: str
    expires_at: float
    url: str = field(repr=False)
    signing: int = 0  # 0 when planned, +1 for each renewal: the browser takes the newest
    batch: str = ""  # the server's batch id (never the browser's)

    @property
    def staged(self) -> str:
        """Where the browser's PUT goes: hidden under `.dashboard/`, never signed for GET."""
        return staged_key(self.batch, self.key, self.format)

    @property
    def headers(self) -> dict[str, str]:
        """Exactly what the browser must send (it adds Content-Length itself, from the file)."""
        return {"Content-Type": self.content_type, "If-None-Match": "*"}

    def for_browser(self, now: float) -> dict[str, Any]:
        """What the component needs; `ttl` is the link's remaining life in seconds (the browser's clock
        may be off, so it counts from when it receives the ticket)."""
        return {
            "id": self.id,
            "key": self.key,
            "url": self.url,
            "headers": self.headers,
            "size": self.size,
            "signing": self.signing,
            "ttl": max(0.0, round(self.expires_at - now, 1)),
        }


@dataclass(frozen=True)
class Refusal:
    id: str
    name: str
    reason: str


def plan(
    client: S3Client,
    settings: Settings,
    offers: Sequence[Offer],
    folder: str | None,
    *,
    actor: str,
    now: Callable[[], float] = time.time,
) -> tuple[list[Ticket], list[Refusal]]:
    """Sign a PUT for each acceptable offer; refuse the others with a reason.

    The limits, the allowed types and the key are the upload pipeline's (`r2.uploads.plan_upload`).
    When anything is signed, one request: the batch record (`record_batch`); if it cannot be
    written this raises and no link leaves the server.
    """
    target = choose_folder(settings, folder)
    if len(offers) > MAX_FILES:
        raise InvalidInput(f"At most {MAX_FILES} files at once.", "Upload them in several batches.")
    tickets: list[Ticket] = []
    refusals: list[Refusal] = []
    batch = uuid.uuid4().hex
    for offer in offers:
        try:
            planned = plan_upload(settings, offer.name, offer.size, offer.type, target)
        except InvalidInput as exc:
            refusals.append(Refusal(offer.id, offer.name, f"{exc} Nothing was uploaded."))
            continue
        unsigned = Ticket(
            offer.id,
            planned.original_name,
            planned.key,
            planned.size,
            planned.format,
            planned.content_type,
            0.0,
            "",
            batch=batch,
        )
        tickets.append(renew(client, settings, unsigned, now=now))
    if tickets:
        record_batch(client, settings, tickets, actor)
    return tickets, refusals


def record_batch(client: S3Client, settings: Settings, tickets: Sequence[Ticket], actor: str) -> None:
    """Write (again) the batch record: who got links for which names. Its LastModified is the batch's
    last signing, which tells the sweep when the links have expired; so renewals write it again."""
    batch = tickets[0].batch
    body = {"actor": actor, "files": {t.key: t.name for t in tickets}}
    with s3_errors("prepare the upload links", target="the upload record"):
        client.put_object(
            Bucket=settings.bucket,
            Key=record_key(batch),
            Body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )


def renew_margin(settings: Settings) -> float:
    """Seconds of life below which the browser asks for a fresh link before starting a PUT."""
    return min(10.0, settings.upload_url_ttl_seconds / 3)


def renew(client: S3Client, settings: Settings, ticket: Ticket, *, now: Callable[[], float] = time.time) -> Ticket:
    """The same PUT (key, exact size, type, If-None-Match) signed afresh for the configured lifetime.

    A link only has to be *started* before it expires; in a long queue of large files the later ones
    would start too late, so the browser asks for a fresh link just before it starts such a file.
    """
    ttl = settings.upload_url_ttl_seconds
    url = sign_put(
        client,
        settings.bucket,
        ticket.staged,
        ttl,
        content_type=ticket.content_type,
        content_length=ticket.size,
        if_none_match=True,
    )
    signing = ticket.signing + 1 if ticket.url else 0
    return replace(ticket, expires_at=now() + ttl, url=url, signing=signing)
