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
import concurrent.futures
import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.flows import generate_flow
from .._core.wire import build
from .._errors import (
    InvalidRequestError,
    ManifestWriteError,
    NanoBananaError,
    QuotaExhaustedError,
)
from .._images.generated import TEMP_PREFIX, TEMP_SUFFIX, temp_file
from .._request.request import GenerationRequest, Reference
from .._request.types import PromptLike
from .._transport import AsyncTransport
from .lock import FolderLock
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

__all__ = ["RunReport", "as_requests", "run_in_thread", "run_many"]

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

    out_dir: Path
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
    def manifest(self) -> Path:
        return self.out_dir / MANIFEST_NAME

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
    out_dir: Path,
    concurrency: int | None,
    rpm: int | None,
    ipm: int | None,
    max_cost: float | None,
    progress: bool | None,
    stop: threading.Event | None = None,
    wait: float = 0,
) -> RunReport:
    """The runner behind both ``generate_many`` entry points: one run per folder at a time.

    Raises:
        FolderInUseError: Another writer held ``out_dir`` for longer than ``wait`` seconds.
    """
    _check_run_options(requests, concurrency, rpm, ipm, max_cost)
    lock = FolderLock(out_dir, wait=wait)
    await transport.offload(_prepare_folder, out_dir)
    await transport.offload(lock.acquire)
    try:
        return await _run(transport, requests, out_dir, concurrency, rpm, ipm, max_cost,
                          progress, stop)  # fmt: skip
    finally:
        lock.release()


#: A temporary file of ours older than this was left by a killed process.
_STALE_TEMP = 600.0


def _clean_temporary_files(out_dir: Path) -> None:
    """Removes the half-written temporary files of a killed run: the SDK's own names only."""
    now = time.time()
    for stale in out_dir.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if stale.is_file() and now - stale.stat().st_mtime > _STALE_TEMP:
                stale.unlink()


def _prepare_folder(out_dir: Path) -> None:
    """Makes ``out_dir`` and proves it writable, before any request is paid for.

    Raises:
        InvalidRequestError: It is a file, or it cannot be made or written.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidRequestError(
            f"out_dir {out_dir} is a file, not a folder: a run writes a folder of images and "
            "its manifest. Nothing was sent. Give a folder (it is made if missing)"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = temp_file(out_dir, "probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidRequestError(
            f"out_dir {out_dir} cannot be written ({exc.strerror or exc}): nothing was sent. "
            "Give a folder you can write to"
        ) from None


async def _run(
    transport: AsyncTransport,
    requests: Sequence[GenerationRequest],
    out_dir: Path,
    concurrency: int | None,
    rpm: int | None,
    ipm: int | None,
    max_cost: float | None,
    progress: bool | None,
    stop: threading.Event | None,
) -> RunReport:
    clock = transport.policy.clock
    await transport.offload(_clean_temporary_files, out_dir)
    manifest = Manifest(out_dir / MANIFEST_NAME)
    report = RunReport(out_dir, spent_before=manifest.spent)
    limiter = RateLimiter(rpm, ipm, clock)
    first = requests[0]
    pacer = Pacer(first.model, first.size.value if first.size else None,
                  first.expected_images, rpm, ipm, concurrency)  # fmt: skip
    items = await transport.offload(expand, requests)
    try:  # what this run sets out to do (the gallery's "not started"); a first write, unpaid
        manifest.append({"type": "run", "requests": len(items), "at": _now()})
    except OSError as exc:
        raise InvalidRequestError(
            f"{manifest.path} cannot be written ({exc.strerror or exc}): nothing was sent. "
            "Free space, or give an out_dir you can write to"
        ) from None
    queue = _to_do(items, manifest, report)
    bar = _Progress(progress, len(items))
    committed = manifest.spent  # spend so far, plus the estimates of requests in flight
    started = clock()
    pending: set[asyncio.Task[tuple[dict[str, Any], float, float | None]]] = set()
    calls: dict[str, float] = {}  # key -> when its request went out (after the limiter)
    recorder = _Recorder(manifest)

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
                _one(transport, request, key, index, out_dir, limiter, estimate, calls)
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
            if (failed := recorder.record(entry)) is not None:
                leave(failed)
            if took is not None:
                pacer.observe(took)
            reason = _tally(report, entry)
            if reason is not None:
                leave(reason)
        report.seconds = clock() - started
        bar.show(report, len(pending))
    report.seconds = clock() - started
    bar.show(report, 0, final=True)
    if recorder.error is not None:
        kept = await transport.offload(manifest.keep_unrecorded, recorder.unrecorded)
        raise _unrecorded_error(manifest, recorder.unrecorded, kept, recorder.error, report)
    return report


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _to_do(
    items: list[tuple[int, GenerationRequest, str]], manifest: Manifest, report: RunReport
) -> collections.deque[tuple[int, GenerationRequest, str]]:
    """The items an earlier run did not settle; counts the others in ``report``."""
    queue: collections.deque[tuple[int, GenerationRequest, str]] = collections.deque()
    for item in items:
        if manifest.failed_for_good(item[2]):
            report.failed_before += 1
        elif manifest.is_done(item[2]):
            report.done_before += 1
        else:
            queue.append(item)
    return queue


class _Recorder:
    """Writes finished items to the manifest; after a failed write, keeps them aside."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.unrecorded: list[dict[str, Any]] = []  # finished, paid for, not in the manifest
        self.error: OSError | None = None

    def record(self, entry: dict[str, Any]) -> str | None:
        """Records one entry; returns why the run must start nothing more, if it must."""
        if self.error is not None:  # in order, aside, once the manifest failed
            self.unrecorded.append(entry)
            return None
        try:
            self.manifest.append(entry)
        except OSError as exc:
            self.unrecorded.append(entry)
            self.error = exc
            return f"the manifest could not be written ({exc.strerror or exc})"
        return None


