"""What the MCP server does, apart from MCP: the library's client, runs, sessions and manifest.

Every image goes through the runner's own per-item path (`_runs.runner.run_one`: references read,
the quota limiter, the retried call, the no-clobber save, the manifest line), so a tool call
is paced, saved and recorded exactly as one image of ``generate_many`` is. Sessions are the
library's `AsyncSession`, saved after every turn (`Session.save`/`load`), so a restarted
server continues them with their thought signatures. Nothing here builds a request, parses an
answer or decides a retry.

Money: ``max_cost`` is the server's budget for its lifetime, counted like a run's cap (spend
plus the conservative estimates of the calls in flight); each call may cap itself too.

A paid answer is never lost: each call runs as a task of its own that a cancelled tool call
does not stop once its request has gone out; it is saved and recorded when it comes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._auth import DEFAULT_TIMEOUT, genai_factory
from .._batch.jobs import AsyncBatchJob
from .._client import AsyncNanoBanana
from .._errors import GenerationError, InvalidReferenceError, InvalidRequestError, NanoBananaError
from .._images.fit import prepare_references
from .._models.registry import DEFAULT_MODEL, typical_latency
from .._request.options import RequestOptions
from .._request.reference import Reference
from .._request.request import GenerationRequest
from .._result.result import Result
from .._retry import RetryPolicy
from .._runs.lock import FolderLock
from .._runs.manifest import (
    MANIFEST_NAME,
    Manifest,
    entry_head,
    failure_entry,
    request_key,
    success_entry,
)
from .._runs.pacing import Pacer, RateLimiter
from .._runs.runner import run_one
from .._sessions.session import AsyncSession
from .._transport import AsyncTransport
from .schemas import IMAGE_URI, ToolFailure

if TYPE_CHECKING:
    from google import genai

__all__ = ["IMAGE_URI", "Call", "Outcome", "Service", "ToolFailure"]

_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_T = TypeVar("_T")

#: Progress: how often a long call reports it is alive (seconds).
PROGRESS_INTERVAL = 5.0
Report = Callable[[float, float | None, str], Awaitable[None]]


#: Seconds a call waits for a run (or another server) writing to the output folder.
_FOLDER_WAIT = 60.0


@dataclass
class Outcome:
    """One paid answer, saved: its manifest line and the result."""

    entry: dict[str, Any]
    result: Result | None = None


@dataclass
class Call:
    """What one tool call asked and got."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def cost(self) -> float:
        """USD billed for the call, failures that were billed included."""
        return sum(float(o.entry.get("cost") or 0.0) for o in self.outcomes)


