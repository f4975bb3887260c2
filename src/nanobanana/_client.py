"""`NanoBanana` and `AsyncNanoBanana`: thin shells over `_core`.

A method is build, call, parse. The sync shell calls ``genai.Client``; the async one awaits
``client.aio`` (google-genai's one API client with two faces); nothing else differs.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _core
from ._batch import AsyncBatches, Batches
from ._constants import API_KEY_ENV_VARS, DEFAULT_MODEL, DEFAULT_TIMEOUT
from ._errors import MissingAPIKeyError, NanoBananaError
from ._many import RunReport
from ._multiturn import AsyncSession, Session
from ._references import ImageBytes
from ._request import AspectRatio, GenaiCall, GenerationRequest, ImageSize
from ._result import Result
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from google import genai

__all__ = ["AsyncNanoBanana", "AsyncStream", "NanoBanana", "Stream"]

_T = TypeVar("_T")
_SessionT = TypeVar("_SessionT")
_StreamT = TypeVar("_StreamT")
_BatchesT = TypeVar("_BatchesT")


class Stream:
    """A streamed generation: iterate for `StreamEvent`s as they arrive, then `final()`.

    Example:
        >>> stream = nb.stream("A red fox in snow", include_thoughts=True)
        >>> for event in stream:
        ...     show(event.image or event.text)   # thought images arrive first
        >>> stream.final().image.save("fox")
    """

    def __init__(self, events: Iterator[_core.StreamEvent], outcome: dict[str, Result]) -> None:
        self._events, self._outcome = events, outcome

    def __iter__(self) -> Iterator[_core.StreamEvent]:
        return self._events

    def final(self) -> Result:
        """The whole result (reading what is left of the stream first)."""
        for _ in self._events:
            pass
        return self._outcome["result"]


class AsyncStream:
    """The async twin of `Stream`: ``async for event in stream``, then ``await stream.final()``."""

    def __init__(
        self, events: AsyncIterator[_core.StreamEvent], outcome: dict[str, Result]
    ) -> None:
        self._events, self._outcome = events, outcome

    def __aiter__(self) -> AsyncIterator[_core.StreamEvent]:
        return self._events

    async def final(self) -> Result:
        async for _ in self._events:
            pass
        return self._outcome["result"]


class _ClientBase(Generic[_SessionT, _StreamT, _BatchesT]):
    """What both shells share: configuration and the methods that do not await.

    The environment is read here, never at import. The twins name their own types.
    """

    _session_type: Callable[..., _SessionT]
    _stream_type: Callable[..., _StreamT]
    _batches_type: Callable[..., _BatchesT]

    def __init__(
        self,
        api_key: str | None = None,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        vertexai: bool = False,
        project: str | None = None,
        location: str | None = None,
        genai_client: genai.Client | None = None,
    ) -> None:
        from google import genai
        from google.genai import types

        self.model = model
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        # How to make another google-genai client like ours: a private event loop (the sync
        # generate_many) needs a client of its own, since aio.aclose() ends a client for good.
        self._make_genai: Callable[[], genai.Client] | None = None
        if genai_client is not None:
            self._genai = genai_client
            return
        if not vertexai:
            api_key = api_key or next(
                (os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None
            )
            if not api_key:
                raise MissingAPIKeyError(
                    "no API key: pass api_key=..., or set GEMINI_API_KEY (or GOOGLE_API_KEY). "
                    "Get a key at https://aistudio.google.com/apikey, or run offline against "
                    "the emulator: `with FakeGemini() as s: NanoBanana(api_key='test', "
                    "base_url=s.url)`"
                )
        http_options = types.HttpOptions(base_url=base_url, timeout=int(timeout * 1000))
        self._make_genai = functools.partial(
            genai.Client,
            api_key=None if vertexai else api_key,
            vertexai=vertexai or None,
            project=project,
            location=location,
            http_options=http_options,
        )
        self._genai = self._make_genai()

    def session(
        self,
        *,
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
        model: str | None = None,
        include_thoughts: bool = False,
    ) -> _SessionT:
        """Starts a multi-turn edit session; see `Session`."""
        return self._session_type(
            self,
            model=model,
            aspect_ratio=aspect_ratio,
            size=size,
            include_thoughts=include_thoughts,
        )

    def stream(
        self,
        prompt: Any,
        *,
        references: Iterable[Any] = (),
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
        model: str | None = None,
        include_thoughts: bool = True,
    ) -> _StreamT:
        """Generates with streaming: thought text and images as they arrive, then the result.

        Retries like `generate` until a final image has arrived; a stream cut after that keeps
        what came (``result.problems`` says so) rather than paying twice. Note that
        google-genai drops ``finishMessage`` on streams.
        """
        request = self._request(prompt, references, aspect_ratio, size, model, include_thoughts)
        call = _core.call_args(request)
        outcome: dict[str, Result] = {}
        events = self._stream_events(call, request, outcome)  # type: ignore[attr-defined]
        return self._stream_type(events, outcome)

    @functools.cached_property
    def batch(self) -> _BatchesT:
        """The Batch API: ``nb.batch.submit(requests)`` (half price, results within 24 h)."""
        return self._batches_type(self)

    def _default_request(self, prompt: Any) -> GenerationRequest:
        return self._request(prompt, (), None, None, None, False)

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(model={self.model!r}, timeout={self.timeout})"

    def _request(
        self,
        prompt: Any,
        references: Iterable[Any],
        aspect_ratio: AspectRatio | str | None,
        size: ImageSize | str | None,
        model: str | None,
        include_thoughts: bool,
    ) -> GenerationRequest:
        return GenerationRequest(
            prompt,
            references=tuple(references),
            aspect_ratio=aspect_ratio,
            size=size,
            model=model or self.model,
            include_thoughts=include_thoughts,
        )


class NanoBanana(_ClientBase[Session, Stream, Batches]):
    """The client.

    Args:
        api_key: Your Gemini API key; defaults to ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``.
        model: Model id for requests that name none.
        base_url: Another endpoint: the emulator (``FakeGemini().url``) or a proxy.
        retry: When to retry; see `RetryPolicy`.
        timeout: Seconds to wait for one answer. A 4K image takes up to 2 minutes with no
            byte sent meanwhile, so the default is 180.
        vertexai: Use Vertex AI (with ``project`` and ``location``) instead of a key.
        genai_client: An existing ``google.genai.Client`` to use as it is.

    Example:
        >>> nb = NanoBanana()
        >>> result = nb.generate("A red fox in fresh snow", aspect_ratio="16:9", size="2K")
        >>> result.image.save("fox")  # -> fox.jpg
    """

    _session_type = Session
    _stream_type = Stream
    _batches_type = Batches

    def generate(
        self,
        prompt: Any,
        *,
        references: Iterable[Any] = (),
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
        model: str | None = None,
        include_thoughts: bool = False,
    ) -> Result:
        """Generates an image.

        Args:
            prompt: A string, or a template of the prompt DSL.
            references: Reference images: paths, bytes, file objects, PIL images or
                `Reference` objects (plain sources count as objects).
            aspect_ratio: One of `AspectRatio` (``"16:9"``).
            size: ``"1K"``, ``"2K"`` or ``"4K"``, any case.
            model: Overrides the client's model.
            include_thoughts: Also return interim thought text and images.

        Raises:
            InvalidRequestError: The request is invalid; nothing was sent.
            SafetyBlockedError: Blocked by a safety filter (``.result`` keeps the rest).
            NoImageError: The model answered without an image (``.result`` keeps the text).
            APIError: The API refused, after any retries.
        """
        request = self._request(prompt, references, aspect_ratio, size, model, include_thoughts)
        return self.generate_request(request)

    def generate_request(self, request: GenerationRequest) -> Result:
        """Sends a prepared `GenerationRequest`."""
        return self._generate_call(_core.call_args(request), request)

    def _stream_events(
        self, call: GenaiCall, request: GenerationRequest, outcome: dict[str, Result]
    ) -> Iterator[_core.StreamEvent]:
        started = self.retry.clock()
        for attempt in itertools.count(1):
            acc = _core.StreamAccumulator()
            try:
                chunks = self._translated(
                    self._genai.models.generate_content_stream,
                    model=call.model, contents=call.contents, config=_core.stream_config(call),
                )  # fmt: skip
                for chunk in _translated_iter(chunks):
                    yield from acc.feed(chunk)
                break
            except NanoBananaError as exc:
                wait = _core.stream_retry(acc, exc, self.retry, attempt, started)
                if wait is None:
                    break
                self.retry.sleep(wait)
        outcome["result"] = acc.result(request, call)

    def edit(
        self,
        image: Any,
        instruction: Any,
        *,
        references: Iterable[Any] = (),
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
    ) -> Result:
        """Edits an existing image (a path, bytes, a `PIL.Image` or a `GeneratedImage`).

        Example:
            >>> nb.edit("photo.jpg", "Remove the background").image.save("cutout")
        """
        session = self.session(aspect_ratio=aspect_ratio, size=size)
        return session.send(instruction, references=[image, *references])

    def generate_many(
        self,
        requests: Iterable[Any],
        *,
        out_dir: str | os.PathLike[str],
        concurrency: int = 4,
        rpm: int | None = None,
        ipm: int | None = None,
        max_cost: float | None = None,
        progress: bool | None = None,
    ) -> RunReport:
        """Generates many images concurrently, within quota, streaming them to ``out_dir``.

        Resumable: a re-run skips every request already in ``out_dir/manifest.jsonl``.
        Failures are recorded in the manifest, not raised mid-run.

        Args:
            requests: `GenerationRequest` objects, prompts or templates.
            out_dir: Where images and the manifest go.
            concurrency: Requests in flight at most.
            rpm: Your requests-per-minute quota (the run stays under it).
            ipm: Your images-per-minute quota.
            max_cost: Stop starting requests when the estimated USD spend would pass this.
            progress: Show progress; ``None`` shows it on a terminal or in Jupyter.

        Example:
            >>> prompts = [f"A {colour} bicycle" for colour in colours]
            >>> report = nb.generate_many(prompts, out_dir="bikes", rpm=20)
            >>> report.done, report.failed, report.cost
        """
        from ._many import as_requests, run_in_thread, run_many

        checked = as_requests(requests, self._default_request)
        own = self._make_genai() if self._make_genai else self._genai
        twin = AsyncNanoBanana(
            genai_client=own, model=self.model, retry=self.retry, timeout=self.timeout
        )

        async def run() -> RunReport:
            try:
                return await run_many(
                    twin, checked, out_dir=Path(out_dir), concurrency=concurrency, rpm=rpm,
                    ipm=ipm, max_cost=max_cost, progress=progress,
                )  # fmt: skip
            finally:
                if own is not self._genai:
                    await twin.aclose()  # its pool lives on this loop, which ends here

        report: RunReport = run_in_thread(run)
        return report

    def _generate_call(
        self,
        call: GenaiCall,
        request: GenerationRequest,
        on_retry: Callable[[BaseException, float], None] | None = None,
    ) -> Result:
        """The one send path: retries around the call, then parse."""
        response = self._retrying(
            self._genai.models.generate_content,
            model=call.model, contents=call.contents, config=call.config, on_retry=on_retry,
        )  # fmt: skip
        return _core.finish(response, request, call)

    def _retrying(
        self,
        fn: Callable[..., _T],
        /,
        *,
        on_retry: Callable[[BaseException, float], None] | None = None,
        idempotent: bool = True,
        **kwargs: Any,
    ) -> _T:
        """Calls google-genai under the retry policy, with errors translated to ours."""
        import tenacity

        policy = self.retry.tenacity_kwargs(on_retry=on_retry, idempotent=idempotent)
        for attempt in tenacity.Retrying(**policy):
            with attempt:
                return self._translated(fn, **kwargs)
        raise AssertionError("unreachable: tenacity raises the last error")  # pragma: no cover

    def _upload(self, image: ImageBytes) -> str:
        """Uploads image bytes to the Files API; returns the file's URI."""
        import io

        from google.genai import types

        config = types.UploadFileConfig(mime_type=image.mime_type)
        uploaded = self._retrying(
            self._genai.files.upload, file=io.BytesIO(image.data), config=config
        )
        return str(uploaded.uri)

    @staticmethod
    def _translated(fn: Callable[..., _T], /, **kwargs: Any) -> _T:
        try:
            return fn(**kwargs)
        except Exception as exc:
            ours = _core.translate_error(exc)
            if ours is None:
                raise
            raise ours from exc

    def close(self) -> None:
        """Closes the connections."""
        self._genai.close()

    def __enter__(self) -> NanoBanana:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncNanoBanana(_ClientBase[AsyncSession, AsyncStream, AsyncBatches]):
    """The async twin of `NanoBanana`: the same arguments, awaitable methods.

    Example:
        >>> async with AsyncNanoBanana() as nb:
        ...     result = await nb.generate("A red fox in fresh snow")
    """

    _session_type = AsyncSession
    _stream_type = AsyncStream
    _batches_type = AsyncBatches

    async def generate(
        self,
        prompt: Any,
        *,
        references: Iterable[Any] = (),
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
        model: str | None = None,
        include_thoughts: bool = False,
    ) -> Result:
        """Generates an image; see `NanoBanana.generate`."""
        request = self._request(prompt, references, aspect_ratio, size, model, include_thoughts)
        return await self.generate_request(request)

    async def generate_request(self, request: GenerationRequest) -> Result:
        """Sends a prepared `GenerationRequest`."""
        import asyncio

        # Reading and fitting reference photos is disk and CPU work: keep it off the loop.
        call = (
            await asyncio.to_thread(_core.call_args, request)
            if request.references
            else _core.call_args(request)
        )
        return await self._generate_call(call, request)

    async def _stream_events(
        self, call: GenaiCall, request: GenerationRequest, outcome: dict[str, Result]
    ) -> AsyncIterator[_core.StreamEvent]:
        started = self.retry.clock()
        for attempt in itertools.count(1):
            acc = _core.StreamAccumulator()
            try:
                chunks = await self._translated(
                    self._genai.aio.models.generate_content_stream,
                    model=call.model, contents=call.contents, config=_core.stream_config(call),
                )  # fmt: skip
                async for chunk in _atranslated_iter(chunks):
                    for event in acc.feed(chunk):
                        yield event
                break
            except NanoBananaError as exc:
                wait = _core.stream_retry(acc, exc, self.retry, attempt, started)
                if wait is None:
                    break
                await self.retry.asleep(wait)
        outcome["result"] = acc.result(request, call)

    async def edit(
        self,
        image: Any,
        instruction: Any,
        *,
        references: Iterable[Any] = (),
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
    ) -> Result:
        """Edits an existing image; see `NanoBanana.edit`."""
        session = self.session(aspect_ratio=aspect_ratio, size=size)
        return await session.send(instruction, references=[image, *references])

    async def generate_many(
        self,
        requests: Iterable[Any],
        *,
        out_dir: str | os.PathLike[str],
        concurrency: int = 4,
        rpm: int | None = None,
        ipm: int | None = None,
        max_cost: float | None = None,
        progress: bool | None = None,
    ) -> RunReport:
        """Generates many images concurrently; see `NanoBanana.generate_many`."""
        from ._many import as_requests, run_many

        checked = as_requests(requests, self._default_request)
        return await run_many(self, checked, out_dir=Path(out_dir), concurrency=concurrency,
                              rpm=rpm, ipm=ipm, max_cost=max_cost, progress=progress)  # fmt: skip

    async def _generate_call(
        self,
        call: GenaiCall,
        request: GenerationRequest,
        on_retry: Callable[[BaseException, float], None] | None = None,
    ) -> Result:
        response = await self._retrying(
            self._genai.aio.models.generate_content,
            model=call.model, contents=call.contents, config=call.config, on_retry=on_retry,
        )  # fmt: skip
        return _core.finish(response, request, call)

    async def _retrying(
        self,
        fn: Callable[..., Awaitable[_T]],
        /,
        *,
        on_retry: Callable[[BaseException, float], None] | None = None,
        idempotent: bool = True,
        **kwargs: Any,
    ) -> _T:
        import tenacity

        policy = self.retry.tenacity_kwargs(is_async=True, on_retry=on_retry, idempotent=idempotent)
        async for attempt in tenacity.AsyncRetrying(**policy):
            with attempt:
                return await self._translated(fn, **kwargs)
        raise AssertionError("unreachable: tenacity raises the last error")  # pragma: no cover

    async def _upload(self, image: ImageBytes) -> str:
        import io

        from google.genai import types

        config = types.UploadFileConfig(mime_type=image.mime_type)
        uploaded = await self._retrying(
            self._genai.aio.files.upload, file=io.BytesIO(image.data), config=config
        )
        return str(uploaded.uri)

    @staticmethod
    async def _translated(fn: Callable[..., Awaitable[_T]], /, **kwargs: Any) -> _T:
        try:
            return await fn(**kwargs)
        except Exception as exc:
            ours = _core.translate_error(exc)
            if ours is None:
                raise
            raise ours from exc

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._genai.aio.aclose()

    async def __aenter__(self) -> AsyncNanoBanana:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _translated_iter(chunks: Iterable[_T]) -> Iterator[_T]:
    """Iterates, translating errors raised mid-stream (a cut body, a reset) at the boundary."""
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            ours = _core.translate_error(exc)
            if ours is None:
                raise
            raise ours from exc
        yield chunk


async def _atranslated_iter(chunks: AsyncIterator[_T]) -> AsyncIterator[_T]:
    while True:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except Exception as exc:
            ours = _core.translate_error(exc)
            if ours is None:
                raise
            raise ours from exc
        yield chunk
