"""Many images: concurrent, within quota, streamed to disk, resumable, and capped in spend.

One runner (async). `AsyncNanoBanana.generate_many` awaits it; `NanoBanana.generate_many` runs
it on an event loop of its own in a worker thread (which, unlike ``asyncio.run`` on the
caller's thread, also works inside Jupyter's running loop).

Each finished request is written to the run's manifest (`_manifest`) as soon as its images are
saved; a re-run skips what is done there.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import math
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _core
from ._errors import InvalidRequestError, NanoBananaError, RateLimitError
from ._manifest import (
    MANIFEST_NAME,
    Manifest,
    entry_head,
    failure_entry,
    request_key,
    success_entry,
)
from ._request import GenerationRequest, Reference
from ._transport import AsyncTransport
from ._types import PromptLike

__all__ = ["RateLimiter", "RunReport", "as_requests", "run_in_thread", "run_many"]

#: The server counts a request when it arrives, a little after we start it: free a slot late.
_WINDOW = 61.0


class RateLimiter:
    """Requests and images per minute over a sliding window, adaptive to 429s.

    On a 429 it pauses every start until the server's ``retryDelay`` and lowers its own rate
    by 15%; each success wins back 5%, up to the configured quota (additive increase,
    multiplicative decrease, as TCP does).
    """

    def __init__(self, rpm: int | None, ipm: int | None, clock: Callable[[], float]) -> None:
        self.rpm, self.ipm, self.clock = rpm, ipm, clock
        self.window: collections.deque[tuple[float, int]] = collections.deque()
        self.paused_until = 0.0
        self.scale = 1.0

    def wait_time(self, images: int) -> float:
        """Seconds before a request for ``images`` images may start (0: now)."""
        now = self.clock()
        while self.window and self.window[0][0] <= now - _WINDOW:
            self.window.popleft()
        wait = max(0.0, self.paused_until - now)
        if self.rpm is not None and len(self.window) >= max(1, math.floor(self.rpm * self.scale)):
            wait = max(wait, self.window[0][0] + _WINDOW - now)
        if self.ipm is not None:
            budget = max(images, math.floor(self.ipm * self.scale))
            used = sum(n for _, n in self.window)
            if used + images > budget:
                # wait until enough of the oldest starts leave the window
                freed, t = 0, now
                for start, n in self.window:
                    freed += n
                    t = start + _WINDOW
                    if used - freed + images <= budget:
                        break
                wait = max(wait, t - now)
        return wait

    def acquire(self, images: int, at: float | None = None) -> None:
        """Books a start (now, or the future moment a retry will go out)."""
        bisect.insort(self.window, (self.clock() if at is None else at, images))

    def on_retry(self, error: BaseException, wait: float, images: int) -> None:
        """A retry is another request to the server: book it, and back off on a 429."""
        self.acquire(images, at=self.clock() + wait)
        if isinstance(error, RateLimitError):
            self.paused_until = max(self.paused_until, self.clock() + wait)
            self.scale = max(0.25, self.scale * 0.85)

    def on_success(self) -> None:
        self.scale = min(1.0, self.scale + 0.05)


@dataclass
class RunReport:
    """What a run did. Per-request detail is in the manifest."""

    out_dir: Path
    done: int = 0
    failed: int = 0
    skipped: int = 0
    """Already in the manifest from an earlier run."""
    not_started: int = 0
    """Not started: the spend cap would have been passed (a re-run with a higher cap does them)."""
    images: int = 0
    cost: float = 0.0
    """Estimated USD of this run's finished requests."""
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

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
    concurrency: int,
    rpm: int | None,
    ipm: int | None,
    max_cost: float | None,
    progress: bool | None,
) -> RunReport:
    """The runner behind both ``generate_many`` entry points."""
    _check_run_options(concurrency, rpm, ipm, max_cost)
    clock = transport.policy.clock
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".*.part"):  # a killed run's half-written temporary files
        stale.unlink(missing_ok=True)
    manifest = Manifest(out_dir / MANIFEST_NAME)
    report = RunReport(out_dir)
    limiter = RateLimiter(rpm, ipm, clock)
    keys = await transport.offload(lambda: [request_key(r) for r in requests])
    queue: collections.deque[tuple[int, GenerationRequest, str]] = collections.deque()
    for index, (request, key) in enumerate(zip(requests, keys, strict=True)):
        if manifest.is_done(key):
            report.skipped += 1
        else:
            queue.append((index, request, key))
    bar = _Progress(progress, len(requests))
    committed = 0.0  # estimated spend of finished and in-flight requests
    in_flight = 0
    started = clock()

    async def worker() -> None:
        nonlocal committed, in_flight
        while queue:
            index, request, key = queue.popleft()
            estimate = request.estimated_cost() or 0.0
            if max_cost is not None and committed + estimate > max_cost:
                report.not_started += 1
                continue
            committed += estimate
            in_flight += 1
            try:
                entry = await _one(transport, request, key, index, out_dir, limiter)
            finally:
                in_flight -= 1
            committed += entry.get("cost", 0.0) - estimate
            manifest.append(entry)
            if entry["status"] == "ok":
                report.done += 1
                report.images += len(entry["images"])
                report.cost += entry.get("cost", 0.0)
            else:
                report.failed += 1
                report.failures.append(entry)
            report.seconds = clock() - started
            bar.show(report, in_flight)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    report.seconds = clock() - started
    bar.show(report, 0, final=True)
    return report


