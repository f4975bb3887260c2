"""Many images: concurrent, within quota, streamed to disk, resumable, and capped in spend.

One runner (async). `AsyncNanoBanana.generate_many` awaits it; `NanoBanana.generate_many` runs
it on an event loop of its own in a worker thread (which, unlike ``asyncio.run`` on the
caller's thread, also works inside Jupyter's running loop).

Each finished request is written to the run's manifest (`_manifest`) as soon as its images are
saved; a re-run skips what is done there.
"""

from __future__ import annotations

import asyncio
import collections
import math
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.flows import generate_flow
from .._core.wire import build
from .._errors import InvalidRequestError, NanoBananaError, QuotaExhaustedError
from .._images.fit import prepare_references
from .._request.request import GenerationRequest
from .._request.types import PromptLike
from .._result.result import Result
from .._transport import AsyncTransport
from .manifest import (
    MANIFEST_NAME,
    Manifest,
    entry_head,
    expand,
    failure_entry,
    success_entry,
    unsaved_entry,
)
from .pacing import Pacer, RateLimiter
from .records import RecordManifest
from .store import ObjectOut

__all__ = ["RunReport", "as_requests", "run_in_thread", "run_many", "run_one"]

#: How often (real seconds) the runner looks at the calls still out, to raise its latency
#: estimate before any has come back (a 4K image takes minutes; the registry says typical).
_TICK = 0.1


