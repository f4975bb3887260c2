"""Known models: ids, capabilities, prices, and the migration of retired ids.

Prices drift: they live in this one table (FACTS, Gemini API standard tier, checked
2026-11-25), never as literals elsewhere. Unknown ids pass through unchanged, so a new model
needs no release; known retired ids map to their replacement with a `DeprecationWarning`.
"""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass, field

from ._constants import DEFAULT_MODEL

__all__ = ["MODELS", "RETIRED_MODELS", "ModelInfo", "Pricing", "resolve_model"]


@dataclass(frozen=True)
class Pricing:
    """USD prices per million tokens, and how many tokens an image counts for."""

    input_per_mtok: float
    """Text and image input."""
    text_output_per_mtok: float
    """Text output and thinking (billed even when thoughts are not returned)."""
    image_output_per_mtok: float
    """Image output."""
    image_output_tokens: dict[str, int]
    """Tokens one output image counts for, by size."""
    input_image_tokens: int = 560
    """Tokens one input image is priced at (the API reports the real count in usage)."""
    batch_discount: float = 0.5
    """The Batch API charges this fraction of every rate."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model accepts.

    ``aspect_ratios`` / ``image_sizes`` of ``None`` mean every value of `AspectRatio` /
    `ImageSize`.
    """

    id: str
    name: str
    aspect_ratios: frozenset[str] | None = None
    image_sizes: frozenset[str] | None = None
    max_references: int = 14
    max_object_references: int = 6
    max_human_references: int = 5
    flex_reference_slots: int = 3
    pricing: Pricing | None = field(default=None, repr=False)


_PRO_PRICING = Pricing(
    input_per_mtok=2.00,
    text_output_per_mtok=12.00,
    image_output_per_mtok=120.00,
    image_output_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
)

MODELS: dict[str, ModelInfo] = {
    info.id: info
    for info in (
        ModelInfo("gemini-3-pro-image", "Nano Banana Pro", pricing=_PRO_PRICING),
        # FACTS gives no price for Nano Banana 2: its cost is reported as unknown (None)
        # rather than guessed.
        ModelInfo("gemini-3.1-flash-image", "Nano Banana 2"),
    )
}

#: Retired id -> replacement. Users copy examples that still name the preview ids.
RETIRED_MODELS: dict[str, str] = {
    "gemini-3-pro-image-preview": "gemini-3-pro-image",
    "gemini-3.1-flash-image-preview": "gemini-3.1-flash-image",
}


def user_stacklevel() -> int:
    """A ``stacklevel`` pointing a warning at the first frame outside nanobanana and pydantic."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in _OURS:
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}", re.IGNORECASE)
_OURS = frozenset({"nanobanana", "pydantic", "pydantic_core"})


def resolve_model(model: str | None) -> tuple[str, ModelInfo | None]:
    """Returns the id to send and what is known of it (``None`` for an unknown id).

    Args:
        model: A model id, with or without the ``models/`` prefix; ``None`` for the default.

    Raises:
        InvalidRequestError: The id is empty.
    """
    from ._errors import InvalidRequestError

    if model is None:
        model = DEFAULT_MODEL
    model_id = model.strip().removeprefix("models/")
    if not _MODEL_ID.fullmatch(model_id):
        # Unknown ids pass through (new models need no release); malformed ones never would.
        raise InvalidRequestError(
            f"model must be a model id such as {DEFAULT_MODEL!r} (letters, digits, '.', '-', "
            f"'_'), got {model!r}"
        )
    if model_id in RETIRED_MODELS:
        replacement = RETIRED_MODELS[model_id]
        warnings.warn(
            f"{model_id!r} was shut down (a request naming it fails); using {replacement!r}. "
            f"Pass model={replacement!r} to silence this warning.",
            DeprecationWarning,
            stacklevel=user_stacklevel(),
        )
        model_id = replacement
    return model_id, MODELS.get(model_id)
