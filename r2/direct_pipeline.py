"""The adapter between direct upload's verification and the upload pipeline (`r2.images`, issue 3).

`pipeline_check(path, settings)` runs the pipeline's content checks, metadata removal and thumbnail on
a file on disk (the streamed download of a direct upload) and answers in `r2.direct.Checked`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from r2.direct import Checked
from r2.errors import R2Error
from r2.settings import Settings


def pipeline_check(path: Path, settings: Settings) -> Checked:
    try:
        images = importlib.import_module("r2.images")
    except ImportError as exc:  # until the pipeline is merged
        raise R2Error("The upload pipeline is not installed, so the upload could not be checked.") from exc
    from r2.thumbnails import THUMB_SIZE, thumbnail_of  # type: ignore[attr-defined]

    policy = images.ImagePolicy.from_settings(settings)
    cleaned = images.clean(path, policy, thumb_size=THUMB_SIZE, thumbnail=thumbnail_of)
    return Checked(
        format=cleaned.info.format,
        width=cleaned.info.width,
        height=cleaned.info.height,
        body=cleaned.body if cleaned.removed else None,
        removed=tuple(cleaned.removed),
        thumbnail=cleaned.thumbnail,
        thumbnail_error=cleaned.thumbnail_error,
    )
