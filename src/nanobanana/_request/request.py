"""Typed requests: reference images, and the request that holds them and every option.

A `GenerationRequest` is checked whole when it is made, against its model's limits in the
registry, so an invalid one never reaches the network. It is a value: reading its references
is `_images`' job and building the wire `_core.wire`'s.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .._errors import InvalidRequestError, ReferenceCountWarning, user_stacklevel
from .._images.bytes import ImageBytes
from .._models.checks import check_options, unknown_value
from .._models.cost import ESTIMATED_SEARCH_QUERIES, INPUT_IMAGE_TOKENS, estimate_cost
from .._models.registry import (
    CHARS_PER_TOKEN,
    DEFAULT_MODEL,
    MAX_PROMPT_CHARS,
    MODELS,
    max_prompt_chars,
    resolve_model,
)
from .options import (
    AspectRatio,
    Detail,
    ImageSize,
    Search,
    as_detail,
    as_output_format,
    as_search,
    as_thinking_level,
)
from .options import validate_init as _validate
from .reference import (
    Reference,
    ReferenceKind,
    ReferenceLike,
    as_references,
    check_reference_counts,
)
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


def _too_long(length: int, limit: int, model: str) -> str:
    return (
        f"prompt is {length:,} characters; {model} takes about {limit:,} "
        f"({limit // CHARS_PER_TOKEN:,} input tokens). Shorten it, or move reference material "
        "into images"
    )


class _Refused(str):
    """A ratio or size already refused for the chosen model: the field reports why."""


def _enum(cls: Any) -> Any:
    def convert(value: Any) -> Any:
        if isinstance(value, _Refused):
            raise InvalidRequestError(str(value))
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
    """How closely the model looks at every reference; a `Reference`'s own
    ``media_resolution`` wins."""
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

    if TYPE_CHECKING:
        # What type checkers and editors see: every field, typed as the call takes it.
        def __init__(
            self,
            prompt: PromptLike,
            *,
            references: Iterable[ReferenceLike] | ReferenceLike | None = (),
            aspect_ratio: AspectRatio | str | None = None,
            size: ImageSize | str | int | None = None,
            model: str | None = None,
            include_thoughts: bool = False,
            expected_images: int = 1,
            search: bool | Search | None = None,
            thinking_level: str | None = None,
            image_only: bool = False,
            media_resolution: str | None = None,
            system_instruction: str | None = None,
            temperature: float | None = None,
            seed: int | None = None,
            output_format: str | None = None,
            quality: int | None = None,
            n: int = 1,
        ) -> None: ...

    else:

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

    @model_validator(mode="before")
    @classmethod
    def _spell_ratio_and_size_for_the_model(cls, data: Any) -> Any:
        """A ratio or size no model takes is refused naming the chosen model's own values.

        (The field reports it, so that other problems of the request are reported with it.)
        """
        if not isinstance(data, dict):
            return data
        for name, enum in (("aspect_ratio", AspectRatio), ("size", ImageSize)):
            value = data.get(name)
            if value is None or isinstance(value, enum):
                continue
            try:
                enum(value)
            except InvalidRequestError:
                model = data.get("model")
                known = model.strip().removeprefix("models/") if isinstance(model, str) else None
                info = MODELS.get(known or DEFAULT_MODEL)
                data = {**data, name: _Refused(unknown_value(name, value, info))}
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
        if len(value) > MAX_PROMPT_CHARS:  # no model takes it: refused before anything else
            raise InvalidRequestError(_too_long(len(value), MAX_PROMPT_CHARS, "any model"))
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
        if len(self.prompt) > (limit := max_prompt_chars(self.model)):
            raise InvalidRequestError(_too_long(len(self.prompt), limit, self.model))
        advice = check_options(
            self.model,
            aspect_ratio=self.aspect_ratio.value if self.aspect_ratio else None,
            size=self.size.value if self.size else None,
            kinds=[r.kind for r in self.references],
            search=self.search.modes if self.search else (),
            thinking_level=self.thinking_level,
            include_thoughts=self.include_thoughts,
            part_detail=self.media_resolution == "ultra_high"
            or any(r.media_resolution for r in self.references),
        )
        if advice:
            warnings.warn(advice, ReferenceCountWarning, stacklevel=user_stacklevel())
        if self.quality is not None and self.output_format == "png":
            raise InvalidRequestError("quality applies to JPEG output; PNG is lossless")
        return self

    def part_details(self) -> list[Detail | None]:
        """Each reference's media resolution as sent: its own, else a request-wide ``ultra_high``.

        (``generationConfig.mediaResolution`` cannot carry ``ultra_high``: it goes per part.)
        """
        wide = self.media_resolution if self.media_resolution == "ultra_high" else None
        return [r.media_resolution or wide for r in self.references]

    def prepare_references(self, *, reserved_bytes: int = 0) -> list[ImageBytes]:
        """Reads every reference once (in worker threads), checks it, and fits them all.

        Deprecated: a client reads references itself; this stays for 0.1 callers and is
        `nanobanana._images.fit.prepare_references`.
        """
        from .._images.fit import prepare_references  # shim: reading is _images' job

        return prepare_references(self, reserved_bytes=reserved_bytes)

    def to_genai(self) -> GenaiCall:
        """The exact `google-genai` call: reads and fits the references, sends nothing.

        Kept for 0.1 callers; the one wire builder is `nanobanana._core.wire`.

        Raises:
            InvalidReferenceError: A reference is not a usable image.
        """
        from .._core.wire import to_genai  # shim: building the wire is _core's job
        from .._images.fit import prepare_references  # shim: reading is _images' job

        return to_genai(self, prepare_references(self))

    def estimated_cost(self, *, batch: bool = False) -> float | None:
        """A conservative USD estimate of one call of this request (not times ``n``).

        1,120 tokens per reference (2,240 at ``ultra_high``), 900 thinking tokens, the prompt
        at about 4 characters a token, and when grounded the most search queries one call
        may bill. ``None`` when the model has no known price.
        """
        wide = self.media_resolution or "high"
        return estimate_cost(
            self.model,
            prompt_chars=len(self.prompt) + len(self.system_instruction or ""),
            input_image_tokens=sum(
                max(INPUT_IMAGE_TOKENS[r.media_resolution or wide], INPUT_IMAGE_TOKENS["high"])
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
        shaping["reference_details"] = [r.media_resolution for r in self.references]
        return json.dumps(shaping, sort_keys=True, separators=(",", ":"))
