"""Named types of the public surface: what a prompt and an image source may be."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Protocol, TypedDict, Union, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

    from ._request import AspectRatio, ImageSize, Reference

__all__ = [
    "HasImageBytes",
    "ImageSource",
    "PromptLike",
    "ReferenceLike",
    "Renderable",
    "RequestOptions",
]


@runtime_checkable
class Renderable(Protocol):
    """A prompt template: anything with ``render() -> str`` (`Prompt`, `CharacterSheet`, ...)."""

    def render(self) -> str: ...


class HasImageBytes(Protocol):
    """An image already in memory with its type, such as a `GeneratedImage`."""

    @property
    def data(self) -> bytes: ...

    @property
    def mime_type(self) -> str: ...


PromptLike = str | Renderable
"""A prompt: text, or a template of the prompt DSL."""

ImageSource = Union[
    str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes], "Image.Image", HasImageBytes
]
"""An image: a path, bytes, a binary file object, a ``PIL.Image`` or a `GeneratedImage`."""

ReferenceLike = Union["Reference", ImageSource]
"""A `Reference`, or a plain image source (which counts as an object reference)."""


class RequestOptions(TypedDict, total=False):
    """What shapes one request, taken alike by every call that makes one.

    ``generate``, ``stream``, ``edit`` and ``session`` take these as keyword arguments, on
    both twins; anything else is refused with the list of what is allowed.
    """

    aspect_ratio: AspectRatio | str | None
    """One of `AspectRatio` (``"16:9"``); ``None`` lets the model choose."""
    size: ImageSize | str | None
    """``"1K"``, ``"2K"`` or ``"4K"``, any case; ``None`` is the API's default (1K)."""
    model: str | None
    """Overrides the client's model."""
    include_thoughts: bool
    """Also return interim thought text and images (default False)."""
