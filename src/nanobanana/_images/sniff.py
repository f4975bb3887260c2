"""Read an image's type, size and completeness from its bytes, without decoding it.

Decoding a 12 MP photo costs ~100 ms and ~36 MB; walking its headers costs microseconds. Used
to sniff reference images (the MIME type comes from the bytes, never the file name) and to give
`GeneratedImage.width` / `.height` for free.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["ACCEPTED_MIME_TYPES", "ImageInfo", "sniff"]

#: What the Gemini API takes as an inline image (FACTS).
ACCEPTED_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"heif"}

# JPEG start-of-frame markers (baseline, progressive, ...), not DHT/JPG/DAC.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class ImageInfo:
    """What the headers say. ``width``/``height`` are ``None`` where the format hides them."""

    mime_type: str
    width: int | None = None
    height: int | None = None
    complete: bool = True
    """False when the bytes end before the image does (a cut-off download or upload)."""
    problem: str | None = None
    """Why the headers cannot be believed (no pixel data, zero size), or ``None``."""

    @property
    def pixels(self) -> int | None:
        """Width times height, when the headers give both."""
        return None if self.width is None or self.height is None else self.width * self.height


def sniff(data: bytes) -> ImageInfo | None:
    """Identifies an image by its magic bytes; ``None`` when it is not an image we know.

    Types the API does not take (GIF, BMP, TIFF, AVIF) are still named, so that the caller
    can say "GIF is not accepted" rather than "not an image".
    """
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp(data)
    if head[4:8] == b"ftyp":
        return _isobmff(data)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ImageInfo("image/gif")
    if head[:2] == b"BM":
        return ImageInfo("image/bmp")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return ImageInfo("image/tiff")
    return None


def _jpeg(data: bytes) -> ImageInfo:
    """Walks the marker segments up to the first scan, then looks for the end-of-image marker.

    The marker is looked for from the end (`rfind`: microseconds, where a forward search
    walks megabytes), and must lie after the scan: an EXIF thumbnail (inside APP1) carries its
    own end marker near the start, which must not make a truncated photo look complete.
    """
    width = height = None
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return ImageInfo("image/jpeg", width, height, complete=False)
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # segments without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS and pos + 9 <= n:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            scan = pos + 2 + length
            end = data.rfind(b"\xff\xd9", scan)
            problem = None
            if not width or not height:
                problem = "has no frame header giving its size"
            elif end == scan:
                problem = "has headers but no pixel data"
            return ImageInfo("image/jpeg", width, height, end != -1, problem)
        pos += 2 + length
    return ImageInfo("image/jpeg", width, height, complete=False)


def _png(data: bytes) -> ImageInfo:
    """Walks the chunks: IHDR first, at least one IDAT, IEND last."""
    width = height = None
    if len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
    pos, n, seen_idat = 8, len(data), False
    while pos + 8 <= n:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT" and length:
            seen_idat = True
        pos += 12 + length
        if kind == b"IEND":
            break
    else:
        return ImageInfo("image/png", width, height, complete=False)
    complete = pos <= n
    problem = None
    if not width or not height:
        problem = "has no IHDR header giving its size"
    elif complete and not seen_idat:
        problem = "has headers but no pixel data (no IDAT chunk)"
    return ImageInfo("image/png", width, height, complete, problem)


def _webp(data: bytes) -> ImageInfo:
    (riff_size,) = struct.unpack("<I", data[4:8])
    complete = len(data) >= riff_size + 8
    chunk = data[12:16]
    width = height = None
    has_frame = False
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        width, height = w & 0x3FFF, h & 0x3FFF
        has_frame = data[23:26] == b"\x9d\x01\x2a" and _chunk_size(data, 12) > 10
    elif chunk == b"VP8L" and len(data) >= 25:
        (bits,) = struct.unpack("<I", data[21:25])
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        has_frame = data[20] == 0x2F and _chunk_size(data, 12) > 5
    elif chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        has_frame = any(k in data[30:] for k in (b"VP8 ", b"VP8L", b"ANMF"))
    problem = None
    if not width or not height:
        problem = "has no frame header giving its size"
    elif complete and not has_frame:
        problem = "has headers but no pixel data"
    return ImageInfo("image/webp", width, height, complete, problem)


def _chunk_size(data: bytes, pos: int) -> int:
    return int(struct.unpack("<I", data[pos + 4 : pos + 8])[0])


def _isobmff(data: bytes) -> ImageInfo | None:
    """HEIC/HEIF (and AVIF, which the API does not take): check the top-level boxes add up."""
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, min(_box_size(data, 0), 64), 4)}
    if brands & _HEIC_BRANDS:
        mime = "image/heic"
    elif b"avif" in brands or b"avis" in brands:
        mime = "image/avif"
    elif brands & _HEIF_BRANDS:
        mime = "image/heif"
    else:
        return None  # an MP4 or another ISO container: not an image
    pos, n, complete = 0, len(data), True
    width = height = None
    while pos < n:
        size = _box_size(data, pos)
        if size < 8 or pos + size > n:
            complete = False
            break
        if data[pos + 4 : pos + 8] == b"meta":
            width, height = _largest_extent(data, pos, pos + size)
        pos += size
    problem = None if width else "has no image extent (ispe) giving its size"
    return ImageInfo(mime, width, height, complete, problem if complete else None)


def _largest_extent(data: bytes, start: int, end: int) -> tuple[int | None, int | None]:
    """The largest ``ispe`` (image spatial extent) property inside the ``meta`` box.

    A gridded HEIC gives each 512x512 tile its own extent and the whole image a larger one.
    """
    width = height = 0
    at = data.find(b"ispe", start, end)
    while at != -1 and at + 16 <= end:
        w, h = struct.unpack(">II", data[at + 8 : at + 16])  # after version and flags
        if w * h > width * height:
            width, height = w, h
        at = data.find(b"ispe", at + 4, end)
    return (width, height) if width and height else (None, None)


def _box_size(data: bytes, pos: int) -> int:
    if pos + 8 > len(data):
        return 0
    (size,) = struct.unpack(">I", data[pos : pos + 4])
    if size == 1 and pos + 16 <= len(data):
        (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
    elif size == 0:
        size = len(data) - pos
    return int(size)


def is_pil_image(obj: object) -> bool:
    # Checked by module name, so that a caller who never uses PIL never imports it.
    return any(c.__module__.startswith("PIL.") and c.__name__ == "Image" for c in type(obj).__mro__)
