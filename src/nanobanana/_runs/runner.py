"""Many images: concurrent, within quota, streamed to disk, resumable, and capped in spend.

One runner (async). `AsyncNanoBanana.generate_many` awaits it; `NanoBanana.generate_many` runs
it on an event loop of its own in a worker thread (which, unlike ``asyncio.run`` on the
caller's thread, also works inside Jupyter's running loop).

Each finished request is written to the run's manifest (`_runs.manifest`) as soon as its images are
saved; a re-run skips what is done there.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import itertools
import math
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from .._core.interactions import generation
from .._errors import (
    InvalidRequestError,
    ManifestWriteError,
    NanoBananaError,
    QuotaExhaustedError,
)
from .._images.bytes import ImageBytes
from .._images.fit import (
    fit_images,
    read_images,
    reference_long_side,
    reference_sources,
    text_bytes,
)
from .._images.generated import TEMP_PREFIX, TEMP_SUFFIX, temp_file
from .._images.linked import LinkedImage
from .._images.read import check_source
from .._request.request import GenerationRequest
from .._request.types import PromptLike
from .._result.result import Result
from .._transport import AsyncTransport
from .lock import FolderLock
from .manifest import (
    MANIFEST_NAME,
    Manifest,
    RunFailure,
    entry_head,
    failure_entry,
    reference_digests,
    request_key,
    success_entry,
    unfetched_entry,
    unsaved_entry,
)
from .pacing import Pacer, RateLimiter
from .records import RecordManifest
from .store import ObjectOut

__all__ = ["Invalid", "RunReport", "as_requests", "for_run", "iter_requests", "run_in_thread",
           "run_many", "run_one"]  # fmt: skip

#: How often (real seconds) the runner looks at the calls still out, to raise its latency
#: estimate before any has come back (a 4K image takes minutes; the registry says typical).
_TICK = 0.1
#: Answers up to this size are saved on the event loop; larger ones in a worker thread.
_INLINE_SAVE_BYTES = 4_000_000


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
    failures: list[RunFailure] = field(default_factory=list)
    """Each request this run could not finish, as the manifest records it."""

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

    def __init__(self, enabled: bool | None, total: int | None) -> None:
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
            f"{report.done + report.skipped}{'' if self.total is None else f'/{self.total}'} "
            f"done, {report.failed} failed, "
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


@dataclass(frozen=True)
class Invalid:
    """An item of a lazy input that could not become a request: recorded as failed."""

    index: int
    error: NanoBananaError


#: One item to send: its index in the input, the request, its key, and its images as fitted.
_Item = tuple[int, GenerationRequest, str, list[ImageBytes]]


class _Feed:
    """Draws items from the input as the run has room for them: never the whole input at once.

    A request's references are read here, once, in one worker thread: the key is hashed
    from that read's digests, and the same bytes are fitted and sent.
    """

    def __init__(
        self,
        transport: AsyncTransport,
        source: Iterator[GenerationRequest | Invalid],
        manifest: Manifest | RecordManifest,
        report: RunReport,
        max_cost: float | None,
    ) -> None:
        self.transport, self.source, self.manifest = transport, source, manifest
        self.report, self.max_cost = report, max_cost
        self.backlog: collections.deque[_Item] = collections.deque()
        self.seen: set[int] = set()  # hashes of the keys met (a repeat is keyed apart)
        self.repeats: collections.Counter[str] = collections.Counter()
        self.drawn = 0
        self.exhausted = False

    async def next(self) -> _Item | None:
        """The next item to start, or ``None`` when the input is used up."""
        while not self.backlog:
            try:
                item = next(self.source)
            except StopIteration:
                self.exhausted = True
                return None
            index, self.drawn = self.drawn, self.drawn + 1
            if isinstance(item, Invalid):
                self._invalid(item)
                continue
            if self.max_cost is not None and item.estimated_cost() is None:
                self._invalid(Invalid(index, _unpriced([item.model])))
                continue
            try:
                key, images = (
                    await self.transport.offload(_read_and_fit, item)
                    if item.references
                    else (request_key(item, ()), [])
                )
            except NanoBananaError as exc:
                self._invalid(Invalid(index, exc))
                continue
            for _ in range(item.n):
                k = self._occurrence(key)
                each = key if k == 1 else f"{key}-{k}"
                if self.manifest.failed_for_good(each):
                    self.report.failed_before += 1
                elif self.manifest.is_done(each):
                    self.report.done_before += 1
                else:
                    self.backlog.append((index, item, each, images))
        return self.backlog.popleft()

    def _occurrence(self, key: str) -> int:
        """1 the first time a key is met in this run, then 2, 3...; kept small for the many."""
        h = hash(key)
        if h not in self.seen:
            self.seen.add(h)
            return 1
        self.repeats[key] += 1
        return self.repeats[key] + 1

    def _invalid(self, item: Invalid) -> None:
        label = f"request #{item.index + 1}: "
        self.report.failed += 1
        self.report.failures.append(
            {"index": item.index, "status": "failed", "transient": False,
             "error": {"type": type(item.error).__name__, "message": label + str(item.error)}}
        )  # fmt: skip

    def left(self, whole: bool) -> int:
        """Items not started.

        A lazy input's rest is not drawn (a re-run does it); a list's is counted, what an
        earlier run did told apart where no reference must be read.
        """
        count = len(self.backlog)
        self.backlog.clear()
        for item in self.source if whole else ():
            if isinstance(item, Invalid) or item.references:
                count += 0 if isinstance(item, Invalid) else item.n
                continue
            key = request_key(item, ())
            for _ in range(item.n):
                k = self._occurrence(key)
                each = key if k == 1 else f"{key}-{k}"
                if self.manifest.failed_for_good(each):
                    self.report.failed_before += 1
                elif self.manifest.is_done(each):
                    self.report.done_before += 1
                else:
                    count += 1
        return count


def _read_and_fit(request: GenerationRequest) -> tuple[str, list[ImageBytes]]:
    """The one read of a request's references: their key, and the images fitted to send."""
    read = read_images(reference_sources(request))
    key = request_key(request, reference_digests(read))
    long_side = reference_long_side(request.media_resolution)
    return key, fit_images(read, text_bytes=text_bytes(request), long_side=long_side)


