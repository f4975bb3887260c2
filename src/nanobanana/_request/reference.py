"""`Reference`: one reference image, what it is of, and how closely the model should look.

How many of each kind a model takes is in the registry; reading and fitting the bytes is
`_images`' job.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator
from typing_extensions import TypeAliasType

from .._errors import InvalidRequestError, ReferenceCountWarning, user_stacklevel
from .._images.bytes import ImageBytes
from .._models.checks import check_references
from .._models.registry import DEFAULT_MODEL, MODELS, ModelInfo
from .options import Detail, as_detail, validate_init
from .types import ImageSource

__all__ = [
    "Reference",
    "ReferenceKind",
    "ReferenceLike",
    "as_references",
    "check_reference_counts",
]

ReferenceKind = Literal["object", "human", "style"]


class Reference(BaseModel):
    """One reference image, what it is of, and how closely the model should look at it.

    The kind decides which slots it takes; how many of each a model holds is in the registry
    (Nano Banana Pro: 6 objects, 5 humans and 3 flexible slots for styles and extras).

    Example:
        >>> Reference.human("me.jpg"), Reference.style(png_bytes), Reference(source=pil_image)
        >>> Reference.object("label.png", media_resolution="ultra_high")  # fine print
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    if TYPE_CHECKING:
        source: ImageSource
    else:
        source: Any  # pydantic cannot build a schema for the protocols in ImageSource
    """A path, `bytes`, a binary file object, a `PIL.Image.Image` or a `GeneratedImage`."""
    kind: ReferenceKind = "object"
    media_resolution: Annotated[Detail | None, BeforeValidator(as_detail)] = None
    """Media resolution for this image alone (Gemini 3): ``low``, ``medium``, ``high`` (the
    default, about 1,090 tokens) or ``ultra_high`` (about twice that). ``detail=`` is the same
    setting under its 0.1 name."""

    def __init__(
        self,
        source: ImageSource | None = None,
        /,
        *,
        detail: str | None = None,
        **data: Any,
    ) -> None:
        if source is not None:
            data["source"] = source
        if detail is not None:
            if data.get("media_resolution") is not None:
                raise InvalidRequestError(
                    "give media_resolution= or its old name detail=, not both"
                )
            data["media_resolution"] = detail
        validate_init(super().__init__, **data)

    @property
    def detail(self) -> Detail | None:
        """The 0.1 name of `media_resolution`."""
        return self.media_resolution

    @classmethod
    def object(
        cls,
        source: ImageSource,
        *,
        media_resolution: str | None = None,
        detail: str | None = None,
    ) -> Reference:
        """An object or product to reproduce with high fidelity."""
        return cls(source, kind="object", media_resolution=media_resolution, detail=detail)

    @classmethod
    def human(
        cls,
        source: ImageSource,
        *,
        media_resolution: str | None = None,
        detail: str | None = None,
    ) -> Reference:
        """A person whose likeness to keep consistent."""
        return cls(source, kind="human", media_resolution=media_resolution, detail=detail)

    @classmethod
    def style(
        cls,
        source: ImageSource,
        *,
        media_resolution: str | None = None,
        detail: str | None = None,
    ) -> Reference:
        """An image whose style (palette, medium, mood) to follow."""
        return cls(source, kind="style", media_resolution=media_resolution, detail=detail)

    @field_validator("source")
    @classmethod
    def _source_type(cls, value: Any) -> Any:
        if not _is_one_source(value):
            raise InvalidRequestError(
                "a reference source must be a path, bytes, a binary file object, a PIL.Image "
                f"or a GeneratedImage, not {type(value).__name__}"
            )
        if isinstance(value, str) and not value.strip():
            raise InvalidRequestError("a reference path must not be empty")
        return value

    def label(self, index: int) -> str:
        """How errors name this reference when it has no path."""
        if isinstance(self.source, str) or hasattr(self.source, "__fspath__"):
            return str(self.source)
        return f"reference #{index + 1} ({self.kind}, {type(self.source).__name__})"

    def load(self, index: int) -> ImageBytes:
        """Reads the source and checks that it is a complete image the API takes."""
        from .._images.read import load_image  # shim: reading is _images' job

        return load_image(self.source, self.label(index))


def _is_one_source(value: Any) -> bool:
    """One image source (a path, bytes, file, PIL image, GeneratedImage), not a collection."""
    from .._images.sniff import is_pil_image

    if isinstance(value, str | bytes | bytearray | memoryview | os.PathLike):
        return True
    if is_pil_image(value) or callable(getattr(value, "read", None)):
        return True
    return isinstance(getattr(value, "data", None), bytes)


def as_references(value: Any, kind: ReferenceKind = "object") -> Any:
    """``None``: none; one source (``"photo.jpg"``, a ``Path``, bytes, a file): one; else each.

    A string is never iterated into characters, nor a file into lines.
    """
    if value is None:
        return ()
    if isinstance(value, Reference) or _is_one_source(value):
        value = [value]
    elif isinstance(value, dict) or not isinstance(value, Iterable):
        raise InvalidRequestError(
            "references must be one image source (a path, bytes, a file, a PIL.Image) or a "
            f"list of them or of Reference, not {type(value).__name__}"
        )
    return tuple(v if isinstance(v, Reference) else Reference(v, kind=kind) for v in value)


def check_reference_counts(kinds: Iterable[str], info: ModelInfo | None = None) -> None:
    """Applies a model's reference rule (the default model's when none is given).

    Nano Banana Pro: 6 object + 5 human slots, 3 flexible ones, 14 in all. Advice (2.5 Flash
    Image's "about 3") warns with `ReferenceCountWarning`.

    Raises:
        InvalidRequestError: Naming the model, the kind that overflowed and the counts.
    """
    info = info or MODELS[DEFAULT_MODEL]
    advice = check_references(f"{info.id} ({info.name})", info.references, kinds)
    if advice:
        warnings.warn(advice, ReferenceCountWarning, stacklevel=user_stacklevel())


ReferenceLike = TypeAliasType("ReferenceLike", Reference | ImageSource)
"""A `Reference`, or a plain image source (which counts as an object reference)."""
