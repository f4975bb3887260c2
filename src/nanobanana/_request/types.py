"""Named types of the public surface: what a prompt and an image source may be."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Protocol, Union, runtime_checkable

from typing_extensions import TypeAliasType

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["HasImageBytes", "ImageSource", "PromptLike", "Renderable"]


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


# TypeAliasType: named aliases that documentation and ``help()`` show by name.
PromptLike = TypeAliasType("PromptLike", str | Renderable)
"""A prompt: text, or a template of the prompt DSL."""

ImageSource = TypeAliasType(
    "ImageSource",
    Union[
        str,
        os.PathLike[str],
        bytes,
        bytearray,
        memoryview,
        IO[bytes],
        "Image.Image",
        HasImageBytes,
    ],
)
"""An image: a path, bytes, a binary file object, a ``PIL.Image`` or a `GeneratedImage`."""
