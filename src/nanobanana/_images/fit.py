"""Read reference images once and make them fit what one request can carry.

One entry point, `prepare_images`: every source is read, sniffed and (when the set must shrink)
fitted inside worker threads, each source read exactly once. The rule:

- No more pixels than the model reads: every reference whose long side is larger than its
  media resolution's target (`reference_long_side`: 1,280 px at the default) is shrunk to
  it, even when the request could carry it; one already that small is sent untouched (no
  decode, no re-encode) while the set fits the API's budgets (about 7 MB per image, 20 MB
  per request, base64 included).
- A JPEG is decoded at the coarsest of libjpeg's scales (1/2, 1/4, 1/8: a fraction of a
  full decode's work) that still leaves more pixels than the target, then resized to it
  once, so that photos of one size come out at one size whatever their bytes.
- A file that is not a regular file, is over the size cap, has more pixels than Pillow deems
  safe, or whose headers describe no image is refused before anything is sent.

`google-genai`, given `PIL.Image` objects, re-encodes each at full size and checks no budget:
14 phone photos become an ~80 MB request that the API rejects.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._errors import InvalidReferenceError, InvalidRequestError
from .._models.registry import (
    INPUT_IMAGE_TOKENS,
    MAX_INLINE_IMAGE_BYTES,
    MAX_REQUEST_BYTES,
    REQUEST_HEADROOM_BYTES,
)
from .bytes import ImageBytes, RefSource
from .read import _encode, _load, check_image, load_image

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "check_image",
    "fit_images",
    "fit_to_budget",
    "load_image",
    "prepare_images",
    "prepare_references",
    "read_images",
    "reference_long_side",
    "reference_sources",
    "text_bytes",
    "wire_size",
]

#: Quality used when a reference image must be re-encoded to fit.
REENCODE_JPEG_QUALITY = 88

#: Input tokens one image takes at each media resolution: the registry's one table.
_TOKENS = INPUT_IMAGE_TOKENS

#: Long side that carries the detail the model takes at HIGH: 1280x960 is 1.2 MP for a 4:3
#: photo, 1280x720 0.9 MP for 16:9. Measured token counts stay at 1,065-1,101 from 256x256 to
#: 4032x3024 (FACTS): pixels far beyond about one megapixel buy nothing. See docs/references.md.
_HIGH_LONG_SIDE = 1280

T = TypeVar("T")
R = TypeVar("R")


def wire_size(n: int) -> int:
    """Size of ``n`` bytes once base64-encoded in the JSON body."""
    return 4 * math.ceil(n / 3)


def reference_long_side(media_resolution: str | None = None) -> int:
    """The long side, in pixels, beyond which a reference gives the model no more detail.

    Args:
        media_resolution: ``"low"``, ``"medium"``, ``"high"`` (the default) or
            ``"ultra_high"``; the API's ``MEDIA_RESOLUTION_*`` names and enum members work too.

    Raises:
        InvalidRequestError: An unknown media resolution.
    """
    if media_resolution is None:
        return _HIGH_LONG_SIDE
    name = str(getattr(media_resolution, "value", media_resolution)).lower()
    name = name.removeprefix("media_resolution_")
    if name == "unspecified":
        return _HIGH_LONG_SIDE
    if name not in _TOKENS:
        raise InvalidRequestError(
            f"unknown media resolution {media_resolution!r}; allowed: {', '.join(_TOKENS)}"
        )
    return round(_HIGH_LONG_SIDE * math.sqrt(_TOKENS[name] / _TOKENS["high"]))


def prepare_images(
    sources: Sequence[RefSource],
    *,
    text_bytes: int,
    long_side: int | None = None,
    workers: int | None = None,
) -> list[ImageBytes]:
    """Reads every source once, checks it, and fits them all into one request's budgets.

    Args:
        sources: The references, in order.
        text_bytes: What the rest of the request (prompt, history) already takes on the wire.
        long_side: The long side for references without their own media resolution;
            ``None`` is `reference_long_side()`.
        workers: Threads to read and fit with; ``None`` is one per core.

    Returns:
        Image bytes in the order of ``sources``, ready to send.

    Raises:
        InvalidReferenceError: A source is unreadable, not a regular file, too large, not a
            complete image of a type the API takes, or a decompression bomb; names the source.
        InvalidRequestError: The text leaves no room, or the images cannot be made to fit.
    """
    with _Workers(len(sources), workers) as run:
        loaded = run(_load, sources)
        return _fit(loaded, _sides(loaded, long_side), _budget(text_bytes), run)


def read_images(sources: Sequence[RefSource], *, workers: int | None = None) -> list[ImageBytes]:
    """Reads and checks every source once (the first half of `prepare_images`)."""
    with _Workers(len(sources), workers) as run:
        return run(_load, sources)


def fit_images(
    images: Sequence[ImageBytes],
    *,
    text_bytes: int,
    long_side: int | None = None,
    workers: int | None = None,
) -> list[ImageBytes]:
    """Fits images `read_images` read, as `prepare_images` does (its second half)."""
    with _Workers(len(images), workers) as run:
        return _fit(list(images), _sides(images, long_side), _budget(text_bytes), run)


def _sides(images: Sequence[ImageBytes], long_side: int | None) -> list[int]:
    """Each image's long side: its own media resolution's, else the request's."""
    default = long_side or reference_long_side()
    return [
        reference_long_side(i.media_resolution) if i.media_resolution else default for i in images
    ]


