"""Typed requests: reference images, and the request that holds them and every option.

A `GenerationRequest` is checked whole when it is made, against its model's limits in the
registry, so an invalid one never reaches the network. `user_parts()` and
`generation_config()` build every call from it (plain, stream, session turn, batch line).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .._errors import InvalidRequestError, ReferenceCountWarning, user_stacklevel
from .._images.bytes import ImageBytes, RefSource
from .._images.fit import prepare_images, reference_long_side
from .._models.checks import check_options
from .._models.cost import ESTIMATED_SEARCH_QUERIES, INPUT_IMAGE_TOKENS, estimate_cost
from .._models.registry import DEFAULT_MODEL, MAX_PROMPT_CHARS, resolve_model
from .options import (
    AspectRatio,
    Detail,
    ImageSize,
    Search,
    as_detail,
    as_output_format,
    as_search,
    as_thinking_level,
    global_media_resolution,
    part_media_resolution,
    search_tool,
)
from .options import validate_init as _validate
from .reference import Reference, ReferenceKind, as_references, check_reference_counts
from .types import PromptLike

if TYPE_CHECKING:
    from google.genai import types

__all__ = [
    "AspectRatio",
    "GenaiCall",
    "GenerationRequest",
    "ImageSize",
    "Reference",
    "ReferenceKind",
    "Search",
    "check_reference_counts",
]


def _enum(cls: Any) -> Any:
    def convert(value: Any) -> Any:
        return None if value is None else cls(value)

    return convert


def _text(value: Any, what: str) -> str:
    """A string that can be sent: lone surrogates (from bad decoding) cannot be UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequestError(
            f"{what} contains {value[exc.start]!r} at position {exc.start}, a lone surrogate "
            "that cannot be sent as UTF-8 (usually text decoded with errors='surrogateescape'"
            "); decode it properly or drop the character"
        ) from None
    return str(value)


class GenaiCall(NamedTuple):
    """The arguments of ``client.models.generate_content(model=, contents=, config=)``."""

    model: str
    contents: list[types.Content]
    config: types.GenerateContentConfig
    reference_sha256: tuple[str, ...] = ()
    """Digests of the reference bytes as sent (after any fitting), for provenance."""


#: Fields a template's ``request_defaults()`` may fill when the call leaves them unset.
_TEMPLATE_FIELDS = ("aspect_ratio", "size", "search", "thinking_level", "image_only")


