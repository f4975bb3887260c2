"""The Interactions API (``/{version}/interactions``) as the emulator serves it.

A create body is checked field by field (snake_case, as google-genai 3.x's
``client.interactions`` sends it and Google's OpenAPI description names it), read into the
generateContent body the same model would see (the stored conversation before it, then this
turn), planned and answered by `_plan` and `_generate` like any generation, and answered as
an ``Interaction``: ``steps`` (a ``thought`` step with the signature and any summaries, a
``model_output`` step with the text and image contents), ``usage`` and ``status``.

Stored interactions (``store``, the default) keep the whole conversation so a later
``previous_interaction_id`` sends only its own turn. ``background`` answers ``in_progress``
at once and completes when the model's latency has passed on the emulator's clock.
``delivery: "uri"`` returns each image as a link to the download route, which expires.

Shapes not confirmed by a live recording (the wording of unknown fields, how a safety stop
and a blocked prompt appear, the download link's form and lifetime) are marked "live:".
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _wire as wire

__all__ = ["InteractionStore", "check_create", "interaction_json", "sse_events", "to_generate"]

#: How long a stored interaction lives (live: Google's docs say stored interactions are kept
#: for 55 days on the paid tier and 1 day on the free tier; confirm).
STORED_SECONDS = 55 * 24 * 3600
#: How long a ``delivery: "uri"`` link can be fetched (live: not documented; confirm).
MEDIA_SECONDS = 3600.0

_ANY = "any"
# Field tables: name -> kind ("string", "bool", "int", "number", _ANY, or a nested table name).
_CREATE = {
    "model": "string", "input": _ANY, "previous_interaction_id": "string", "store": "bool",
    "background": "bool", "stream": "bool", "system_instruction": "string", "tools": "tools",
    "generation_config": "GenerationConfig", "response_format": "formats",
    "response_modalities": _ANY, "response_mime_type": "string", "safety_settings": _ANY,
    "service_tier": "string", "webhook_config": "WebhookConfig", "labels": _ANY,
    "cached_content": "string", "continuation_token": "string", "environment": _ANY,
}  # fmt: skip
_TABLES: dict[str, dict[str, str]] = {
    "GenerationConfig": {
        "image_config": "ImageConfig",
        "max_output_tokens": "int",
        "seed": "int",
        "speech_config": _ANY,
        "stop_sequences": _ANY,
        "temperature": "number",
        "thinking_level": "string",
        "thinking_summaries": "string",
        "tool_choice": _ANY,
        "top_p": "number",
        "transcription_config": _ANY,
        "video_config": _ANY,
    },
    "ImageConfig": {"aspect_ratio": "string", "image_size": "string"},
    "WebhookConfig": {"uris": _ANY, "user_metadata": _ANY},
    "image_format": {
        "type": "string",
        "aspect_ratio": "string",
        "image_size": "string",
        "mime_type": "string",
        "delivery": "string",
    },
    "text_format": {"type": "string", "mime_type": "string", "schema": _ANY},
    "text": {"type": "string", "text": "string", "annotations": _ANY},
    "image": {
        "type": "string",
        "data": "string",
        "uri": "string",
        "mime_type": "string",
        "resolution": "string",
    },
    "user_input": {"type": "string", "content": _ANY},
    "google_search": {"type": "string", "search_types": _ANY},
}
_RESOLUTIONS = ("low", "medium", "high", "ultra_high")
_LEVELS = ("minimal", "low", "medium", "high", "xhigh")


def _unknown(key: str, path: str) -> str:
    where = f" at '{path}'" if path else ""
    return f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'


class _Checker:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def table(self, value: Any, name: str, path: str, fields: dict[str, str] | None = None) -> None:
        if not isinstance(value, dict):
            self.errors.append((path, f"Invalid value at '{path}', {json.dumps(value)[:80]}"))
            return
        fields = fields if fields is not None else _TABLES[name]
        for key, item in value.items():
            kind = fields.get(key)
            if kind is None:
                self.errors.append((path, _unknown(key, path)))
            elif item is not None:
                self.kind(item, kind, f"{path}.{key}" if path else key)

    def kind(self, item: Any, kind: str, path: str) -> None:
        if kind == _ANY:
            return
        if kind == "formats":
            many = isinstance(item, list)
            for i, one in enumerate(item if many else [item]):
                at = f"{path}[{i}]" if many else path
                kind_ = one.get("type") if isinstance(one, dict) else None
                if kind_ not in ("image", "text"):
                    self.errors.append((at, f"Invalid value at '{at}.type', {json.dumps(kind_)}"))
                    continue
                self.table(one, f"{kind_}_format", at)
            return
        if kind == "tools":
            for i, tool in enumerate(item if isinstance(item, list) else [item]):
                name = tool.get("type") if isinstance(tool, dict) else None
                if name == "google_search":
                    self.table(tool, "google_search", f"{path}[{i}]")
            return
        if kind in _TABLES:
            self.table(item, kind, path)
            return
        ok = {
            "string": isinstance(item, str),
            "bool": isinstance(item, bool),
            "int": isinstance(item, int) and not isinstance(item, bool),
            "number": isinstance(item, int | float) and not isinstance(item, bool),
        }[kind]
        if not ok:
            self.errors.append((path, f"Invalid value at '{path}' ({kind}), {json.dumps(item)}"))

    def raise_any(self) -> None:
        if self.errors:
            violations = [{"field": f, "description": m} for f, m in self.errors]
            raise wire.ApiError(
                400, "INVALID_ARGUMENT", "\n".join(m for _, m in self.errors),
                [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                  "fieldViolations": violations}],
            )  # fmt: skip


def check_create(body: Any) -> None:
    """Checks a create body's fields (names and types); the model's own rules come later.

    Raises:
        ApiError: 400 INVALID_ARGUMENT naming every unknown or mistyped field.
    """
    if not isinstance(body, dict):
        raise wire.invalid_argument("Invalid JSON payload received. Expected an object.")
    checker = _Checker()
    checker.table(body, "CreateModelInteraction", "", _CREATE)
    for i, item in enumerate(_input_items(body.get("input"))):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "user_input":
            checker.table(item, "user_input", f"input[{i}]")
            for j, c in enumerate(item.get("content") or []):
                ck = c.get("type") if isinstance(c, dict) else None
                checker.table(
                    c, ck if ck in ("text", "image") else "text", f"input[{i}].content[{j}]"
                )
        elif kind in ("text", "image"):
            checker.table(item, kind, f"input[{i}]")
        elif not isinstance(item, str):
            checker.errors.append(
                (f"input[{i}]", f"Invalid value at 'input[{i}].type', {json.dumps(kind)}")
            )
    checker.raise_any()
    if not body.get("model"):
        raise wire.invalid_argument("* CreateInteractionRequest.model: model is not specified\n")
    if body.get("background") and body.get("store") is False:
        # live: wording not confirmed.
        raise wire.invalid_argument("background=true requires store=true.")


def _input_items(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Turn:
    """What one create asks, read into generateContent terms for `_plan`."""

    user: dict[str, Any]
    generation_config: dict[str, Any]
    tools: list[dict[str, Any]]
    system_instruction: str | None
    delivery: str


def to_generate(body: dict[str, Any], files: Callable[[str], Any]) -> Turn:
    """The generateContent pieces of a checked create body: the user turn and its config."""
    parts: list[dict[str, Any]] = []
    for i, item in enumerate(_input_items(body.get("input"))):
        if isinstance(item, str):
            parts.append({"text": item})
            continue
        contents = item.get("content") or [] if item.get("type") == "user_input" else [item]
        for j, c in enumerate(contents):
            parts.append(_part(c, f"input[{i}]" + (f".content[{j}]" if c is not item else "")))
    if not parts:
        raise wire.invalid_argument("* CreateInteractionRequest.input: input is not specified\n")
    config, delivery = _config(body)
    tools = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "google_search":
            kinds = tool.get("search_types") or []
            search: dict[str, Any] = {}
            if kinds:
                search["searchTypes"] = {
                    {"web_search": "webSearch", "image_search": "imageSearch"}[k]: {}
                    for k in kinds
                    if k in ("web_search", "image_search")
                }
            tools.append({"googleSearch": search})
    return Turn({"role": "user", "parts": parts}, config, tools, body.get("system_instruction"),
                delivery)  # fmt: skip


def _config(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The generationConfig a create body asks for, and how images are delivered."""
    formats = body.get("response_format") or []
    formats = formats if isinstance(formats, list) else [formats]
    image = next((f for f in formats if f.get("type") == "image"), None)
    modalities = [str(f["type"]).upper() for f in formats] or ["TEXT", "IMAGE"]
    config: dict[str, Any] = {"responseModalities": modalities}
    legacy = (body.get("generation_config") or {}).get("image_config") or {}
    ratio = (image or {}).get("aspect_ratio") or legacy.get("aspect_ratio")
    size = (image or {}).get("image_size") or legacy.get("image_size")
    image_config = {k: v for k, v in (("aspectRatio", ratio), ("imageSize", size)) if v}
    if image_config:
        config["imageConfig"] = image_config
    mime = (image or {}).get("mime_type")
    if mime not in (None, "image/jpeg"):
        raise wire.invalid_argument(
            f"Invalid value at 'response_format.mime_type', {json.dumps(mime)}: the Gemini API "
            "returns image/jpeg."
        )
    delivery = (image or {}).get("delivery") or "inline"
    if delivery not in ("inline", "uri"):
        raise wire.invalid_argument(
            f"Invalid value at 'response_format.delivery', {json.dumps(delivery)}"
        )
    gen = body.get("generation_config") or {}
    thinking: dict[str, Any] = {}
    level = gen.get("thinking_level")
    if level is not None:
        if level not in _LEVELS:
            raise wire.invalid_argument(f"Invalid value at 'generation_config.thinking_level', "
                                        f"{json.dumps(level)}")  # fmt: skip
        thinking["thinkingLevel"] = str(level).upper()
    summaries = gen.get("thinking_summaries")
    if summaries not in (None, "auto", "none"):
        raise wire.invalid_argument(
            f"Invalid value at 'generation_config.thinking_summaries', {json.dumps(summaries)}"
        )
    if summaries == "auto":
        thinking["includeThoughts"] = True
    if thinking:
        config["thinkingConfig"] = thinking
    for key, name in (("temperature", "temperature"), ("seed", "seed")):
        if gen.get(key) is not None:
            config[name] = gen[key]
    return config, delivery