class _Prepared(Protocol):
    """What `prepare_references` reads of a request (a `GenerationRequest`)."""

    @property
    def references(self) -> Sequence[Any]: ...
    @property
    def prompt(self) -> str: ...
    @property
    def system_instruction(self) -> str | None: ...
    @property
    def media_resolution(self) -> str | None: ...

    def part_details(self) -> Sequence[str | None]: ...


def reference_sources(request: _Prepared) -> list[RefSource]:
    """What to read for a request: each reference with the media resolution it is sent with."""
    details = request.part_details()
    return [
        RefSource(ref.source, ref.label(i), details[i]) for i, ref in enumerate(request.references)
    ]


def text_bytes(request: _Prepared) -> int:
    """What a request's text takes on the wire (its prompt and system instruction)."""
    return len(request.prompt.encode()) + len((request.system_instruction or "").encode())


def prepare_references(request: _Prepared, *, reserved_bytes: int = 0) -> list[ImageBytes]:
    """Reads a request's references once (in worker threads), checks them, and fits them all.

    The one disk and CPU step of a call: each goes out at no more pixels than the model reads
    at its media resolution (`reference_long_side`), and smaller still when the set must
    shrink to fit the 7 MB / 20 MB budgets. Each image carries the media resolution it is sent
    with.

    Args:
        request: The request (a `GenerationRequest`).
        reserved_bytes: What else the request carries (a session's history).
    """
    if not request.references:
        return []
    return prepare_images(
        reference_sources(request),
        text_bytes=text_bytes(request) + reserved_bytes,
        long_side=reference_long_side(request.media_resolution),
    )


def fit_to_budget(images: Sequence[ImageBytes], *, text_bytes: int = 0) -> list[ImageBytes]:
    """Returns loaded images, shrinking them as `prepare_images` does when they do not fit."""
    sides = [reference_long_side(i.media_resolution) for i in images]
    with _Workers(len(images), None) as run:
        return _fit(list(images), sides, _budget(text_bytes), run)


# --- fitting ---------------------------------------------------------------------------------


def _budget(text_bytes: int) -> int:
    budget = MAX_REQUEST_BYTES - REQUEST_HEADROOM_BYTES - text_bytes
    if budget <= 0:
        raise InvalidRequestError(
            f"the prompt alone ({text_bytes} bytes) leaves no room for images in a "
            f"{MAX_REQUEST_BYTES // 1_000_000} MB request"
        )
    return budget


def _fits(images: Sequence[ImageBytes], budget: int) -> bool:
    cap = wire_size(MAX_INLINE_IMAGE_BYTES)
    sizes = [wire_size(len(i.data)) for i in images]
    return all(s <= cap for s in sizes) and sum(sizes) <= budget


