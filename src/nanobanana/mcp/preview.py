"""A small preview of a saved image: bounded in pixels and bytes, to fit an agent's context."""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["PREVIEW_MAX_BYTES", "PREVIEW_MAX_SIDE", "preview"]

#: The longer side of a preview, in pixels.
PREVIEW_MAX_SIDE = 384
#: A preview never exceeds this many bytes (before base64).
PREVIEW_MAX_BYTES = 64_000


def preview(
    path: Path, max_side: int = PREVIEW_MAX_SIDE, max_bytes: int = PREVIEW_MAX_BYTES
) -> bytes:
    """A JPEG of the image at ``path``, at most ``max_side`` pixels a side and ``max_bytes``.

    Quality, then size, step down until it fits; the full image stays on disk untouched.
    A JPEG is decoded at a reduced scale (Pillow's ``draft``: 1/2 to 1/8, by the DCT), so a
    4K image costs about what a 1K one does; other formats are reduced as they are resized.
    """
    from PIL import Image

    with Image.open(path) as source:
        source.draft("RGB", (max_side, max_side))  # JPEG only: never below max_side
        source.thumbnail((max_side, max_side), reducing_gap=2.0)
        image = source.convert("RGB")
    side = max_side
    while True:
        small = image.copy()
        small.thumbnail((side, side), reducing_gap=2.0)
        for quality in (80, 65, 50, 35):
            buf = io.BytesIO()
            small.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= max_bytes:
                return buf.getvalue()
        if side <= 32:
            return buf.getvalue()
        side //= 2
