"""The Batch API of the emulator: jobs that pend, run, and then answer every request once."""

from __future__ import annotations

import collections
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _wire as wire
from ._files import FileStore
from ._plan import get

__all__ = ["BatchStore"]

_META_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"


@dataclass
class Batch:
    """One batch job."""

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


class BatchStore:
    """Batch jobs kept by the emulator; thread-safe.

    Args:
        clock: The emulator's clock.
        iso: Formats a clock reading as an RFC 3339 timestamp.
        files: Where input files are read and result files written.
        answer: Answers one request of a job: ``(model, request) -> response body``; raises
            `ApiError` for a request the API refuses.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        iso: Callable[[float], str],
        files: FileStore,
        answer: Callable[[str, Any], dict[str, Any]],
    ) -> None:
        self._clock, self._iso, self._files, self._answer = clock, iso, files, answer
        self.pending, self.running = 1.0, 2.0
        self._lock = threading.Lock()
        self._jobs: dict[str, Batch] = {}
        self._fail: collections.deque[str] = collections.deque()

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._fail.clear()

    def fail_next(self, message: str) -> None:
        with self._lock:
            self._fail.append(message)

    def create(self, model: str, body: Any) -> Batch:
        batch = get(body, "batch") or {}
        source = get(batch, "inputConfig") or {}
        inline = get(get(source, "requests") or {}, "requests")
        requests: list[tuple[str | None, Any]]
        if isinstance(inline, list):
            requests = [(get(get(r, "metadata") or {}, "key"), get(r, "request")) for r in inline]
            from_file = False
        elif get(source, "fileName"):
            data = self._files.get(str(get(source, "fileName"))).data
            requests = []
            for n, line in enumerate(bytes(data).decode(errors="replace").split("\n")):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except (json.JSONDecodeError, RecursionError):
                        raise wire.invalid_argument(
                            f"Line {n + 1} of the input file is not JSON."
                        ) from None
                    requests.append((get(item, "key"), get(item, "request")))
            from_file = True
        else:
            raise wire.invalid_argument("batch.input_config must set requests or file_name.")
        if not requests:
            raise wire.invalid_argument("A batch needs at least one request.")
        name = f"batches/{uuid.uuid4().hex[:16]}"
        with self._lock:
            fail = self._fail.popleft() if self._fail else None
            display = get(batch, "displayName") or name
            job = Batch(name, model, str(display), self._clock(), requests, from_file, fail)
            self._jobs[name] = job
        return job

    def get(self, name: str) -> Batch:
        with self._lock:
            job = self._jobs.get(name)
        if job is None:
            raise wire.ApiError(404, "NOT_FOUND", f"Batch {name} not found.")
        return job

    def cancel(self, name: str) -> None:
        job = self.get(name)
        if self.state(job) in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            job.cancelled = self._clock()

    def delete(self, name: str) -> None:
        self.get(name)
        with self._lock:
            self._jobs.pop(name, None)

    def list(self) -> list[Batch]:
        with self._lock:
            return list(self._jobs.values())

    def state(self, job: Batch) -> str:
        if job.cancelled is not None:
            return "BATCH_STATE_CANCELLED"
        age = self._clock() - job.created
        if age < self.pending:
            return "BATCH_STATE_PENDING"
        if age < self.pending + self.running:
            return "BATCH_STATE_RUNNING"
        return "BATCH_STATE_FAILED" if job.fail else "BATCH_STATE_SUCCEEDED"

    def _run(self, job: Batch) -> dict[str, Any]:
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
                entry["response"] = self._answer(job.model, request)
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
            self._files.add(name, lines.encode(), "application/jsonl")
            job.output = {"responsesFile": name}
        else:
            job.output = {"inlinedResponses": {"inlinedResponses": entries}}
        return job.output

    def to_json(self, job: Batch) -> dict[str, Any]:
        """The job as an operation; a finished one carries its output once, in metadata."""
        state = self.state(job)
        meta: dict[str, Any] = {
            "@type": _META_TYPE,
            "name": job.name,
            "model": f"models/{job.model}",
            "displayName": job.display_name,
            "state": state,
            "createTime": self._iso(job.created),
            "updateTime": self._iso(self._clock()),
            "batchStats": job.stats
            or {
                "requestCount": str(len(job.requests)),
                "pendingRequestCount": str(len(job.requests)),
            },
        }
        op: dict[str, Any] = {"name": job.name, "metadata": meta, "done": False}
        ended = job.created + self.pending + self.running
        if state == "BATCH_STATE_SUCCEEDED":
            meta["output"] = self._run(job)
            meta["batchStats"] = job.stats
            meta["endTime"] = self._iso(ended)
            op["done"] = True
        elif state == "BATCH_STATE_FAILED":
            meta["endTime"] = self._iso(ended)
            op["done"] = True
            op["error"] = {"code": 13, "message": job.fail}
        elif state == "BATCH_STATE_CANCELLED":
            meta["endTime"] = self._iso(job.cancelled or ended)
            op["done"] = True
        return op