async def _one(
    transport: AsyncTransport,
    request: GenerationRequest,
    key: str,
    index: int,
    out_dir: Path,
    limiter: RateLimiter,
) -> dict[str, Any]:
    count = request.expected_images
    try:
        prepared = await transport.offload(request.prepare_references)
        call = _core.build(request, prepared, vertex=transport.vertex)
        # Take the quota slot as late as possible: right before the request goes out.
        while (wait := limiter.wait_time(count)) > 0:
            await transport.policy.asleep(wait)
        limiter.acquire(count)
        flow = _core.generate_flow(
            call,
            transport.policy,
            on_retry=lambda error, wait: limiter.on_retry(error, wait, count),
        )
        result = await transport.run(flow)
    except NanoBananaError as exc:
        return failure_entry(entry_head(request, key, index), exc)
    limiter.on_success()
    return await transport.offload(success_entry, entry_head(request, key, index), result, out_dir)


def _check_run_options(
    concurrency: int, rpm: int | None, ipm: int | None, max_cost: float | None
) -> None:
    if concurrency < 1:
        raise InvalidRequestError(f"concurrency must be at least 1, got {concurrency}")
    for name, value in (("rpm", rpm), ("ipm", ipm)):
        if value is not None and value < 1:
            raise InvalidRequestError(
                f"{name} must be a positive number per minute or None, got {value}"
            )
    if max_cost is not None and max_cost < 0:
        raise InvalidRequestError(f"max_cost must be a USD amount of 0 or more, got {max_cost}")


def run_in_thread(make: Callable[[], Any]) -> Any:
    """Runs a coroutine on a fresh event loop in a daemon thread and waits for it.

    Works where ``asyncio.run`` cannot (a notebook's running loop). Ctrl-C cancels the run:
    what finished is in the manifest, and a re-run continues from there.
    """
    loop = asyncio.new_event_loop()
    outcome: dict[str, Any] = {}
    task_ref: list[asyncio.Task[Any]] = []

    def target() -> None:
        async def main() -> Any:
            task_ref.append(asyncio.current_task())  # type: ignore[arg-type]
            return await make()

        try:
            outcome["value"] = loop.run_until_complete(main())
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            loop.close()

    thread = threading.Thread(target=target, name="nanobanana-run", daemon=True)
    thread.start()
    try:
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
        Reference(ref.load(i).data, kind=ref.kind)
        if callable(getattr(ref.source, "read", None))
        else ref
        for i, ref in enumerate(request.references)
    )
    return request.model_copy(update={"references": references})
