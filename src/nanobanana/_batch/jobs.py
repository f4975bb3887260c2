"""The Gemini Batch API: runs larger than one machine should drive, at half the price.

``nb.batch.submit(requests)`` makes one `BatchJob`, which holds one API job per model (an API
job runs on one model). ``job.wait()`` polls with backoff; ``job.results()`` yields the same
`Result` objects as ``generate`` (costed at the batch rate) and, given an ``out_dir``, saves
them through the same manifest as ``generate_many``. The decisions are flows in
`_batch.flows`; these handles only run them on their transport.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from typing_extensions import Unpack

from .._core.flows import attempt, list_flow
from .._core.steps import Flow, Offload, Op
from .._errors import InvalidRequestError
from .._request.options import RequestOptions, with_options_help
from .._request.request import GenerationRequest
from .._request.types import PromptLike
from .._result.result import Result
from .._runs.lock import FolderLock
from .._runs.store import ObjectOut, output
from .._transport import AsyncTransport, SyncTransport
from .flows import JobCore, Keyed, Source, open_manifest, prepare, submit_flow
from .shards import DEFAULT_SHARD_REQUESTS, BatchRunReport, ShardLimits, checked, run_flow

__all__ = ["AsyncBatchJob", "AsyncBatches", "BatchJob", "Batches"]

_T = TypeVar("_T", SyncTransport, AsyncTransport)


class BatchJob(JobCore[SyncTransport]):
    """A submitted batch job. `status` is the last known state; `refresh` asks the API again."""

    def refresh(self) -> str:
        """Asks the API for the job's state now, and returns it."""
        status: str = self._transport.run(self._refresh_flow())
        return status

    def wait(self, *, timeout: float | None = None) -> BatchJob:
        """Polls (5 s, growing to 60 s) until the job ends; returns it when it succeeded.

        Raises:
            BatchJobError: It failed, was cancelled or expired, or ``timeout`` passed.
        """
        self._transport.run(self._wait_flow(timeout))
        return self

    def results(self) -> Iterator[Result]:
        """The results, in order; failures go to `errors` (and the manifest), not raised."""
        with _holding(self.out_dir):  # one writer per folder while results are saved
            yield from self._transport.events(self._results_flow(), [])

    def cancel(self) -> None:
        """Asks the API to cancel the job."""
        for name in self.names:
            self._transport.run(
                attempt(Op("batches.cancel", {"name": name}), self._transport.policy)
            )


class AsyncBatchJob(JobCore[AsyncTransport]):
    """The async twin of `BatchJob`."""

    async def refresh(self) -> str:
        """Asks the API for the job's state now, and returns it."""
        status: str = await self._transport.run(self._refresh_flow())
        return status

    async def wait(self, *, timeout: float | None = None) -> AsyncBatchJob:
        """Polls until the job ends; see `BatchJob.wait`."""
        await self._transport.run(self._wait_flow(timeout))
        return self

    async def results(self) -> AsyncIterator[Result]:
        """The results, in order; see `BatchJob.results`."""
        with _holding(self.out_dir):
            async for result in self._transport.events(self._results_flow(), []):
                yield result

    async def cancel(self) -> None:
        """Asks the API to cancel the job."""
        for name in self.names:
            await self._transport.run(
                attempt(Op("batches.cancel", {"name": name}), self._transport.policy)
            )


