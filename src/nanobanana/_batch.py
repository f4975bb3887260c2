"""The Gemini Batch API: runs larger than one machine should drive, at half the price.

``nb.batch.submit(requests)`` builds one job: inline when the requests are small, otherwise a
JSONL file through the Files API. ``job.wait()`` polls with backoff; ``job.results()`` yields
the same `Result` objects as ``generate`` (costed at the batch rate) and, given an
``out_dir``, saves them through the same manifest as ``generate_many``.

`_JobCore` decides (sources, states, parsing); `BatchJob` and `AsyncBatchJob` only call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _core
from ._constants import MAX_REQUEST_BYTES
from ._errors import APIConnectionError, BatchJobError, NanoBananaError
from ._many import (
    MANIFEST_NAME,
    Manifest,
    as_requests,
    entry_head,
    failure_entry,
    request_key,
    success_entry,
)
from ._request import GenaiCall, GenerationRequest
from ._result import Result

if TYPE_CHECKING:
    from google.genai import types

    from ._client import AsyncNanoBanana, NanoBanana

__all__ = ["AsyncBatchJob", "AsyncBatches", "BatchJob", "Batches"]

TERMINAL = frozenset(
    {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)
#: Inline jobs are limited to about 20 MB in all; past that, a JSONL file.
INLINE_LIMIT = MAX_REQUEST_BYTES
_POLL_START, _POLL_MAX = 5.0, 60.0


def _rest(call: GenaiCall) -> dict[str, Any]:
    """A built call as the REST request object (camelCase, base64): what a JSONL line holds."""
    config = call.config.model_dump(mode="json", by_alias=True, exclude_none=True)
    for key in ("httpOptions", "shouldReturnHttpResponse"):
        config.pop(key, None)
    contents = [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in call.contents]
    return {"contents": contents, "generationConfig": config}


class _JobCore:
    """What a job knows and decides, whichever shell drives it."""

    def __init__(
        self, name: str, requests: dict[str, tuple[int, GenerationRequest]], out_dir: Path | None
    ) -> None:
        self.name = name
        self.requests = requests
        self.out_dir = out_dir
        self.state = "JOB_STATE_PENDING"
        self.errors: list[dict[str, Any]] = []
        """Manifest entries of requests that failed inside the job."""
        self._job: types.BatchJob | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.state} {len(self.requests)} requests>"

    @staticmethod
    def _build(
        requests: Sequence[GenerationRequest],
    ) -> tuple[dict[str, tuple[int, GenerationRequest]], list[Any] | None, bytes | None]:
        """Keys, and either inline requests or the JSONL file's bytes."""
        from google.genai import types

        calls = [(request_key(r), r.to_genai()) for r in requests]
        keyed = {key: (i, r) for i, ((key, _), r) in enumerate(zip(calls, requests, strict=True))}
        lines = [json.dumps({"key": key, "request": _rest(call)}) for key, call in calls]
        if sum(len(line) for line in lines) < INLINE_LIMIT:
            inline = [
                types.InlinedRequest(
                    contents=call.contents, config=call.config, metadata={"key": key}
                )
                for key, call in calls
            ]
            return keyed, inline, None
        return keyed, None, ("\n".join(lines) + "\n").encode()

    def _update(self, job: types.BatchJob) -> None:
        self._job = job
        self.state = job.state.name if job.state is not None else "JOB_STATE_UNSPECIFIED"

    def _check_done(self) -> None:
        if self.state != "JOB_STATE_SUCCEEDED":
            raise BatchJobError(
                f"batch job {self.name} is {self.state}, not JOB_STATE_SUCCEEDED: no results"
                + (" (yet: call wait() first)" if self.state not in TERMINAL else ""),
                job=self.name,
                state=self.state,
            )

    def _outcomes(
        self, lines: Iterable[dict[str, Any]] | None
    ) -> Iterator[tuple[str, Result | NanoBananaError]]:
        """Each request's result or error, from inline responses or the results file's lines."""
        if lines is None:
            assert self._job is not None and self._job.dest is not None
            for n, item in enumerate(self._job.dest.inlined_responses or []):
                key = (item.metadata or {}).get("key") or self._key_at(n)
                request = self.requests.get(key, (n, None))[1]
                if item.error is not None:
                    yield (
                        key,
                        _core._api_error(item.error.code or 0, None, item.error.message or "", {}),
                    )
                else:
                    response = item.response or _empty()
                    yield key, _result(Result.from_response, response, request=request)
            return
        for n, line in enumerate(lines):
            key = line.get("key") or self._key_at(n)
            request = self.requests.get(key, (n, None))[1]
            if "error" in line:
                error = line["error"]
                yield (
                    key,
                    _core._api_error(
                        int(error.get("code") or 0),
                        error.get("status"),
                        str(error.get("message")),
                        {"error": error},
                    ),
                )
            else:
                yield key, _result(Result.from_body, line.get("response"), request=request)

    def _key_at(self, n: int) -> str:
        return next((k for k, (i, _) in self.requests.items() if i == n), str(n))

    def _record(self, outcomes: Iterable[tuple[str, Result | NanoBananaError]]) -> Iterator[Result]:
        """Yields the results; with an ``out_dir``, saves them through the run manifest."""
        manifest = Manifest(self.out_dir / MANIFEST_NAME) if self.out_dir else None
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        for key, outcome in outcomes:
            index, request = self.requests.get(key, (-1, None))
            head = entry_head(request, key, index)
            if isinstance(outcome, NanoBananaError):
                entry = failure_entry(head, outcome)
                self.errors.append(entry)
                if manifest:
                    manifest.append(entry)
                continue
            if manifest and self.out_dir and not manifest.is_done(key):
                manifest.append(success_entry(head, outcome, self.out_dir))
            yield outcome


