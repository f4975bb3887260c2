"""Read reference images once and make them fit what one request can carry.

One entry point, `prepare_images`: every source is read, sniffed and (when the set must shrink)
fitted inside worker threads, each source read exactly once. The rule:

- References whose bytes fit the API's budgets (about 7 MB per image, 20 MB per request, base64
  included) are sent untouched: no decode, no re-encode.
- When they do not fit, every reference larger than the model can use goes out at one size
  derived from the model's input detail (`reference_long_side`), reached by the decoder's own
  scaling (libjpeg decodes at 1/2, 1/4 or 1/8 for less work than a full decode) and never by
  trial re-encodes, so that photos of one size come out at one size whatever their bytes.
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
    "fit_to_budget",
    "load_image",
    "prepare_images",
    "prepare_references",
    "reference_long_side",
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
    budget = _budget(text_bytes)
    default = long_side or reference_long_side()
    sides = [
        reference_long_side(s.media_resolution) if s.media_resolution else default for s in sources
    ]
    with _Workers(len(sources), workers) as run:
        loaded = run(_load, sources)
        return _fit(loaded, sides, budget, run)


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


def prepare_references(request: _Prepared, *, reserved_bytes: int = 0) -> list[ImageBytes]:
    """Reads a request's references once (in worker threads), checks them, and fits them all.

    The one disk and CPU step of a call: references that fit the 7 MB / 20 MB budgets go as
    they are; when some must shrink, each goes out at the size the model uses at its media
    resolution (`reference_long_side`). Each image carries the media resolution it is sent
    with.

    Args:
        request: The request (a `GenerationRequest`).
        reserved_bytes: What else the request carries (a session's history).
    """
    if not request.references:
        return []
    details = request.part_details()
    sources = [
        RefSource(ref.source, ref.label(i), details[i]) for i, ref in enumerate(request.references)
    ]
    text = len(request.prompt.encode()) + len((request.system_instruction or "").encode())
    return prepare_images(
        sources,
        text_bytes=text + reserved_bytes,
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
    """Untouched if they fit; else every reference larger than its long side is shrunk to it.

    A reference smaller than that but heavier than an even share of the budget is re-encoded
    at its own size. Only if the set still does not fit (noise-like images) is every shrunk
    image halved once more, up to three times.
    """
    if _fits(images, budget):
        return images
    share = min(budget // max(1, len(images)), wire_size(MAX_INLINE_IMAGE_BYTES))
    factors = [_reduction(image, side) for image, side in zip(images, sides, strict=True)]
    plan = {
        i: factor
        for i, (factor, image) in enumerate(zip(factors, images, strict=True))
        if factor > 1 or wire_size(len(image.data)) > share
    }
    for _ in range(4):
        shrunk = run(lambda item: _shrink(images[item[0]], item[1]), list(plan.items()))
        out = list(images)
        for i, image in zip(plan, shrunk, strict=True):
            out[i] = image
        if _fits(out, budget):
            return out
        plan = {i: factor * 2 for i, factor in plan.items()}
    raise InvalidRequestError(
        f"{len(images)} references cannot be made to fit one "
        f"{MAX_REQUEST_BYTES // 1_000_000} MB request; send fewer"
    )


def _reduction(image: ImageBytes, long_side: int) -> int:
    """The power of two to divide by: the one whose result is nearest ``long_side``.

    Powers of two are what JPEG decoding does for free; nearest (in ratio) keeps the result
    within a factor of 1.41 of ``long_side``, and the same for every photo of one size.
    """
    if not image.width or not image.height:
        return 1
    ratio = max(image.width, image.height) / long_side
    return 1 << max(0, round(math.log2(ratio))) if ratio > 1 else 1


def _shrink(image: ImageBytes, factor: int) -> ImageBytes:
    """Decodes once at 1/``factor`` scale (JPEG: inside libjpeg), upright, re-encoded once."""
    from PIL import Image, ImageFile, ImageOps

    pil = _open(image)
    if pil.format == "JPEG" and factor > 1 and isinstance(pil, ImageFile.ImageFile):
        step = min(factor, 8)
        pil.draft("RGB" if pil.mode == "RGB" else None, (pil.width // step, pil.height // step))
        pil.decodermaxblock = len(image.data) + 1  # one call into libjpeg, the GIL let go once
    try:
        pil.load()  # the decode happens here, once
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidReferenceError(f"cannot be decoded ({exc})", source=image.label) from exc
    w, h = image.width or pil.width, image.height or pil.height
    done = next((s for s in (8, 4, 2) if pil.size == (-(-w // s), -(-h // s))), 1)
    if factor > done:  # what the decoder did not do: a box filter, exact and cheap
        pil = pil.reduce(factor // done)
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
