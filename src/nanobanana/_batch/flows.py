"""The Batch API's decisions: job sources, submitting, polling and results, as flows.

Each model's job source is inline when its requests and expected answers are small,
otherwise a JSONL file through the Files API. Submitting, refreshing, waiting and reading
results are flows written once here, as `_core`'s are: they decide and yield steps, and their
disk work (the manifest, the results spool, saving images) is yielded as `Offload` steps, so
the async driver does it in a worker thread and never blocks the event loop.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

from .._core.flows import attempt
from .._core.parse import finish, parse
from .._core.steps import Emit, Flow, Offload, Op, Sleep
from .._core.wire import Call, build
from .._errors import APIConnectionError, NanoBananaError, api_error, batch_state_error
from .._images.fit import prepare_references
from .._models.registry import MAX_REQUEST_BYTES
from .._request.request import GenerationRequest
from .._result.result import Result
from .._retry import RetryPolicy
from .._runs.manifest import (
    MANIFEST_NAME,
    Manifest,
    entry_head,
    expand,
    failure_entry,
    success_entry,
    unsaved_entry,
)
from .._transport import AsyncTransport, SyncTransport
from .resubmit import INTENT, new_tag, plan_flow, tagged

if TYPE_CHECKING:
    from google.genai import types

__all__ = ["JobCore", "Source", "open_manifest", "prepare", "submit_flow"]

TERMINAL = frozenset(
    {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)
#: Inline jobs are limited to about 20 MB each way; past that, a JSONL file.
INLINE_LIMIT = MAX_REQUEST_BYTES
#: Bytes one answer image is expected to take in an inline reply (base64, with its thought
#: signature of up to 3 MB): answers, not requests, decide how large an inline job gets.
_ANSWER_BYTES = {"512": 1_000_000, "1K": 3_000_000, "2K": 5_000_000, "4K": 12_000_000}
_POLL_START, _POLL_MAX = 5.0, 60.0
_T = TypeVar("_T", SyncTransport, AsyncTransport)
Keyed = dict[str, tuple[int, GenerationRequest]]


def _rest(call: Call) -> dict[str, Any]:
    """A built call as the REST request object (camelCase, base64): what a JSONL line holds.

    ``GenerateContentConfig`` mixes generation settings with what REST puts beside them
    (``tools``, ``systemInstruction``, ``safetySettings``...): those go to the top level.
    """
    config = call.config.model_dump(mode="json", by_alias=True, exclude_none=True)
    for key in ("httpOptions", "shouldReturnHttpResponse"):
        config.pop(key, None)
    request: dict[str, Any] = {
        "contents": [
            c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in call.contents
        ]
    }
    for key in _TOP_LEVEL:
        if key in config:
            request[key] = config.pop(key)
    request["generationConfig"] = config
    return request


_TOP_LEVEL = (
    "tools",
    "toolConfig",
    "systemInstruction",
    "safetySettings",
    "cachedContent",
    "labels",
)


def _expected_answer_bytes(request: GenerationRequest) -> int:
    size = request.size.value if request.size else "1K"
    return request.expected_images * _ANSWER_BYTES.get(size, _ANSWER_BYTES["4K"])


@dataclass(frozen=True)
class Source:
    """One API job to create: a model, its requests' keys, and inline requests or JSONL."""

    model: str
    keys: tuple[str, ...]
    src: Any


def prepare(
    requests: Sequence[GenerationRequest], vertex: bool = False
) -> tuple[Keyed, list[Source]]:
    """Reads every reference and builds each model's job source: inline requests or JSONL.

    The one disk and CPU step of a submit (the async twin runs it in a worker thread). Each
    of ``n`` copies and each repeat of a request is its own keyed item, as in runs.
    """
    from google.genai import types

    keyed: Keyed = {}
    by_model: dict[str, list[tuple[str, Call]]] = {}
    calls: dict[int, Call] = {}
    for index, request, key in expand(requests):
        keyed[key] = (index, request)
        if index not in calls:
            images = prepare_references(request)
            calls[index] = build(request, images, vertex=vertex)
        by_model.setdefault(request.model, []).append((key, calls[index]))
    sources = []
    for model, items in by_model.items():
        lines = [json.dumps({"key": key, "request": _rest(call)}) for key, call in items]
        answers = sum(_expected_answer_bytes(call.request) for _, call in items)
        keys = tuple(key for key, _ in items)
        if sum(map(len, lines)) < INLINE_LIMIT and answers < INLINE_LIMIT:
            inline = [
                types.InlinedRequest(contents=c.contents, config=c.config, metadata={"key": k})
                for k, c in items
            ]
            sources.append(Source(model, keys, inline))
        else:
            sources.append(Source(model, keys, ("\n".join(lines) + "\n").encode()))
    return keyed, sources