class _BatchesCore(Generic[_T]):
    def __init__(
        self,
        transport: _T,
        make: Callable[[RequestOptions], Callable[[PromptLike], GenerationRequest]],
    ) -> None:
        self._transport: _T = transport
        self._make = make

    def _no_vertex(self) -> None:
        if self._transport.vertex:
            raise InvalidRequestError(
                "the Batch API is not available on Vertex AI here: Vertex batch prediction "
                "reads and writes Cloud Storage, which nanobanana does not drive yet. Use "
                "generate_many, or a Gemini API key"
            )

    def _checked(
        self, requests: Iterable[GenerationRequest | PromptLike], options: RequestOptions
    ) -> list[GenerationRequest]:
        from .._runs.runner import as_requests

        self._no_vertex()
        return as_requests(requests, self._make(options))

    def _submitted_flow(
        self,
        make: Callable[[Any, list[str], Keyed, Path | None], Any],
        keyed: Keyed,
        sources: list[Source],
        display_name: str | None,
        out_dir: Path | None,
    ) -> Flow:
        """Submits (or attaches to) the jobs and returns their handle, refreshed if attached."""
        manifest = yield Offload(open_manifest, (out_dir,))
        jobs = yield from submit_flow(sources, display_name, self._transport.policy, manifest)
        handle = make(self._transport, _names(jobs), keyed, out_dir)
        handle._update(jobs)
        if any(isinstance(job, str) for job in jobs):
            yield from handle._refresh_flow()  # attached to a job an earlier run created
        return handle

    def _run_flow(
        self,
        requests: Iterable[GenerationRequest | PromptLike],
        out: Path | ObjectOut,
        tier: int,
        shard_size: int,
        display_name: str | None,
        options: RequestOptions,
        spool: Path,
    ) -> Flow:
        self._no_vertex()
        limits = ShardLimits(tier, shard_size)
        lazy = checked(requests, self._make(options))
        return run_flow(self._transport, lazy, out, limits, spool, display_name)

    def _list_flow(self) -> Flow:
        self._no_vertex()
        return list_flow("batches.list", self._transport.policy)


