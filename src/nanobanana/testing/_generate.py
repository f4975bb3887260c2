"""Validate a generateContent body as the real API does, and answer it like the real model.

Pure: no HTTP, no clock. `plan()` reads a request (raising `ApiError` where the API would
answer 4xx) and `respond()` turns the plan into the response body; `stream_chunks()` splits
that body into the SSE chunks of ``:streamGenerateContent``.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _wire as wire
from ._faults import Fault
from ._images import render

__all__ = ["Plan", "plan", "respond", "stream_chunks"]

FileLookup = Callable[[str], "tuple[bytes, str] | None"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _get(obj: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """Reads a camelCase key, or its snake_case spelling (google-genai sends both)."""
    if key in obj:
        return obj[key]
    return obj.get(_snake(key), default)


@dataclass
class Plan:
    """What a valid request asks for."""

    model: str
    prompt: str
    n_images: int
    ratio: str | None
    size: str
    with_image: bool
    include_thoughts: bool
    seed: int
    prompt_text_tokens: int
    prompt_image_tokens: int
    input_images: int
    output_mime: str = "image/jpeg"
    notes: list[str] = field(default_factory=list)

    @property
    def pixels(self) -> tuple[int, int]:
        if self.ratio is None:
            w, h = wire.UNSPECIFIED_RATIO_1K
            k = {"1K": 1, "2K": 2, "4K": 4}[self.size]
            return w * k, h * k
        return wire.PIXELS[(self.ratio, self.size)]


def plan(body: Any, model: str, files: FileLookup) -> Plan:
    """Validates a generateContent body the way the real API does.

    Raises:
        ApiError: 400 for an invalid body, 403 for a file that does not exist.
    """
    if not isinstance(body, dict):
        raise wire.invalid_argument("Invalid JSON payload received. Expected an object.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise wire.invalid_argument("* GenerateContentRequest.contents: contents is not specified")
    config = _get(body, "generationConfig") or {}
    modalities = [str(m).upper() for m in (_get(config, "responseModalities") or ["TEXT", "IMAGE"])]
    image_config = _get(config, "imageConfig") or {}
    ratio, size = _image_config(image_config)
    thinking = _get(config, "thinkingConfig") or {}

    digest = hashlib.sha256(f"{model}|{ratio}|{size}".encode())
    user_images = 0
    image_tokens = 0
    texts: list[str] = []
    last_user_text = ""
    for ci, content in enumerate(contents):
        if not isinstance(content, dict):
            raise wire.invalid_argument(f"Invalid value at 'contents[{ci}]': expected an object.")
        role = content.get("role") or "user"
        if role not in ("user", "model"):
            raise wire.invalid_argument(
                f"Please use a valid role: user, model. Got {role!r} at contents[{ci}]."
            )
        turn_texts = []
        for pi, part in enumerate(content.get("parts") or []):
            data, mime = _part_image(part, ci, pi, files)
            if data is not None:
                digest.update(hashlib.sha256(data).digest())
                if role == "user":
                    user_images += 1
                w, h = _dimensions(data, mime, ci, pi)
                image_tokens += wire.input_image_tokens(w, h)
            text = part.get("text")
            if isinstance(text, str) and not part.get("thought"):
                turn_texts.append(text)
                digest.update(text.encode())
            if role == "model":
                _check_signature(part, data, text, ci, pi)
        texts.extend(turn_texts)
        if role == "user" and turn_texts:
            last_user_text = " ".join(turn_texts)
    if user_images > wire.MAX_IMAGES:
        raise wire.invalid_argument(
            f"Too many images in the request: {user_images}. The maximum number of images "
            f"per request is {wire.MAX_IMAGES}."
        )
    seed = int.from_bytes(digest.digest()[:8], "big")
    return Plan(
        model=model,
        prompt=last_user_text,
        n_images=wire.images_asked_for(last_user_text),
        ratio=ratio,
        size=size or "1K",
        with_image="IMAGE" in modalities,
        include_thoughts=bool(_get(thinking, "includeThoughts", False)),
        seed=seed,
        prompt_text_tokens=wire.text_tokens(" ".join(texts)),
        prompt_image_tokens=image_tokens,
        input_images=user_images,
        output_mime=wire.IMAGE_MODELS.get(model, "image/jpeg"),
    )


def _image_config(image_config: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for vertex_only in ("outputMimeType", "outputCompressionQuality"):
        if _get(image_config, vertex_only) is not None:
            raise wire.invalid_argument(f"{vertex_only} parameter is not supported in Gemini API.")
    ratio = _get(image_config, "aspectRatio")
    if ratio is not None and ratio not in wire.ASPECT_RATIOS:
        raise wire.invalid_argument(
            f"Unsupported aspect ratio: {ratio}. Supported values are: "
            + ", ".join(wire.ASPECT_RATIOS)
            + "."
        )
    size = _get(image_config, "imageSize")
    if size is not None and size not in wire.IMAGE_SIZES:
        raise wire.invalid_argument(
            f"Invalid value for image_size: {size!r}. Supported values are: "
            + ", ".join(wire.IMAGE_SIZES)
            + " (uppercase)."
        )
    return ratio, size


def _part_image(part: Any, ci: int, pi: int, files: FileLookup) -> tuple[bytes | None, str | None]:
    if not isinstance(part, dict):
        raise wire.invalid_argument(f"Invalid value at 'contents[{ci}].parts[{pi}]'.")
    inline = _get(part, "inlineData")
    if inline is not None:
        field_name = f"contents[{ci}].parts[{pi}].inline_data.data"
        try:
            data = wire.b64decode(str(inline.get("data", "")))
        except (ValueError, TypeError):
            raise wire.bad_base64(field_name) from None
        mime = str(_get(inline, "mimeType") or "")
        if mime not in wire.ACCEPTED_INPUT_MIME:
            raise wire.invalid_argument(f"Unsupported MIME type: {mime or '(none)'}")
        if len(data) > wire.MAX_INLINE_BYTES:
            raise wire.invalid_argument(
                f"Inline data at {field_name} is {len(data)} bytes; the limit is "
                f"{wire.MAX_INLINE_BYTES} bytes. Use the File API for larger files."
            )
        return data, mime
    file_data = _get(part, "fileData")
    if file_data is not None:
        uri = str(_get(file_data, "fileUri") or "")
        name = "files/" + uri.rstrip("/").rsplit("/files/", 1)[-1].split("/")[-1]
        found = files(name)
        if found is None:
            raise wire.ApiError(
                403,
                "PERMISSION_DENIED",
                f"You do not have permission to access the File {name.removeprefix('files/')} "
                "or it may not exist.",
            )
        return found
    return None, None


def _dimensions(data: bytes, mime: str | None, ci: int, pi: int) -> tuple[int | None, int | None]:
    if mime in ("image/heic", "image/heif"):
        return None, None  # Pillow needs a plugin for these; the real API takes them
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            width, height = im.size
            return int(width), int(height)
    except Exception:
        raise wire.invalid_argument(
            f"Unable to process input image at contents[{ci}].parts[{pi}]. Please retry or "
            "report in https://developers.generativeai.google/guide/troubleshooting"
        ) from None


def _check_signature(part: dict[str, Any], data: bytes | None, text: Any, ci: int, pi: int) -> None:
    """Gemini 3 wants every earlier model image back with its thought signature, unchanged."""
    raw = _get(part, "thoughtSignature")
    if raw is None:
        if data is not None and not part.get("thought"):
            raise wire.invalid_argument(
                f"Image part is missing a thought_signature in content position {ci + 1}, "
                f"part position {pi + 1}."
            )
        return
    try:
        signature = wire.b64decode(str(raw))
    except (ValueError, TypeError):
        raise wire.bad_base64(f"contents[{ci}].parts[{pi}].thought_signature") from None
    payload = data if data is not None else str(text or "").encode()
    if not wire.signature_matches(signature, payload):
        raise wire.invalid_argument(
            "Unable to submit request because Thought signature is not valid. "
            f"(content position {ci + 1}, part position {pi + 1})"
        )


_THOUGHTS = (
    "**Composing the scene**\n\nI'm working out the layout: where the subject sits, how the "
    "light falls, and what the background should hold.",
    "**Refining the details**\n\nI'm checking the proportions and textures against the prompt "
    "and tightening the colour palette.",
)


def respond(
    p: Plan, *, signature_bytes: int, fault: Fault | None = None, serial: int = 0
) -> dict[str, Any]:
    """The response body for a plan, or for the fault that replaces it."""
    head: dict[str, Any] = {
        "modelVersion": p.model,
        "responseId": hashlib.sha256(f"{p.seed}:{serial}".encode()).hexdigest()[:22],
    }
    thoughts_tokens = 180 + p.seed % 240
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
            final.append(_signed_text(fault.message, signature_bytes))
    else:
        subject = p.prompt.strip().splitlines()[0][:80] if p.prompt.strip() else "your image"
        final.append(_signed_text(f"Here is an image of {subject}", signature_bytes))
        if p.with_image:
            n = (
                fault.params["count"]
                if fault is not None and fault.kind == "images"
                else p.n_images
            )
            for k in range(n):
                final.append(_final_image(p, k, signature_bytes))
            image_tokens = n * wire.OUTPUT_IMAGE_TOKENS[p.size]
    parts += final
    text_tokens = sum(wire.text_tokens(part.get("text", "")) for part in final if "text" in part)
    content: dict[str, Any] = {"role": "model", "parts": parts} if parts else {}
    if not parts and finish["finishReason"] not in ("NO_IMAGE",):
        content = {"role": "model"}
    candidate = {"content": content, **finish, "index": 0}
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(p, image_tokens, text_tokens, thoughts_tokens),
        **head,
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


def _final_image(p: Plan, k: int, signature_bytes: int) -> dict[str, Any]:
    w, h = p.pixels
    caption = f"{p.ratio or 'auto'} · {p.size} · {w}x{h}"
    if p.n_images > 1:
        caption += f" · {k + 1} of {p.n_images}"
    caption += f" · {p.prompt.strip()[:60]}"
    data = render(p.seed + k, w, h, caption, p.output_mime)
    return {
        "inlineData": {"mimeType": p.output_mime, "data": wire.b64encode(data)},
        "thoughtSignature": wire.b64encode(wire.sign(data, signature_bytes)),
    }


def _thought_parts(p: Plan) -> list[dict[str, Any]]:
    w, h = wire.PIXELS[(p.ratio or "1:1", "1K")]
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
    finish reason and the final usage.
    """
    head: dict[str, Any] = {k: body[k] for k in ("modelVersion", "responseId") if k in body}
    if "candidates" not in body:
        yield body
        return
    candidate = body["candidates"][0]
    parts = candidate.get("content", {}).get("parts", [])
    usage = body["usageMetadata"]
    for i, part in enumerate(parts):
        partial = {
            "promptTokenCount": usage["promptTokenCount"],
            "totalTokenCount": usage["promptTokenCount"] + i,
        }
        yield {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}],
            "usageMetadata": partial,
            **head,
        }
    last = {k: v for k, v in candidate.items() if k != "content"}
    last["content"] = {"role": "model", "parts": [{"text": ""}]}
    yield {"candidates": [last], "usageMetadata": usage, **head}