def _result(
    parse: Any, payload: Any, *, request: GenerationRequest | None
) -> Result | NanoBananaError:
    """A batch response, costed at the batch rate, or the error it amounts to."""
    try:
        return _core.require_image(parse(payload, request=request, batch=True))
    except NanoBananaError as exc:
        return exc


def _unsure_created(exc: APIConnectionError) -> APIConnectionError:
    """Creating a job is not retried after a dropped connection: say how to check."""
    return type(exc)(
        f"{exc}; the batch job may have been created anyway (it is not retried, so that it is "
        "never created and paid for twice): look for it with nb.batch.list() before submitting "
        "again"
    )


def _empty() -> types.GenerateContentResponse:
    from google.genai import types

    return types.GenerateContentResponse()


class BatchJob(_JobCore):
    """A submitted batch job. `status` asks the API; `wait` polls; `results` yields `Result`s."""

    def __init__(
        self,
        client: NanoBanana,
        name: str,
        requests: dict[str, tuple[int, GenerationRequest]],
        out_dir: Path | None,
    ) -> None:
        super().__init__(name, requests, out_dir)
        self._client = client

    @property
    def status(self) -> str:
        """The job's state now (``JOB_STATE_PENDING``, ``..._RUNNING``, ``..._SUCCEEDED``, ...)."""
        self._update(self._client._retrying(self._client._genai.batches.get, name=self.name))
        return self.state

    def wait(self, *, timeout: float | None = None) -> BatchJob:
        """Polls (5 s, growing to 60 s) until the job ends; returns it when it succeeded.

        Raises:
            BatchJobError: It failed, was cancelled or expired, or ``timeout`` passed.
        """
        retry = self._client.retry
        start, interval = retry.clock(), _POLL_START
        while self.status not in TERMINAL:
            if timeout is not None and retry.clock() - start + interval > timeout:
                raise BatchJobError(
                    f"batch job {self.name} still {self.state} after {timeout:g} s",
                    job=self.name,
                    state=self.state,
                )
            retry.sleep(interval)
            interval = min(_POLL_MAX, interval * 1.5)
        self._check_done()
        return self

    def results(self) -> Iterator[Result]:
        """The results, in order; failures go to `errors` (and the manifest), not raised."""
        self._check_done()
        lines = None
        assert self._job is not None and self._job.dest is not None
        if self._job.dest.file_name:
            data = self._client._retrying(
                self._client._genai.files.download, file=self._job.dest.file_name
            )
            lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        yield from self._record(self._outcomes(lines))

    def cancel(self) -> None:
        """Asks the API to cancel the job."""
        self._client._retrying(self._client._genai.batches.cancel, name=self.name)