def _fit(
    images: list[ImageBytes],
    sides: Sequence[int],
    budget: int,
    run: Callable[[Callable[[Any], ImageBytes], Iterable[Any]], list[ImageBytes]],
) -> list[ImageBytes]:
    """Every reference larger than its long side is shrunk to it; the others go untouched.

    If the set does not fit then, a reference heavier than an even share of the budget is
    re-encoded at its own size too; and while it still does not fit (noise-like images),
    every shrunk image is halved once more, up to three times.
    """
    plan = {
        i: side
        for i, (image, side) in enumerate(zip(images, sides, strict=True))
        if (_long_side(image) or 0) > side
    }
    if not plan and _fits(images, budget):
        return images
    if not _fits(images, budget):
        share = min(budget // max(1, len(images)), wire_size(MAX_INLINE_IMAGE_BYTES))
        for i, image in enumerate(images):
            if i not in plan and wire_size(len(image.data)) > share:
                plan[i] = min(_long_side(image) or sides[i], sides[i])
    for _ in range(4):
        shrunk = run(lambda item: _shrink(images[item[0]], item[1]), list(plan.items()))
        out = list(images)
        for i, image in zip(plan, shrunk, strict=True):
            out[i] = image
        if _fits(out, budget):
            return out
        plan = {i: max(1, side // 2) for i, side in plan.items()}
    raise InvalidRequestError(
        f"{len(images)} references cannot be made to fit one "
        f"{MAX_REQUEST_BYTES // 1_000_000} MB request; send fewer"
    )


def _long_side(image: ImageBytes) -> int | None:
    if not image.width or not image.height:
        return None
    return max(image.width, image.height)


def _target(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size with ``long_side`` as its longer side (the same size if it is no longer)."""
    if max(width, height) <= long_side:
        return width, height
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink(image: ImageBytes, long_side: int) -> ImageBytes:
    """Shrinks to ``long_side``: decoded once, resized once, turned upright, encoded once.

    A JPEG decodes at the coarsest scale that still leaves more pixels than the target
    (inside libjpeg: 1/2, 1/4 or 1/8 of the work).
    """
    from PIL import Image, ImageFile, ImageOps

    pil = _open(image)
    w, h = image.width or pil.width, image.height or pil.height
    target = _target(w, h, long_side)
    if pil.format == "JPEG" and target != (w, h) and isinstance(pil, ImageFile.ImageFile):
        # draft() picks the largest reduction that leaves at least ``target``.
        pil.draft("RGB" if pil.mode == "RGB" else None, target)
        pil.decodermaxblock = len(image.data) + 1  # one call into libjpeg, the GIL let go once
    try:
        pil.load()  # the decode happens here, once
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidReferenceError(f"cannot be decoded ({exc})", source=image.label) from exc
    if pil.size != target:
        if pil.mode not in ("RGB", "RGBA", "L", "LA"):
            pil = pil.convert("RGBA" if "A" in pil.mode or "transparency" in pil.info else "RGB")
        # An area average (BOX): the right filter to shrink by less than 2x, at half the
        # cost of a bicubic one on a 3 MP half-scale decode.
        pil = pil.resize(target, Image.Resampling.BOX, reducing_gap=2.0)
    if pil.getexif().get(0x0112, 1) != 1:  # rotating a small image: about 1 ms
        pil = ImageOps.exif_transpose(pil)
    try:
        data, mime = _encode(pil, REENCODE_JPEG_QUALITY)
    except (OSError, ValueError) as exc:
        raise InvalidReferenceError(f"cannot be encoded ({exc})", source=image.label) from exc
    return ImageBytes(data, mime, image.label, *pil.size, image.media_resolution)


def _open(image: ImageBytes) -> Image.Image:
    from PIL import Image

    if image.mime_type in ("image/heic", "image/heif"):
        try:
            import pillow_heif
        except ImportError:
            raise InvalidReferenceError(
                f"is {image.mime_type} and too large to send as is ({len(image.data)} bytes); "
                "install `nanobanana-sdk[heic]` so it can be resized, or convert it to JPEG",
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


class _Workers:
    """Maps on worker threads (one per core), or inline when there is one item or one core."""

    def __init__(self, items: int, workers: int | None) -> None:
        self.workers = max(1, min(items, workers or os.cpu_count() or 1))
        self.executor: ThreadPoolExecutor | None = None

    def __enter__(self) -> Callable[[Callable[[T], R], Iterable[T]], list[R]]:
        return self.run

    def run(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        if self.executor is None:
            self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="nanobanana-ref")
        return list(self.executor.map(fn, items))

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown()