def _unpriced(models: Iterable[str]) -> InvalidRequestError:
    return InvalidRequestError(
        f"max_cost cannot be kept for {', '.join(sorted(set(models)))}: the registry has no "
        "price for it, so its spend cannot be estimated. Drop max_cost, or use a priced model "
        "(nb.models() lists them with their prices)"
    )


async def run_many(
    transport: AsyncTransport,
    requests: Iterable[GenerationRequest | Invalid],
    *,
    out_dir: Path | ObjectOut,
    concurrency: int | None,
    rpm: int | None,
    ipm: int | None,
    max_cost: float | None,
    progress: bool | None,
    stop: threading.Event | None = None,
    wait: float = 0,
) -> RunReport:
    """The runner behind both ``generate_many`` entry points: one run per folder at a time.

    ``requests`` is a list `as_requests` checked whole, or `iter_requests`' lazy iterator
    (drawn from only as the run has room; its invalid items are recorded as failed). A local
    folder is made, proven writable and held (`FolderLock`) before anything is paid for; a URL
    needs no lock, its create-only records make many writers safe.

    Raises:
        FolderInUseError: Another writer held ``out_dir`` for longer than ``wait`` seconds.
    """
    _check_run_options(requests, concurrency, rpm, ipm, max_cost)
    run = functools.partial(_run, transport, requests, out_dir, concurrency, rpm, ipm,
                            max_cost, progress, stop)  # fmt: skip
    if isinstance(out_dir, ObjectOut):
        return await run()
    lock = FolderLock(out_dir, wait=wait)
    await transport.offload(_prepare_folder, out_dir)
    await transport.offload(lock.acquire)
    try:
        return await run()
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
    requests: Iterable[GenerationRequest | Invalid],
    out_dir: Path | ObjectOut,
    concurrency: int | None,
    rpm: int | None,
    ipm: int | None,
    max_cost: float | None,
    progress: bool | None,
    stop: threading.Event | None,
) -> RunReport:
    total = len(requests) if isinstance(requests, Sequence) else None
    first, source = _first(requests)
    clock = transport.policy.clock
    manifest = await transport.offload(_open_manifest, out_dir)
    where = out_dir if isinstance(out_dir, Path) else out_dir.url
    report = RunReport(where, spent_before=manifest.spent)
    limiter = RateLimiter(rpm, ipm, clock)
    pacer = Pacer(first.model, first.size.value if first.size else None,
                  first.expected_images, rpm, ipm, concurrency)  # fmt: skip
    if total is not None and isinstance(manifest, Manifest):
        await transport.offload(_announce, manifest, requests)
    feed = _Feed(transport, source, manifest, report, max_cost)
    bar = _Progress(progress, total)
    committed = manifest.spent  # spend so far, plus the estimates of requests in flight
    started = clock()
    pending: set[asyncio.Task[tuple[dict[str, Any], float, float | None]]] = set()
    calls: dict[str, float] = {}  # key -> when its request went out (after the limiter)
    held: _Item | None = None  # drawn, not started (the spend cap)
    stopped = False
    recorder = _Recorder(manifest)

    def leave(reason: str) -> None:
        nonlocal stopped, held
        report.not_started += feed.left(total is not None) + (held is not None)
        report.stopped_by = report.stopped_by or reason
        stopped, held = True, None

    while not stopped or pending:
        while not stopped and len(pending) < pacer.limit():
            if stop is not None and stop.is_set():
                leave("interrupted (Ctrl-C): answers already paid for were waited for")
                break
            item = held or await feed.next()
            held = None
            if item is None:
                stopped = True
                break
            index, request, key, images = item
            estimate = request.estimated_cost() or 0.0
            if max_cost is not None and committed + estimate > max_cost:
                held = item
                leave(f"the spend cap: ${committed:.3f} spent or committed of max_cost "
                      f"${max_cost:.2f}; a re-run with a higher cap does the rest")  # fmt: skip
                break
            committed += estimate
            pending.add(asyncio.create_task(
                run_one(transport, request, key, index, images, out_dir, limiter, estimate, calls)
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
            if (failed := await _record(transport, recorder, entry)) is not None:
                leave(failed)
            if took is not None:
                pacer.observe(took)
            reason = _tally(report, entry)
            if reason is not None and not stopped:
                leave(reason)
        report.seconds = clock() - started
        bar.show(report, len(pending))
    report.seconds = clock() - started
    bar.show(report, 0, final=True)
    if recorder.error is not None:
        kept = (
            await transport.offload(manifest.keep_unrecorded, recorder.unrecorded)
            if isinstance(manifest, Manifest)
            else None
        )
        raise _unrecorded_error(manifest, recorder.unrecorded, kept, recorder.error, report)
    return report


def _open_manifest(out_dir: Path | ObjectOut) -> Manifest | RecordManifest:
    """A folder's manifest, or a URL's records (one create-only object per item)."""
    if isinstance(out_dir, ObjectOut):
        return RecordManifest(out_dir)
    _clean_temporary_files(out_dir)
    return Manifest(out_dir / MANIFEST_NAME)


def _first(
    requests: Iterable[GenerationRequest | Invalid],
) -> tuple[GenerationRequest, Iterator[GenerationRequest | Invalid]]:
    """The first valid request (it sets the pace), and the whole input, that one included.

    Raises:
        InvalidRequestError: The input holds no valid request: nothing is sent.
    """
    source = iter(requests)
    skipped: list[Invalid] = []
    for item in source:
        if isinstance(item, GenerationRequest):
            return item, itertools.chain(skipped, [item], source)
        skipped.append(item)
    if skipped:
        raise InvalidRequestError(f"no valid request to run: {skipped[0].error}")
    raise InvalidRequestError("generate_many needs at least one request")


def _announce(manifest: Manifest, requests: Iterable[GenerationRequest | Invalid]) -> None:
    """Records what a run of a list sets out to do (the gallery's "not started"); unpaid.

    Raises:
        InvalidRequestError: The manifest cannot be written: nothing was sent.
    """
    n = sum(r.n for r in requests if isinstance(r, GenerationRequest))
    try:
        manifest.append({"type": "run", "requests": n, "at": _now()})
    except OSError as exc:
        raise InvalidRequestError(
            f"{manifest.path} cannot be written ({exc.strerror or exc}): nothing was sent. "
            "Free space, or give an out_dir you can write to"
        ) from None


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


async def _record(transport: AsyncTransport, recorder: _Recorder, entry: dict[str, Any]
                  ) -> str | None:  # fmt: skip
    """Records one entry: a store's write (a network round trip) off the event loop."""
    if isinstance(recorder.manifest, RecordManifest):
        return await transport.offload(recorder.record, entry)
    return recorder.record(entry)


class _Recorder:
    """Writes finished items to the manifest; after a failed write, keeps them aside."""

    def __init__(self, manifest: Manifest | RecordManifest) -> None:
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
    manifest: Manifest | RecordManifest, entries: list[dict[str, Any]], kept: Path | None,
    error: OSError, report: RunReport,
) -> ManifestWriteError:  # fmt: skip
    """Says where the answers are that were paid for but could not be recorded."""
    path = manifest.path if isinstance(manifest, Manifest) else manifest.out.url + "/records/"
    folder = manifest.path.parent if isinstance(manifest, Manifest) else manifest.out.url
    images = [name for e in entries for name in e.get("images", [])]
    where = (
        f"their records are in {kept}, which the next run adds to the manifest (nothing is "
        "paid twice)" if kept else
        "their records could not be written anywhere either: they are in this error's "
        ".entries; until the manifest has them, a re-run would ask for them again"
    )  # fmt: skip
    saved = f"{len(images)} image(s) saved in {folder}" + (
        f" ({', '.join(images[:5])}{', ...' if len(images) > 5 else ''})" if images else ""
    )
    return ManifestWriteError(
        f"{path} could not be written ({error.strerror or error}): the run started "
        f"nothing more and waited for the {len(entries)} answer(s) in flight: {saved}; "
        f"{where}. {report.not_started} request(s) were not started. Free space (or fix the "
        "folder) and run again to do the rest",
        path=str(path), entries=entries, kept=str(kept) if kept else None,
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
    report.failures.append(cast(RunFailure, entry))
    if entry["error"]["type"] == QuotaExhaustedError.__name__:
        return f"a quota that will not recover: {entry['error']['message']}"
    return None


async def run_one(
    transport: AsyncTransport,
    request: GenerationRequest,
    key: str,
    index: int,
    images: list[ImageBytes],
    out_dir: Path | ObjectOut,
    limiter: RateLimiter,
    estimate: float,
    calls: dict[str, float],
    on_result: Callable[[Result], None] | None = None,
) -> tuple[dict[str, Any], float, float | None]:
    """One item, start to saved: the per-item path of `run_many`, also the MCP server's.

    Its references are read and fitted already (`run_many`'s feed, or the caller).

    Returns its manifest entry, its cost estimate, and how long its call took (``None``: it
    never went out). ``on_result`` sees the answer before it is saved (the MCP server shows
    its text and grounding). ``calls`` holds the item's key while its request is out.
    """
    count = request.expected_images
    clock = transport.policy.clock
    head = entry_head(request, key, index)
    try:
        on_retry = functools.partial(_retrying, limiter, calls, key, count)
        # The client's API (generateContent or interactions), built before the slot is taken.
        flow = generation(transport.api, request, images, transport.policy,
                          vertex=transport.vertex, on_retry=on_retry)  # fmt: skip
        # Take the quota slot as late as possible: right before the request goes out.
        while (wait := limiter.wait_time(count)) > 0:
            await transport.policy.asleep(wait)
        limiter.acquire(count)
        calls[key] = clock()
        result = await transport.run(flow)
    except NanoBananaError as exc:
        sent = calls.pop(key, None)
        return failure_entry(head, exc), estimate, None if sent is None else clock() - sent
    took = clock() - calls.pop(key)
    limiter.on_success()
    if on_result is not None:
        on_result(result)
    try:
        # Written here, on the loop, like a plain loop's write: a thread hand-off costs more
        # than writing a picture into the page cache. Large ones (4K) go to a thread, and
        # so does every write to an object store (a network round trip).
        inline = isinstance(out_dir, Path) and not any(
            isinstance(image, LinkedImage) for image in result.images
        )  # a linked image is fetched when read: never on the loop
        if inline and sum(len(image.data) for image in result.images) <= _INLINE_SAVE_BYTES:
            return success_entry(head, result, out_dir), estimate, took
        return await transport.offload(success_entry, head, result, out_dir), estimate, took
    except OSError as exc:  # disk full, a folder in the way: this item's problem only
        return unsaved_entry(head, result, exc), estimate, took
    except NanoBananaError as exc:  # an image by link that could not be fetched: paid for
        return unfetched_entry(head, result, exc), estimate, took


def _check_run_options(
    requests: Iterable[GenerationRequest | Invalid],
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
    if isinstance(requests, Sequence):  # a lazy input's unpriced items fail one by one
        unpriced = {
            r.model
            for r in requests
            if isinstance(r, GenerationRequest) and r.estimated_cost() is None
        }
        if unpriced:
            raise _unpriced(unpriced)


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

    Each reference is checked as far as it can be without reading it whole (a path stat'ed and
    its type sniffed); the one whole read is the one that sends it. A reference given as a
    file object is read here, once (keeping every field of its `Reference`): a file object
    cannot be read twice.
    """
    requests = []
    for i, item in enumerate(_many(items)):
        try:
            request = _read_file_objects(_made(item, make))
            for k, ref in enumerate(request.references):  # the lazy way reads them once, later
                check_source(ref.source, ref.label(k))
            requests.append(request)
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"request #{i + 1}: {exc}") from None
    if not requests:
        raise InvalidRequestError("generate_many needs at least one request")
    return requests


def iter_requests(
    items: Iterable[GenerationRequest | PromptLike], make: Callable[[Any], GenerationRequest]
) -> Iterator[GenerationRequest | Invalid]:
    """`as_requests`, lazily: one item at a time, an invalid one yielded as `Invalid`."""
    for i, item in enumerate(items):
        try:
            request = _made(item, make)
        except InvalidRequestError as exc:
            yield Invalid(i, exc)
            continue
        yield request  # its references are read once, when it is sent


def for_run(
    items: Iterable[GenerationRequest | PromptLike], make: Callable[[Any], GenerationRequest]
) -> list[GenerationRequest] | Iterator[GenerationRequest | Invalid]:
    """A list (or other sequence) checked whole now; any other iterable drawn lazily.

    A single prompt, template or request where many are expected is one request, never a
    string's characters.
    """
    items = _many(items)
    if isinstance(items, Sequence) and not isinstance(items, str | bytes):
        return as_requests(items, make)
    return iter_requests(items, make)


def _many(
    items: Iterable[GenerationRequest | PromptLike] | GenerationRequest | PromptLike,
) -> Iterable[GenerationRequest | PromptLike]:
    """The input as many items: one prompt, template or request is one, never its characters."""
    if isinstance(items, str | GenerationRequest) or hasattr(items, "render"):
        return [items]  # type: ignore[list-item]
    return items


def _made(
    item: GenerationRequest | PromptLike, make: Callable[[Any], GenerationRequest]
) -> GenerationRequest:
    return item if isinstance(item, GenerationRequest) else make(item)


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