def _unrecorded_error(
    manifest: Manifest, entries: list[dict[str, Any]], kept: Path | None, error: OSError,
    report: RunReport,
) -> ManifestWriteError:  # fmt: skip
    """Says where the answers are that were paid for but could not be recorded."""
    images = [name for e in entries for name in e.get("images", [])]
    where = (
        f"their records are in {kept}, which the next run adds to the manifest (nothing is "
        "paid twice)" if kept else
        "their records could not be written anywhere either: they are in this error's "
        ".entries; until the manifest has them, a re-run would ask for them again"
    )  # fmt: skip
    saved = f"{len(images)} image(s) saved in {manifest.path.parent}" + (
        f" ({', '.join(images[:5])}{', ...' if len(images) > 5 else ''})" if images else ""
    )
    return ManifestWriteError(
        f"{manifest.path} could not be written ({error.strerror or error}): the run started "
        f"nothing more and waited for the {len(entries)} answer(s) in flight: {saved}; "
        f"{where}. {report.not_started} request(s) were not started. Free space (or fix the "
        "folder) and run again to do the rest",
        path=str(manifest.path), entries=entries, kept=str(kept) if kept else None,
        report=report,
    )  # fmt: skip


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


async def _one(
    transport: AsyncTransport,
    request: GenerationRequest,
    key: str,
    index: int,
    out_dir: Path,
    limiter: RateLimiter,
    estimate: float,
    calls: dict[str, float],
) -> tuple[dict[str, Any], float, float | None]:
    """One item, start to saved.

    Returns its manifest entry, its cost estimate, and how long its call took (``None``: it
    never went out).
    """
    count = request.expected_images
    clock = transport.policy.clock
    head = entry_head(request, key, index)
    try:
        prepared = await transport.offload(request.prepare_references)
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

    The caller waits on the work's own completion (a `Future`), never on the thread's
    ``is_alive()``: on CPython before 3.13 a ``join()`` interrupted by Ctrl-C marks the thread
    stopped while it still runs, and the answers in flight would be dropped.
    """
    loop = asyncio.new_event_loop()
    stop = stop or threading.Event()
    outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()
    finished = threading.Event()  # set once the outcome is in and the loop closed
    task_ref: list[asyncio.Task[Any]] = []

    def target() -> None:
        async def main() -> Any:
            task_ref.append(asyncio.current_task())  # type: ignore[arg-type]
            return await make(stop)

        try:
            outcome.set_result(loop.run_until_complete(main()))
        except BaseException as exc:  # handed to the caller's thread
            outcome.set_exception(exc)
        finally:
            loop.close()
            finished.set()

    thread = threading.Thread(target=target, name="nanobanana-run", daemon=True)
    thread.start()
    try:
        try:
            _wait(finished)
        except KeyboardInterrupt:
            stop.set()
            sys.stderr.write(
                "\nStopping: no new requests; waiting for the answers already paid for. "
                "Ctrl-C again to abort.\n"
            )
            _wait(finished)
    except KeyboardInterrupt:
        if task_ref and not finished.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task_ref[0].cancel)
        finished.wait(5)
        raise
    return outcome.result()


def _wait(finished: threading.Event) -> None:
    """Waits for the work in short slices, so that Ctrl-C is seen at once on every platform."""
    while not finished.wait(0.1):
        pass


def as_requests(
    items: Iterable[GenerationRequest | PromptLike], make: Callable[[Any], GenerationRequest]
) -> list[GenerationRequest]:
    """Accepts `GenerationRequest` objects, prompts or templates; all checked before any is sent.

    A single prompt, template or request where many are expected is one request.

    A reference given as a file object is read here, once: a run hashes each request (to
    resume) before it sends it, and a file object cannot be read twice.
    """
    if isinstance(items, str | GenerationRequest) or hasattr(items, "render"):
        items = [items]  # type: ignore[list-item]  # one prompt, never its characters
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
        Reference(ref.load(i).data, kind=ref.kind)
        if callable(getattr(ref.source, "read", None))
        else ref
        for i, ref in enumerate(request.references)
    )
    return request.model_copy(update={"references": references})