def submit_flow(
    sources: Sequence[Source], display_name: str | None, policy: RetryPolicy,
    manifest: Manifest | None,
) -> Flow:  # fmt: skip
    """Creates one API job per model (uploading JSONL sources first); returns the jobs.

    A job attached to rather than created is returned by name only.

    With a manifest, each job is noted before it is created and recorded the moment it
    exists; a re-submit attaches to live jobs and sends only what is neither saved nor in
    one (`resubmit.plan_flow`): a re-run never pays twice.
    """
    from google.genai import types

    config = types.CreateBatchJobConfig(display_name=display_name) if display_name else None
    jobs: list[Any] = []
    # -- resubmit (see `resubmit`): attach to live jobs, send only what is neither saved nor
    # in one, and note each job before it exists so that a kill never leaves it unfound.
    tag = None
    if manifest is not None:
        plan = yield from plan_flow(sources, manifest, policy)
        jobs.extend(plan.attach)
        sources = plan.send
    for source in sources:
        if manifest is not None:
            tag = new_tag()
            intent = {"type": INTENT, "tag": tag, "model": source.model,
                      "keys": list(source.keys)}  # fmt: skip
            yield Offload(manifest.append, (intent,))
            config = types.CreateBatchJobConfig(display_name=tagged(display_name, tag))
        # -- end resubmit
        src = source.src
        if isinstance(src, bytes):
            upload = types.UploadFileConfig(mime_type="jsonl", display_name=display_name)
            file = yield from attempt(
                Op("files.upload", {"file": io.BytesIO(src), "config": upload}), policy
            )
            src = file.name
        create = Op("batches.create", {"model": source.model, "src": src, "config": config}, False)
        try:
            job = yield from attempt(create, policy)
        except APIConnectionError as exc:
            raise type(exc)(
                f"{exc}; the batch job may have been created anyway (it is not retried, so "
                "that it is never created and paid for twice): look for it with "
                "nb.batch.list() before submitting again"
            ) from exc
        jobs.append(job)
        if manifest is not None:
            record = {"type": "batch_job", "name": str(job.name), "model": source.model,
                      "keys": list(source.keys), "tag": tag}  # fmt: skip
            yield Offload(manifest.append, (record,))
    return jobs


