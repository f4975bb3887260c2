"""Checks against a model's limits: options and references before sending, pixels after.

All read the one table in `_models.registry`; every refusal names the model and what it allows.
Unknown models get syntax checks only (the enums and `ALL_THINKING_LEVELS`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from .registry import (
    ALL_ASPECT_RATIOS,
    ALL_IMAGE_SIZES,
    ALL_THINKING_LEVELS,
    MODELS,
    ModelInfo,
    ReferenceLimits,
)

__all__ = [
    "RATIO_TOLERANCE",
    "check_options",
    "check_references",
    "size_mismatch",
    "unknown_value",
]


def _named(info: ModelInfo) -> str:
    return f"{info.id} ({info.name})"


def _having(what: str, test: Callable[[ModelInfo], object]) -> str:
    found = [m.id for m in MODELS.values() if test(m)]
    return f"models with {what}: {', '.join(found)}"


def unknown_value(name: str, value: object, info: ModelInfo | None) -> str:
    """Why a ratio or size is refused: the chosen model's own values, and the nearest one.

    ``"16x9"`` and ``"16/9"`` suggest ``16:9``; ``"3K"`` suggests ``2K`` or ``4K`` by spelling.
    """
    import difflib

    what = {"aspect_ratio": "aspect ratio", "size": "size"}[name]
    if info is not None:
        allowed = list(info.aspect_ratios if name == "aspect_ratio" else info.image_sizes)
        whose = _named(info)
    else:
        allowed = list(ALL_ASPECT_RATIOS if name == "aspect_ratio" else ALL_IMAGE_SIZES)
        whose = ""
    text = str(value).strip()
    spelled = text.replace("x", ":").replace("X", ":").replace("/", ":").replace(" ", "")
    spelled = spelled.upper() if name == "size" else spelled
    near: str | None = spelled if spelled in allowed else None
    if near is None and name == "aspect_ratio":
        near = _nearest_ratio(spelled, allowed)
    if near is None:
        near = next(iter(difflib.get_close_matches(spelled, allowed, n=1, cutoff=0.5)), None)
    hint = f" (did you mean {near}?)" if near else ""
    refusal = f"{whose} takes no {what} {text!r}" if info else f"no model takes {what} {text!r}"
    return f"{refusal}{hint}; allowed: {', '.join(allowed)}"


def _nearest_ratio(text: str, allowed: Sequence[str]) -> str | None:
    """The allowed ratio nearest ``"w:h"`` in shape (``"7:3"`` is ``21:9``), if it parses."""
    import math

    def value(ratio: str) -> float | None:
        w, _, h = ratio.partition(":")
        try:
            shape = float(w) / float(h)
        except (ValueError, ZeroDivisionError):
            return None
        return math.log(shape) if shape > 0 and math.isfinite(shape) else None

    asked = value(text)
    if asked is None:
        return None
    return min(allowed, key=lambda r: abs((value(r) or 0.0) - asked))


def check_options(
    model: str,
    *,
    aspect_ratio: str | None = None,
    size: str | None = None,
    kinds: Sequence[str] = (),
    search: Sequence[str] = (),
    thinking_level: str | None = None,
    include_thoughts: bool = False,
    part_detail: bool = False,
) -> str | None:
    """Checks one request's options against its model; returns advice to warn with, if any.

    Args:
        model: The resolved model id.
        aspect_ratio: The ratio asked, as sent.
        size: The size asked, as sent.
        kinds: The kind of each reference (``object``, ``human``, ``style``).
        search: Search modes asked (``web``, ``image``); empty for none.
        thinking_level: The level asked, lowercase.
        include_thoughts: Thought parts asked for (a thinking config is sent).
        part_detail: A media resolution set per reference, or ``ultra_high``.

    Raises:
        InvalidRequestError: Naming the model and listing what it allows.
    """
    from .._errors import InvalidRequestError

    info = MODELS.get(model)
    if info is None:
        if thinking_level is not None and thinking_level not in ALL_THINKING_LEVELS:
            raise InvalidRequestError(
                f"thinking_level {thinking_level!r} is not a level the API knows; allowed: "
                f"{', '.join(ALL_THINKING_LEVELS)}"
            )
        return None  # unknown ids pass through: the API judges them
    name = _named(info)
    if aspect_ratio is not None and aspect_ratio not in info.aspect_ratios:
        raise InvalidRequestError(
            f"{name} does not take aspect ratio {aspect_ratio}; allowed: "
            f"{', '.join(info.aspect_ratios)}"
        )
    if size is not None and size not in info.image_sizes:
        raise InvalidRequestError(
            f"{name} does not take size {size}; allowed: {', '.join(info.image_sizes)}"
        )
    if search and not info.search:
        raise InvalidRequestError(
            f"{name} has no Google Search grounding; " + _having("it", lambda m: m.search)
        )
    if "image" in search and "image" not in info.search:
        raise InvalidRequestError(
            f"{name} searches the web only, not images (pass search=True); "
            + _having("image search", lambda m: "image" in m.search)
        )
    if include_thoughts and not info.accepts_thinking_config:
        raise InvalidRequestError(
            f"{name} does not think and refuses any thinking config (the API answers 400 "
            "'Thinking is not enabled for this model'); leave include_thoughts off, or use "
            + _having("thoughts", lambda m: m.accepts_thinking_config)
        )
    if thinking_level is not None and thinking_level not in info.thinking_levels:
        if not info.thinking_levels:
            raise InvalidRequestError(
                f"{name} has no thinking levels (thinking: {info.thinking}); leave "
                f"thinking_level unset; " + _having("levels", lambda m: m.thinking_levels)
            )
        raise InvalidRequestError(
            f"{name} does not take thinking_level {thinking_level!r}; allowed: "
            f"{', '.join(info.thinking_levels)}"
        )
    if part_detail and not info.part_media_resolution:
        raise InvalidRequestError(
            f"{name} takes no per-reference media resolution and no 'ultra_high' (Gemini 3 "
            "models only); set media_resolution to 'low', 'medium' or 'high' for all references"
        )
    return check_references(name, info.references, kinds)


def check_references(model: str, limits: ReferenceLimits, kinds: Iterable[str]) -> str | None:
    """Applies a model's reference rule; returns advice to warn with, if any.

    Raises:
        InvalidRequestError: Naming the model, the kind that overflowed, the counts and the rule.
    """
    from .._errors import InvalidRequestError

    counts = Counter(kinds)
    objects, humans, styles = (counts.get(k, 0) for k in ("object", "human", "style"))
    total = objects + humans + styles
    have = f"{objects} object, {humans} human, {styles} style"
    rule = f"{model} allows {limits.describe()}"
    if limits.total is not None and total > limits.total:
        raise InvalidRequestError(f"too many reference images: {total} ({have}); {rule}")
    if limits.advised is not None and total > limits.advised:
        return f"{model} works best with about {limits.advised} reference images; got {total}"
    if limits.objects is None or limits.humans is None:
        return None  # no limit by kind
    as_objects = objects + (styles if limits.style_is_object else 0)
    extra_objects = max(0, as_objects - limits.objects)
    extra_humans = max(0, humans - limits.humans)
    flex = extra_objects + extra_humans + (0 if limits.style_is_object else styles)
    if flex > limits.flex:
        takers = [
            (extra_objects, f"{extra_objects} object(s) beyond {limits.objects}"),
            (extra_humans, f"{extra_humans} human(s) beyond {limits.humans}"),
            (0 if limits.style_is_object else styles, f"{styles} style reference(s)"),
        ]
        overflowing = ", ".join(text for n, text in takers if n)
        if not limits.flex:
            raise InvalidRequestError(
                f"too many reference images of one kind: {have} ({overflowing}); {rule}"
            )
        raise InvalidRequestError(
            f"too many reference images for the flexible slots: {have} need {flex} flexible "
            f"slots ({overflowing}) but there are {limits.flex}; {rule}"
        )
    return None


#: How far an image's width/height may stray from the ratio asked for (21:9 at 1K is 1% off).
RATIO_TOLERANCE = 0.03


def size_mismatch(
    model: str, aspect_ratio: object, size: object, width: int | None, height: int | None
) -> str | None:
    """Says how an image's pixel size differs from what was asked; ``None`` when it matches.

    The aspect ratio is compared (within 3%) for every model; the exact pixel size only where
    the registry has the model's table. Nothing is compared without a ratio (the model chooses).

    Args:
        model: The model id asked.
        aspect_ratio: The ratio asked (`AspectRatio` or ``"16:9"``), or ``None``.
        size: The size asked (`ImageSize` or ``"2K"``), or ``None`` (the API's 1K).
        width: The image's width in pixels.
        height: The image's height in pixels.
    """
    ratio = str(getattr(aspect_ratio, "value", aspect_ratio) or "")
    wanted = str(getattr(size, "value", size) or "1K")
    if not ratio or not width or not height or ":" not in ratio:
        return None
    rw, _, rh = ratio.partition(":")
    try:
        asked = float(rw) / float(rh)
    except (ValueError, ZeroDivisionError):
        return None
    got = width / height
    if abs(got / asked - 1) > RATIO_TOLERANCE:
        return (
            f"asked {model} for aspect ratio {ratio} at {wanted} but got {width}x{height} "
            f"(ratio {got:.3f} instead of {asked:.3f})"
        )
    info = MODELS.get(model)
    expected = info.pixels.get((ratio, wanted)) if info and info.pixels else None
    if expected is not None and expected != (width, height):
        return (
            f"asked {model} for {ratio} at {wanted} ({expected[0]}x{expected[1]}) but got "
            f"{width}x{height}"
        )
    return None