class Service:
    """The server's state: one client, one output folder, one budget, its sessions.

    The library's client (sessions, batches, models) and the runner's transport (each image
    as one item of a run) are made over the same google-genai client and retry policy.

    Args:
        genai: The google-genai client (the real API, or the emulator): see `connect`.
        out_dir: Where every image, the manifest and the sessions go.
        model: The default model; ``None``: the library's.
        retry: The retry policy; ``None``: the library's.
        max_cost: The budget in USD for the server's lifetime; ``None``: no cap.
        allow_dirs: Folders references may be read from (besides ``out_dir``).
        progress_interval: Seconds between progress notifications of a long call.
    """

    def __init__(
        self,
        genai: genai.Client,
        out_dir: Path,
        *,
        model: str | None = None,
        retry: RetryPolicy | None = None,
        max_cost: float | None = None,
        allow_dirs: Sequence[Path] = (),
        progress_interval: float = PROGRESS_INTERVAL,
        rpm: int | None = None,
        ipm: int | None = None,
        folder_wait: float = _FOLDER_WAIT,
    ) -> None:
        if max_cost is not None and (not math.isfinite(max_cost) or max_cost < 0):
            raise InvalidRequestError(
                f"--max-cost must be a USD amount of 0 or more, got {max_cost}"
            )
        self.client = AsyncNanoBanana(genai_client=genai, retry=retry, model=model or DEFAULT_MODEL)
        self.transport = AsyncTransport(genai, self.client.retry)
        """Performs the runner's calls (`run_one`), on the client's google-genai client."""
        self.out_dir = out_dir.expanduser().resolve()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.sessions_dir = self.out_dir / "sessions"
        self.max_cost = max_cost
        self.allow_dirs = [d.expanduser().resolve() for d in allow_dirs]
        self.progress_interval = progress_interval
        self.manifest = Manifest(self.out_dir / MANIFEST_NAME)
        self._folder = FolderLock(self.out_dir, wait=folder_wait)
        """Held while any call writes (not for the server's lifetime), as every run holds its
        folder: a run or another server on the same folder waits, or is refused."""
        self._writers = 0
        self._folder_guard = asyncio.Lock()
        self.spent = 0.0
        """USD this server has spent (the manifest's earlier spend is not this budget's)."""
        self.committed = 0.0
        """Estimates of the calls in flight, counted against the budget until they end."""
        clock = self.client.retry.clock
        self.limiter = RateLimiter(rpm, ipm, clock)
        self.pacer = Pacer(self.client.model, None, 1, rpm, ipm, None)
        self._calls: dict[str, float] = {}  # key -> when its request went out
        self._reserved: set[str] = set()  # keys of calls not yet recorded
        self._in_flight = 0
        self._slot = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sessions: dict[str, AsyncSession] = {}
        self.batches: dict[str, AsyncBatchJob] = {}
        self._session_locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    @classmethod
    def connect(
        cls,
        out_dir: Path,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> Service:
        """A service on a google-genai client made as `AsyncNanoBanana` makes its own.

        ``options`` are `Service`'s. Raises `MissingAPIKeyError` without a key.
        """
        make = genai_factory(
            api_key, base_url=base_url, timeout=DEFAULT_TIMEOUT, vertexai=False, project=None,
            location=None,
        )  # fmt: skip
        return cls(make(), out_dir, **options)

    # -- money -------------------------------------------------------------------------------

    async def job(self, name: str) -> AsyncBatchJob:
        """A batch job this server submitted, or one by name (its requests unknown here)."""
        return self.batches.get(name) or await self.client.batch.get(name, out_dir=self.out_dir)

    def remaining(self) -> float | None:
        """What is left of the server's budget (``None``: no budget)."""
        if self.max_cost is None:
            return None
        return max(0.0, self.max_cost - self.spent - self.committed)

    def reserve(self, estimate: float | None, cap: float | None, what: str) -> float:
        """Books a call's estimate against the budget, or refuses it saying what remains.

        Raises:
            InvalidRequestError: Over the call's ``max_cost`` or the server's budget, or no
                price is known while a cap is set.
        """
        if cap is not None and (not math.isfinite(cap) or cap < 0):
            raise InvalidRequestError(f"max_cost must be a USD amount of 0 or more, got {cap}")
        if estimate is None:
            if cap is not None or self.max_cost is not None:
                raise InvalidRequestError(
                    f"{what}: the registry has no price for this model, so a cost cap cannot be "
                    "kept. Use a priced model (list_models shows prices), or drop max_cost"
                )
            return 0.0
        if cap is not None and estimate > cap:
            raise InvalidRequestError(
                f"{what} may cost up to ${estimate:.3f}, over this call's max_cost ${cap:.3f}. "
                "Raise max_cost, ask for fewer images or a smaller size; nothing was sent"
            )
        left = self.remaining()
        if left is not None and estimate > left:
            raise InvalidRequestError(
                f"{what} may cost up to ${estimate:.3f}, but only ${left:.3f} remains of the "
                f"server's budget (--max-cost ${self.max_cost:.2f}; ${self.spent:.3f} spent, "
                f"${self.committed:.3f} in flight); nothing was sent"
            )
        self.committed += estimate
        return estimate

    def settle(self, estimate: float, cost: float) -> None:
        """A call ended: its estimate leaves the budget's commitments, its cost is spent."""
        self.committed = max(0.0, self.committed - estimate)
        self.spent += cost

    # -- files -------------------------------------------------------------------------------

    def reference(self, value: str, roots: Sequence[Path] = ()) -> Path:
        """A reference the agent named, as a path inside a folder the user allowed.

        Allowed: the output folder (images this server made), ``--allow-dir`` folders and the
        client's MCP roots. A ``nanobanana://images/...`` URI names a saved image.

        Raises:
            InvalidReferenceError: Anything else, naming the folders allowed.
        """
        if value.startswith(IMAGE_URI):
            return self.image_path(value[len(IMAGE_URI) :])
        if value.startswith("file://"):
            from urllib.parse import unquote, urlparse

            value = unquote(urlparse(value).path)
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.out_dir / path
        real = path.resolve()
        allowed = [self.out_dir, *self.allow_dirs, *roots]
        if not any(real == d or real.is_relative_to(d) for d in allowed):
            raise InvalidReferenceError(
                "references are read only from the folders the user allowed: "
                + ", ".join(str(d) for d in allowed)
                + " (add one with --allow-dir, or as an MCP root)",
                source=value,
            )
        if not real.is_file():
            raise InvalidReferenceError("no such image file", source=value)
        return real

    def image_path(self, name: str) -> Path:
        """A saved image of the output folder, by file name.

        Raises:
            InvalidReferenceError: Not a plain file name of an image in the folder.
        """
        target = self.out_dir / name
        if "/" in name or "\\" in name or name.startswith(".") or not target.is_file():
            raise InvalidReferenceError(
                f"no such image in {self.out_dir} (use the uri a tool returned)",
                source=IMAGE_URI + name,
            )
        return target

    # -- calls -------------------------------------------------------------------------------

    def request(
        self, prompt: Any, references: Iterable[Path | Reference], options: RequestOptions
    ) -> GenerationRequest:
        """The library's request, with the server's default model."""
        merged: RequestOptions = {**options, "model": options.get("model") or self.client.model}
        return GenerationRequest(prompt, references=tuple(references), **merged)

    async def generate(
        self, request: GenerationRequest, count: int, cap: float | None, report: Report
    ) -> Call:
        """``count`` calls of ``request``, paced, each saved and recorded as it lands.

        Raises:
            InvalidRequestError: Over budget; nothing was sent.
            NanoBananaError: Every call failed (the first failure; its cost is recorded).
        """
        if not 1 <= count <= 10:
            raise InvalidRequestError(f"count must be between 1 and 10, got {count}")
        per_call = request.estimated_cost()
        total = None if per_call is None else per_call * count
        estimate = self.reserve(total, cap, f"{count} call(s) of {request.model}")
        found: dict[str, Result] = {}
        tasks = {}
        for _ in range(count):
            key = self._key(request)
            tasks[self._spawn(self._paced(request, key, found))] = key
        self._settle_when_done(list(tasks), estimate, _entry_cost)
        entries = await self._await(tasks, request, report)
        call = Call([Outcome(entry, found.get(entry["key"])) for entry in entries])
        if not any(o.entry["status"] == "ok" for o in call.outcomes):
            raise self._failure(call)
        return call

    def _key(self, request: GenerationRequest) -> str:
        """A manifest key of its own for each paid image (the k-th repeat: ``<key>-k``)."""
        base = request_key(request)
        key, k = base, 1
        while key in self.manifest.index or key in self._reserved:
            k += 1
            key = f"{base}-{k}"
        self._reserved.add(key)
        return key

    @contextlib.asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        """Holds the output folder while calls write to it: taken by the first, let go by the last.

        Raises:
            FolderInUseError: Another writer (a run, another server) held it for too long.
        """
        async with self._folder_guard:
            if self._writers == 0:
                await asyncio.to_thread(self._folder.acquire)
            self._writers += 1
        try:
            yield
        finally:
            async with self._folder_guard:
                self._writers -= 1
                if self._writers == 0:
                    self._folder.release()

    async def _paced(
        self, request: GenerationRequest, key: str, found: dict[str, Result]
    ) -> dict[str, Any]:
        """One call through the runner's own path, within the server's in-flight limit."""
        async with self.holding():
            return await self._paced_held(request, key, found)

    async def _paced_held(
        self, request: GenerationRequest, key: str, found: dict[str, Result]
    ) -> dict[str, Any]:
        try:
            async with self._slot:
                await self._slot.wait_for(lambda: self._in_flight < self.pacer.limit())
                self._in_flight += 1
            try:
                images = await self.transport.offload(prepare_references, request)
                entry, _, took = await run_one(
                    self.transport,
                    request,
                    key,
                    0,
                    images,
                    self.out_dir,
                    self.limiter,
                    0.0,
                    self._calls,
                    on_result=lambda r: found.__setitem__(key, r),
                )
            finally:
                async with self._slot:
                    self._in_flight -= 1
                    self._slot.notify_all()
            if took is not None:
                self.pacer.observe(took)
            self.manifest.append(entry)
            return entry
        finally:
            self._reserved.discard(key)

    def _spawn(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _await(
        self, tasks: dict[asyncio.Task[_T], str], request: GenerationRequest, report: Report
    ) -> list[_T]:
        """Waits for the tasks, reporting progress; on cancellation keeps those already sent.

        A request that went out is paid for: its task runs on, saves the answer and records
        it. One still waiting for its quota slot is cancelled (nothing was paid).
        """
        size = request.size.value if request.size else None
        expected = typical_latency(request.model, size)
        started = time.monotonic()
        pending: set[asyncio.Task[_T]] = set(tasks)
        try:
            while pending:
                _, pending = await asyncio.wait(
                    pending, timeout=self.progress_interval, return_when=asyncio.FIRST_COMPLETED
                )
                waited = time.monotonic() - started
                finished = len(tasks) - len(pending)
                where = f"{request.model}" + (f" at {size}" if size else "")
                await report(
                    waited,
                    max(expected, waited * 1.1) if pending else waited,
                    f"{finished} of {len(tasks)} image(s) done after {waited:.0f} s "
                    f"(typically {expected:.0f} s each for {where})",
                )
        except asyncio.CancelledError:
            for task in pending:
                if tasks[task] not in self._calls:  # not sent: nothing paid, stop it
                    task.cancel()
            raise
        return [t.result() for t in tasks]

    def _settle_when_done(
        self,
        tasks: Sequence[asyncio.Task[_T]],
        estimate: float,
        cost_of: Callable[[asyncio.Task[_T]], float],
    ) -> None:
        """Releases the estimate and books the cost once every task has ended (even later)."""
        left = [len(tasks)]

        def done(_: asyncio.Task[_T]) -> None:
            left[0] -= 1
            if left[0] == 0:
                self.settle(estimate, sum(cost_of(t) for t in tasks))

        for task in tasks:
            task.add_done_callback(done)

    def _failure(self, call: Call) -> ToolFailure:
        first = call.outcomes[0].entry.get("error") or {} if call.outcomes else {}
        message = str(first.get("message", "no image"))
        kind = str(first.get("type", "NanoBananaError"))
        cost = f" (billed ${call.cost:.4f}, recorded in the manifest)" if call.cost else ""
        return ToolFailure(f"{kind}: {message}{cost}")

    # -- sessions ----------------------------------------------------------------------------

    def session_file(self, session_id: str) -> Path:
        """Where a session is saved (its images beside it, by hash)."""
        if not _SESSION_ID.fullmatch(session_id):
            raise InvalidRequestError(
                f"session_id {session_id!r}: letters, digits, '-' and '_' only (as session_start "
                "returned it)"
            )
        return self.sessions_dir / f"{session_id}.json"

    def new_session(self, options: RequestOptions) -> tuple[str, AsyncSession]:
        """A new session, saved at once so that session_list shows it."""
        import secrets

        session = self.client.session(**options)
        session_id = secrets.token_hex(6)
        self.sessions[session_id] = session
        session.save(self.session_file(session_id))
        return session_id, session

    def session(self, session_id: str) -> AsyncSession:
        """A session by id: in memory, or resumed from its file (after a restart).

        Raises:
            InvalidRequestError: No session of that id.
        """
        if session_id in self.sessions:
            return self.sessions[session_id]
        path = self.session_file(session_id)
        if not path.is_file():
            raise InvalidRequestError(
                f"no session {session_id!r} (session_list shows the sessions; session_start "
                "makes one)"
            )
        session = AsyncSession.load(path, self.client)
        self.sessions[session_id] = session
        return session

    async def send(
        self,
        session_id: str,
        instruction: str,
        references: Sequence[Path],
        options: RequestOptions,
        cap: float | None,
        report: Report,
    ) -> Outcome:
        """One turn of a session; the session file is saved after it (even after a cancel)."""
        async with self._session_locks[session_id]:
            session = self.session(session_id)
            probe = session.next_request(instruction, references=tuple(references), **options)
            estimate = self.reserve(probe.estimated_cost(), cap, f"a turn of {probe.model}")
            key = self._key(probe)
            task = self._spawn(self._turn(session_id, session, probe, key, references, options))
            self._settle_when_done([task], estimate, _turn_cost)
            done = await self._await({task: key}, probe, report)
        return done[0]

    async def _turn(
        self,
        session_id: str,
        session: AsyncSession,
        request: GenerationRequest,
        key: str,
        references: Sequence[Path],
        options: RequestOptions,
    ) -> Outcome:
        head = entry_head(request, key, len(session.turns))
        head["session"] = session_id
        async with self.holding():
            return await self._turn_held(
                session_id, session, request, key, references, options, head
            )

    async def _turn_held(
        self,
        session_id: str,
        session: AsyncSession,
        request: GenerationRequest,
        key: str,
        references: Sequence[Path],
        options: RequestOptions,
        head: dict[str, Any],
    ) -> Outcome:
        try:
            while (wait := self.limiter.wait_time(1)) > 0:
                await self.client.retry.asleep(wait)
            self.limiter.acquire(1)
            self._calls[key] = self.limiter.clock()  # going out: paid for from here
            try:
                result = await session.send(request.prompt, references=tuple(references), **options)
            except NanoBananaError as exc:
                self.manifest.append(failure_entry(head, exc))
                raise
            self.limiter.on_success()
            entry = await asyncio.to_thread(success_entry, head, result, self.out_dir)
            self.manifest.append(entry)
            await asyncio.to_thread(session.save, self.session_file(session_id))
            return Outcome(entry, result)
        finally:
            self._calls.pop(key, None)
            self._reserved.discard(key)

    def list_sessions(self) -> list[tuple[str, Path]]:
        """Every saved session: id and file."""
        if not self.sessions_dir.is_dir():
            return []
        return [(p.stem, p) for p in sorted(self.sessions_dir.glob("*.json"))]

    async def close(self) -> None:
        """Waits for every paid call still out, then closes the client."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.client.aclose()


def _entry_cost(task: asyncio.Task[dict[str, Any]]) -> float:
    if task.cancelled() or task.exception() is not None:
        return 0.0
    return float(task.result().get("cost") or 0.0)


def _turn_cost(task: asyncio.Task[Outcome]) -> float:
    if task.cancelled():
        return 0.0
    exc = task.exception()
    if isinstance(exc, GenerationError):
        return float(exc.result.cost or 0.0)
    if exc is not None:
        return 0.0
    return float(task.result().entry.get("cost") or 0.0)