class JobCore(Generic[_T]):
    """What a job knows and decides, whichever transport drives it."""

    def __init__(
        self, transport: _T, names: Sequence[str], requests: Keyed, out_dir: Path | None
    ) -> None:
        self._transport: _T = transport
        self.names = tuple(names)
        self.requests = requests
        self.out_dir = out_dir
        self.errors: list[dict[str, Any]] = []
        """Manifest entries of requests that failed inside the job."""
        self._jobs: dict[str, types.BatchJob] = {}

    @property
    def name(self) -> str:
        """The API job's name (names joined by commas when the requests span models)."""
        return ",".join(self.names)

    @property
    def status(self) -> str:
        """The last known state (``JOB_STATE_PENDING``, ``..._RUNNING``, ``..._SUCCEEDED``, ...).

        ``refresh()`` asks the API again. With one job per model: the least advanced state,
        or the first failure once all have ended.
        """
        states = [_state(j) for j in self._jobs.values()] or ["JOB_STATE_PENDING"]
        waiting = [s for s in states if s not in TERMINAL]
        if waiting:
            return "JOB_STATE_RUNNING" if "JOB_STATE_RUNNING" in waiting else waiting[0]
        return next((s for s in states if s != "JOB_STATE_SUCCEEDED"), "JOB_STATE_SUCCEEDED")

    @property
    def state(self) -> str:
        """Deprecated alias of `status` (one name per setting): removed in 0.3."""
        import warnings

        warnings.warn(
            "BatchJob.state is deprecated: use BatchJob.status (the same value)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.status

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.status} {len(self.requests)} requests>"

    def _update(self, jobs: Iterable[types.BatchJob | str]) -> None:
        """Keeps what the API said of each job (a bare name: nothing known yet)."""
        for job in jobs:
            if not isinstance(job, str):
                self._jobs[str(job.name)] = job

    def _refresh_flow(self) -> Flow:
        """Asks the API for each job not yet ended.

        A finished inline job's answers (every image) are never fetched again for a status.
        """
        jobs = []
        for name in self.names:
            known = self._jobs.get(name)
            if known is not None and _state(known) in TERMINAL:
                continue
            jobs.append(
                (yield from attempt(Op("batches.get", {"name": name}), self._transport.policy))
            )
        self._update(jobs)
        return self.status

    def _wait_flow(self, timeout: float | None) -> Flow:
        policy = self._transport.policy
        start, interval = policy.clock(), _POLL_START
        while (yield from self._refresh_flow()) not in TERMINAL:
            waited = policy.clock() - start
            if timeout is not None and waited + interval > timeout:
                error = batch_state_error(self.name, self.status, waited=timeout)
                assert error is not None
                raise error
            yield Sleep(interval)
            interval = min(_POLL_MAX, interval * 1.5)
        self._check_done()
        return self

    def _check_done(self) -> None:
        if self.status not in TERMINAL or not any(
            _state(j) == "JOB_STATE_SUCCEEDED" for j in self._jobs.values()
        ):
            error = batch_state_error(self.name, self.status)
            if error is not None:
                raise error

    def _results_flow(self) -> Flow:
        """Emits each result; records failures (and saves, with an ``out_dir``)."""
        self._check_done()
        manifest = yield Offload(open_manifest, (self.out_dir,))
        for job in self._jobs.values():
            outcomes: Iterable[tuple[str, Result | NanoBananaError]]
            if _state(job) != "JOB_STATE_SUCCEEDED":
                failed = batch_state_error(str(job.name), _state(job))
                outcomes = [(k, failed) for k, (_, r) in self.requests.items()
                            if r.model == _model_of(job) and failed is not None]  # fmt: skip
            elif job.dest is not None and job.dest.file_name:
                # The results file streams to a spool on disk and is read a line at a time:
                # each image is written and recorded as soon as its line is parsed, so memory
                # stays flat however large the job.
                spool = yield Offload(tempfile.TemporaryFile)
                try:
                    yield from self._download(job.dest.file_name, spool)
                    seen = 0
                    while lines := (yield Offload(_read_lines, (spool,))):
                        for key, outcome in self._outcomes(lines, start=seen):
                            result = yield Offload(self._record, (manifest, key, outcome))
                            if result is not None:
                                yield Emit(result)
                        seen += len(lines)
                finally:
                    spool.close()
                continue
            else:
                responses = job.dest.inlined_responses if job.dest is not None else None
                outcomes = self._outcomes(_inline_lines(responses or []))
            for key, outcome in outcomes:
                result = yield Offload(self._record, (manifest, key, outcome))
                if result is not None:
                    yield Emit(result)

    def _download(self, name: str, spool: IO[bytes]) -> Flow:
        """Streams a results file into ``spool`` (starting over on a retry), then rewinds it."""

        def restart(error: BaseException, wait: float) -> None:
            spool.seek(0)
            spool.truncate()

        op = Op("files.download", {"file": name, "destination": spool})
        yield from attempt(op, self._transport.policy, on_retry=restart)
        spool.seek(0)

    def _outcomes(
        self, lines: Iterable[dict[str, Any]], start: int = 0
    ) -> Iterator[tuple[str, Result | NanoBananaError]]:
        """Each request's result or error, from a results file's lines (or inline answers).

        ``start`` is the position of the first line, for lines that carry no key.
        """
        for n, line in enumerate(lines, start):
            key = str(line.get("key") or self._key_at(n))
            request = self.requests.get(key, (n, None))[1]
            if "error" in line:
                error = line["error"] if isinstance(line["error"], dict) else {}
                yield key, api_error(int(error.get("code") or 0), error.get("status"),
                                     str(error.get("message")), {"error": error})  # fmt: skip
                continue
            try:
                body = line.get("response")
                yield key, finish(parse(body, request=request, batch=True))
            except NanoBananaError as exc:
                yield key, exc

    def _key_at(self, n: int) -> str:
        return next((k for k, (i, _) in self.requests.items() if i == n), str(n))

    def _record(
        self, manifest: Manifest | None, key: str, outcome: Result | NanoBananaError
    ) -> Result | None:
        """Saves and records one outcome (disk work: a flow yields it as an `Offload`)."""
        index, request = self.requests.get(key, (-1, None))
        head = entry_head(request, key, index)
        if isinstance(outcome, NanoBananaError):
            entry = failure_entry(head, outcome)
            self.errors.append(entry)
            if manifest:
                manifest.append(entry)
            return None
        if manifest and self.out_dir and not manifest.is_done(key):
            try:
                entry = success_entry(head, outcome, self.out_dir)
            except OSError as exc:  # this item's save failed: recorded against it, go on
                entry = unsaved_entry(head, outcome, exc)
                self.errors.append(entry)
            manifest.append(entry)
        return outcome


def _state(job: types.BatchJob) -> str:
    return job.state.name if job.state is not None else "JOB_STATE_UNSPECIFIED"


def _model_of(job: types.BatchJob) -> str:
    return str(job.model or "").removeprefix("models/")


def _inline_lines(responses: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Inline answers as results-file lines, for the one parser."""
    for item in responses:
        line: dict[str, Any] = {"key": (item.metadata or {}).get("key")}
        if item.error is not None:
            line["error"] = {"code": item.error.code, "message": item.error.message}
        else:
            line["response"] = item.response or {}
        yield line


def _read_lines(spool: IO[bytes], count: int = 64) -> list[dict[str, Any]]:
    """The next lines of a results file (up to ``count``), parsed; empty at its end."""
    lines: list[dict[str, Any]] = []
    while len(lines) < count and (line := spool.readline()):
        if line.strip():
            lines.append(json.loads(line))
    return lines


def open_manifest(out_dir: Path | None) -> Manifest | None:
    """The folder's manifest, made ready to write (``None`` without a folder)."""
    if out_dir is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    return Manifest(out_dir / MANIFEST_NAME)
