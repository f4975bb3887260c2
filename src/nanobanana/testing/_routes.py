"""Which endpoint answers a request, and what it answers (no sockets here).

Gemini API: ``/{v1,v1beta}/models[...]``, ``:generateContent``, ``:streamGenerateContent``,
``:countTokens``, ``:batchGenerateContent``, ``files``, ``batches``. Vertex AI:
``/{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:...`` with a Bearer
token; its batch jobs (which need Cloud Storage) are answered 501.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import _wire as wire
from ._faults import Fault
from ._generate import stream_chunks
from ._models import ALIASES, MODELS, TEXT_MODELS

if TYPE_CHECKING:
    from ._batches import BatchStore
    from ._files import FileStore
    from ._interactions import InteractionStore


class Emulator(Protocol):
    """What the HTTP side needs of `FakeGemini`, named here so nothing imports it back."""

    api_keys: frozenset[str] | None
    files: FileStore
    batches: BatchStore
    interactions: InteractionStore
    idle_timeout: float
    header_timeout: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]

    @property
    def url(self) -> str: ...
    def served(self, model: str, vertex: bool = ...) -> bool: ...
    def generate(self, *args: Any, **kwargs: Any) -> Any: ...
    def count_tokens(self, *args: Any, **kwargs: Any) -> Any: ...
    def create_batch(self, *args: Any, **kwargs: Any) -> Any: ...
    def interact(self, *args: Any, **kwargs: Any) -> Any: ...
    def get_interaction(self, interaction_id: str) -> dict[str, Any]: ...
    def _take_fault(self, scope: str, model: str, version: str = ...) -> Fault | None: ...
    def _recording(self, *args: Any, **kwargs: Any) -> Any: ...


__all__ = ["Reply", "json_reply", "route"]

_METHODS = "generateContent|streamGenerateContent|batchGenerateContent|countTokens"
_GENERATE = re.compile(rf"^/(v1|v1beta)/models/([^/:]+):({_METHODS})$")
_VERTEX = re.compile(
    r"^/(v1|v1beta1)/projects/([^/]+)/locations/([^/]+)/publishers/google/models/([^/:]+)"
    r":(generateContent|streamGenerateContent|countTokens)$"
)
_VERTEX_BATCH = re.compile(r"^/(v1|v1beta1)/projects/[^/]+/locations/[^/]+/batchPredictionJobs")
_MODEL = re.compile(r"^/(v1|v1beta)/models(?:/([^/:]+))?$")
_FILES = re.compile(r"^/(?:download/)?(v1|v1beta)/(files(?:/[^/:]+)?)(:download)?$")
_UPLOAD = re.compile(r"^/upload/(v1|v1beta)/files$")
_INTERACTIONS = re.compile(r"^/(v1|v1beta)/interactions(?:/([^/:]+))?(/cancel|:cancel)?$")
_MEDIA = re.compile(r"^/download/(v1|v1beta)/interactions/media/([0-9a-f]+)$")
_BATCHES = re.compile(r"^/(v1|v1beta)/(batches(?:/[^/:]+)?)(:cancel)?$")


@dataclass
class Reply:
    """What to answer: a status and body, or SSE chunks, and the fault shaping the answer."""

    code: int
    data: bytes
    content_type: str
    fault: Fault | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    """Server-sent events, written with chunked transfer encoding."""
    waits: list[float] | None = None
    """Seconds to wait before each chunk (realistic streams spread the latency)."""


def json_reply(
    code: int, body: Any, fault: Fault | None = None, headers: Mapping[str, str] | None = None
) -> Reply:
    return Reply(
        code, json.dumps(body).encode(), "application/json; charset=UTF-8", fault, headers or {}
    )


def _stream(answer: dict[str, Any], fault: Fault | None, latency: float, sse: bool = True) -> Reply:
    """A stream's chunks, with ``latency`` spread over them.

    Each thought part arrives at its share of the wait, the final parts at its end.

    Without ``alt=sse`` the API answers one JSON array of the chunks (FACTS 2026-12-04).
    """
    events = list(stream_chunks(answer))
    if fault is not None and fault.kind == "stream_error":
        keep = max(1, min(len(events) - 1, fault.params["after"]))
        error = wire.ApiError(fault.code, fault.status, fault.message).body()
        events = [*events[:keep], error]
    thoughts = [_is_thought(e) for e in events]
    steps = sum(thoughts) + 1
    at, waits = 0.0, []
    for k, thought in enumerate(thoughts):
        due = latency * (sum(thoughts[: k + 1]) / steps if thought else 1.0)
        waits.append(max(0.0, due - at))
        at = max(at, due)
    if not sse:
        data = ("[" + ",\r\n".join(json.dumps(e) for e in events) + "]").encode()
        return Reply(200, b"", "application/json; charset=UTF-8", fault, chunks=[data],
                     waits=[latency])  # fmt: skip
    chunks = [f"data: {json.dumps(c)}\r\n\r\n".encode() for c in events]
    return Reply(200, b"", "text/event-stream", fault, chunks=chunks, waits=waits)


def _is_thought(event: dict[str, Any]) -> bool:
    candidates = event.get("candidates") or [{}]
    parts = candidates[0].get("content", {}).get("parts", [])
    return bool(parts) and all(p.get("thought") for p in parts)


def route(
    em: Emulator,
    method: str,
    path: str,
    query: dict[str, str],
    headers: Mapping[str, str],
    raw: bytes,
    body: Any,
    arrived: float,
) -> Reply:
    """Answers one request; raises `ApiError` for an error answer."""
    if _VERTEX_BATCH.match(path):
        raise wire.ApiError(
            501, "UNIMPLEMENTED",
            "Vertex AI batch prediction jobs read and write Cloud Storage or BigQuery, which the "
            "nanobanana emulator does not serve. Use the Gemini API's batches (vertexai=False).",
        )  # fmt: skip
    if m := _VERTEX.match(path):
        return _vertex(em, method, m.groups(), headers, query, body, arrived)
    if "upload_id" not in query:
        _authenticate(em, headers, query)
    if len(raw) > wire.MAX_REQUEST_BYTES and "upload_id" not in query:
        raise wire.invalid_argument(
            f"Request payload size exceeds the limit: {wire.MAX_REQUEST_BYTES} bytes."
        )
    if (m := _GENERATE.match(path)) and method == "POST":
        version, model, verb = m.groups()
        if verb == "batchGenerateContent":
            fault = em._take_fault("batch", model, version)
            return json_reply(200, em.batches.to_json(em.create_batch(model, body, version)), fault)
        if verb == "countTokens":
            return json_reply(200, em.count_tokens(model, body, version=version))
        streaming = verb == "streamGenerateContent"
        answer, fault, wait = em.generate(model, body, arrived, version=version, wait=not streaming)
        if streaming:
            return _stream(answer, fault, wait, sse=query.get("alt") == "sse")
        return json_reply(200, answer, fault)
    if (m := _INTERACTIONS.match(path) or _MEDIA.match(path)) is not None:
        return _interactions(em, method, m, body, arrived)
    if (m := _MODEL.match(path)) and method == "GET":
        return json_reply(200, _models_json(em, m.group(1), m.group(2), query))
    if _UPLOAD.match(path) and method == "POST":
        return _upload(em, path, query, headers, raw, body)
    if (m := _FILES.match(path)) and method in ("GET", "DELETE"):
        version, name, download = m.groups()
        return _files(em, method, version, name, download, query)
    if m := _BATCHES.match(path):
        fault = em._take_fault("batch", "")
        if reply := _batches(em, method, *m.groups()):
            reply.fault = fault
            return reply
    raise wire.ApiError(404, "NOT_FOUND", f"Method not found: {method} {path}")


def _interactions(em: Emulator, method: str, m: re.Match[str], body: Any, arrived: float) -> Reply:
    if m.re is _MEDIA and method == "GET":
        media = em.interactions.media(m.group(2))
        return Reply(200, media.data, media.mime_type)
    version, interaction_id, cancel = ((*m.groups(), None, None))[:3]
    if interaction_id is None and method == "POST":
        answer, fault = em.interact(body, arrived, version=version)
        if isinstance(body, dict) and body.get("stream"):
            return _interaction_stream(answer, fault)
        return json_reply(200, answer, fault)
    if interaction_id is not None and method == "GET":
        return json_reply(200, em.get_interaction(interaction_id))
    if interaction_id is not None and method == "DELETE":
        em.interactions.delete(interaction_id)
        return json_reply(200, {})
    if interaction_id is not None and cancel and method == "POST":
        return json_reply(200, em.get_interaction(interaction_id))
    raise wire.ApiError(404, "NOT_FOUND", f"Method not found: {method} interactions")


def _interaction_stream(answer: dict[str, Any], fault: Fault | None) -> Reply:
    from ._interactions import sse_events

    events: list[dict[str, Any]] = sse_events(answer)
    if fault is not None and fault.kind == "stream_error":
        keep = max(1, min(len(events) - 1, fault.params["after"]))
        error = wire.ApiError(fault.code, fault.status, fault.message).body()
        events = [*events[:keep], {"event_type": "error", **error}]
    chunks = [f"data: {json.dumps(e)}\r\n\r\n".encode() for e in events]
    return Reply(200, b"", "text/event-stream", fault, chunks=chunks)


def _vertex(
    em: Emulator,
    method: str,
    groups: tuple[str, ...],
    headers: Mapping[str, str],
    query: dict[str, str],
    body: Any,
    arrived: float,
) -> Reply:
    version, project, location, model, verb = groups
    auth = headers.get("authorization") or ""
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        raise wire.VERTEX_UNAUTHENTICATED
    if method != "POST":
        raise wire.ApiError(404, "NOT_FOUND", f"Method not found: {method}")
    if not em.served(model, vertex=True):
        raise wire.ApiError(
            404, "NOT_FOUND",
            f"Publisher Model `projects/{project}/locations/{location}/publishers/google/models/"
            f"{model}` was not found or your project does not have access to it. Please ensure "
            "you are using a valid model version.",
        )  # fmt: skip
    if verb == "countTokens":
        return json_reply(200, em.count_tokens(model, body, version=version, vertex=True))
    streaming = verb == "streamGenerateContent"
    answer, fault, wait = em.generate(
        model, body, arrived, version=version, vertex=True, wait=not streaming
    )
    if streaming:
        return _stream(answer, fault, wait, sse=query.get("alt") == "sse")
    return json_reply(200, answer, fault)


def _authenticate(em: Emulator, headers: Mapping[str, str], query: dict[str, str]) -> None:
    key = headers.get("x-goog-api-key") or query.get("key")
    if not key:
        raise wire.MISSING_KEY
    if em.api_keys is not None and key not in em.api_keys:
        raise wire.INVALID_KEY


#: ``models.list`` pages: the API's default page size, and its cap.
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000


def _models_json(
    em: Emulator, version: str, model: str | None, query: Mapping[str, str]
) -> dict[str, Any]:
    """``GET models`` (every model, text ones too, in pages) or ``GET models/{id}``."""

    def one(m: str) -> dict[str, Any]:
        spec = MODELS[m]
        return {
            "name": f"models/{m}",
            "version": "001",
            "displayName": spec.name,
            "description": f"{spec.name}: image generation and editing.",
            "inputTokenLimit": spec.input_token_limit,
            "outputTokenLimit": spec.output_token_limit,
            "supportedGenerationMethods": [
                "generateContent",
                "countTokens",
                "batchGenerateContent",
            ],
            "thinking": spec.thinks,
        }

    def text(entry: tuple[str, str, tuple[str, ...], int, int]) -> dict[str, Any]:
        name, display, methods, limit_in, limit_out = entry
        return {
            "name": f"models/{name}",
            "version": "001",
            "displayName": display,
            "description": display,
            "inputTokenLimit": limit_in,
            "outputTokenLimit": limit_out,
            "supportedGenerationMethods": list(methods),
        }

    if model is None:
        listed = [one(m) for m in MODELS if em.served(m)] + [text(t) for t in TEXT_MODELS]
        try:
            size = int(query.get("pageSize") or DEFAULT_PAGE_SIZE)
            start = int(query.get("pageToken") or 0)
        except ValueError:
            raise wire.invalid_argument("Invalid page token or page size.") from None
        size = min(max(1, size), MAX_PAGE_SIZE)
        page: dict[str, Any] = {"models": listed[start : start + size]}
        if start + size < len(listed):
            page["nextPageToken"] = str(start + size)
        return page
    if model in ALIASES or model not in MODELS or not em.served(model):
        for entry in TEXT_MODELS:
            if entry[0] == model:
                return text(entry)
        raise wire.model_not_found(model, version)
    return one(model)


def _files(
    em: Emulator,
    method: str,
    version: str,
    name: str,
    download: str | None,
    query: dict[str, str],
) -> Reply:
    if name == "files":
        files = [em.files.to_json(f, em.url, version) for f in em.files.list()]
        return json_reply(200, {"files": files} if files else {})
    if method == "DELETE":
        em.files.delete(name)
        return json_reply(200, {})
    f = em.files.get(name)
    if download or query.get("alt") == "media":
        return Reply(200, bytes(f.data), f.mime_type)
    return json_reply(200, em.files.to_json(f, em.url, version))


def _batches(
    em: Emulator, method: str, version: str, name: str, cancel: str | None
) -> Reply | None:
    if name == "batches" and method == "GET":
        ops = [em.batches.to_json(j) for j in em.batches.list()]
        return json_reply(200, {"operations": ops} if ops else {})
    if cancel and method == "POST":
        em.batches.cancel(name)
        return json_reply(200, {})
    if method == "DELETE":
        em.batches.delete(name)
        return json_reply(200, {})
    if method == "GET":
        return json_reply(200, em.batches.to_json(em.batches.get(name)))
    return None


def _upload(
    em: Emulator,
    path: str,
    query: dict[str, str],
    headers: Mapping[str, str],
    raw: bytes,
    body: Any,
) -> Reply:
    lower = {k.lower(): v for k, v in headers.items()}
    command = lower.get("x-goog-upload-command", "")
    if "upload_id" not in query:
        if "start" not in command:
            raise wire.invalid_argument(
                "Only resumable uploads are supported (X-Goog-Upload-Command: start)."
            )
        upload_id = em.files.start_upload(body, lower)
        url = f"{em.url}{path}?upload_id={upload_id}&upload_protocol=resumable"
        return json_reply(
            200, {}, headers={"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active"}
        )
    finalize = "finalize" in command
    try:
        offset = int(lower.get("x-goog-upload-offset") or 0)
    except ValueError:
        raise wire.invalid_argument("Invalid X-Goog-Upload-Offset.") from None
    f = em.files.upload_chunk(query["upload_id"], offset, raw, finalize)
    if not finalize:
        return json_reply(200, {}, headers={"X-Goog-Upload-Status": "active"})
    version = path.split("/")[2]
    return json_reply(
        200,
        {"file": em.files.to_json(f, em.url, version)},
        headers={"X-Goog-Upload-Status": "final"},
    )
