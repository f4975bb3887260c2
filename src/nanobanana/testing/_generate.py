"""Answer a planned request like the real model: parts, signatures, usage, grounding, SSE.

Pure: no HTTP, no clock. `respond()` turns a `Plan` into the response body and
`stream_chunks()` splits that body into the chunks of ``:streamGenerateContent``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import _wire as wire
from ._faults import Fault
from ._grounding import grounding_metadata
from ._images import pad, render
from ._models import PIXELS
from ._plan import Plan

__all__ = ["Sizes", "respond", "stream_chunks"]


@dataclass(frozen=True)
class Sizes:
    """How big signatures and images come out: small by default, live-sized when realistic."""

    signature_bytes: int = 2048
    realistic: bool = False

    def signature(self, seed: int, signed_parts: int = 1) -> int:
        """Bytes of one signature; realistic ones are 0.6-2.9 MB once base64-encoded.

        Live, the signatures of one answer add up to about 1.3-3.1 MB (a 1K answer is
        2.4-4.2 MB in all), shared by its signed parts.
        """
        if not self.realistic:
            return self.signature_bytes
        budget = 1_300_000 + seed % 1_800_000
        encoded = min(2_900_000, max(600_000, budget // max(1, signed_parts)))
        return encoded * 3 // 4

    def image(self, size: str, seed: int) -> int:
        """Bytes of one encoded image; 0 keeps what the renderer made."""
        if not self.realistic:
            return 0
        low, high = _IMAGE_BYTES[size]
        return low + seed % (high - low)


#: Live JPEG sizes at 1K (FACTS), scaled for the other sizes.
_IMAGE_BYTES = {
    "512": (200_000, 300_000),
    "1K": (700_000, 900_000),
    "2K": (1_800_000, 2_600_000),
    "4K": (4_500_000, 7_000_000),
}
_THOUGHTS = (
    "**Composing the scene**\n\nI'm working out the layout: where the subject sits, how the "
    "light falls, and what the background should hold.",
    "**Refining the details**\n\nI'm checking the proportions and textures against the prompt "
    "and tightening the colour palette.",
)


def respond(
    p: Plan, *, sizes: Sizes | None = None, fault: Fault | None = None, serial: int = 0
) -> dict[str, Any]:
    """The response body for a plan, or for the fault that replaces it."""
    sizes = sizes or Sizes()
    head: dict[str, Any] = {
        "modelVersion": p.model,
        "responseId": hashlib.sha256(f"{p.seed}:{serial}".encode()).hexdigest()[:22],
    }
    # Live Pro images think 700-900 tokens; the default keeps the emulator's older, smaller
    # figure, which the SDK's cost snapshots were written against.
    thoughts_tokens = (700 + p.seed % 200 if sizes.realistic else 180 + p.seed % 240) * p.thinks
    if fault is not None and fault.kind == "blocked":
        return {
            "promptFeedback": {"blockReason": fault.params["reason"]},
            "usageMetadata": _usage(p, 0, 0, 0),
            **head,
        }
    parts: list[dict[str, Any]] = []
    if p.include_thoughts:
        parts += _thought_parts(p)
    finish: dict[str, Any] = {"finishReason": "STOP"}
    final: list[dict[str, Any]] = []
    image_tokens = 0
    if fault is not None and fault.kind == "finish":
        finish = {"finishReason": fault.params["reason"], "finishMessage": fault.message}
    elif fault is not None and fault.kind == "no_image":
        reason = fault.params["reason"]
        finish = {"finishReason": reason}
        if reason != "NO_IMAGE" or fault.message:
            final.append(_signed_text(fault.message, sizes.signature(p.seed + 1)))
    else:
        subject = p.prompt.strip().splitlines()[0][:80] if p.prompt.strip() else "your image"
        forced = fault is not None and fault.kind == "images"
        asked = fault.params["count"] if forced else p.n_images  # type: ignore[union-attr]
        n = asked if p.with_image else 0
        signed = n + p.with_text
        if p.with_text:
            text = f"Here is an image of {subject}"
            final.append(_signed_text(text, sizes.signature(p.seed ^ 0x7E57, signed)))
        for k in range(n):
            final.append(_final_image(p, k, sizes, signed))
        image_tokens = n * wire.OUTPUT_IMAGE_TOKENS[p.size]
    parts += final
    text_tokens = sum(wire.text_tokens(part.get("text", "")) for part in final if "text" in part)
    content: dict[str, Any] = {"role": "model", "parts": parts} if parts else {}
    if not parts and finish["finishReason"] not in ("NO_IMAGE",):
        content = {"role": "model"}
    candidate: dict[str, Any] = {"content": content, **finish, "index": 0}
    if p.web_search or p.image_search:
        candidate["groundingMetadata"] = grounding_metadata(
            p.prompt, web=p.web_search, image=p.image_search
        )
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(p, image_tokens, text_tokens, thoughts_tokens),
        **head,
    }


def count_tokens(p: Plan) -> dict[str, Any]:
    """The ``:countTokens`` answer for the same request."""
    usage = _usage(p, 0, 0, 0)
    return {
        "totalTokens": usage["promptTokenCount"],
        "promptTokensDetails": usage["promptTokensDetails"],
    }


def _usage(p: Plan, image_tokens: int, text_tokens: int, thoughts: int) -> dict[str, Any]:
    prompt = p.prompt_text_tokens + p.prompt_image_tokens
    details = [{"modality": "TEXT", "tokenCount": p.prompt_text_tokens}]
    if p.prompt_image_tokens:
        details.append({"modality": "IMAGE", "tokenCount": p.prompt_image_tokens})
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": image_tokens + text_tokens,
        "totalTokenCount": prompt + image_tokens + text_tokens + thoughts,
        "promptTokensDetails": details,
        # Fields the SDK does not know appear live: clients must parse tolerantly.
        "serviceTier": "standard",
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    out_details = []
    if image_tokens:
        out_details.append({"modality": "IMAGE", "tokenCount": image_tokens})
    if text_tokens:
        out_details.append({"modality": "TEXT", "tokenCount": text_tokens})
    if out_details:
        usage["candidatesTokensDetails"] = out_details
    return usage


def _signed_text(text: str, signature_bytes: int) -> dict[str, Any]:
    return {
        "text": text,
        "thoughtSignature": wire.b64encode(wire.sign(text.encode(), signature_bytes)),
    }


def _final_image(p: Plan, k: int, sizes: Sizes, signed_parts: int) -> dict[str, Any]:
    w, h = p.pixels
    caption = f"{p.ratio or 'auto'} · {p.size} · {w}x{h}"
    if p.n_images > 1:
        caption += f" · {k + 1} of {p.n_images}"
    caption += f" · {p.prompt.strip()[:60]}"
    data = pad(render(p.seed + k, w, h, caption, p.output_mime), sizes.image(p.size, p.seed + k))
    return {
        "inlineData": {"mimeType": p.output_mime, "data": wire.b64encode(data)},
        "thoughtSignature": wire.b64encode(
            wire.sign(data, sizes.signature(p.seed + k, signed_parts))
        ),
    }


def _thought_parts(p: Plan) -> list[dict[str, Any]]:
    w, h = PIXELS.get((p.ratio or "1:1", "1K"), (1024, 1024))
    parts: list[dict[str, Any]] = []
    for k, text in enumerate(_THOUGHTS):
        parts.append({"text": text, "thought": True})
        data = render(p.seed ^ (0x7F00 + k), w // 2, h // 2, f"thought {k + 1}", "image/jpeg")
        parts.append(
            {
                "inlineData": {"mimeType": "image/jpeg", "data": wire.b64encode(data)},
                "thought": True,
            }
        )
    return parts


def stream_chunks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Splits a response into SSE chunks as the real API streams it.

    One part per chunk (each image whole), then a last chunk with an empty text part, the
    finish reason and the final usage. Every chunk carries a complete ``usageMetadata``
    whose counts grow towards the final one.
    """
    head: dict[str, Any] = {k: body[k] for k in ("modelVersion", "responseId") if k in body}
    if "candidates" not in body:
        yield body
        return
    candidate = body["candidates"][0]
    parts = candidate.get("content", {}).get("parts", [])
    usage = body["usageMetadata"]
    thoughts = usage.get("thoughtsTokenCount", 0)
    for i, part in enumerate(parts):
        partial = dict(usage)
        partial.pop("candidatesTokensDetails", None)
        partial["candidatesTokenCount"] = i
        partial["totalTokenCount"] = usage["promptTokenCount"] + i + thoughts
        yield {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}],
            "usageMetadata": partial,
            **head,
        }
    last = {k: v for k, v in candidate.items() if k != "content"}
    last["content"] = {"role": "model", "parts": [{"text": ""}]}
    yield {"candidates": [last], "usageMetadata": usage, **head}