class Batches(_BatchesCore[SyncTransport]):
    """``nb.batch``: submit and find Batch API jobs."""

    @with_options_help
    def submit(
        self,
        requests: Iterable[GenerationRequest | PromptLike],
        *,
        display_name: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> BatchJob:
        """Submits one batch job for these requests (prompts, templates or `GenerationRequest`s).

        Requests for several models become one API job per model behind the one `BatchJob`.
        ``options`` (`RequestOptions`) apply to the prompts and templates given as such.

        Example:
            >>> job = nb.batch.submit([f"A {c} bicycle" for c in colours], out_dir="bikes")
            >>> for result in job.wait().results(): ...
        """
        keyed, sources = self._transport.offload(
            prepare, self._checked(requests, options), self._transport.vertex
        )
        flow = self._submitted_flow(BatchJob, keyed, sources, display_name, _path(out_dir))
        with _holding(_path(out_dir)):  # two submitters to one folder would both pay
            handle: BatchJob = self._transport.run(flow)
        return handle

    def run(
        self,
        requests: Iterable[GenerationRequest | PromptLike],
        *,
        out_dir: str | os.PathLike[str],
        tier: int = 1,
        shard_size: int = DEFAULT_SHARD_REQUESTS,
        display_name: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> BatchRunReport:
        """Runs any number of requests on the Batch API, in shards, into a folder or a URL.

        The requests are read one at a time (pass a generator for 100,000) and cut into
        file-based jobs that keep within the API's limits for the project's ``tier``
        (concurrent jobs, input file size, batch storage, enqueued tokens per model). Each
        finished job's results are saved and recorded as they stream in. Blocks until every
        job has ended; killed at any point, a run again with the same requests and
        ``out_dir`` attaches to the jobs already created and records only what is not.

        Args:
            requests: Prompts, templates or `GenerationRequest`s. A list is checked whole
                first; any other iterable is drawn one at a time (a bad item is reported in
                `BatchRunReport.failures`, and the rest run).
            out_dir: A folder, or a URL (``gs://``, ``s3://``, ``memory://``...).
            tier: The project's usage tier (1, 2 or 3): its enqueued-token limit.
            shard_size: Requests per job at most.
            display_name: Prefix of the jobs' display names (``nanobanana`` by default);
                each is ``<prefix>-<run id>-<shard hash>``, how a re-run finds them.
            options: `RequestOptions` for the prompts and templates given as such.

        Raises:
            InvalidRequestError: A bad option, or a request of a list is not valid.
            FolderInUseError: Another run is writing the folder.

        Example:
            >>> report = nb.batch.run((f"A {c} bicycle" for c in colours), out_dir="gs://b/run")
        """
        where = output(out_dir)
        # one writer per folder (a URL's create-only records need no lock)
        with _holding(where if isinstance(where, Path) else None), _Spool() as spool:
            flow = self._run_flow(requests, where, tier, shard_size, display_name, options,
                                  spool)  # fmt: skip
            report: BatchRunReport = self._transport.run(flow)
        return report

    def get(self, name: str, *, out_dir: str | os.PathLike[str] | None = None) -> BatchJob:
        """A job by name (its requests unknown here: results carry no request)."""
        self._no_vertex()
        handle = BatchJob(self._transport, _job_names(name), {}, _path(out_dir))
        handle.refresh()
        return handle

    def list(self) -> list[BatchJob]:
        """Every batch job of this key, as the API lists them."""
        jobs = []
        for job in self._transport.run(self._list_flow()):
            handle = BatchJob(self._transport, [str(job.name)], {}, None)
            handle._update([job])
            jobs.append(handle)
        return jobs


class AsyncBatches(_BatchesCore[AsyncTransport]):
    """``nb.batch`` on `AsyncNanoBanana`."""

    @with_options_help
    async def submit(
        self,
        requests: Iterable[GenerationRequest | PromptLike],
        *,
        display_name: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncBatchJob:
        """Submits one batch job; see `Batches.submit`."""
        keyed, sources = await self._transport.offload(
            prepare, self._checked(requests, options), self._transport.vertex
        )
        flow = self._submitted_flow(AsyncBatchJob, keyed, sources, display_name, _path(out_dir))
        with _holding(_path(out_dir)):
            handle: AsyncBatchJob = await self._transport.run(flow)
        return handle

    async def run(
        self,
        requests: Iterable[GenerationRequest | PromptLike],
        *,
        out_dir: str | os.PathLike[str],
        tier: int = 1,
        shard_size: int = DEFAULT_SHARD_REQUESTS,
        display_name: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> BatchRunReport:
        """Runs any number of requests on the Batch API, in shards; see `Batches.run`.

        Disk work (building shards, saving results) runs in worker threads.
        """
        where = output(out_dir)
        # one writer per folder (a URL's create-only records need no lock)
        with _holding(where if isinstance(where, Path) else None), _Spool() as spool:
            flow = self._run_flow(requests, where, tier, shard_size, display_name, options,
                                  spool)  # fmt: skip
            report: BatchRunReport = await self._transport.run(flow)
        return report

    async def get(
        self, name: str, *, out_dir: str | os.PathLike[str] | None = None
    ) -> AsyncBatchJob:
        """A job by name; see `Batches.get`."""
        self._no_vertex()
        handle = AsyncBatchJob(self._transport, _job_names(name), {}, _path(out_dir))
        await handle.refresh()
        return handle

    async def list(self) -> list[AsyncBatchJob]:
        """Every batch job of this key; see `Batches.list`."""
        jobs = []
        for job in await self._transport.run(self._list_flow()):
            handle = AsyncBatchJob(self._transport, [str(job.name)], {}, None)
            handle._update([job])
            jobs.append(handle)
        return jobs


class _Spool:
    """A temporary folder for a run's shard files, removed however the run ends."""

    def __enter__(self) -> Path:
        import tempfile

        self.path = Path(tempfile.mkdtemp(prefix="nanobanana-shards-"))
        return self.path

    def __exit__(self, *exc: object) -> None:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)


def _holding(out_dir: Path | None) -> contextlib.AbstractContextManager[Any]:
    """The folder's writer lock (`FolderLock`), or nothing without a folder."""
    if out_dir is None:
        return contextlib.nullcontext()
    out_dir.mkdir(parents=True, exist_ok=True)
    return FolderLock(out_dir)


def _job_names(name: object) -> list[str]:
    """The API job names in ``name`` (a `BatchJob.name`: names joined by commas).

    Raises:
        InvalidRequestError: Not a string of ``batches/<id>`` names.
    """
    names = [n.strip() for n in name.split(",")] if isinstance(name, str) else []
    if not names or not all(n.startswith("batches/") and len(n) > 8 for n in names):
        raise InvalidRequestError(
            f"a batch job name is 'batches/<id>' (or several joined by commas, as "
            f"BatchJob.name gives them), got {name!r}; nb.batch.list() lists yours"
        )
    return names


def _path(out_dir: str | os.PathLike[str] | None) -> Path | None:
    return Path(out_dir) if out_dir else None


def _names(jobs: list[Any]) -> list[str]:
    return [job if isinstance(job, str) else str(job.name) for job in jobs]
