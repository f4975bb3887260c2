"""Request options: ratio, size, search, thinking, media resolution, output format.

Each option is read leniently (any case, common spellings), kept in one canonical form, and
turned into its `google-genai` wire object here, in one place.
"""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar

from .._errors import InvalidRequestError, NanoBananaError

if TYPE_CHECKING:
    from google.genai import types

__all__ = [
    "DETAILS",
    "AspectRatio",
    "Detail",
    "ImageSize",
    "RequestOptions",
    "Search",
    "as_detail",
    "as_output_format",
    "as_search",
    "as_thinking_level",
    "did_you_mean",
    "global_media_resolution",
    "part_media_resolution",
    "search_tool",
    "validate_init",
]


class AspectRatio(str, enum.Enum):
    """Output aspect ratio, width:height. Any value also accepts its string, e.g. ``"16:9"``.

    Which ratios a model takes is in the registry: the tall and wide ``1:4 4:1 1:8 8:1`` are
    Nano Banana 2's.
    """

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
    R1_4 = "1:4"
    R4_1 = "4:1"
    R1_8 = "1:8"
    R8_1 = "8:1"

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


_SIZE_SPELLINGS = {"512": "512", "512PX": "512", "0.5K": "512", ".5K": "512"}


class ImageSize(str, enum.Enum):
    """Output size, sent as the API spells it: ``"512"``, ``"1K"``, ``"2K"``, ``"4K"``.

    Accepted in any case (``"2k"``); ``512`` also as ``"512"``, ``"512px"`` or ``"0.5k"``.
    """

    PX512 = "512"
    K1 = "1K"
    K2 = "2K"
    K4 = "4K"

    @classmethod
    def _missing_(cls, value: object) -> ImageSize:
        if isinstance(value, str | int) and not isinstance(value, bool):
            spelled = str(value).strip().upper().replace(" ", "")
            spelled = _SIZE_SPELLINGS.get(spelled, spelled)
            for member in cls:
                if member.value == spelled:
                    return member
        allowed = ", ".join(m.value for m in cls)
        raise InvalidRequestError(
            f"image size {value!r} is not supported; allowed: {allowed} (any case)"
        )

    def __str__(self) -> str:
        return self.value


Detail = Literal["low", "medium", "high", "ultra_high"]
DETAILS: tuple[Detail, ...] = ("low", "medium", "high", "ultra_high")
#: What ``generationConfig.mediaResolution`` takes (google-genai's MediaResolution has no
#: ULTRA_HIGH: that level exists only per part, on Gemini 3).
GLOBAL_DETAILS: tuple[Detail, ...] = ("low", "medium", "high")


@dataclass(frozen=True)
class Search:
    """Google Search grounding: web search, and image search where the model has it.

    ``search=True`` is ``Search()``; ``Search(images=True)`` adds image search (Nano Banana 2).

    Example:
        >>> nb.generate("Today's weather in Paris as a poster", search=True)
        >>> nb.generate("The Louvre as a linocut", model="gemini-3.1-flash-image",
        ...             search=Search(images=True))
    """

    web: bool = True
    images: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.web, bool) or not isinstance(self.images, bool):
            raise InvalidRequestError("Search(web=..., images=...) takes True or False")
        if not (self.web or self.images):
            raise InvalidRequestError(
                "Search(web=False, images=False) searches nothing; pass search=False instead"
            )

    @property
    def modes(self) -> tuple[str, ...]:
        """``"web"`` and/or ``"image"``, as the registry names search modes."""
        return tuple(m for m, on in (("web", self.web), ("image", self.images)) if on)


def as_search(value: Any) -> Search | None:
    """``True``/``False``/``None``, a `Search`, or a mapping such as ``{"images": true}``."""
    if value is None or value is False:
        return None
    if value is True:
        return Search()
    if isinstance(value, Search):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"web", "images"}
        if unknown:
            raise InvalidRequestError(
                f"search takes the keys web and images, not {', '.join(sorted(map(str, unknown)))}"
            )
        return Search(**value)
    raise InvalidRequestError(
        f"search must be True, False or Search(web=..., images=...), not {type(value).__name__}"
    )


def search_tool(search: Search) -> types.Tool:
    """The ``tools`` entry: ``{"googleSearch": {}}``, with ``searchTypes`` only for images.

    Web search is the API's default, so plain web search sends an empty ``googleSearch`` (the
    one form every model with search accepts, FACTS).
    """
    from google.genai import types

    if search.modes == ("web",):
        return types.Tool(google_search=types.GoogleSearch())
    return types.Tool(
        google_search=types.GoogleSearch(
            search_types=types.SearchTypes(
                web_search=types.WebSearch() if search.web else None,
                image_search=types.ImageSearch() if search.images else None,
            )
        )
    )


def _canonical(value: Any) -> str:
    text = str(getattr(value, "value", value)).strip().lower()
    for prefix in ("media_resolution_", "thinking_level_"):
        text = text.removeprefix(prefix)
    return text.replace("-", "_").replace(" ", "_")


def as_detail(value: Any, what: str = "media_resolution") -> Detail | None:
    """``"high"``, ``"ULTRA_HIGH"``, ``"ultra-high"``, google-genai's enum: one canonical name."""
    if value is None:
        return None
    text = _canonical(value)
    for detail in DETAILS:
        if text == detail:
            return detail
    raise InvalidRequestError(
        f"{what} {value!r} is not a media resolution; allowed: {', '.join(DETAILS)}"
    )


