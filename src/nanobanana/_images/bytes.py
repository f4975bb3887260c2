"""Image bytes as they will be sent, and where a reference's bytes come from: values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ImageBytes", "RefSource"]


@dataclass(frozen=True)
class ImageBytes:
    """Image bytes ready to send, with the MIME type read from the bytes themselves."""

    data: bytes
    mime_type: str
    label: str
    """How errors name this image: its path, or its position and kind of source."""
    width: int | None = None
    height: int | None = None
    media_resolution: str | None = None
    """The detail asked for this reference (``"high"``, ``"ultra_high"``...), or ``None``."""


@dataclass(frozen=True)
class RefSource:
    """One reference to prepare: where its bytes come from and how errors name it."""

    source: Any
    """A path, bytes, a binary file object, a `PIL.Image` or anything with ``.data`` bytes."""
    label: str
    media_resolution: str | None = None
    """Per-reference input detail; ``None`` takes the call's."""
