"""Typed requests: aspect ratios, sizes, reference images, and the request that holds them.

A `GenerationRequest` is checked whole when it is made, so an invalid one never reaches the
network; `to_genai()` turns a valid one into the exact `google-genai` call.
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ._constants import DEFAULT_MODEL, MAX_PROMPT_CHARS
from ._errors import InvalidRequestError, NanoBananaError
from ._references import ImageBytes, fit_to_budget, load_image
from ._registry import MODELS, ModelInfo, resolve_model

if TYPE_CHECKING:
    from google.genai import types

__all__ = [
    "AspectRatio",
    "GenaiCall",
    "GenerationRequest",
    "ImageSize",
    "Reference",
    "ReferenceKind",
    "check_reference_counts",
]


class AspectRatio(str, enum.Enum):
    """Output aspect ratio, width:height. Any value also accepts its string, e.g. ``"16:9"``."""

    R1_1 = "1:1"
    R2_3 = "2:3"
    R3_2 = "3:2"
    R3_4 = "3:4"
    R4_3 = "4:3"
    R4_5 = "4:5"
    R5_4 = "5:4"
    R9_16 = "9:16"
    R16_9 = "16:9"
    R21_9 = "21:9"

    @classmethod
    def _missing_(cls, value: object) -> AspectRatio:
        if isinstance(value, str):
            spelled = value.strip().replace(" ", "").replace("/", ":")
            for member in cls:
                if member.value == spelled:
                    return member
        allowed = ", ".join(m.value for m in cls)
        raise InvalidRequestError(f"aspect ratio {value!r} is not supported; allowed: {allowed}")

    def __str__(self) -> str:
        return self.value


class ImageSize(str, enum.Enum):
    """Output size. Accepted in any case (``"2k"``); always sent uppercase, as the API demands."""

    K1 = "1K"
    K2 = "2K"
    K4 = "4K"

    @classmethod
    def _missing_(cls, value: object) -> ImageSize:
        if isinstance(value, str):
            spelled = value.strip().upper()
            for member in cls:
                if member.value == spelled:
                    return member
        allowed = ", ".join(m.value for m in cls)
        raise InvalidRequestError(
            f"image size {value!r} is not supported; allowed: {allowed} (any case)"
        )

    def __str__(self) -> str:
        return self.value


ReferenceKind = Literal["object", "human", "style"]
_KINDS: tuple[ReferenceKind, ...] = ("object", "human", "style")


class Reference(BaseModel):
    """One reference image and what it is of.

    The kind decides which slots it takes: the API holds up to 6 objects (high fidelity) and
    5 humans (character consistency) and 3 flexible slots for style references and any
    objects or humans beyond those.

    Example:
        >>> Reference.human("me.jpg"), Reference.style(png_bytes), Reference(source=pil_image)
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    source: Any
    """A path, `bytes`, a binary file object, or a `PIL.Image.Image`."""
    kind: ReferenceKind = "object"

    def __init__(self, source: Any = None, /, **data: Any) -> None:
        if source is not None:
            data["source"] = source
        _validate(super().__init__, **data)

    @classmethod
    def object(cls, source: Any) -> Reference:
        """An object or product to reproduce with high fidelity."""
        return cls(source, kind="object")

    @classmethod
    def human(cls, source: Any) -> Reference:
        """A person whose likeness to keep consistent."""
        return cls(source, kind="human")

    @classmethod
    def style(cls, source: Any) -> Reference:
        """An image whose style (palette, medium, mood) to follow."""
        return cls(source, kind="style")

    @field_validator("source")
    @classmethod
    def _source_type(cls, value: Any) -> Any:
        from ._references import _is_pil_image

        ok = isinstance(value, str | bytes | bytearray | memoryview) or hasattr(value, "__fspath__")
        ok = ok or _is_pil_image(value) or callable(getattr(value, "read", None))
        if not (ok or isinstance(getattr(value, "data", None), bytes)):
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
        return load_image(self.source, self.label(index))


def _enum(cls: type[enum.Enum]) -> Any:
    def convert(value: Any) -> Any:
        return None if value is None else cls(value)

    return convert