def global_media_resolution(detail: Detail | None) -> types.MediaResolution | None:
    """``generationConfig.mediaResolution`` for a request-wide level (not ``ultra_high``)."""
    from google.genai import types

    if detail is None or detail not in GLOBAL_DETAILS:
        return None
    return types.MediaResolution(f"MEDIA_RESOLUTION_{detail.upper()}")


def part_media_resolution(detail: Detail | None) -> types.PartMediaResolution | None:
    """``Part.mediaResolution`` (``{"level": "MEDIA_RESOLUTION_HIGH"}``) for one image."""
    from google.genai import types

    if detail is None:
        return None
    level = types.PartMediaResolutionLevel(f"MEDIA_RESOLUTION_{detail.upper()}")
    return types.PartMediaResolution(level=level)


def as_thinking_level(value: Any) -> str | None:
    """A thinking level in lowercase (``"MINIMAL"`` and google-genai's enum accepted)."""
    if value is None:
        return None
    if not isinstance(value, str) and not isinstance(getattr(value, "value", None), str):
        raise InvalidRequestError(
            f"thinking_level must be a string such as 'minimal' or 'high', not "
            f"{type(value).__name__}"
        )
    return _canonical(value)


def as_output_format(value: Any) -> Literal["png", "jpeg"] | None:
    """``"png"``, ``"jpeg"``, ``"jpg"``, ``"image/png"``...: ``"png"`` or ``"jpeg"``."""
    if value is None:
        return None
    text = str(value).strip().lower().removeprefix("image/").removeprefix(".")
    if text == "png":
        return "png"
    if text in ("jpeg", "jpg"):
        return "jpeg"
    raise InvalidRequestError(f"output_format {value!r} is not supported; allowed: png, jpeg")


def did_you_mean(name: str, allowed: list[str]) -> str:
    """`` (did you mean 'aspect_ratio'?)`` when a close name exists, else ``""``."""
    import difflib  # only for a misspelled option: off the import path

    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
    close = close or [a for a in allowed if a.startswith(name) or name.startswith(a)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_init(init: Any, **data: Any) -> None:
    """Runs pydantic validation, re-raising our own typed errors as themselves.

    Pydantic wraps a ``ValueError`` raised in a validator into its ``ValidationError``; users
    should get the `InvalidRequestError` that says what was wrong and what is allowed.
    """
    from pydantic import ValidationError

    try:
        init(**data)
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden"]
        if unknown:
            raise InvalidRequestError(_unknown_fields(unknown, init)) from None
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


def _unknown_fields(names: list[str], init: Any) -> str:
    owner = getattr(init, "__self__", None)
    allowed = [f for f in type(owner).model_fields if not f.startswith("_")] if owner else []
    what = type(owner).__name__ if owner is not None else "the request"
    listed = "; ".join(f"{n!r}{did_you_mean(n, allowed)}" for n in names)
    return (
        f"{what} has no field {listed}; allowed: {', '.join(allowed)}"
        if len(names) == 1
        else f"{what} has no fields {listed}; allowed: {', '.join(allowed)}"
    )


_F = TypeVar("_F")

#: Every request option, as ``help()`` shows it under each call that takes `RequestOptions`.
OPTIONS_HELP = """
Options (keyword arguments, `RequestOptions`; each is a `GenerationRequest` field):
    aspect_ratio: ``"16:9"``, ``"3:4"``... (the model's own list; ``None`` lets it choose).
    size: ``"1K"``, ``"2K"``, ``"4K"`` (any case), ``"512"`` on Nano Banana 2.
    model: A model id (``nanobanana models`` lists them); default ``gemini-3-pro-image``.
    include_thoughts: Also return interim thought text and thought images.
    search: Ground in Google Search: ``True`` (web) or ``Search(images=True)``.
    thinking_level: ``"minimal"`` ... ``"high"`` where the model has levels.
    image_only: The image alone, no text.
    media_resolution: How closely the model reads references: ``"low"``, ``"medium"``,
        ``"high"`` (default) or ``"ultra_high"``.
    system_instruction: Text the model follows for every turn.
    temperature: Sampling temperature, 0 to 2 (image models may not honour it).
    seed: A seed for repeatable sampling (image models may not honour it).
    output_format: ``"png"`` or ``"jpeg"`` (Vertex AI only).
    quality: JPEG quality 0-100 (Vertex AI only).
"""


def with_options_help(fn: _F) -> _F:
    """Appends `OPTIONS_HELP` to a call's docstring, so ``help()`` names every option."""
    fn.__doc__ = (fn.__doc__ or "").rstrip() + "\n" + textwrap.indent(OPTIONS_HELP, " " * 8)
    return fn


class RequestOptions(TypedDict, total=False):
    """What shapes one request, taken alike by every call that makes one.

    ``generate``, ``stream``, ``edit`` and ``session`` take these as keyword arguments, on both
    twins; each is a field of `GenerationRequest`, documented there. Anything else is refused,
    naming what is allowed.
    """

    aspect_ratio: AspectRatio | str | None
    size: ImageSize | str | int | None
    model: str | None
    include_thoughts: bool
    search: bool | Search | None
    thinking_level: str | None
    image_only: bool
    media_resolution: str | None
    system_instruction: str | None
    temperature: float | None
    seed: int | None
    output_format: str | None
    quality: int | None