def _part(content: Any, path: str) -> dict[str, Any]:
    kind = content.get("type")
    if kind == "text":
        return {"text": content.get("text") or ""}
    resolution = content.get("resolution")
    if resolution is not None and resolution not in _RESOLUTIONS:
        raise wire.invalid_argument(
            f"Invalid value at '{path}.resolution', {json.dumps(resolution)}"
        )
    if content.get("data") is not None:
        try:
            wire.b64decode(content["data"])
        except (ValueError, TypeError):
            raise wire.bad_base64(f"{path}.data", content["data"]) from None
        return {"inlineData": {"mimeType": content.get("mime_type") or "", "data": content["data"]}}
    if content.get("uri"):
        return {"fileData": {"fileUri": content["uri"], "mimeType": content.get("mime_type")}}
    raise wire.invalid_argument(f"* {path}: an image needs data or uri\n")


@dataclass
class Stored:
    """One interaction the emulator keeps: the conversation up to and including its answer."""

    id: str
    model: str
    contents: list[dict[str, Any]]
    """generateContent contents: every earlier turn, this user turn, then the answer."""
    json: dict[str, Any]
    created: float
    ready_at: float = 0.0
    expires_at: float = 0.0
    stored: bool = True


@dataclass
class Media:
    data: bytes
    mime_type: str
    expires_at: float


