"""Turn reference sources into image bytes that fit the API's size budgets.

The rule: bytes that already fit are sent untouched (no decode, no re-encode). Only images
that must shrink are decoded, once, at reduced scale (`Image.draft` lets libjpeg skip 3/4 or
more of the work), turned upright by their EXIF orientation, and re-encoded just small enough;
that work runs on every core, since Pillow releases the GIL while it decodes and encodes.

`google-genai`, given `PIL.Image` objects, re-encodes each (as PNG when made in memory) and
checks no budget: 14 phone photos become an ~80 MB request that the API rejects.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._constants import (
    MAX_INLINE_IMAGE_BYTES,
    MAX_REFERENCE_FILE_BYTES,
    MAX_REQUEST_BYTES,
    REENCODE_JPEG_QUALITY,
    REQUEST_HEADROOM_BYTES,
)
from ._errors import InvalidReferenceError, InvalidRequestError
from ._imageinfo import ACCEPTED_MIME_TYPES, sniff

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageBytes", "fit_to_budget", "load_image", "wire_size"]

_ACCEPTED_NAMES = "PNG, JPEG, WEBP, HEIC, HEIF"


@dataclass(frozen=True)
class ImageBytes:
    """Image bytes ready to send, with the MIME type read from the bytes themselves."""

    data: bytes
    mime_type: str
    label: str
    """How errors name this image: its path, or its position and kind of source."""
    width: int | None = None
    height: int | None = None


def wire_size(n: int) -> int:
    """Size of ``n`` bytes once base64-encoded in the JSON body."""
    return 4 * math.ceil(n / 3)


def load_image(source: Any, label: str) -> ImageBytes:
    """Reads a path, bytes, binary file object or `PIL.Image` into checked image bytes.

    Raises:
        InvalidReferenceError: Unreadable, not an image, truncated, or a type the API does
            not take; the message names the source.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = str(path)
        try:
            if path.is_file() and path.stat().st_size > MAX_REFERENCE_FILE_BYTES:
                raise InvalidReferenceError(_too_big(path.stat().st_size), source=label)
            data = path.read_bytes()
        except IsADirectoryError:
            raise InvalidReferenceError("is a directory, not an image file", source=label) from None
        except FileNotFoundError:
            raise InvalidReferenceError("no such file", source=label) from None
        except OSError as exc:
            raise InvalidReferenceError(f"cannot be read ({exc.strerror})", source=label) from exc
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif _is_pil_image(source):
        return _encode_pil(source, label)
    elif isinstance(getattr(source, "data", None), bytes) and hasattr(source, "mime_type"):
        data = source.data  # a GeneratedImage: its bytes as received, checked like any other
    elif callable(getattr(source, "read", None)):
        data = source.read()
        label = str(getattr(source, "name", label))
        if not isinstance(data, bytes):
            raise InvalidReferenceError(
                "is a text-mode file: open it in binary mode ('rb')", source=label
            )
    else:
        raise InvalidReferenceError(
            f"a reference must be a path, bytes, a binary file object, a PIL.Image or a "
            f"GeneratedImage, "
            f"not {type(source).__name__}",
            source=label,
        )
    return check_image(data, label)


def _too_big(size: int) -> str:
    return (
        f"is {size / 1e6:.0f} MB; references up to {MAX_REFERENCE_FILE_BYTES // 1_000_000} MB "
        "are taken (and shrunk to fit the API's 7 MB per image): export a smaller copy"
    )


def check_image(data: bytes, label: str) -> ImageBytes:
    """Checks that ``data`` is a complete image of a type the API takes."""
    if not data:
        raise InvalidReferenceError("is empty (0 bytes)", source=label)
    if len(data) > MAX_REFERENCE_FILE_BYTES:
        raise InvalidReferenceError(_too_big(len(data)), source=label)
    info = sniff(data)
    if info is None:
        raise InvalidReferenceError(
            f"is not an image (its first bytes are {data[:8]!r}); allowed: {_ACCEPTED_NAMES}",
            source=label,
        )
    if info.mime_type not in ACCEPTED_MIME_TYPES:
        kind = info.mime_type.split("/")[1].upper()
        raise InvalidReferenceError(
            f"is {kind}, which the Gemini API does not accept; allowed: {_ACCEPTED_NAMES}",
            source=label,
        )
    if not info.complete:
        raise InvalidReferenceError(
            f"is a truncated {info.mime_type} ({len(data)} bytes): the file ends before the "
            "image does",
            source=label,
        )
    return ImageBytes(data, info.mime_type, label, info.width, info.height)