@dataclass
class RunReport:
    """What a run did. Per-request detail is in the manifest.

    A re-run reports separately what it did now (``done``, ``failed``), what an earlier run
    did (``done_before``, ``failed_before``), and what it did not start (``not_started``,
    with ``stopped_by`` saying why).
    """

    out_dir: Path | str
    """The folder, or the URL (``gs://...``) of the run."""
    done: int = 0
    """Finished by this run."""
    failed: int = 0
    """Failed in this run (transient failures are tried again by the next run)."""
    done_before: int = 0
    """Finished by an earlier run: skipped."""
    failed_before: int = 0
    """Failed for good in an earlier run (a block, a bad request): not tried again."""
    not_started: int = 0
    """Not started: the spend cap, a quota that will not recover, or Ctrl-C (`stopped_by`)."""
    stopped_by: str | None = None
    """Why requests were left unstarted, when they were."""
    images: int = 0
    cost: float = 0.0
    """USD of this run's finished requests (earlier runs' spend is in the manifest)."""
    spent_before: float = 0.0
    """USD the manifest had recorded before this run: it counts against ``max_cost``."""
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Everything an earlier run settled (kept for 0.1 callers)."""
        return self.done_before + self.failed_before

    @property
    def manifest(self) -> Path | str:
        """The local manifest file, or (for a URL) where the records are."""
        if isinstance(self.out_dir, Path):
            return self.out_dir / MANIFEST_NAME
        return f"{self.out_dir}/records/"

    @property
    def images_per_minute(self) -> float:
        return self.images / self.seconds * 60 if self.seconds else 0.0


class _Progress:
    """One status line: on a terminal (stderr), in Jupyter (a display that updates), else silent."""

    def __init__(self, enabled: bool | None, total: int) -> None:
        self.total = total
        self.handle: Any = None
        self.tty = False
        if enabled is False:
            return
        if _in_jupyter():
            from importlib import import_module

            display = import_module("IPython.display").display  # only ever in a notebook
            self.handle = display("", display_id=True)
        else:
            self.tty = enabled is True or sys.stderr.isatty()

    def show(self, report: RunReport, in_flight: int, final: bool = False) -> None:
        line = (
            f"{report.done + report.skipped}/{self.total} done, {report.failed} failed, "
            f"{in_flight} in flight, {report.images_per_minute:.1f} images/min, "
            f"${report.cost:.2f} spent"
        )
        if self.handle is not None:
            self.handle.update(line)
        elif self.tty:
            sys.stderr.write(f"\r{line}" + ("\n" if final else ""))
            sys.stderr.flush()


def _in_jupyter() -> bool:
    shell = (
        sys.modules.get("IPython")
        and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    )
    return type(shell).__name__ == "ZMQInteractiveShell"


async def run_many(
    transport: AsyncTransport,
    requests: Sequence[GenerationRequest],
    *,
    out_dir: Path | ObjectOut,
    concurrency: int | None,
    rpm: int | None,
    ipm: int | None,
    max_cost: float | None,
    progress: bool | None,
    stop: threading.Event | None = None,
) -> RunReport:
    """The runner behind both ``generate_many`` entry points."""
    _check_run_options(requests, concurrency, rpm, ipm, max_cost)
    clock = transport.policy.clock
    manifest = await transport.offload(_open_manifest, out_dir)
    where = out_dir if isinstance(out_dir, Path) else out_dir.url
    report = RunReport(where, spent_before=manifest.spent)
    limiter = RateLimiter(rpm, ipm, clock)
    first = requests[0]
    pacer = Pacer(first.model, first.size.value if first.size else None,
                  first.expected_images, rpm, ipm, concurrency)  # fmt: skip
    items = await transport.offload(expand, requests)
    queue: collections.deque[tuple[int, GenerationRequest, str]] = collections.deque()
    for item in items:
        if manifest.failed_for_good(item[2]):
            report.failed_before += 1
        elif manifest.is_done(item[2]):
            report.done_before += 1
        else:
            queue.append(item)
    bar = _Progress(progress, len(items))
    committed = manifest.spent  # spend so far, plus the estimates of requests in flight
    started = clock()
    pending: set[asyncio.Task[tuple[dict[str, Any], float, float | None]]] = set()
    calls: dict[str, float] = {}  # key -> when its request went out (after the limiter)

    def leave(reason: str) -> None:
        report.not_started += len(queue)
        report.stopped_by = report.stopped_by or reason
        queue.clear()

    while queue or pending:
        while queue and len(pending) < pacer.limit():
            if stop is not None and stop.is_set():
                leave("interrupted (Ctrl-C): answers already paid for were waited for")
                break
            index, request, key = queue[0]
            estimate = request.estimated_cost() or 0.0
            if max_cost is not None and committed + estimate > max_cost:
                leave(f"the spend cap: ${committed:.3f} spent or committed of max_cost "
                      f"${max_cost:.2f}; a re-run with a higher cap does the rest")  # fmt: skip
                break
            queue.popleft()
            committed += estimate
            pending.add(asyncio.create_task(
                run_one(transport, request, key, index, out_dir, limiter, estimate, calls)
            ))  # fmt: skip
        if not pending:
            break
        finished, pending = await asyncio.wait(
            pending, timeout=_TICK, return_when=asyncio.FIRST_COMPLETED
        )
        if calls:  # the oldest call still out says the latency is at least its age
            pacer.at_least(clock() - min(calls.values()))
        for task in finished:
            entry, estimate, took = task.result()
            committed += entry.get("cost", 0.0) - estimate
            manifest.append(entry)
            if took is not None:
                pacer.observe(took)
            reason = _tally(report, entry)
            if reason is not None:
                leave(reason)
        report.seconds = clock() - started
        bar.show(report, len(pending))
    report.seconds = clock() - started
    bar.show(report, 0, final=True)
    return report


def _open_manifest(out_dir: Path | ObjectOut) -> Manifest | RecordManifest:
    """A folder's manifest, or a URL's records (one create-only object per item)."""
    if isinstance(out_dir, ObjectOut):
        return RecordManifest(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".*.part"):  # a killed run's half-written temporary files
        stale.unlink(missing_ok=True)
    return Manifest(out_dir / MANIFEST_NAME)


def _retrying(
    limiter: RateLimiter, calls: dict[str, float], key: str, count: int, error: BaseException,
    wait: float,
) -> None:  # fmt: skip
    """A retry is another request: the limiter books it, and its call is timed from then."""
    limiter.on_retry(error, wait, count)
    calls[key] = limiter.clock() + wait


def _tally(report: RunReport, entry: dict[str, Any]) -> str | None:
    """Counts one finished item; returns why the run must start nothing more, if it must."""
    if entry["status"] == "ok":
        report.done += 1
        report.images += len(entry["images"])
        report.cost += entry.get("cost", 0.0)
        return None
    report.failed += 1
    report.failures.append(entry)
    if entry["error"]["type"] == QuotaExhaustedError.__name__:
        return f"a quota that will not recover: {entry['error']['message']}"
    return None


async def run_one(
    transport: AsyncTransport,
    request: GenerationRequest,
    key: str,
    index: int,
    out_dir: Path | ObjectOut,
    limiter: RateLimiter,
    estimate: float,
    calls: dict[str, float],
    on_result: Callable[[Result], None] | None = None,
) -> tuple[dict[str, Any], float, float | None]:
    """One item, start to saved: the per-item path of `run_many`, also the MCP server's.

    Returns its manifest entry, its cost estimate, and how long its call took (``None``: it
    never went out). ``on_result`` sees the answer before it is saved (the MCP server shows
    its text and grounding). ``calls`` holds the item's key while its request is out.
    """
    count = request.expected_images
    clock = transport.policy.clock
    head = entry_head(request, key, index)
    try:
        prepared = await transport.offload(prepare_references, request)
        call = build(request, prepared, vertex=transport.vertex)
        # Take the quota slot as late as possible: right before the request goes out.
        while (wait := limiter.wait_time(count)) > 0:
            await transport.policy.asleep(wait)
        limiter.acquire(count)
        calls[key] = clock()
        flow = generate_flow(
            call,
            transport.policy,
            on_retry=lambda error, wait: _retrying(limiter, calls, key, count, error, wait),
        )
        result = await transport.run(flow)
    except NanoBananaError as exc:
        sent = calls.pop(key, None)
        return failure_entry(head, exc), estimate, None if sent is None else clock() - sent
    took = clock() - calls.pop(key)
    limiter.on_success()
    if on_result is not None:
        on_result(result)
    try:
        return await transport.offload(success_entry, head, result, out_dir), estimate, took
    except OSError as exc:  # disk full, a folder in the way: this item's problem only
        return unsaved_entry(head, result, exc), estimate, took


def _check_run_options(
    requests: Sequence[GenerationRequest],
    concurrency: int | None,
    rpm: int | None,
    ipm: int | None,
    max_cost: float | None,
) -> None:
    if concurrency is not None and concurrency < 1:
        raise InvalidRequestError(f"concurrency must be at least 1 or None, got {concurrency}")
    for name, value in (("rpm", rpm), ("ipm", ipm)):
        if value is not None and value < 1:
            raise InvalidRequestError(
                f"{name} must be a positive number per minute or None, got {value}"
            )
    if max_cost is None:
        return
    if not isinstance(max_cost, int | float) or not math.isfinite(max_cost) or max_cost < 0:
        raise InvalidRequestError(
            f"max_cost must be a finite USD amount of 0 or more, got {max_cost!r}"
        )
    unpriced = sorted({r.model for r in requests if r.estimated_cost() is None})
    if unpriced:
        raise InvalidRequestError(
            f"max_cost cannot be kept for {', '.join(unpriced)}: the registry has no price for "
            "it, so its spend cannot be estimated. Drop max_cost, or use a priced model "
            "(nb.models() lists them with their prices)"
        )


def run_in_thread(
    make: Callable[[threading.Event], Awaitable[Any]], stop: threading.Event | None = None
) -> Any:
    """Runs a coroutine on a fresh event loop in a daemon thread and waits for it.

    Works where ``asyncio.run`` cannot (a notebook's running loop). The first Ctrl-C sets the
    stop event the coroutine is given: no new request starts, and the answers already paid
    for are waited for and saved. A second Ctrl-C cancels the run; what finished is in the
    manifest, and a re-run continues from there.
    """
    loop = asyncio.new_event_loop()
    stop = stop or threading.Event()
    outcome: dict[str, Any] = {}
    task_ref: list[asyncio.Task[Any]] = []

    def target() -> None:
        async def main() -> Any:
            task_ref.append(asyncio.current_task())  # type: ignore[arg-type]
            return await make(stop)

        try:
            outcome["value"] = loop.run_until_complete(main())
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            loop.close()

    thread = threading.Thread(target=target, name="nanobanana-run", daemon=True)
    thread.start()
    try:
        try:
            while thread.is_alive():
                thread.join(0.1)
        except KeyboardInterrupt:
            stop.set()
            sys.stderr.write(
                "\nStopping: no new requests; waiting for the answers already paid for. "
                "Ctrl-C again to abort.\n"
            )
            while thread.is_alive():
                thread.join(0.1)
    except KeyboardInterrupt:
        if task_ref:
            loop.call_soon_threadsafe(task_ref[0].cancel)
        thread.join(5)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def as_requests(
    items: Iterable[GenerationRequest | PromptLike], make: Callable[[Any], GenerationRequest]
) -> list[GenerationRequest]:
    """Accepts `GenerationRequest` objects, prompts or templates; all checked before any is sent.

    A reference given as a file object is read here, once: a run hashes each request (to
    resume) before it sends it, and a file object cannot be read twice.
    """
    requests = []
    for i, item in enumerate(items):
        try:
            request = item if isinstance(item, GenerationRequest) else make(item)
            requests.append(_read_file_objects(request))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"request #{i + 1}: {exc}") from None
    if not requests:
        raise InvalidRequestError("generate_many needs at least one request")
    return requests


def _read_file_objects(request: GenerationRequest) -> GenerationRequest:
    if not any(callable(getattr(r.source, "read", None)) for r in request.references):
        return request
    references = tuple(
        ref.model_copy(update={"source": ref.load(i).data})
        if callable(getattr(ref.source, "read", None))
        else ref
        for i, ref in enumerate(request.references)
    )
    return request.model_copy(update={"references": references})