@dataclass
class InteractionStore:
    """Stored interactions and the media their ``uri`` deliveries point at."""

    clock: Callable[[], float]
    iso: Callable[[float], str]
    media_seconds: float = MEDIA_SECONDS
    stored_seconds: float = STORED_SECONDS
    _items: dict[str, Stored] = field(default_factory=dict)
    _media: dict[str, Media] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._media.clear()

    def new_id(self) -> str:
        with self._lock:
            n = next(self._ids)
        return "v1_" + hashlib.sha256(f"interaction:{n}".encode()).hexdigest()[:26]

    def put(self, item: Stored) -> None:
        with self._lock:
            self._items[item.id] = item

    def get(self, interaction_id: str) -> Stored:
        """The stored interaction, or the 404 the API answers for an unknown or expired one."""
        with self._lock:
            item = self._items.get(interaction_id)
        if item is None or not item.stored or (item.expires_at and self.clock() >= item.expires_at):
            raise wire.ApiError(
                404, "NOT_FOUND", f"Interaction {interaction_id} not found."
            )  # live: wording not confirmed
        return item

    def delete(self, interaction_id: str) -> None:
        self.get(interaction_id)
        with self._lock:
            self._items.pop(interaction_id, None)

    def all(self) -> list[Stored]:
        with self._lock:
            return list(self._items.values())

    def add_media(self, data: bytes, mime_type: str) -> str:
        token = hashlib.sha256(data).hexdigest()[:32]
        with self._lock:
            self._media[token] = Media(data, mime_type, self.clock() + self.media_seconds)
        return token

    def media(self, token: str) -> Media:
        with self._lock:
            item = self._media.get(token)
        if item is None:
            raise wire.ApiError(404, "NOT_FOUND", f"Media {token} not found.")
        if self.clock() >= item.expires_at:
            # live: how an expired link answers is not confirmed (404 or 403).
            raise wire.ApiError(404, "NOT_FOUND", f"Media {token} has expired.")
        return item


