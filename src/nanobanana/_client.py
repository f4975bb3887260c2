"""`NanoBanana` and `AsyncNanoBanana`: thin facades over `_core`, driven by `_transport`.

A method is prepare, build, run: read the references (the async twin in a worker thread),
`build` the call, and run a `_core` flow on the client's transport. The sync twin's
transport calls ``genai.Client``; the async one's awaits ``client.aio`` (google-genai's one
API client with two faces); nothing else differs.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from ._auth import DEFAULT_TIMEOUT, genai_factory
from ._core.flows import list_flow
from ._core.interactions import Api, ApiName, Delivery, generation
from ._core.stream import StreamEvent
from ._errors import InvalidRequestError
from ._images.fit import prepare_references
from ._models.catalog import ModelSummary, merge_models
from ._models.registry import DEFAULT_MODEL, MODELS
from ._request.options import RequestOptions, with_options_help
from ._request.reference import ReferenceLike, as_references, check_reference_counts
from ._request.request import GenerationRequest
from ._request.types import ImageSource, PromptLike
from ._result.result import Result
from ._retry import RetryPolicy
from ._stream import AsyncStream, Stream
from ._transport import AsyncTransport, SyncTransport

if TYPE_CHECKING:
    from google import genai
    from google.auth.credentials import Credentials

    # Imported where used: a script that only generates never loads them (~10 ms).
    from ._batch.jobs import AsyncBatches, Batches
    from ._runs.runner import RunReport
    from ._sessions.session import AsyncSession, Session

__all__ = ["AsyncNanoBanana", "NanoBanana"]


class _ClientBase:
    """What both twins share: configuration, read from the environment here (never at import)."""

    @staticmethod
    def _edited(
        image: ImageSource, references: Iterable[ReferenceLike] | ReferenceLike | None, session: Any
    ) -> tuple[ReferenceLike, ...]:
        """The image being edited, then the references; refused naming it when too many.

        The edited image takes one object slot, as any reference does.
        """
        refs = as_references(references)
        try:
            check_reference_counts(["object", *(r.kind for r in refs)], MODELS.get(session.model))
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                f"the image being edited and {len(refs)} reference(s) are too many for one "
                f"request (the edited image counts as one object): {exc}"
            ) from None
        return (image, *refs)

    _transport_type: Callable[[genai.Client, RetryPolicy, Callable[[], date]], Any]

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
        credentials: Credentials | None = None,
        genai_client: genai.Client | None = None,
        api: ApiName = "generate_content",
        background: bool = False,
        delivery: Delivery = "inline",
        today: Callable[[], date] = date.today,
        webhook: str | None = None,
    ) -> None:
        wire = Api(api, background, delivery, webhook)
        self.model = model
        self.today = today
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        # How to make another google-genai client like ours: a private event loop (the sync
        # generate_many) needs one of its own, since aio.aclose() ends a client for good.
        self._fresh_genai: Callable[[], genai.Client] | None = None
        if genai_client is None:
            self._fresh_genai = genai_factory(
                api_key, base_url=base_url, timeout=timeout, vertexai=vertexai, project=project,
                location=location, credentials=credentials,
            )  # fmt: skip
            genai_client = self._fresh_genai()
        self._genai = genai_client
        self._transport = self._transport_type(genai_client, self.retry, today)
        self._transport.api = wire

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(model={self.model!r}, timeout={self.timeout})"

    def _request(
        self,
        prompt: PromptLike,
        references: Iterable[ReferenceLike] | ReferenceLike | None,
        options: RequestOptions,
    ) -> GenerationRequest:
        merged: RequestOptions = {**options, "model": options.get("model") or self.model}
        return GenerationRequest(prompt, references=references, **merged)

    def _one_call(
        self,
        prompt: PromptLike,
        references: Iterable[ReferenceLike] | ReferenceLike | None,
        options: RequestOptions,
    ) -> GenerationRequest:
        """The request of ``generate`` or ``stream``: one call, so ``n`` other than 1 is refused."""
        n = options.get("n", 1)
        if n != 1:
            raise InvalidRequestError(
                f"n={n!r} asks for {n!r} images, and generate() and stream() make one call: "
                f"use nb.generate_many([prompt], out_dir=..., n={n!r}) for {n!r} images, each "
                "its own request and file (or call generate() once per image)"
            )
        return self._request(prompt, references, options)

    def _maker(self, options: RequestOptions) -> Callable[[PromptLike], GenerationRequest]:
        """Makes the request for a prompt or template given as such, with these options."""
        return lambda prompt: self._request(prompt, (), options)


class NanoBanana(_ClientBase):
    """The client.

    Args:
        api_key: Your Gemini API key; defaults to ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``.
        model: Model id for requests that name none.
        base_url: Another endpoint: the emulator (``FakeGemini().url``) or a proxy.
        retry: When to retry; see `RetryPolicy`.
        timeout: Seconds to wait for one answer. A 4K image takes up to 2 minutes with no
            byte sent meanwhile, so the default is 180.
        vertexai: Use Vertex AI (with ``project`` and ``location``) instead of a key: every
            feature but the Batch API and the Files API (Vertex batch needs Cloud Storage).
        project: The Google Cloud project, for Vertex AI.
        location: The Vertex AI region (``us-central1``, ``global``...).
        credentials: Google credentials for Vertex AI; by default Application Default
            Credentials.
        genai_client: An existing ``google.genai.Client`` to use as it is.
        api: ``"generate_content"`` (the default) or ``"interactions"``: generate, stream and
            session turns go through ``client.interactions``, and a session sends only its
            new turn (see docs/interactions.md).
        background: With ``api="interactions"``: each call runs on the server and is polled
            to its end (long 4K work), under the same retry policy.
        delivery: With ``api="interactions"``: ``"uri"`` has images returned as links,
            fetched when saved (streamed to disk; see `ImageExpiredError`).
        webhook: With ``background=True``: an ``https://`` URL the API notifies when each
            call ends (``webhook_config``). nanobanana still polls for the answer, since a
            call returns its `Result` (see docs/interactions.md).
        today: The date, for models' shutdown dates (a test injects one): a model shut down
            on the backend in use is warned about (`ModelShutDownWarning`) before sending.

    Example:
        >>> nb = NanoBanana()
        >>> result = nb.generate("A red fox in fresh snow", aspect_ratio="16:9", size="2K")
        >>> result.image.save("fox")  # -> fox.jpg
    """

    _transport_type = SyncTransport
    _transport: SyncTransport

    @with_options_help
    def generate(
        self,
        prompt: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> Result:
        """Generates an image.

        Args:
            prompt: A string, or a template of the prompt DSL.
            references: Reference images: paths, bytes, file objects, PIL images or
                `Reference` objects (plain sources count as objects); one, or several.
            **options: Request options, each listed under Options below.

        Raises:
            InvalidRequestError: The request is invalid; nothing was sent.
            SafetyBlockedError: Blocked by a safety filter (``.result`` keeps the rest).
            NoImageError: The model answered without an image (``.result`` keeps the text).
            APIError: The API refused, after any retries.
        """
        request = self._one_call(prompt, references, options)
        return self.generate_request(request)

    def generate_request(self, request: GenerationRequest) -> Result:
        """Sends a prepared `GenerationRequest`."""
        t = self._transport
        images = t.offload(prepare_references, request)
        result: Result = t.run(generation(t.api, request, images, self.retry, vertex=t.vertex))
        return result

    @with_options_help
    def stream(
        self,
        prompt: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> Stream:
        """Generates with streaming: thought text and images as they arrive, then the result.

        Retries like `generate` until a final image has arrived; a stream cut after that keeps
        what came (``result.problems`` says so) rather than paying twice. Note that
        google-genai drops ``finishMessage`` on streams.
        """
        request = self._one_call(prompt, references, options)
        outcome: list[Result] = []

        def events() -> Iterator[StreamEvent]:
            t = self._transport
            images = t.offload(prepare_references, request)
            flow = generation(t.api, request, images, self.retry, vertex=t.vertex, stream=True)
            yield from t.events(flow, outcome)

        return Stream(events(), outcome)

    @with_options_help
    def session(self, **options: Unpack[RequestOptions]) -> Session:
        """Starts a multi-turn edit session; see `Session`."""
        from ._sessions.session import Session

        return Session(self._transport, self.model, **options)

    @with_options_help
    def edit(
        self,
        image: ImageSource,
        instruction: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> Result:
        """Edits an existing image (a path, bytes, a `PIL.Image` or a `GeneratedImage`).

        Example:
            >>> nb.edit("photo.jpg", "Remove the background").image.save("cutout")
        """
        session = self.session(**options)
        return session.send(instruction, references=self._edited(image, references, session))

    @with_options_help
    def generate_many(
        self,
        requests: Iterable[GenerationRequest | PromptLike],
        *,
        out_dir: str | os.PathLike[str],
        concurrency: int | None = None,
        rpm: int | None = None,
        ipm: int | None = None,
        max_cost: float | None = None,
        progress: bool | None = None,
        stop: threading.Event | None = None,
        wait: float = 0,
        **options: Unpack[RequestOptions],
    ) -> RunReport:
        """Generates many images concurrently, within quota, streaming them to ``out_dir``.

        Resumable: a re-run skips every request already in ``out_dir/manifest.jsonl``.
        Failures are recorded in the manifest, not raised mid-run.

        Args:
            requests: `GenerationRequest` objects, prompts or templates. A list is checked
                whole before anything is sent; any other iterable (a generator, a file's
                lines) is drawn only as the run has room, so memory stays flat however many
                it holds, and an invalid item is recorded as failed while the run goes on.
            out_dir: Where images and the manifest go: a folder, or a URL (``gs://``,
                ``s3://``, ``memory://``) where each item is one create-only record.
            concurrency: Requests in flight at most; ``None`` (the default) keeps as many in
                flight as the quota can serve: rate x latency, from the registry's typical
                latency for the model and size, then the latencies measured.
            rpm: Your requests-per-minute quota (the run stays under it).
            ipm: Your images-per-minute quota.
            max_cost: A cap in USD for the job in ``out_dir`` (what its manifest already spent
                counts): a request starts only if the spend so far plus a conservative
                estimate of it stays under. Refused for a model without a known price.
            progress: Show progress; ``None`` shows it on a terminal or in Jupyter.
            stop: Set it (from any thread) to wind the run down: nothing new starts, and the
                answers already paid for are waited for and saved. The first Ctrl-C does the
                same; a second aborts.
            wait: Seconds to wait for another writer to finish with ``out_dir`` (one run
                writes to a folder at a time); then `FolderInUseError` names it. ``0`` (the
                default) refuses a busy folder at once.
            **options: `RequestOptions` for the prompts and templates given as such
                (``search=True``, ``size="2K"``...); a `GenerationRequest` keeps its own.

        Example:
            >>> prompts = [f"A {colour} bicycle" for colour in colours]
            >>> report = nb.generate_many(prompts, out_dir="bikes", rpm=20)
            >>> report.done, report.failed, report.cost
        """
        from ._runs.runner import for_run, run_in_thread, run_many
        from ._runs.store import output

        checked = for_run(requests, self._maker(options))
        own = self._fresh_genai() if self._fresh_genai else self._genai
        transport = AsyncTransport(own, self.retry, self.today)
        transport.api = self._transport.api  # the run speaks the client's API

        async def run(interrupted: threading.Event) -> RunReport:
            try:
                return await run_many(
                    transport, checked, out_dir=output(out_dir), concurrency=concurrency, rpm=rpm,
                    ipm=ipm, max_cost=max_cost, progress=progress, stop=stop or interrupted,
                    wait=wait,
                )  # fmt: skip
            finally:
                if own is not self._genai:
                    await transport.close()  # its pool lives on this loop, which ends here

        report: RunReport = run_in_thread(run, stop)
        return report

    def models(self) -> list[ModelSummary]:
        """The models this key can use (``models.list``), with what the registry knows.

        Each `ModelSummary` has the API's limits, the registry's capabilities and prices, and
        for a retired id the one to use instead.

        Example:
            >>> [(m.id, m.price_per_image) for m in nb.models()]
        """
        listed = self._transport.run(list_flow("models.list", self.retry))
        return merge_models(listed)

    @functools.cached_property
    def batch(self) -> Batches:
        """The Batch API: ``nb.batch.submit(requests)`` (half price, results within 24 h)."""
        from ._batch.jobs import Batches

        return Batches(self._transport, self._maker)

    def close(self) -> None:
        """Closes the connections."""
        self._transport.close()

    def __enter__(self) -> NanoBanana:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncNanoBanana(_ClientBase):
    """The async twin of `NanoBanana`: the same arguments, awaitable methods.

    Example:
        >>> async with AsyncNanoBanana() as nb:
        ...     result = await nb.generate("A red fox in fresh snow")
    """

    _transport_type = AsyncTransport
    _transport: AsyncTransport

    @with_options_help
    async def generate(
        self,
        prompt: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> Result:
        """Generates an image; see `NanoBanana.generate`."""
        request = self._one_call(prompt, references, options)
        return await self.generate_request(request)

    async def generate_request(self, request: GenerationRequest) -> Result:
        """Sends a prepared `GenerationRequest`."""
        t = self._transport
        # No thread hand-off (about 100 us) when there is nothing to read.
        images = await t.offload(prepare_references, request) if request.references else []
        flow = generation(t.api, request, images, self.retry, vertex=t.vertex)
        result: Result = await t.run(flow)
        return result

    @with_options_help
    def stream(
        self,
        prompt: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> AsyncStream:
        """Generates with streaming; see `NanoBanana.stream`."""
        request = self._one_call(prompt, references, options)
        outcome: list[Result] = []

        async def events() -> AsyncIterator[StreamEvent]:
            t = self._transport
            images = await t.offload(prepare_references, request) if request.references else []
            flow = generation(t.api, request, images, self.retry, vertex=t.vertex, stream=True)
            async for event in t.events(flow, outcome):
                yield event

        return AsyncStream(events(), outcome)

    @with_options_help
    def session(self, **options: Unpack[RequestOptions]) -> AsyncSession:
        """Starts a multi-turn edit session; see `AsyncSession`."""
        from ._sessions.session import AsyncSession

        return AsyncSession(self._transport, self.model, **options)

    @with_options_help
    async def edit(
        self,
        image: ImageSource,
        instruction: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> Result:
        """Edits an existing image; see `NanoBanana.edit`."""
        session = self.session(**options)
        refs = self._edited(image, references, session)
        return await session.send(instruction, references=refs)

    @with_options_help
    async def generate_many(
        self,
        requests: Iterable[GenerationRequest | PromptLike],
        *,
        out_dir: str | os.PathLike[str],
        concurrency: int | None = None,
        rpm: int | None = None,
        ipm: int | None = None,
        max_cost: float | None = None,
        progress: bool | None = None,
        stop: threading.Event | None = None,
        wait: float = 0,
        **options: Unpack[RequestOptions],
    ) -> RunReport:
        """Generates many images concurrently; see `NanoBanana.generate_many`."""
        from ._runs.runner import for_run, run_many
        from ._runs.store import output

        checked = for_run(requests, self._maker(options))
        return await run_many(self._transport, checked, out_dir=output(out_dir),
                              concurrency=concurrency, rpm=rpm, ipm=ipm, max_cost=max_cost,
                              progress=progress, stop=stop, wait=wait)  # fmt: skip

    async def models(self) -> list[ModelSummary]:
        """The models this key can use; see `NanoBanana.models`."""
        listed = await self._transport.run(list_flow("models.list", self.retry))
        return merge_models(listed)

    @functools.cached_property
    def batch(self) -> AsyncBatches:
        """The Batch API; see `NanoBanana.batch`."""
        from ._batch.jobs import AsyncBatches

        return AsyncBatches(self._transport, self._maker)

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._transport.close()

    async def __aenter__(self) -> AsyncNanoBanana:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