class GenerationRequest(BaseModel):
    """One image generation request and every option, validated whole when made.

    ``temperature``, ``seed`` and ``system_instruction`` are passed through; image models may
    not honour them. Unknown fields are errors (``aspect=`` is not ``aspect_ratio=``).

    Example:
        >>> req = GenerationRequest(prompt="A red fox in snow", aspect_ratio="16:9", size="2k")
        >>> req.size
        <ImageSize.K2: '2K'>
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    prompt: str
    """What to draw. A template of the prompt DSL is rendered to its text."""
    references: Annotated[tuple[Reference, ...], BeforeValidator(as_references)] = ()
    """Reference images: one source, or a list; plain sources count as objects."""
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
    search: Annotated[Search | None, BeforeValidator(as_search)] = None
    """Ground in Google Search: ``True`` (web) or `Search` (``images=True`` where the model
    has image search). Each query is billed (the free monthly allowance is not tracked)."""
    thinking_level: Annotated[str | None, BeforeValidator(as_thinking_level)] = None
    """``"minimal"``, ``"high"``, ... where the model has levels (Nano Banana 2)."""
    image_only: bool = False
    """Ask for the image alone, no text (``responseModalities: ["IMAGE"]``)."""
    media_resolution: Annotated[Detail | None, BeforeValidator(as_detail)] = None
    """How closely the model looks at every reference; a `Reference`'s ``detail`` wins."""
    system_instruction: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    seed: int | None = None
    output_format: Annotated[Literal["png", "jpeg"] | None, BeforeValidator(as_output_format)] = (
        None
    )
    """Vertex AI only (the Gemini API refuses it): ``"png"`` or ``"jpeg"``."""
    quality: int | None = Field(default=None, ge=0, le=100)
    """JPEG quality, Vertex AI only."""
    n: int = Field(default=1, ge=1, le=10_000)
    """Copies of this request, for runs, batches and the CLI (`generate()` sends one)."""

    def __init__(self, prompt: PromptLike | None = None, /, **data: Any) -> None:
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
        for name in _TEMPLATE_FIELDS:
            if data.get(name) is None and getattr(suggested, name, None) is not None:
                data[name] = getattr(suggested, name)
        if "references" in data:
            data["references"] = as_references(data["references"], suggested.reference_kind)
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
        return _text(value, "the prompt")

    @field_validator("system_instruction")
    @classmethod
    def _sendable(cls, value: str | None) -> str | None:
        return None if value is None else _text(value, "system_instruction")

    @field_validator("model", mode="before")
    @classmethod
    def _resolve_model(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidRequestError(f"model must be a string, not {type(value).__name__}")
        return resolve_model(value)[0]

    @model_validator(mode="after")
    def _check_model_limits(self) -> GenerationRequest:
        advice = check_options(
            self.model,
            aspect_ratio=self.aspect_ratio.value if self.aspect_ratio else None,
            size=self.size.value if self.size else None,
            kinds=[r.kind for r in self.references],
            search=self.search.modes if self.search else (),
            thinking_level=self.thinking_level,
            include_thoughts=self.include_thoughts,
            part_detail=self.media_resolution == "ultra_high"
            or any(r.detail for r in self.references),
        )
        if advice:
            warnings.warn(advice, ReferenceCountWarning, stacklevel=user_stacklevel())
        if self.quality is not None and self.output_format == "png":
            raise InvalidRequestError("quality applies to JPEG output; PNG is lossless")
        return self

    def _part_details(self) -> list[Detail | None]:
        """Each reference's own media resolution, else a request-wide ``ultra_high``.

        (``generationConfig.mediaResolution`` cannot carry ``ultra_high``.)
        """
        wide = self.media_resolution if self.media_resolution == "ultra_high" else None
        return [r.detail or wide for r in self.references]

    def prepare_references(self, *, reserved_bytes: int = 0) -> list[ImageBytes]:
        """Reads every reference once (in worker threads), checks it, and fits them all.

        The one disk and CPU step of a call: references that fit the 7 MB / 20 MB budgets go
        as they are; when some must shrink, each goes out at the size the model uses at its
        media resolution (`reference_long_side`).

        Args:
            reserved_bytes: What else the request carries (a session's history).
        """
        if not self.references:
            return []
        sources = [
            RefSource(ref.source, ref.label(i), ref.detail) for i, ref in enumerate(self.references)
        ]
        text = len(self.prompt.encode()) + len((self.system_instruction or "").encode())
        return prepare_images(
            sources,
            text_bytes=text + reserved_bytes,
            long_side=reference_long_side(self.media_resolution),
        )

    def user_parts(self, images: Sequence[ImageBytes]) -> list[types.Part]:
        """The user turn: the prompt, then one inline part per prepared reference image.

        Args:
            images: `prepare_references()`'s images, in the references' order; each carries
                its reference's media resolution where one was asked.
        """
        from google.genai import types

        details = self._part_details()
        parts = [types.Part(text=self.prompt)]
        for i, img in enumerate(images):
            detail = details[i] if i < len(details) else None
            parts.append(
                types.Part(
                    inline_data=types.Blob(data=img.data, mime_type=img.mime_type),
                    media_resolution=part_media_resolution(detail),
                )
            )
        return parts

    def image_config(self, *, vertex: bool = False) -> types.ImageConfig | None:
        """The ``imageConfig`` to send, sizes spelled as the API wants; ``None`` when unset.

        Raises:
            InvalidRequestError: ``output_format`` or ``quality`` without Vertex AI.
        """
        from google.genai import types

        vertex_only = {"output_format": self.output_format, "quality": self.quality}
        asked = [name for name, value in vertex_only.items() if value is not None]
        if asked and not vertex:
            raise InvalidRequestError(
                f"{' and '.join(asked)} work on Vertex AI only: the Gemini API refuses "
                "imageConfig.outputMimeType and outputCompressionQuality (400). Use "
                "NanoBanana(vertexai=True, ...), or convert the image after: "
                "result.image.save('out.png')"
            )
        config = types.ImageConfig(
            aspect_ratio=self.aspect_ratio.value if self.aspect_ratio else None,
            image_size=self.size.value if self.size else None,
            output_mime_type=f"image/{self.output_format}" if self.output_format else None,
            output_compression_quality=self.quality,
        )
        return config if config.model_dump(exclude_none=True) else None

    def generation_config(self, *, vertex: bool = False) -> types.GenerateContentConfig:
        """The ``GenerateContentConfig`` for the Gemini API or (``vertex=True``) Vertex AI.

        Modalities, image config, thinking, tools, media resolution, system instruction and
        sampling.

        Per-reference media resolution is a ``v1beta`` field of the Gemini API: when one is
        set the call asks for that version.

        Raises:
            InvalidRequestError: A Vertex-only option without ``vertex=True``.
        """
        from google.genai import types

        thinking = None
        if self.include_thoughts or self.thinking_level:
            thinking = types.ThinkingConfig(
                include_thoughts=True if self.include_thoughts else None,
                thinking_level=(
                    types.ThinkingLevel(self.thinking_level.upper())
                    if self.thinking_level
                    else None
                ),
            )
        per_part = any(d is not None for d in self._part_details())
        return types.GenerateContentConfig(
            response_modalities=["IMAGE"] if self.image_only else ["TEXT", "IMAGE"],
            image_config=self.image_config(vertex=vertex),
            thinking_config=thinking,
            media_resolution=global_media_resolution(self.media_resolution),
            tools=[search_tool(self.search)] if self.search else None,
            system_instruction=self.system_instruction,
            temperature=self.temperature,
            seed=self.seed,
            http_options=(
                types.HttpOptions(api_version="v1beta") if per_part and not vertex else None
            ),
        )

    def to_genai(self) -> GenaiCall:
        """The exact `google-genai` call: reads and fits the references, sends nothing.

        Raises:
            InvalidReferenceError: A reference is not a usable image.
        """
        from google.genai import types

        images = self.prepare_references()
        return GenaiCall(
            self.model,
            [types.Content(role="user", parts=self.user_parts(images))],
            self.generation_config(),
            tuple(hashlib.sha256(img.data).hexdigest() for img in images),
        )

    def estimated_cost(self, *, batch: bool = False) -> float | None:
        """A conservative USD estimate of one call of this request (not times ``n``).

        1,120 tokens per reference (2,240 at ``ultra_high``), 900 thinking tokens, the prompt
        at about 4 characters a token, one search query when grounded. ``None`` when the
        model has no known price.
        """
        wide = self.media_resolution or "high"
        return estimate_cost(
            self.model,
            prompt_chars=len(self.prompt) + len(self.system_instruction or ""),
            input_image_tokens=sum(
                max(INPUT_IMAGE_TOKENS[r.detail or wide], INPUT_IMAGE_TOKENS["high"])
                for r in self.references
            ),
            size=self.size.value if self.size else None,
            images=self.expected_images,
            search_queries=ESTIMATED_SEARCH_QUERIES if self.search else 0,
            batch=batch,
        )

    def options_key(self) -> str:
        """Every option that shapes the answer, as stable text: for run and manifest keys.

        Prompt, reference bytes, ``n`` and ``expected_images`` are left to the caller.
        """
        shaping = self.model_dump(
            mode="json", exclude={"prompt", "references", "n", "expected_images"}
        )
        shaping["reference_details"] = [r.detail for r in self.references]
        return json.dumps(shaping, sort_keys=True, separators=(",", ":"))
