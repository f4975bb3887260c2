"""Many images: concurrent, within quota, streamed to disk, resumable, and capped in spend.

One runner (async). `AsyncNanoBanana.generate_many` awaits it; `NanoBanana.generate_many` runs
it on an event loop of its own in a worker thread (which, unlike ``asyncio.run`` on the
caller's thread, also works inside Jupyter's running loop).

The manifest (``manifest.jsonl`` in ``out_dir``) gets one line per finished request, written
after its images are saved. A re-run skips every request already done, keyed by a content hash
of the request, so a crash or Ctrl-C never pays twice for an image; a torn last line (a crash
mid-write) is dropped and rewritten, never fatal.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import hashlib
import json
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _core
from ._errors import (
    APIConnectionError,
    GenerationError,
    InvalidRequestError,
    NanoBananaError,
    RateLimitError,
    ServerError,
)
from ._request import GenerationRequest
from ._result import Result

if TYPE_CHECKING:
    from ._client import AsyncNanoBanana

__all__ = ["Manifest", "RateLimiter", "RunReport", "request_key", "run_many"]

MANIFEST_NAME = "manifest.jsonl"
#: Failures worth another try on the next run; others (blocks, bad requests) would recur.
_TRANSIENT = (RateLimitError, ServerError, APIConnectionError)
#: The server counts a request when it arrives, a little after we start it: free a slot late.
_WINDOW = 61.0


def request_key(request: GenerationRequest) -> str:
    """A content hash of everything that shapes the result: prompt, references, config, model."""
    digest = hashlib.sha256()
    for value in (request.prompt, request.model, _v(request.aspect_ratio), _v(request.size),
                  str(request.include_thoughts)):  # fmt: skip
        digest.update(value.encode() + b"\0")
    for ref in request.references:
        digest.update(ref.kind.encode() + b"\0")
        digest.update(hashlib.sha256(ref.load(0).data).digest())
    return digest.hexdigest()[:24]


def _v(x: Any) -> str:
    return str(getattr(x, "value", x))


class Manifest:
    """The JSONL record of a run: one line per finished request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.recovered_torn_line = False
        if path.exists():
            self._read()

    def _read(self) -> None:
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end < len(raw):
            # A crash mid-write left a torn last line: drop it, so the next append is clean.
            with open(self.path, "r+b") as handle:
                handle.truncate(end)
            self.recovered_torn_line = True
        for line in raw[:end].splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                self.recovered_torn_line = True
                continue
            if isinstance(entry, dict) and "key" in entry:
                self.entries[entry["key"]] = entry

    def is_done(self, key: str) -> bool:
        """Finished, or failed in a way that another try would not fix."""
        entry = self.entries.get(key)
        return entry is not None and (entry["status"] == "ok" or not entry.get("transient", False))

    def append(self, entry: dict[str, Any]) -> None:
        """Appends one line with a single write, so lines never interleave."""
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.entries[entry["key"]] = entry


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


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-") or "image"


async def run_many(
    client: AsyncNanoBanana,
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
    clock = client.retry.clock
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".*.part"):  # a killed run's half-written temporary files
        stale.unlink(missing_ok=True)
    manifest = Manifest(out_dir / MANIFEST_NAME)
    report = RunReport(out_dir)
    limiter = RateLimiter(rpm, ipm, clock)
    keys = await asyncio.to_thread(lambda: [request_key(r) for r in requests])
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
            estimate = _core.estimate_cost(request) or 0.0
            if max_cost is not None and committed + estimate > max_cost:
                report.not_started += 1
                continue
            committed += estimate
            in_flight += 1
            try:
                entry = await _one(client, request, key, index, out_dir, limiter)
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
    client: AsyncNanoBanana,
    request: GenerationRequest,
    key: str,
    index: int,
    out_dir: Path,
    limiter: RateLimiter,
) -> dict[str, Any]:
    try:
        call = await asyncio.to_thread(_core.call_args, request)
        # Take the quota slot as late as possible: right before the request goes out.
        while (wait := limiter.wait_time(request.expected_images)) > 0:
            await client.retry.asleep(wait)
        limiter.acquire(request.expected_images)
        images = request.expected_images
        result = await client._generate_call(
            call, request, on_retry=lambda error, wait: limiter.on_retry(error, wait, images)
        )
    except NanoBananaError as exc:
        return failure_entry(entry_head(request, key, index), exc)
    limiter.on_success()
    return await asyncio.to_thread(success_entry, entry_head(request, key, index), result, out_dir)


def entry_head(request: GenerationRequest | None, key: str, index: int) -> dict[str, Any]:
    """The fields every manifest line has (runs and batch jobs write the same lines)."""
    return {
        "key": key,
        "index": index,
        "prompt": request.prompt if request else None,
        "model": request.model if request else None,
        "aspect_ratio": _v(request.aspect_ratio) if request and request.aspect_ratio else None,
        "size": _v(request.size) if request and request.size else None,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def failure_entry(entry: dict[str, Any], exc: NanoBananaError) -> dict[str, Any]:
    entry.update(status="failed", error={"type": type(exc).__name__, "message": str(exc)},
                 transient=isinstance(exc, _TRANSIENT))  # fmt: skip
    if isinstance(exc, GenerationError):  # billed even without an image
        entry.update(cost=exc.result.cost or 0.0, response_id=exc.result.response_id)
    return entry


def success_entry(entry: dict[str, Any], result: Result, out_dir: Path) -> dict[str, Any]:
    """Saves the images (atomically, named by prompt and key), then describes them."""
    stem = f"{_slug(entry['prompt'] or 'image')}-{entry['key'][:8]}"
    entry.update(
        status="ok",
        images=_save_all(result, out_dir, stem),
        missing=result.missing,
        cost=result.cost or 0.0,
        usage=result.usage.__dict__,
        response_id=result.response_id,
        finish_reason=result.finish_reason,
    )
    return entry


def _save_all(result: Result, out_dir: Path, stem: str) -> list[str]:
    many = len(result.images) > 1
    return [
        image.save(out_dir / (f"{stem}-{k}" if many else stem)).name
        for k, image in enumerate(result.images, 1)
    ]


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
    items: Iterable[Any], make: Callable[[Any], GenerationRequest]
) -> list[GenerationRequest]:
    """Accepts `GenerationRequest` objects, prompts or templates; all checked before any is sent."""
    requests = []
    for i, item in enumerate(items):
        try:
            requests.append(item if isinstance(item, GenerationRequest) else make(item))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"request #{i + 1}: {exc}") from None
    if not requests:
        raise InvalidRequestError("generate_many needs at least one request")
    return requests
