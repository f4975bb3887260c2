"""The Batch API at 100,000 requests: file-based jobs in shards, within the API's limits.

`nb.batch.run(requests, out_dir=...)` cuts a stream of requests into shards, one JSONL input
file per model and shard, written to a spool on disk while it is built (never every call in
memory). Shards are submitted as Batch API jobs while they fit the project's limits together
(`BATCH_LIMITS`: concurrent jobs, input file size, batch storage, enqueued tokens per model
and tier); each finished job's results stream into the output (a folder or a URL, through the
same manifest or records as ``generate_many``) a few lines at a time, and its input file is
deleted. Memory stays flat: what is held per shard is its numbers, and per finished job the
compact heads of its own requests.

**Resumable after a kill at any point.** Shard boundaries depend only on the requests (their
count, token and byte estimates), never on what is done, so a re-run with the same requests
and output cuts the same shards. Each shard is named by the output (the *run id*) and a hash
of its keys, and the job carries that name as its display name: a re-run finds a job created
but never recorded by listing the project's jobs, attaches to it, and records what it has not
yet; a shard whose keys are all recorded is skipped; only keys not recorded are submitted.

The decisions are one flow (`run_flow`); its disk work (building shards, reading result
lines, saving images, writing records) is yielded as `Offload` steps.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .._core.flows import attempt, list_flow
from .._core.steps import Flow, Offload, Op, Sleep
from .._core.wire import build
from .._errors import InvalidRequestError, NanoBananaError
from .._images.fit import prepare_references
from .._models.cost import (
    CHARS_PER_TOKEN,
    ESTIMATED_THINKING_TOKENS,
    INPUT_IMAGE_TOKENS,
    pricing_of,
)
from .._models.registry import BATCH_LIMITS, MAX_INLINE_IMAGE_BYTES, BatchLimits
from .._request.request import GenerationRequest
from .._result.result import Result
from .._retry import RetryPolicy
from .._runs.manifest import (
    MANIFEST_NAME,
    Manifest,
    RunFailure,
    entry_head,
    failure_entry,
    request_key,
    success_entry,
    unsaved_entry,
)
from .._runs.records import RecordManifest
from .._runs.runner import Invalid, RunReport
from .._runs.store import ObjectOut
from .flows import TERMINAL, JobCore, _read_lines, _rest, _state

if TYPE_CHECKING:
    from google.genai import types

__all__ = ["BatchRunReport", "ShardLimits", "ShardWriter", "run_flow", "run_id"]

#: Requests per shard at most: what one finished shard's results step holds (its heads).
DEFAULT_SHARD_REQUESTS = 10_000
#: Result lines read, saved and recorded at once (one record object per chunk on a store).
CHUNK_LINES = 64
_POLL_START, _POLL_MAX = 5.0, 60.0
#: Bytes a JSONL line takes besides its references (prompt, config, key): an upper bound.
_LINE_OVERHEAD = 4096


@dataclass(frozen=True)
class ShardLimits:
    """How a run is cut into jobs: the API's limits for the project's tier, and a shard size.

    Args:
        tier: The project's usage tier (1, 2 or 3): decides the enqueued-token limit.
        max_requests: Requests per shard at most (what one shard's results step holds).
        limits: The Batch API's limits (`BATCH_LIMITS`, from the registry).
    """

    tier: int = 1
    max_requests: int = DEFAULT_SHARD_REQUESTS
    limits: BatchLimits = BATCH_LIMITS

    def __post_init__(self) -> None:
        if self.tier not in (1, 2, 3):
            raise InvalidRequestError(
                f"tier must be the project's usage tier, 1, 2 or 3, got {self.tier!r}"
            )
        if not isinstance(self.max_requests, int) or self.max_requests < 1:
            raise InvalidRequestError(
                f"shard_size must be a positive number of requests, got {self.max_requests!r}"
            )

    def tokens(self, model: str) -> int:
        return self.limits.enqueued_token_limit(model, self.tier)


@dataclass
class Shard:
    """One API job to be: a model, the keys it covers, and its input file on disk."""

    index: int
    model: str
    digest: str
    """A hash of the model and every key of the shard (recorded or not): its identity."""
    total: int
    """Keys in the shard, recorded ones included."""
    count: int = 0
    """Keys written to its input file (those not yet recorded)."""
    tokens: int = 0
    """Enqueued tokens it is estimated to take (every key: the boundaries never move)."""
    bytes: int = 0
    """Bytes of its input file."""
    path: Path | None = None
    heads: Path | None = None
    display_name: str = ""
    job: str | None = None
    file: str | None = None
    """The uploaded input file, deleted once the job has ended."""


def run_id(out: Path | ObjectOut) -> str:
    """A short id of the output location: a run's jobs are named by it."""
    where = out.url if isinstance(out, ObjectOut) else str(out.resolve())
    return hashlib.sha256(where.encode()).hexdigest()[:10]


def request_tokens(request: GenerationRequest) -> int:
    """An upper bound of the tokens one call enqueues: its input, thinking and images."""
    price = pricing_of(request.model)
    size = request.size.value if request.size else "1K"
    per_image = (price.image_output_tokens.get(size) if price else None) or 2520
    images = sum(
        INPUT_IMAGE_TOKENS[r.media_resolution or request.media_resolution or "high"]
        for r in request.references
    )
    chars = len(request.prompt) + len(request.system_instruction or "")
    return (
        -(-chars // CHARS_PER_TOKEN)
        + images
        + ESTIMATED_THINKING_TOKENS
        + request.expected_images * per_image
    )


def request_bytes(request: GenerationRequest) -> int:
    """An upper bound of one JSONL line's bytes, known without reading a reference."""
    total = _LINE_OVERHEAD + 2 * (len(request.prompt) + len(request.system_instruction or ""))
    for ref in request.references:
        source = ref.source
        if isinstance(source, bytes | bytearray | memoryview):
            size = len(source)
        elif isinstance(source, str | os.PathLike):
            try:
                size = os.stat(source).st_size
            except OSError:
                size = MAX_INLINE_IMAGE_BYTES
        else:
            size = MAX_INLINE_IMAGE_BYTES
        total += -(-size // 3) * 4 + 1024
    return total


@dataclass
class _Open:
    shard: Shard
    keys: Any  # a hashlib object over the keys
    est_bytes: int = 0


class ShardWriter:
    """Reads requests lazily and writes each shard's JSONL (and heads) to a spool folder.

    Disk and CPU work only: a flow calls `next` through an `Offload` step.

    Args:
        requests: The run's requests, read one at a time (an iterator is read once).
        spool: A folder for the shards' files.
        limits: How shards are cut.
        is_done: Whether a key is recorded already (its request is not written).
        run: The run id, in every shard's display name.
        vertex: Build calls for Vertex AI.
    """

    def __init__(
        self,
        requests: Iterable[GenerationRequest | Invalid],
        spool: Path,
        limits: ShardLimits,
        is_done: Callable[[str], bool],
        run: str,
        vertex: bool = False,
        prefix: str = "nanobanana",
    ) -> None:
        self.invalid: list[Invalid] = []
        """Items that were not requests, not yet reported."""
        self._items = _expand(requests, self.invalid)
        self.spool, self.limits, self.is_done = spool, limits, is_done
        self.run, self.vertex, self.prefix = run, vertex, prefix
        self._open: dict[str, _Open] = {}
        self._ready: collections.deque[Shard] = collections.deque()
        self._count = 0
        self.requests = 0
        """Keys read so far."""
        self.done_before = 0
        """Keys read that an earlier run finished."""
        self.failed_before = 0
        """Keys read that an earlier run found would fail again (a block): not sent."""
        self.failed_for_good: Callable[[str], bool] = lambda key: False
        self._ended = False

    def next(self) -> Shard | None:
        """The next full shard, its files closed; ``None`` when every request is in one."""
        while not self._ready and not self._ended:
            item = next(self._items, None)
            if item is None:
                self._ended = True
                for model in list(self._open):
                    self._close(model)
                break
            self._add(*item)
        return self._ready.popleft() if self._ready else None

    def _add(self, index: int, request: GenerationRequest, key: str) -> None:
        model = request.model
        tokens, size = request_tokens(request), request_bytes(request)
        limit = self.limits.tokens(model)
        if tokens > limit or size > self.limits.limits.input_file_bytes:
            raise InvalidRequestError(
                f"request #{index + 1} alone is larger than one batch job may be "
                f"({tokens:,} tokens of {limit:,} enqueued at tier {self.limits.tier}, or "
                f"{size:,} bytes): send it with generate() instead"
            )
        current = self._open.get(model)
        if current is not None and (
            current.shard.total + 1 > self.limits.max_requests
            or current.shard.tokens + tokens > limit
            or current.est_bytes + size > self.limits.limits.input_file_bytes
        ):
            self._close(model)
            current = None
        if current is None:
            shard = Shard(self._count, model, "", 0)
            self._count += 1
            current = self._open[model] = _Open(shard, hashlib.sha256(model.encode()))
        shard = current.shard
        shard.total += 1
        shard.tokens += tokens
        current.est_bytes += size
        current.keys.update(key.encode() + b"\0")
        self.requests += 1
        if self.is_done(key):
            if self.failed_for_good(key):
                self.failed_before += 1
            else:
                self.done_before += 1
            return
        if shard.path is None:
            shard.path = self.spool / f"shard-{shard.index:05d}.jsonl"
            shard.heads = self.spool / f"shard-{shard.index:05d}.heads"
        assert shard.heads is not None
        call = build(request, prepare_references(request), vertex=self.vertex)
        line = json.dumps({"key": key, "request": _rest(call)}).encode() + b"\n"
        head = request.model_dump(mode="json", exclude={"references"})
        # appended and closed at once: a run stopped at any point leaves no file open
        with open(shard.path, "ab") as out, open(shard.heads, "ab") as heads:
            out.write(line)
            heads.write(json.dumps([key, index, head]).encode() + b"\n")
        shard.bytes += len(line)
        shard.count += 1

    def _close(self, model: str) -> None:
        current = self._open.pop(model)
        shard = current.shard
        if shard.bytes > self.limits.limits.input_file_bytes:
            raise InvalidRequestError(
                f"shard {shard.index}'s input file came to {shard.bytes:,} bytes, over the "
                f"Batch API's {self.limits.limits.input_file_bytes:,}: pass a smaller shard_size"
            )
        shard.digest = current.keys.hexdigest()[:16]
        shard.display_name = f"{self.prefix}-{self.run}-{shard.digest}"
        self._ready.append(shard)


def _expand(
    requests: Iterable[GenerationRequest | Invalid], invalid: list[Invalid]
) -> Iterator[tuple[int, GenerationRequest, str]]:
    """`manifest.expand`, lazily: each copy and repeat its own key, in the order given.

    Keys met are kept as their hashes (a repeat's count by key): small for 100,000. Items
    that are not requests go to ``invalid``.
    """
    seen: set[int] = set()
    repeats: collections.Counter[str] = collections.Counter()
    for index, request in enumerate(requests):
        if isinstance(request, Invalid):
            invalid.append(request)
            continue
        try:
            key = request_key(request)
        except NanoBananaError as exc:  # a reference that cannot be read
            invalid.append(Invalid(index, exc))
            continue
        for _ in range(request.n):
            if hash(key) not in seen:
                seen.add(hash(key))
                yield index, request, key
                continue
            repeats[key] += 1
            yield index, request, f"{key}-{repeats[key] + 1}"


def checked(
    items: Iterable[GenerationRequest | Any], make: Callable[[Any], GenerationRequest]
) -> Iterable[GenerationRequest | Invalid]:
    """The run's input as `generate_many` takes it (`for_run`).

    A list is checked whole before anything is sent; any other iterable is drawn one item at
    a time (never a list), an item that is not a valid request yielded as `Invalid`: it is
    reported as failed, and the rest run.

    Raises:
        InvalidRequestError: An item of a list is not a valid request (named by its number).
    """
    from .._runs.runner import for_run

    return for_run(items, make)


class _Heads(Mapping[str, tuple[int, GenerationRequest]]):
    """One shard's requests by key, kept as compact JSON and rebuilt (without references)."""

    def __init__(self, path: Path | None) -> None:
        self._raw: dict[str, bytes] = {}
        if path is not None and path.exists():
            with open(path, "rb") as handle:
                for line in handle:
                    key = json.loads(line)[0]
                    self._raw[key] = line

    def __getitem__(self, key: str) -> tuple[int, GenerationRequest]:
        _, index, head = json.loads(self._raw[key])
        return int(index), GenerationRequest.model_validate(head)

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


@dataclass
class BatchRunReport(RunReport):
    """What `nb.batch.run` did; per-request detail is in the manifest (or the records)."""

    jobs: list[str] = field(default_factory=list)
    """Names of the API jobs this run created or attached to."""
    shards: int = 0
    """Shards the requests were cut into (those fully recorded before included)."""
    attached: int = 0
    """Jobs an earlier run had created, found again (by their display name) and read."""
    failed_jobs: list[dict[str, Any]] = field(default_factory=list)
    """Jobs that failed, expired or were cancelled: their requests are tried by a re-run."""


class _Sink:
    """Where a run's results go: a folder's manifest or a store's records (disk work only)."""

    def __init__(self, out: Path | ObjectOut) -> None:
        self.out = out
        if isinstance(out, ObjectOut):
            self.manifest: Manifest | RecordManifest = RecordManifest(out)
        else:
            out.mkdir(parents=True, exist_ok=True)
            self.manifest = Manifest(out / MANIFEST_NAME)

    def record_job(self, shard: Shard, job: str) -> None:
        self.manifest.append({"type": "batch_job", "name": job, "model": shard.model,
                              "shard": shard.digest, "display_name": shard.display_name,
                              "requests": shard.count})  # fmt: skip

    def record(self, core: JobCore[Any], shard: Shard, lines: list[dict[str, Any]], start: int
               ) -> list[dict[str, Any]]:  # fmt: skip
        """Parses, saves and records one chunk of result lines; returns its new entries."""
        entries = []
        for key, outcome in core._outcomes(lines, start=start):
            if self.manifest.is_done(key):
                continue  # recorded before a kill: never saved twice
            index, request = core.requests.get(key, (-1, None))
            head = entry_head(request, key, index)
            entries.append(self._entry(head, outcome))
        if not entries:
            return entries
        if isinstance(self.manifest, RecordManifest):
            tag = hashlib.sha256("".join(e["key"] for e in entries).encode()).hexdigest()[:12]
            self.manifest.append_shard(f"batch-{shard.digest}-{tag}", entries)
        else:
            for entry in entries:
                self.manifest.append(entry)
        return entries

    def _entry(self, head: dict[str, Any], outcome: Result | NanoBananaError) -> dict[str, Any]:
        if isinstance(outcome, NanoBananaError):
            return failure_entry(head, outcome)
        try:
            return success_entry(head, outcome, self.out)
        except OSError as exc:  # disk full: billed, so recorded to be asked again
            return unsaved_entry(head, outcome, exc)


def _unlink(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def run_flow(
    transport: Any,
    requests: Iterable[GenerationRequest | Invalid],
    out: Path | ObjectOut,
    limits: ShardLimits,
    spool: Path,
    display_name: str | None = None,
) -> Flow:
    """Submits, waits for and records every shard of a run; returns its `BatchRunReport`.

    ``spool`` is an empty folder for the shards' files (the caller removes it afterwards).
    """
    policy: RetryPolicy = transport.policy
    sink: _Sink = yield Offload(_Sink, (out,))
    manifest = sink.manifest
    where = out if isinstance(out, Path) else out.url
    report = BatchRunReport(where, spent_before=manifest.spent)
    run = run_id(out)
    prefix = display_name or "nanobanana"
    recorded = {str(j.get("shard")): str(j["name"]) for j in manifest.jobs if j.get("shard")}
    listed: dict[str, list[Any]] = collections.defaultdict(list)
    for job in (yield from list_flow("batches.list", policy)):
        if str(job.display_name or "").startswith(f"{prefix}-{run}-"):
            listed[str(job.display_name)].append(job)
    writer = ShardWriter(requests, spool, limits, manifest.is_done, run, transport.vertex, prefix)
    writer.failed_for_good = manifest.failed_for_good
    flying: dict[str, Shard] = {}
    upcoming: Shard | None = None
    exhausted = False
    started = policy.clock()
    interval = _POLL_START
    while True:
        # Submit (or attach) while the next shard fits beside those in flight.
        while not exhausted:
            if upcoming is None:
                upcoming = yield Offload(writer.next)
                _invalid(report, writer.invalid)
                if upcoming is None:
                    exhausted = True
                    break
                report.shards += 1
                if upcoming.count == 0:  # every key recorded before
                    yield Offload(_unlink, (upcoming.heads,))
                    upcoming = None
                    continue
            if not _fits(upcoming, flying.values(), limits):
                break
            shard, upcoming = upcoming, None
            job = yield from _find_or_submit(shard, recorded, listed, sink, policy, report)
            flying[str(job.name)] = shard
            report.jobs.append(str(job.name))
        report.done_before, report.failed_before = writer.done_before, writer.failed_before
        if not flying:
            break
        # Wait for a job to end; read each that has, shard by shard.
        ended = []
        for name in list(flying):
            job = yield from attempt(Op("batches.get", {"name": name}), policy)
            if _state(job) in TERMINAL:
                ended.append(job)
        for job in ended:
            shard = flying.pop(str(job.name))
            yield from _collect(transport, job, shard, sink, out, report)
        if not ended:
            yield Sleep(interval)
            interval = min(_POLL_MAX, interval * 1.5)
        else:
            interval = _POLL_START
        report.seconds = policy.clock() - started
    report.seconds = policy.clock() - started
    return report


def _fits(shard: Shard, flying: Iterable[Shard], limits: ShardLimits) -> bool:
    """Whether a shard may be submitted beside those in flight (always, when none are)."""
    flying = list(flying)
    if not flying:
        return True
    api = limits.limits
    tokens = sum(s.tokens for s in flying if s.model == shard.model)
    return (
        len(flying) < api.concurrent_jobs
        and tokens + shard.tokens <= limits.tokens(shard.model)
        and sum(s.bytes for s in flying) + shard.bytes <= api.storage_bytes
    )


def _find_or_submit(
    shard: Shard,
    recorded: dict[str, str],
    listed: dict[str, list[Any]],
    sink: _Sink,
    policy: RetryPolicy,
    report: BatchRunReport,
) -> Flow:
    """The shard's live job if an earlier run made one (recorded or not), else a new one."""
    from google.genai import types

    candidates = list(listed.get(shard.display_name, ()))
    if shard.digest in recorded and not any(str(j.name) == recorded[shard.digest]
                                            for j in candidates):  # fmt: skip
        op = Op("batches.get", {"name": recorded[shard.digest]})
        candidates.append((yield from attempt(op, policy)))
    live = [j for j in candidates if _state(j) not in TERMINAL - {"JOB_STATE_SUCCEEDED"}]
    if live:  # attached: its requests were paid for once already
        job = live[0]
        if shard.digest not in recorded:
            yield Offload(sink.record_job, (shard, str(job.name)))
        report.attached += 1
        yield Offload(_unlink, (shard.path,))
        return job
    upload = types.UploadFileConfig(mime_type="jsonl", display_name=shard.display_name)
    op = Op("files.upload", {"file": str(shard.path), "config": upload})
    file = yield from attempt(op, policy)
    shard.file = str(file.name)
    yield Offload(_unlink, (shard.path,))
    config = types.CreateBatchJobConfig(display_name=shard.display_name)
    create = Op("batches.create", {"model": shard.model, "src": shard.file, "config": config},
                False)  # fmt: skip
    job = yield from attempt(create, policy)
    yield Offload(sink.record_job, (shard, str(job.name)))
    return job


def _collect(
    transport: Any,
    job: types.BatchJob,
    shard: Shard,
    sink: _Sink,
    out: Path | ObjectOut,
    report: BatchRunReport,
) -> Flow:
    """Streams one ended job's results into the output, a chunk of lines at a time."""
    policy: RetryPolicy = transport.policy
    state = _state(job)
    if state != "JOB_STATE_SUCCEEDED" or job.dest is None or not job.dest.file_name:
        report.failed += shard.count
        report.failed_jobs.append({"job": str(job.name), "state": state,
                                   "requests": shard.count, "shard": shard.digest})  # fmt: skip
    else:
        heads = yield Offload(_Heads, (shard.heads,))
        core: JobCore[Any] = JobCore(transport, [str(job.name)], heads, None)
        spool = yield Offload(tempfile.TemporaryFile)
        try:
            yield from core._download(job.dest.file_name, spool)
            seen = 0
            while lines := (yield Offload(_read_lines, (spool, CHUNK_LINES))):
                entries = yield Offload(sink.record, (core, shard, lines, seen))
                seen += len(lines)
                for entry in entries:
                    _tally(report, entry)
        finally:
            spool.close()
    yield Offload(_unlink, (shard.heads,))
    if shard.file:  # our input file: batch storage is limited (20 GB)
        with contextlib.suppress(NanoBananaError):  # else the Files API deletes it in 48 h
            yield from attempt(Op("files.delete", {"name": shard.file}), policy)


def _invalid(report: BatchRunReport, items: list[Invalid]) -> None:
    """Items of the input that were not requests: failed, named by their number."""
    for item in items:
        report.failed += 1
        message = f"request #{item.index + 1}: {item.error}"
        error = {"type": type(item.error).__name__, "message": message}
        failure = {"index": item.index, "status": "failed", "transient": False, "error": error}
        report.failures.append(cast(RunFailure, failure))
    items.clear()


def _tally(report: BatchRunReport, entry: dict[str, Any]) -> None:
    report.cost += float(entry.get("cost") or 0.0)
    if entry["status"] == "ok":
        report.done += 1
        report.images += len(entry["images"])
    else:
        report.failed += 1
        report.failures.append(cast(RunFailure, entry))