class Batches:
    """``nb.batch``: submit and find Batch API jobs."""

    def __init__(self, client: NanoBanana) -> None:
        self._client = client

    def submit(
        self,
        requests: Iterable[Any],
        *,
        display_name: str | None = None,
        out_dir: str | Path | None = None,
    ) -> BatchJob:
        """Submits one batch job for these requests (prompts, templates or `GenerationRequest`s).

        Example:
            >>> job = nb.batch.submit([f"A {c} bicycle" for c in colours], out_dir="bikes")
            >>> for result in job.wait().results(): ...
        """
        import io

        from google.genai import types

        checked = as_requests(requests, self._client._default_request)
        keyed, inline, jsonl = _JobCore._build(checked)
        genai = self._client._genai
        src: Any = inline
        if jsonl is not None:
            upload = types.UploadFileConfig(mime_type="jsonl", display_name=display_name)
            src = self._client._retrying(
                genai.files.upload, file=io.BytesIO(jsonl), config=upload
            ).name
        config = types.CreateBatchJobConfig(display_name=display_name) if display_name else None
        try:
            job = self._client._retrying(
                genai.batches.create,
                idempotent=False,
                model=checked[0].model,
                src=src,
                config=config,
            )
        except APIConnectionError as exc:
            raise _unsure_created(exc) from exc
        handle = BatchJob(self._client, str(job.name), keyed, Path(out_dir) if out_dir else None)
        handle._update(job)
        return handle

    def get(self, name: str, *, out_dir: str | Path | None = None) -> BatchJob:
        """A job by name (its requests unknown here: results carry no request)."""
        handle = BatchJob(self._client, name, {}, Path(out_dir) if out_dir else None)
        handle.status  # noqa: B018 (fetches the state)
        return handle

    def list(self) -> list[BatchJob]:
        """Every batch job of this key, newest state first as the API lists them."""
        jobs = []
        for job in self._client._retrying(self._client._genai.batches.list):
            handle = BatchJob(self._client, str(job.name), {}, None)
            handle._update(job)
            jobs.append(handle)
        return jobs


class AsyncBatchJob(_JobCore):
    """The async twin of `BatchJob`."""

    def __init__(
        self,
        client: AsyncNanoBanana,
        name: str,
        requests: dict[str, tuple[int, GenerationRequest]],
        out_dir: Path | None,
    ) -> None:
        super().__init__(name, requests, out_dir)
        self._client = client

    async def status(self) -> str:
        """The job's state now."""
        self._update(
            await self._client._retrying(self._client._genai.aio.batches.get, name=self.name)
        )
        return self.state

    async def wait(self, *, timeout: float | None = None) -> AsyncBatchJob:
        """Polls until the job ends; see `BatchJob.wait`."""
        retry = self._client.retry
        start, interval = retry.clock(), _POLL_START
        while await self.status() not in TERMINAL:
            if timeout is not None and retry.clock() - start + interval > timeout:
                raise BatchJobError(
                    f"batch job {self.name} still {self.state} after {timeout:g} s",
                    job=self.name,
                    state=self.state,
                )
            await retry.asleep(interval)
            interval = min(_POLL_MAX, interval * 1.5)
        self._check_done()
        return self

    async def results(self) -> AsyncIterator[Result]:
        """The results, in order; see `BatchJob.results`."""
        self._check_done()
        lines = None
        assert self._job is not None and self._job.dest is not None
        if self._job.dest.file_name:
            data = await self._client._retrying(
                self._client._genai.aio.files.download, file=self._job.dest.file_name
            )
            lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        for result in self._record(self._outcomes(lines)):
            yield result

    async def cancel(self) -> None:
        await self._client._retrying(self._client._genai.aio.batches.cancel, name=self.name)


class AsyncBatches:
    """``nb.batch`` on `AsyncNanoBanana`."""

    def __init__(self, client: AsyncNanoBanana) -> None:
        self._client = client

    async def submit(
        self,
        requests: Iterable[Any],
        *,
        display_name: str | None = None,
        out_dir: str | Path | None = None,
    ) -> AsyncBatchJob:
        """Submits one batch job; see `Batches.submit`."""
        import asyncio
        import io

        from google.genai import types

        checked = as_requests(requests, self._client._default_request)
        keyed, inline, jsonl = await asyncio.to_thread(_JobCore._build, checked)
        genai = self._client._genai.aio
        src: Any = inline
        if jsonl is not None:
            upload = types.UploadFileConfig(mime_type="jsonl", display_name=display_name)
            src = (
                await self._client._retrying(
                    genai.files.upload, file=io.BytesIO(jsonl), config=upload
                )
            ).name
        config = types.CreateBatchJobConfig(display_name=display_name) if display_name else None
        try:
            job = await self._client._retrying(
                genai.batches.create,
                idempotent=False,
                model=checked[0].model,
                src=src,
                config=config,
            )
        except APIConnectionError as exc:
            raise _unsure_created(exc) from exc
        handle = AsyncBatchJob(
            self._client, str(job.name), keyed, Path(out_dir) if out_dir else None
        )
        handle._update(job)
        return handle

    async def get(self, name: str, *, out_dir: str | Path | None = None) -> AsyncBatchJob:
        handle = AsyncBatchJob(self._client, name, {}, Path(out_dir) if out_dir else None)
        await handle.status()
        return handle