def _as_references(value: Any, kind: ReferenceKind = "object") -> Any:
    if value is None:
        return ()
    if isinstance(value, Reference | str | bytes) or not isinstance(value, Iterable):
        value = [value]
    return tuple(v if isinstance(v, Reference) else Reference(v, kind=kind) for v in value)


def check_reference_counts(kinds: Iterable[str], info: ModelInfo | None = None) -> None:
    """Applies the reference rule: 6 object + 5 human slots, 3 flexible, 14 in all.

    Objects beyond 6, humans beyond 5 and every style reference each take a flexible slot.

    Raises:
        InvalidRequestError: Naming the kind that overflowed and the counts.
    """
    info = info or MODELS[DEFAULT_MODEL]
    counts = Counter(kinds)
    objects, humans, styles = (counts.get(k, 0) for k in _KINDS)
    total = objects + humans + styles
    extra_objects = max(0, objects - info.max_object_references)
    extra_humans = max(0, humans - info.max_human_references)
    flex = extra_objects + extra_humans + styles
    rule = (
        f"allowed: up to {info.max_object_references} object and "
        f"{info.max_human_references} human references, plus {info.flex_reference_slots} "
        f"flexible slots for style references and extra objects or humans "
        f"({info.max_references} in all)"
    )
    have = f"{objects} object, {humans} human, {styles} style"
    if total > info.max_references:
        raise InvalidRequestError(f"too many reference images: {total} ({have}); {rule}")
    if flex > info.flex_reference_slots:
        takers = [
            (extra_objects, f"{extra_objects} object(s) beyond {info.max_object_references}"),
            (extra_humans, f"{extra_humans} human(s) beyond {info.max_human_references}"),
            (styles, f"{styles} style reference(s)"),
        ]
        overflowing = ", ".join(text for n, text in takers if n)
        raise InvalidRequestError(
            f"too many reference images for the flexible slots: {have} need {flex} flexible "
            f"slots ({overflowing}) but there are {info.flex_reference_slots}; {rule}"
        )


class GenaiCall(NamedTuple):
    """The arguments of ``client.models.generate_content(model=, contents=, config=)``."""

    model: str
    contents: list[types.Content]
    config: types.GenerateContentConfig
    reference_sha256: tuple[str, ...] = ()
    """Digests of the reference bytes as sent (after any fitting), for provenance."""


