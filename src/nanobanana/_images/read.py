"""Read each reference source exactly once, and refuse what must not be read or sent.

Paths are stat'ed before they are opened (devices, FIFOs and oversized files are refused
without a read), file objects are read with a bounded read, and the bytes are checked from
their headers alone (type, completeness, a plausible size): no decode happens here.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import InvalidReferenceError
from .bytes import ImageBytes, RefSource
from .sniff import ACCEPTED_MIME_TYPES, ImageInfo, is_pil_image, sniff

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["MAX_REFERENCE_PIXELS", "check_image", "check_source", "load_image"]

#: A reference file larger than this is refused before it is read: phone photos are 3-12 MB,
#: and anything sent is shrunk to 7 MB anyway.
MAX_REFERENCE_FILE_BYTES = 50 * 1000 * 1000

_ACCEPTED_NAMES = "PNG, JPEG, WEBP, HEIC, HEIF"

#: Pillow's own decompression-bomb threshold (`PIL.Image.MAX_IMAGE_PIXELS`, 89.5 MP). Checked
#: from the headers before any decode, so that Pillow never has to warn.
MAX_REFERENCE_PIXELS = 89_478_485


def load_image(source: Any, label: str) -> ImageBytes:
    """Reads a path, bytes, binary file object or `PIL.Image` into checked image bytes.

    Raises:
        InvalidReferenceError: Unreadable, not an image, truncated, or a type the API does
            not take; the message names the source.
    """
    return _load(RefSource(source, label))


def check_image(data: bytes, label: str) -> ImageBytes:
    """Checks that ``data`` is a complete image of a type the API takes, from its headers."""
    if not data:
        raise InvalidReferenceError("is empty (0 bytes)", source=label)
    if len(data) > MAX_REFERENCE_FILE_BYTES:
        raise InvalidReferenceError(_too_big(len(data)), source=label)
    info = _kind(sniff(data), data, label)
    if not info.complete:
        raise InvalidReferenceError(
            f"is a truncated {info.mime_type} ({len(data)} bytes): the file ends before the "
            "image does",
            source=label,
        )
    if info.problem:
        raise InvalidReferenceError(
            f"is not a usable {info.mime_type}: it {info.problem}", source=label
        )
    if info.pixels is not None and info.pixels > _max_pixels():
        raise InvalidReferenceError(
            f"is {info.width}x{info.height} ({info.pixels / 1e6:.0f} megapixels); references "
            f"up to {_max_pixels() / 1e6:.0f} megapixels are taken (more is how decompression "
            "bombs look): export a smaller copy",
            source=label,
        )
    return ImageBytes(data, info.mime_type, label, info.width, info.height)


def _kind(info: ImageInfo | None, data: bytes, label: str) -> ImageInfo:
    """The sniffed type, refused when it is not an image or not one the API takes."""
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
    return info


def check_source(source: Any, label: str) -> None:
    """What can be refused without reading a whole source: before a run sends anything.

    A path is stat'ed (missing, not a regular file, empty or over the size cap) and its first
    bytes sniffed; bytes are sniffed. The whole read (and its full check) is left to the one
    read that sends it.

    Raises:
        InvalidReferenceError: As `load_image` would, for what these checks see.
    """
    if isinstance(source, str | os.PathLike):
        label = str(source)
        head = _read_path(Path(source), label, _HEAD)
    elif isinstance(source, bytes | bytearray | memoryview):
        head = bytes(source[:_HEAD])
    else:
        return
    if not head:
        raise InvalidReferenceError("is empty (0 bytes)", source=label)
    _kind(sniff(head), head, label)


#: Enough of a file to tell its type.
_HEAD = 64


def _load(ref: RefSource) -> ImageBytes:
    source, label = ref.source, ref.label
    if isinstance(source, str | os.PathLike):
        label = str(source)
        data = _read_path(Path(source), label)
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif is_pil_image(source):
        return replace(_encode_pil(source, label), media_resolution=ref.media_resolution)
    elif isinstance(data_attr := getattr(source, "data", None), bytes):
        data = data_attr  # a GeneratedImage: its bytes as received, checked like any other
    elif callable(getattr(source, "read", None)):
        label = str(getattr(source, "name", label))
        data = _read_file_object(source, label)
    else:
        raise InvalidReferenceError(
            "a reference must be a path, bytes, a binary file object, a PIL.Image or a "
            f"GeneratedImage, not {type(source).__name__}",
            source=label,
        )
    return replace(check_image(data, label), media_resolution=ref.media_resolution)


def _read_path(path: Path, label: str, size: int = MAX_REFERENCE_FILE_BYTES + 1) -> bytes:
    """Up to ``size`` bytes of a file (all of it, by default), or a typed refusal.

    Stats first: devices, FIFOs and oversized files are refused without opening them.
    """
    try:
        before = os.stat(path)
        _check_regular(before, label)
        # O_NONBLOCK: were the path swapped for a FIFO after the stat, opening must not hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as handle:
            _check_regular(os.fstat(fd), label)
            data = handle.read(size)
    except FileNotFoundError:
        raise InvalidReferenceError("no such file", source=label) from None
    except IsADirectoryError:
        raise InvalidReferenceError("is a directory, not an image file", source=label) from None
    except OSError as exc:
        raise InvalidReferenceError(f"cannot be read ({exc.strerror})", source=label) from exc
    if len(data) > MAX_REFERENCE_FILE_BYTES:
        raise InvalidReferenceError(_too_big(len(data)), source=label)
    return data


def _check_regular(info: os.stat_result, label: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise InvalidReferenceError("is a directory, not an image file", source=label)
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device or special file"
        raise InvalidReferenceError(
            f"is {kind}, not a regular file: only image files are read", source=label
        )
    if info.st_size > MAX_REFERENCE_FILE_BYTES:
        raise InvalidReferenceError(_too_big(info.st_size), source=label)


def _read_file_object(handle: Any, label: str) -> bytes:
    """A bounded read: a stream without end (a device) stops at the cap, never fills memory."""
    try:
        info = os.fstat(handle.fileno())
    except (AttributeError, OSError, ValueError):
        info = None  # an in-memory buffer
    if info is not None and (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)):
        _check_regular(info, label)
    try:
        data = handle.read(MAX_REFERENCE_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidReferenceError(f"cannot be read ({exc})", source=label) from exc
    if not isinstance(data, bytes | bytearray):
        raise InvalidReferenceError(
            "is a text-mode file: open it in binary mode ('rb')", source=label
        )
    if len(data) > MAX_REFERENCE_FILE_BYTES:
        raise InvalidReferenceError(
            f"holds more than {MAX_REFERENCE_FILE_BYTES // 1_000_000} MB; export a smaller copy",
            source=label,
        )
    return bytes(data)


def _too_big(size: int) -> str:
    return (
        f"is {size / 1e6:.0f} MB; references up to {MAX_REFERENCE_FILE_BYTES // 1_000_000} MB "
        "are taken (and shrunk to fit the API's 7 MB per image): export a smaller copy"
    )


def _max_pixels() -> int:
    """Ours, or Pillow's if a user lowered it: Pillow must never get to warn."""
    pil = sys.modules.get("PIL.Image")
    theirs = getattr(pil, "MAX_IMAGE_PIXELS", None)
    return min(MAX_REFERENCE_PIXELS, int(theirs)) if theirs else MAX_REFERENCE_PIXELS


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