def fit_to_budget(images: Sequence[ImageBytes], *, text_bytes: int = 0) -> list[ImageBytes]:
    """Returns the images, shrinking only those that do not fit the per-image and request budgets.

    The request budget is shared out by water-filling: images smaller than an equal share keep
    their bytes, and what they leave over is split among the larger ones.
    """
    budget = MAX_REQUEST_BYTES - REQUEST_HEADROOM_BYTES - text_bytes
    per_image_cap = wire_size(MAX_INLINE_IMAGE_BYTES)
    if budget <= 0:
        raise InvalidRequestError(
            f"the prompt alone ({text_bytes} bytes) leaves no room for images in a "
            f"{MAX_REQUEST_BYTES // 1_000_000} MB request"
        )
    targets: dict[int, int] = {}
    remaining, left = budget, len(images)
    for i in sorted(range(len(images)), key=lambda i: len(images[i].data)):
        share = min(remaining // left, per_image_cap)
        if wire_size(len(images[i].data)) <= share:
            remaining -= wire_size(len(images[i].data))
            left -= 1
        else:
            targets[i] = share * 3 // 4  # raw bytes whose base64 fits the share
    if not targets:
        return list(images)
    out = list(images)
    workers = min(len(targets), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        shrunk = pool.map(lambda i: _shrink(images[i], targets[i]), list(targets))
        for i, image in zip(list(targets), shrunk, strict=True):
            out[i] = image
    return out


def _shrink(image: ImageBytes, max_bytes: int) -> ImageBytes:
    """Decodes once at reduced scale, then re-encodes until the bytes fit ``max_bytes``."""
    from PIL import Image, ImageOps

    pil = _open(image)
    long_side = max(pil.size)
    # Guess the scale from how densely the original is compressed; a smaller copy of a photo
    # compresses less well per pixel, so aim 10% under.
    scale = min(1.0, math.sqrt(0.9 * max_bytes / len(image.data)))
    if pil.format == "JPEG":
        # Snap to a reduction libjpeg does while decoding (1/2, 1/4, 1/8): the decode then
        # does all the shrinking, and no resize pass over 12 MP is needed.
        scale = next((s for s in (1.0, 0.5, 0.25, 0.125) if s <= scale), scale)
        pil.draft(
            "RGB", (max(1, math.ceil(pil.width * scale)), max(1, math.ceil(pil.height * scale)))
        )
    try:
        pil.load()  # the decode happens here, once
    except (OSError, ValueError) as exc:
        raise InvalidReferenceError(f"cannot be decoded ({exc})", source=image.label) from exc
    if pil.getexif().get(0x0112, 1) != 1:  # only rotate (a full copy) when EXIF asks
        pil = ImageOps.exif_transpose(pil)
    for attempt in range(6):
        k = max(1, round(long_side * scale)) / max(pil.size)
        size = (max(1, round(pil.width * k)), max(1, round(pil.height * k)))
        resized = pil if k >= 1 else pil.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
        data, mime = _encode(resized, REENCODE_JPEG_QUALITY - 6 * max(0, attempt - 3))
        if len(data) <= max_bytes:
            return ImageBytes(data, mime, image.label, *resized.size)
        scale *= min(0.95, math.sqrt(max_bytes / len(data)) * 0.95)
    raise InvalidReferenceError(
        f"could not be made smaller than {max_bytes} bytes", source=image.label
    )


def _open(image: ImageBytes) -> Image.Image:
    from PIL import Image

    if image.mime_type in ("image/heic", "image/heif"):
        try:
            import pillow_heif
        except ImportError:
            raise InvalidReferenceError(
                f"is {image.mime_type} and too large to send as is ({len(image.data)} bytes); "
                "install `nanobanana[heic]` so it can be resized, or convert it to JPEG",
                source=image.label,
            ) from None
        pillow_heif.register_heif_opener()
    try:
        pil = Image.open(io.BytesIO(image.data))
        if pil.format != "JPEG":  # a JPEG decodes later, after draft() has set the scale
            pil.load()
    except Image.DecompressionBombError as exc:
        raise InvalidReferenceError(
            f"has too many pixels to decode safely ({exc}); send a smaller image",
            source=image.label,
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidReferenceError(f"cannot be decoded ({exc})", source=image.label) from exc
    return pil


def _encode(pil: Image.Image, quality: int) -> tuple[bytes, str]:
    """JPEG for opaque images; lossy WEBP where there is transparency to keep."""
    buf = io.BytesIO()
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        pil.convert("RGBA").save(buf, "WEBP", quality=quality, method=4)
        return buf.getvalue(), "image/webp"
    if pil.mode not in ("RGB", "L"):
        pil = pil.convert("RGB")
    pil.save(buf, "JPEG", quality=quality, optimize=False)
    return buf.getvalue(), "image/jpeg"


def _encode_pil(pil: Image.Image, label: str) -> ImageBytes:
    """Encodes an in-memory image once: JPEG (or WEBP with alpha), never a bloated PNG."""
    try:
        data, mime = _encode(pil, 95)
    except (OSError, ValueError) as exc:
        raise InvalidReferenceError(f"cannot be encoded ({exc})", source=label) from exc
    return ImageBytes(data, mime, label, *pil.size)


def _is_pil_image(obj: object) -> bool:
    # Checked by module name, so that a caller who never uses PIL never imports it.
    return any(c.__module__.startswith("PIL.") and c.__name__ == "Image" for c in type(obj).__mro__)