def _usage(answer: dict[str, Any]) -> dict[str, Any]:
    meta = answer.get("usageMetadata") or {}

    def by_modality(key: str) -> list[dict[str, Any]]:
        return [
            {"modality": str(d.get("modality", "")).lower(), "tokens": d.get("tokenCount", 0)}
            for d in meta.get(key) or []
        ]

    usage: dict[str, Any] = {
        "total_input_tokens": meta.get("promptTokenCount", 0),
        "total_output_tokens": meta.get("candidatesTokenCount", 0),
        "total_thought_tokens": meta.get("thoughtsTokenCount", 0),
        "total_tokens": meta.get("totalTokenCount", 0),
    }
    if meta.get("promptTokensDetails"):
        usage["input_tokens_by_modality"] = by_modality("promptTokensDetails")
    if meta.get("candidatesTokensDetails"):
        usage["output_tokens_by_modality"] = by_modality("candidatesTokensDetails")
    return usage


def interaction_json(
    item_id: str,
    model: str,
    answer: dict[str, Any],
    *,
    created: str,
    previous: str | None,
    media_link: Callable[[bytes, str], str] | None,
) -> dict[str, Any]:
    """The ``Interaction`` for a generateContent answer.

    Thought parts become one ``thought`` step (its ``summary`` the thought text and images);
    the answer's thought signatures go on that step's ``signature`` (live: whether each
    image keeps its own signature is not confirmed); final parts become the ``model_output``
    step. A finish reason other than ``STOP`` is reported in ``errors`` with the finish
    message, and a blocked prompt as ``failed`` with its block reason (live: confirm).
    """
    candidates = answer.get("candidates") or []
    candidate = candidates[0] if candidates else {}
    parts = (candidate.get("content") or {}).get("parts") or []
    summary: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []
    signatures = b""
    for part in parts:
        signature = part.get("thoughtSignature")
        if signature:
            signatures += wire.b64decode(signature)
        if "inlineData" in part:
            inline = part["inlineData"]
            content: dict[str, Any] = {"type": "image", "mime_type": inline["mimeType"]}
            if media_link is not None and not part.get("thought"):
                content["uri"] = media_link(wire.b64decode(inline["data"]), inline["mimeType"])
            else:
                content["data"] = inline["data"]
            (summary if part.get("thought") else output).append(content)
        elif "text" in part:
            (summary if part.get("thought") else output).append(
                {"type": "text", "text": part["text"]}
            )
    steps: list[dict[str, Any]] = []
    if summary or signatures:
        thought: dict[str, Any] = {"type": "thought"}
        if signatures:
            thought["signature"] = base64.b64encode(signatures).decode()
        if summary:
            thought["summary"] = summary
        steps.append(thought)
    if output:
        steps.append({"type": "model_output", "content": output})
    body: dict[str, Any] = {
        "id": item_id,
        "model": model,
        "status": "completed",
        "created": created,
        "updated": created,
        "usage": _usage(answer),
        "steps": steps,
    }
    if previous:
        body["previous_interaction_id"] = previous
    reason = candidate.get("finishReason")
    block = (answer.get("promptFeedback") or {}).get("blockReason")
    if block:
        body["status"] = "failed"
        body["errors"] = [{"code": block, "message": "The prompt was blocked."}]
    elif reason and reason != "STOP":
        body["status"] = "incomplete" if reason == "MAX_TOKENS" else "completed"
        body["errors"] = [{"code": reason, "message": candidate.get("finishMessage") or ""}]
    return body


def sse_events(interaction: dict[str, Any]) -> list[dict[str, Any]]:
    """The server-sent events of a streamed interaction: created, each step, completed.

    Each content arrives whole in one ``step.delta`` (as images do on generateContent
    streams); the thought signature in a ``thought_signature`` delta.
    """
    head = {k: v for k, v in interaction.items() if k not in ("steps", "usage")}
    events: list[dict[str, Any]] = [
        {"event_type": "interaction.created", "interaction": {**head, "status": "in_progress"}}
    ]
    for index, step in enumerate(interaction.get("steps") or []):
        events.append({"event_type": "step.start", "index": index,
                       "step": {"type": step["type"]}})  # fmt: skip
        if step["type"] == "thought":
            for c in step.get("summary") or []:
                events.append({"event_type": "step.delta", "index": index,
                               "delta": {"type": "thought_summary", "content": c}})  # fmt: skip
            if step.get("signature"):
                events.append({"event_type": "step.delta", "index": index,
                               "delta": {"type": "thought_signature",
                                         "signature": step["signature"]}})  # fmt: skip
        else:
            for c in step.get("content") or []:
                events.append({"event_type": "step.delta", "index": index, "delta": c})
        events.append({"event_type": "step.stop", "index": index})
    events.append({"event_type": "interaction.completed", "interaction": interaction})
    for n, event in enumerate(events):
        event["event_id"] = f"evt_{n}"
    return events
