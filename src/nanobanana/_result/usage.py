"""`Usage`: the token counts an answer reports, read tolerantly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Usage"]


#: The counts of ``usageMetadata``, by our names.
_COUNTS = {
    "prompt_tokens": "promptTokenCount",
    "output_tokens": "candidatesTokenCount",
    "thinking_tokens": "thoughtsTokenCount",
    "total_tokens": "totalTokenCount",
}


@dataclass(frozen=True)
class Usage:
    """Token counts as the API reported them (``total = prompt + output + thinking``).

    A count the answer did not carry reads 0 and is named in `absent`: blocked, ``NO_IMAGE``
    and ``IMAGE_SAFETY`` answers have no ``candidatesTokenCount`` at all, and
    ``thoughtsTokenCount`` is left out when nothing was thought. Costs tell the two apart
    (an image that came back is never priced at 0 tokens).
    """

    prompt_tokens: int = 0
    output_tokens: int = 0
    """Text and image output (``candidatesTokenCount``)."""
    thinking_tokens: int = 0
    """Billed even when thoughts are not returned."""
    total_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    absent: tuple[str, ...] = ()
    """Our names of the counts (``prompt_tokens``, ``output_tokens``, ``thinking_tokens``,
    ``total_tokens``) the answer did not carry."""

    def reported(self, name: str) -> int | None:
        """A count as reported; ``None`` when the answer did not carry it."""
        return None if name in self.absent else int(getattr(self, name))

    @property
    def output_text_tokens(self) -> int:
        return max(0, self.output_tokens - self.output_image_tokens)

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any] | None) -> Usage:
        """Reads ``usageMetadata`` tolerantly: unknown fields (``serviceTier``) are ignored."""
        meta = meta or {}

        def modality(key: str, name: str) -> int:
            details = meta.get(key)
            return sum(
                _int(d.get("tokenCount", d.get("token_count")))
                for d in (details if isinstance(details, list) else [])
                if isinstance(d, Mapping) and str(d.get("modality", "")).upper().endswith(name)
            )

        return cls(
            prompt_tokens=_int(meta.get("promptTokenCount")),
            output_tokens=_int(meta.get("candidatesTokenCount")),
            thinking_tokens=_int(meta.get("thoughtsTokenCount")),
            total_tokens=_int(meta.get("totalTokenCount")),
            input_image_tokens=modality("promptTokensDetails", "IMAGE"),
            output_image_tokens=modality("candidatesTokensDetails", "IMAGE"),
            absent=tuple(ours for ours, key in _COUNTS.items() if meta.get(key) is None),
        )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
