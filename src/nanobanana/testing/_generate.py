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
    p: Plan,
    *,
    sizes: Sizes | None = None,
    fault: Fault | None = None,
    serial: int = 0,
    vertex: bool = False,
    created: str | None = None,
) -> dict[str, Any]:
    """The response body for a plan, or for the fault that replaces it.

    ``vertex``: in Vertex AI's shape (``createTime`` from ``created``,
    ``usageMetadata.trafficType``, no ``candidates[].index``; FACTS 2026-12-04).
    """
    body = _respond(p, sizes or Sizes(), fault, serial)
    if vertex:
        for candidate in body.get("candidates", []):
            candidate.pop("index", None)
        usage = body["usageMetadata"]
        usage.pop("serviceTier", None)
        usage["trafficType"] = "ON_DEMAND"
        if created is not None:
            body["createTime"] = created
    return body


def _respond(p: Plan, sizes: Sizes, fault: Fault | None, serial: int) -> dict[str, Any]:
    spec = p.model_spec
    head: dict[str, Any] = {
        "modelVersion": p.model,
        "responseId": hashlib.sha256(f"{p.seed}:{serial}".encode()).hexdigest()[:22],
    }
    # Live Pro images think 700-900 tokens; the default keeps the emulator's older, smaller
    # figure, which the SDK's cost snapshots were written against.
    thoughts_tokens = (700 + p.seed % 200 if sizes.realistic else 180 + p.seed % 240) * p.thinks
    if fault is not None and fault.kind == "blocked":
        # Live: no candidatesTokenCount (google-genai gives None), no thoughts.
        return {
            "promptFeedback": {"blockReason": fault.params["reason"]},
            "usageMetadata": _usage(p, 0, 0, 0, output=False),
            **head,
        }
    parts: list[dict[str, Any]] = []
    if p.include_thoughts:
        parts += _thought_parts(p)
    finish: dict[str, Any] = {"finishReason": "STOP"}
    final: list[dict[str, Any]] = []
    image_tokens = 0
    output = True
    if fault is not None and fault.kind == "finish":
        finish = {"finishReason": fault.params["reason"], "finishMessage": fault.message}
        output = fault.params["reason"] != "IMAGE_SAFETY"
    elif fault is not None and fault.kind == "no_image":
        reason = fault.params["reason"]
        finish = {"finishReason": reason}
        if reason != "NO_IMAGE" or fault.message:
            signature = sizes.signature(p.seed + 1) if spec.signed else None
            final.append(_text(fault.message, signature))
        if reason in ("NO_IMAGE", "IMAGE_SAFETY"):
            # Live: no candidatesTokenCount; a recorded NO_IMAGE had no thoughts either.
            output = False
            if reason == "NO_IMAGE":
                thoughts_tokens = 0
    else:
        subject = p.prompt.strip().splitlines()[0][:80] if p.prompt.strip() else "your image"
        forced = fault is not None and fault.kind == "images"
        asked = fault.params["count"] if forced else p.n_images  # type: ignore[union-attr]
        n = asked if p.with_image else 0
        signed = n + p.with_text
        if p.with_text:
            text = f"Here is an image of {subject}"
            signature = sizes.signature(p.seed ^ 0x7E57, signed) if spec.signed else None
            final.append(_text(text, signature))
        for k in range(n):
            final.append(_final_image(p, k, sizes, signed))
        image_tokens = n * spec.image_tokens[p.size]
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
        "usageMetadata": _usage(p, image_tokens, text_tokens, thoughts_tokens, output=output),
        **head,
    }


def count_tokens(p: Plan) -> dict[str, Any]:
    """The ``:countTokens`` answer for the same request."""
    usage = _usage(p, 0, 0, 0)
    return {
        "totalTokens": usage["promptTokenCount"],
        "promptTokensDetails": usage["promptTokensDetails"],
    }


def _usage(
    p: Plan, image_tokens: int, text_tokens: int, thoughts: int, *, output: bool = True
) -> dict[str, Any]:
    """``usageMetadata``.

    ``output=False``: no ``candidatesTokenCount`` at all, as no-image answers live.
    """
    prompt = p.prompt_text_tokens + p.prompt_image_tokens
    details = [{"modality": "TEXT", "tokenCount": p.prompt_text_tokens}]
    if p.prompt_image_tokens:
        details.append({"modality": "IMAGE", "tokenCount": p.prompt_image_tokens})
    candidates = image_tokens + text_tokens if output else 0
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if output:
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = prompt + candidates + thoughts
    usage["promptTokensDetails"] = details
    # Fields the SDK does not know appear live: clients must parse tolerantly.
    usage["serviceTier"] = "standard"
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    out_details = []
    if image_tokens:
        out_details.append({"modality": "IMAGE", "tokenCount": image_tokens})
    if text_tokens and output and (p.model_spec.text_in_details or not image_tokens):
        # Pro lists only IMAGE even when text came back (FACTS 2026-12-04).
        out_details.append({"modality": "TEXT", "tokenCount": text_tokens})
    if out_details:
        usage["candidatesTokensDetails"] = out_details
    return usage


def _text(text: str, signature_bytes: int | None) -> dict[str, Any]:
    if signature_bytes is None:  # 2.5 Flash Image signs nothing
        return {"text": text}
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
    part: dict[str, Any] = {"inlineData": {"mimeType": p.output_mime, "data": wire.b64encode(data)}}
    if p.model_spec.signed:
        signature = wire.sign(data, sizes.signature(p.seed + k, signed_parts))
        part["thoughtSignature"] = wire.b64encode(signature)
    return part


def _thought_parts(p: Plan) -> list[dict[str, Any]]:
    # Thought images: half the 1K size of the ratio asked (no live figure: a live run should
    # confirm their size).
    w, h = p.model_spec.pixels.get((p.ratio or "1:1", "1K"), (1024, 1024))
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
    head: dict[str, Any] = {
        k: body[k] for k in ("modelVersion", "createTime", "responseId") if k in body
    }
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
        out = i if "candidatesTokenCount" in usage else 0  # none at all on no-image answers
        if "candidatesTokenCount" in usage:
            partial["candidatesTokenCount"] = out
        partial["totalTokenCount"] = usage["promptTokenCount"] + out + thoughts
        one = {"content": {"role": "model", "parts": [part]}}
        if "index" in candidate:  # Vertex sends none
            one["index"] = candidate["index"]
        yield {
            "candidates": [one],
            "usageMetadata": partial,
            **head,
        }
    last = {k: v for k, v in candidate.items() if k != "content"}
    last["content"] = {"role": "model", "parts": [{"text": ""}]}
    yield {"candidates": [last], "usageMetadata": usage, **head}