class GenerationRequest(BaseModel):
    """One image generation request, validated whole when made.

    Example:
        >>> req = GenerationRequest(prompt="A red fox in snow", aspect_ratio="16:9", size="2k")
        >>> req.size
        <ImageSize.K2: '2K'>
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prompt: str
    """What to draw. A template of the prompt DSL is rendered to its text."""
    references: Annotated[tuple[Reference, ...], BeforeValidator(_as_references)] = ()
    """Reference images; plain sources count as objects."""
    aspect_ratio: Annotated[AspectRatio | None, BeforeValidator(_enum(AspectRatio))] = None
    """``None`` lets the model choose (live calls returned 1408x768, in no documented table)."""
    size: Annotated[ImageSize | None, BeforeValidator(_enum(ImageSize))] = None
    """``None`` lets the API use its default (1K)."""
    model: str = DEFAULT_MODEL
    """A model id; retired ids map to their replacement with a warning."""
    include_thoughts: bool = False
    """Ask for interim thought text and thought images as well (they never cost extra: thinking
    is billed either way; they do make the response larger)."""
    expected_images: int = Field(default=1, ge=1, le=10)
    """How many final images the prompt asks for; a template says so itself. A result with
    fewer says so (`Result.missing`) and warns."""

    def __init__(self, prompt: Any = None, /, **data: Any) -> None:
        if prompt is not None:
            data["prompt"] = prompt
        _validate(super().__init__, **data)

    @model_validator(mode="before")
    @classmethod
    def _apply_template_defaults(cls, data: Any) -> Any:
        """A template's defaults fill what the call left unset; the call always wins."""
        prompt = data.get("prompt") if isinstance(data, dict) else None
        defaults = getattr(prompt, "request_defaults", None)
        if not callable(defaults):
            return data
        suggested = defaults()
        data = dict(data)
        for name in ("aspect_ratio", "size"):
            if data.get(name) is None and getattr(suggested, name, None) is not None:
                data[name] = getattr(suggested, name)
        if "references" in data:
            data["references"] = _as_references(data["references"], suggested.reference_kind)
        if "expected_images" not in data:
            data["expected_images"] = getattr(prompt, "expected_images", 1)
        return data

    @field_validator("prompt", mode="before")
    @classmethod
    def _render_prompt(cls, value: Any) -> str:
        if not isinstance(value, str) and callable(getattr(value, "render", None)):
            value = value.render()
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"prompt must be a string or a prompt template, not {type(value).__name__}"
            )
        if not value.strip():
            raise InvalidRequestError("prompt must not be empty or only whitespace")
        if len(value) > MAX_PROMPT_CHARS:
            raise InvalidRequestError(
                f"prompt is {len(value):,} characters; the model takes about "
                f"{MAX_PROMPT_CHARS:,} (65,536 tokens). Shorten it, or move reference material "
                "into images"
            )
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _resolve_model(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidRequestError(f"model must be a string, not {type(value).__name__}")
        return resolve_model(value)[0]

    @model_validator(mode="after")
    def _check_model_limits(self) -> GenerationRequest:
        info = MODELS.get(self.model)
        if info is None:
            return self  # unknown ids pass through: the API judges them
        ratios, sizes = info.aspect_ratios, info.image_sizes
        ratio = self.aspect_ratio.value if self.aspect_ratio else None
        if ratios is not None and ratio is not None and ratio not in ratios:
            allowed = ", ".join(sorted(ratios))
            raise InvalidRequestError(
                f"{self.model} does not take aspect ratio {ratio}; allowed: {allowed}"
            )
        size = self.size.value if self.size else None
        if sizes is not None and size is not None and size not in sizes:
            allowed = ", ".join(sorted(sizes))
            raise InvalidRequestError(f"{self.model} does not take size {size}; allowed: {allowed}")
        check_reference_counts((r.kind for r in self.references), info)
        return self

    def prepare_references(self) -> list[ImageBytes]:
        """Loads every reference, checks it, and fits them all into the request budgets."""
        loaded = [ref.load(i) for i, ref in enumerate(self.references)]
        return fit_to_budget(loaded, text_bytes=len(self.prompt.encode()))

    def image_config(self) -> types.ImageConfig | None:
        """The ``imageConfig`` to send, with the size uppercase; ``None`` when both are unset."""
        from google.genai import types

        if self.aspect_ratio is None and self.size is None:
            return None
        return types.ImageConfig(
            aspect_ratio=self.aspect_ratio.value if self.aspect_ratio else None,
            image_size=self.size.value if self.size else None,
        )

    def generation_config(self) -> types.GenerateContentConfig:
        """The ``GenerateContentConfig`` for this request."""
        from google.genai import types

        return types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=self.image_config(),
            thinking_config=(
                types.ThinkingConfig(include_thoughts=True) if self.include_thoughts else None
            ),
        )

    def to_genai(self) -> GenaiCall:
        """The exact `google-genai` call: reads and fits the references, sends nothing.

        Raises:
            InvalidReferenceError: A reference is not a usable image.
        """
        from google.genai import types

        images = self.prepare_references()
        parts = [types.Part(text=self.prompt)]
        parts += [
            types.Part(inline_data=types.Blob(data=img.data, mime_type=img.mime_type))
            for img in images
        ]
        return GenaiCall(
            self.model,
            [types.Content(role="user", parts=parts)],
            self.generation_config(),
            tuple(hashlib.sha256(img.data).hexdigest() for img in images),
        )


def _validate(init: Any, **data: Any) -> None:
    """Runs pydantic validation, re-raising our own typed errors as themselves.

    Pydantic wraps a ``ValueError`` raised in a validator into its ``ValidationError``; users
    should get the `InvalidRequestError` that says what was wrong and what is allowed.
    """
    try:
        init(**data)
    except ValidationError as exc:
        errors = exc.errors()
        ours = [
            e["ctx"]["error"]
            for e in errors
            if isinstance(e.get("ctx", {}).get("error"), NanoBananaError)
        ]
        if len(errors) == 1 and ours:
            raise ours[0] from None
        lines = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg'].removeprefix('Value error, ')}"
            for e in errors
        )
        raise InvalidRequestError(lines) from None
