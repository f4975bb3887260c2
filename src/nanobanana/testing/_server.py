"""`FakeGemini`: the Gemini REST API on loopback, for tests with the real `google-genai` client.

One thread per connection (`ThreadingHTTPServer`), so concurrent requests are served
concurrently; the standard library only, plus Pillow to paint the images.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import hashlib
import itertools
import json
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from . import _wire as wire
from ._faults import Fault
from ._generate import _get, plan, respond, stream_chunks

__all__ = ["FakeGemini", "RecordedRequest"]

_REDACTED = "<redacted>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it, the API key redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """Parsed JSON, or ``None`` (uploads keep only their size)."""
    size: int
    """Bytes in the request body."""
    at: float
    """The emulator clock when it arrived."""
    status: int = 0
    """The HTTP status answered (0 for a dropped connection)."""

    @property
    def model(self) -> str | None:
        """The model id in the path, for generate and batch calls."""
        m = re.search(r"/models/([^/:]+)", self.path)
        return m.group(1) if m else None


@dataclass
class _File:
    name: str
    mime_type: str
    display_name: str | None
    data: bytearray
    expected: int
    created: float
    done: bool = False


@dataclass
class _Batch:
    name: str
    model: str
    display_name: str
    created: float
    requests: list[tuple[str | None, Any]]
    from_file: bool
    fail: str | None = None
    cancelled: float | None = None
    output: dict[str, Any] | None = None
    stats: dict[str, str] = field(default_factory=dict)


class FakeGemini:
    """An offline emulator of the Gemini image API on loopback.

    Args:
        host: Address to bind; loopback only by default.
        port: Port to bind; 0 picks a free one.
        api_keys: Keys to accept; ``None`` accepts any non-empty key (a missing key is
            always answered 403, as the real API does).
        rpm: Requests per minute before 429 (``None``: no limit).
        ipm: Images per minute before 429 (``None``: no limit).
        latency: Seconds to wait before answering, by image size (``{"1K": 0.2, "4K": 1.0}``)
            or one figure for all; scaled-down stand-ins for the real 20-120 s.
        clock: Monotonic seconds, for quotas, batch jobs and timestamps. Inject a
            `ManualClock` to move time by hand.
        sleep: How latency waits; a `ManualClock`'s ``sleep`` makes it free.
        signature_bytes: Size of each thought signature (real ones are 0.6-2.9 MB).
        batch_pending: Seconds a batch job stays pending, then ``batch_running`` running.
        record: Keep every request in `requests`.

    Example:
        >>> with FakeGemini() as server:
        ...     client = genai.Client(api_key="test", http_options={"base_url": server.url})
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] | None = None,
        rpm: int | None = None,
        ipm: int | None = None,
        latency: float | Mapping[str, float] = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        signature_bytes: int = 2048,
        batch_pending: float = 1.0,
        batch_running: float = 2.0,
        record: bool = True,
    ) -> None:
        self.api_keys = None if api_keys is None else frozenset(api_keys)
        self.rpm, self.ipm = rpm, ipm
        self.latency = latency
        self.clock, self.sleep = clock, sleep
        self.signature_bytes = signature_bytes
        self.batch_pending, self.batch_running = batch_pending, batch_running
        self.record = record
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._faults: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )
        self._window: collections.deque[tuple[float, int]] = collections.deque()
        self._files: dict[str, _File] = {}
        self._uploads: dict[str, str] = {}
        self._batches: dict[str, _Batch] = {}
        self._fail_batches: collections.deque[str] = collections.deque()
        self._serial = itertools.count(1)
        self._wall0 = time.time() - clock()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.emulator = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give a client, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGemini:
        """Serves in a background thread; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name="FakeGemini", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serves in this thread until interrupted (the CLI's ``nanobanana emulator``)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forgets requests, faults, quota usage, files and batches."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self._window.clear()
            self._files.clear()
            self._uploads.clear()
            self._batches.clear()
            self._fail_batches.clear()

    # -- scripting -------------------------------------------------------------------------

    def push(self, *faults: Fault, scope: Literal["generate", "batch"] = "generate") -> None:
        """Queues faults: each replaces the answer to one request, in order.

        ``scope="generate"`` (the default) hits generateContent and streamGenerateContent;
        ``scope="batch"`` the Batch API's endpoints (create, get, list, cancel).
        """
        with self._lock:
            self._faults[scope].extend(faults)

    def fail_next_batch(self, message: str = "The batch job failed.") -> None:
        """Makes the next batch job created end in ``BATCH_STATE_FAILED``."""
        with self._lock:
            self._fail_batches.append(message)

    @property
    def generate_requests(self) -> list[RecordedRequest]:
        """The recorded generateContent and streamGenerateContent requests."""
        return [r for r in self.requests if "enerateContent" in r.path and "batch" not in r.path]

    # -- handlers (called from _Handler, one thread per connection) ------------------------

    def _now_iso(self, at: float | None = None) -> str:
        moment = datetime.fromtimestamp(
            self._wall0 + (self.clock() if at is None else at), timezone.utc
        )
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def _next_fault(self, scope: str = "generate") -> Fault | None:
        with self._lock:
            queue = self._faults[scope]
            return queue.popleft() if queue else None

    def _take_fault(self, scope: str, model: str) -> Fault | None:
        """Applies the next fault that answers instead of the endpoint; returns the rest."""
        fault = self._next_fault(scope)
        if fault is None:
            return None
        if fault.kind == "rate_limit":
            p = fault.params
            raise wire.rate_limited(model, p["quota"], p["limit"], p["retry_delay"])
        if fault.kind == "error":
            raise wire.ApiError(
                fault.code, fault.status, fault.message, fault.params.get("details")
            )
        if fault.kind == "slow":
            self.sleep(fault.params["seconds"])
        return fault

    def _admit(self, model: str, images: int, arrived: float) -> None:
        """Enforces requests and images per minute over a sliding 60 s window.

        A request counts from when it arrived, as at a real API's front door, not from when
        this busy emulator got round to reading it.
        """
        if self.rpm is None and self.ipm is None:
            return
        with self._lock:
            now = arrived
            while self._window and self._window[0][0] <= now - 60:
                self._window.popleft()
            wait = (self._window[0][0] + 60 - now) if self._window else 0.0
            if self.rpm is not None and len(self._window) >= self.rpm:
                raise wire.rate_limited(model, "per_minute", self.rpm, max(1, math.ceil(wait)))
            used = sum(n for _, n in self._window)
            if self.ipm is not None and used + images > self.ipm:
                raise wire.rate_limited(
                    model, "images_per_minute", self.ipm, max(1, math.ceil(wait))
                )
            bisect.insort(self._window, (now, images))

    def _latency_for(self, size: str) -> float:
        if isinstance(self.latency, Mapping):
            return float(self.latency.get(size, 0.0))
        return float(self.latency)

    def generate(
        self, model: str, body: Any, arrived: float | None = None
    ) -> tuple[dict[str, Any], Fault | None]:
        """Answers one generate request; raises `ApiError` for an error answer."""
        if model in wire.RETIRED_MODELS or model not in wire.IMAGE_MODELS:
            raise wire.model_not_found(model, "v1beta")
        fault = self._take_fault("generate", model)
        p = plan(body, model, self._file_bytes)
        self._admit(
            model, p.n_images if p.with_image else 0, self.clock() if arrived is None else arrived
        )
        delay = self._latency_for(p.size)
        if delay:
            self.sleep(delay)
        answer = respond(
            p, signature_bytes=self.signature_bytes, fault=fault, serial=next(self._serial)
        )
        return answer, fault

    # -- files -------------------------------------------------------------------------------

    def _file_bytes(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            f = self._files.get(name)
        return (bytes(f.data), f.mime_type) if f is not None and f.done else None

    def _file_json(self, f: _File, version: str) -> dict[str, Any]:
        return {
            "name": f.name,
            "displayName": f.display_name or "",
            "mimeType": f.mime_type,
            "sizeBytes": str(len(f.data)),
            "createTime": self._now_iso(f.created),
            "updateTime": self._now_iso(f.created),
            "expirationTime": self._now_iso(f.created + 48 * 3600),
            "sha256Hash": hashlib.sha256(f.data).hexdigest(),
            "uri": f"{self.url}/{version}/{f.name}",
            "state": "ACTIVE" if f.done else "PROCESSING",
            "source": "UPLOADED",
        }

    def start_upload(self, meta: Any, headers: Mapping[str, str]) -> str:
        spec = (meta or {}).get("file") or {}
        name = _get(spec, "name") or f"files/{uuid.uuid4().hex[:12]}"
        size = int(
            headers.get("x-goog-upload-header-content-length") or _get(spec, "sizeBytes") or 0
        )
        mime = headers.get("x-goog-upload-header-content-type") or _get(spec, "mimeType") or ""
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._files[name] = _File(
                name, mime, _get(spec, "displayName"), bytearray(), size, self.clock()
            )
            self._uploads[upload_id] = name
        return upload_id

    def upload_chunk(self, upload_id: str, offset: int, chunk: bytes, finalize: bool) -> _File:
        with self._lock:
            name = self._uploads.get(upload_id)
            if name is None:
                raise wire.ApiError(404, "NOT_FOUND", "Upload session not found.")
            f = self._files[name]
            if offset != len(f.data):
                raise wire.invalid_argument(f"Upload offset {offset} does not match {len(f.data)}.")
            f.data += chunk
            if finalize:
                f.done = True
                del self._uploads[upload_id]
            return f

    def add_file(self, name: str, data: bytes, mime_type: str) -> None:
        with self._lock:
            self._files[name] = _File(
                name, mime_type, None, bytearray(data), len(data), self.clock(), True
            )

    def get_file(self, name: str) -> _File:
        with self._lock:
            f = self._files.get(name)
        if f is None:
            raise wire.ApiError(
                403, "PERMISSION_DENIED",
                f"You do not have permission to access the File {name.removeprefix('files/')} "
                "or it may not exist.",
            )  # fmt: skip
        return f

    def delete_file(self, name: str) -> None:
        self.get_file(name)
        with self._lock:
            self._files.pop(name, None)

    def list_files(self) -> list[_File]:
        with self._lock:
            return [f for f in self._files.values() if f.done]

    # -- batches -------------------------------------------------------------------------------

    def create_batch(self, model: str, body: Any) -> _Batch:
        if model in wire.RETIRED_MODELS or model not in wire.IMAGE_MODELS:
            raise wire.model_not_found(model, "v1beta")
        batch = (body or {}).get("batch") or {}
        source = _get(batch, "inputConfig") or {}
        inline = (_get(source, "requests") or {}).get("requests")
        requests: list[tuple[str | None, Any]]
        if inline is not None:
            requests = [((r.get("metadata") or {}).get("key"), r.get("request")) for r in inline]
            from_file = False
        elif _get(source, "fileName"):
            data = self.get_file(str(_get(source, "fileName"))).data
            requests = []
            for n, line in enumerate(bytes(data).decode().splitlines()):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError:
                        raise wire.invalid_argument(
                            f"Line {n + 1} of the input file is not JSON."
                        ) from None
                    requests.append((item.get("key"), item.get("request")))
            from_file = True
        else:
            raise wire.invalid_argument("batch.input_config must set requests or file_name.")
        if not requests:
            raise wire.invalid_argument("A batch needs at least one request.")
        name = f"batches/{uuid.uuid4().hex[:16]}"
        with self._lock:
            fail = self._fail_batches.popleft() if self._fail_batches else None
            job = _Batch(
                name,
                model,
                _get(batch, "displayName") or name,
                self.clock(),
                requests,
                from_file,
                fail,
            )
            self._batches[name] = job
        return job

    def get_batch(self, name: str) -> _Batch:
        with self._lock:
            job = self._batches.get(name)
        if job is None:
            raise wire.ApiError(404, "NOT_FOUND", f"Batch {name} not found.")
        return job

    def cancel_batch(self, name: str) -> None:
        job = self.get_batch(name)
        if self._batch_state(job) in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            job.cancelled = self.clock()

    def delete_batch(self, name: str) -> None:
        self.get_batch(name)
        with self._lock:
            self._batches.pop(name, None)

    def list_batches(self) -> list[_Batch]:
        with self._lock:
            return list(self._batches.values())

    def _batch_state(self, job: _Batch) -> str:
        if job.cancelled is not None:
            return "BATCH_STATE_CANCELLED"
        age = self.clock() - job.created
        if age < self.batch_pending:
            return "BATCH_STATE_PENDING"
        if age < self.batch_pending + self.batch_running:
            return "BATCH_STATE_RUNNING"
        return "BATCH_STATE_FAILED" if job.fail else "BATCH_STATE_SUCCEEDED"

    def _run_batch(self, job: _Batch) -> dict[str, Any]:
        """Answers every request of a finished job, once; batches bypass faults and quotas."""
        if job.output is not None:
            return job.output
        entries: list[dict[str, Any]] = []
        ok = 0
        for key, request in job.requests:
            entry: dict[str, Any] = (
                {}
                if key is None
                else ({"key": key} if job.from_file else {"metadata": {"key": key}})
            )
            try:
                p = plan(request, job.model, self._file_bytes)
                entry["response"] = respond(
                    p, signature_bytes=self.signature_bytes, serial=next(self._serial)
                )
                ok += 1
            except wire.ApiError as exc:
                entry["error"] = exc.body()["error"]
            entries.append(entry)
        job.stats = {
            "requestCount": str(len(entries)),
            "successfulRequestCount": str(ok),
            "failedRequestCount": str(len(entries) - ok),
        }
        if job.from_file:
            name = f"files/{job.name.removeprefix('batches/')}-results"
            lines = "\n".join(json.dumps(e) for e in entries) + "\n"
            self.add_file(name, lines.encode(), "application/jsonl")
            job.output = {"responsesFile": name}
        else:
            job.output = {"inlinedResponses": {"inlinedResponses": entries}}
        return job.output

    def batch_json(self, job: _Batch) -> dict[str, Any]:
        state = self._batch_state(job)
        meta: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
            "name": job.name,
            "model": f"models/{job.model}",
            "displayName": job.display_name,
            "state": state,
            "createTime": self._now_iso(job.created),
            "updateTime": self._now_iso(),
            "batchStats": job.stats
            or {
                "requestCount": str(len(job.requests)),
                "pendingRequestCount": str(len(job.requests)),
            },
        }
        op: dict[str, Any] = {"name": job.name, "metadata": meta, "done": False}
        ended = job.created + self.batch_pending + self.batch_running
        if state == "BATCH_STATE_SUCCEEDED":
            meta["output"] = self._run_batch(job)
            meta["batchStats"] = job.stats
            meta["endTime"] = self._now_iso(ended)
            op["done"] = True
            op["response"] = {"@type": _BATCH_OUTPUT_TYPE, **meta["output"]}
        elif state == "BATCH_STATE_FAILED":
            meta["endTime"] = self._now_iso(ended)
            op["done"] = True
            op["error"] = {"code": 13, "message": job.fail}
        elif state == "BATCH_STATE_CANCELLED":
            meta["endTime"] = self._now_iso(job.cancelled)
            op["done"] = True
        return op


_GENERATE = re.compile(
    r"^/(v1|v1beta)/models/([^/:]+):(generateContent|streamGenerateContent|batchGenerateContent)$"
)
_MODEL = re.compile(r"^/(v1|v1beta)/models(?:/([^/:]+))?$")
_FILES = re.compile(r"^/(?:download/)?(v1|v1beta)/(files(?:/[^/:]+)?)(:download)?$")
_UPLOAD = re.compile(r"^/upload/(v1|v1beta)/files$")
_BATCHES = re.compile(r"^/(v1|v1beta)/(batches(?:/[^/:]+)?)(:cancel)?$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nanobanana-emulator"
    sys_version = ""

    @property
    def emulator(self) -> FakeGemini:
        return self.server.emulator  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        em = self.emulator
        self.arrived = em.clock()
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        is_upload_chunk = "upload_id" in query
        body: Any = None
        if raw and not is_upload_chunk:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = _INVALID_JSON
        headers = {
            k: (_REDACTED if k.lower() == "x-goog-api-key" else v) for k, v in self.headers.items()
        }
        record = RecordedRequest(
            self.command, split.path,
            {k: (_REDACTED if k == "key" else v) for k, v in query.items()},
            headers, None if body is _INVALID_JSON else body, len(raw), self.arrived,
        )  # fmt: skip
        try:
            reply = self._route(split.path, query, raw, body)
        except wire.ApiError as exc:
            reply = _json(exc.code, exc.body())
        dropped = reply.fault is not None and reply.fault.kind == "drop"
        if em.record:  # before answering, so a client that has its answer sees the record
            with em._lock:
                em.requests.append(replace(record, status=0 if dropped else reply.code))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._write(reply)

    def _route(self, path: str, query: dict[str, str], raw: bytes, body: Any) -> _Reply:
        em = self.emulator
        if "upload_id" not in query:
            self._authenticate(query)
        if body is _INVALID_JSON:
            raise wire.invalid_argument("Invalid JSON payload received.")
        if len(raw) > wire.MAX_REQUEST_BYTES:
            raise wire.invalid_argument(
                f"Request payload size exceeds the limit: {wire.MAX_REQUEST_BYTES} bytes."
            )
        method = self.command
        if (m := _GENERATE.match(path)) and method == "POST":
            _, model, verb = m.groups()
            if verb == "batchGenerateContent":
                fault = em._take_fault("batch", model)
                return _json(200, em.batch_json(em.create_batch(model, body)), fault)
            answer, fault = em.generate(model, body, self.arrived)
            if verb == "streamGenerateContent":
                return _stream(answer, fault)
            return _json(200, answer, fault)
        if (m := _MODEL.match(path)) and method == "GET":
            return _json(200, _models_json(m.group(2)))
        if _UPLOAD.match(path) and method == "POST":
            return self._upload(path, query, raw, body)
        if (m := _FILES.match(path)) and method in ("GET", "DELETE"):
            version, name, download = m.groups()
            return self._files(method, version, name, download, query)
        if m := _BATCHES.match(path):
            fault = em._take_fault("batch", "")
            if reply := self._batches(method, *m.groups()):
                reply.fault = fault
                return reply
        raise wire.ApiError(404, "NOT_FOUND", f"Method not found: {method} {path}")

    def _files(
        self, method: str, version: str, name: str, download: str | None, query: dict[str, str]
    ) -> _Reply:
        em = self.emulator
        if name == "files":
            files = [em._file_json(f, version) for f in em.list_files()]
            return _json(200, {"files": files} if files else {})
        if method == "DELETE":
            em.delete_file(name)
            return _json(200, {})
        f = em.get_file(name)
        if download or query.get("alt") == "media":
            return _Reply(200, bytes(f.data), f.mime_type)
        return _json(200, em._file_json(f, version))

    def _batches(self, method: str, version: str, name: str, cancel: str | None) -> _Reply | None:
        em = self.emulator
        if name == "batches" and method == "GET":
            ops = [em.batch_json(j) for j in em.list_batches()]
            return _json(200, {"operations": ops} if ops else {})
        if cancel and method == "POST":
            em.cancel_batch(name)
            return _json(200, {})
        if method == "DELETE":
            em.delete_batch(name)
            return _json(200, {})
        if method == "GET":
            return _json(200, em.batch_json(em.get_batch(name)))
        return None

    def _authenticate(self, query: dict[str, str]) -> None:
        key = self.headers.get("x-goog-api-key") or query.get("key")
        if not key:
            raise wire.MISSING_KEY
        keys = self.emulator.api_keys
        if keys is not None and key not in keys:
            raise wire.INVALID_KEY

    def _upload(self, path: str, query: dict[str, str], raw: bytes, body: Any) -> _Reply:
        em = self.emulator
        lower = {k.lower(): v for k, v in self.headers.items()}
        command = lower.get("x-goog-upload-command", "")
        if "upload_id" not in query:
            if "start" not in command:
                raise wire.invalid_argument(
                    "Only resumable uploads are supported (X-Goog-Upload-Command: start)."
                )
            upload_id = em.start_upload(body, lower)
            url = f"{em.url}{path}?upload_id={upload_id}&upload_protocol=resumable"
            return _json(
                200, {}, headers={"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active"}
            )
        finalize = "finalize" in command
        f = em.upload_chunk(
            query["upload_id"], int(lower.get("x-goog-upload-offset") or 0), raw, finalize
        )
        if not finalize:
            return _json(200, {}, headers={"X-Goog-Upload-Status": "active"})
        version = path.split("/")[2]
        return _json(
            200,
            {"file": em._file_json(f, version)},
            headers={"X-Goog-Upload-Status": "final"},
        )

    # -- writing -------------------------------------------------------------------------------

    def _write(self, reply: _Reply) -> None:
        fault = reply.fault
        if fault is not None and fault.kind == "drop":
            self._drop()
            return
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.content_type)
        if reply.chunks is None:
            self.send_header("Content-Length", str(len(reply.data)))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        truncate = fault is not None and fault.kind == "truncate"
        if reply.chunks is None:
            if truncate:
                self.wfile.write(reply.data[: int(len(reply.data) * fault.params["fraction"])])  # type: ignore[union-attr]
                self.wfile.flush()
                self._drop()
            else:
                self.wfile.write(reply.data)
            return
        cut = None
        if truncate:  # the chunk at this fraction of the stream is cut in half
            cut = min(len(reply.chunks) - 1, int(len(reply.chunks) * fault.params["fraction"]))  # type: ignore[union-attr]
        for i, chunk in enumerate(reply.chunks):
            if i == cut:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk[: len(chunk) // 2])
                self.wfile.flush()
                self._drop()
                return
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of 30 clients overflows it, and the
    # kernel makes the rest retry their SYN a second later. Real APIs take bursts.
    request_queue_size = 256


_INVALID_JSON = object()
_BATCH_OUTPUT_TYPE = (
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
)


def _models_json(model: str | None) -> dict[str, Any]:
    def one(m: str) -> dict[str, Any]:
        return {
            "name": f"models/{m}",
            "displayName": m,
            "supportedGenerationMethods": [
                "generateContent",
                "streamGenerateContent",
                "batchGenerateContent",
            ],
        }

    if model is None:
        return {"models": [one(m) for m in wire.IMAGE_MODELS]}
    if model not in wire.IMAGE_MODELS:
        raise wire.model_not_found(model, "v1beta")
    return one(model)


@dataclass
class _Reply:
    code: int
    data: bytes
    content_type: str
    fault: Fault | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    """Server-sent events, written with chunked transfer encoding."""


def _json(
    code: int, body: Any, fault: Fault | None = None, headers: Mapping[str, str] | None = None
) -> _Reply:
    return _Reply(
        code, json.dumps(body).encode(), "application/json; charset=UTF-8", fault, headers or {}
    )


def _stream(answer: dict[str, Any], fault: Fault | None) -> _Reply:
    chunks = [f"data: {json.dumps(c)}\r\n\r\n".encode() for c in stream_chunks(answer)]
    return _Reply(200, b"", "text/event-stream", fault, chunks=chunks)
