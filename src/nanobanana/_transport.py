"""The two drivers: they perform the steps `_core`'s flows yield, and nothing else.

An `Offload` step (disk or CPU work) runs in place in the sync driver and in a worker thread
in the async one.

`SyncTransport` calls ``genai.Client`` and sleeps with the policy's ``sleep``;
`AsyncTransport` awaits ``client.aio`` and the policy's ``asleep``. Every google-genai call
goes through `perform`, inside the one error boundary (`translating`), so a flow receives our
errors only. Sessions, batches and runs hold a transport, never a client's private members.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from ._core.interactions import Api
from ._core.steps import END, Emit, Flow, Next, Offload, Op, Sleep, Step
from ._errors import NanoBananaError, NotFoundError, translating
from ._images.linked import LinkedImage, Sink
from ._models.lifecycle import backend_of, explain_not_found, warn_if_shut_down
from ._result.result import Result
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from google import genai

__all__ = ["AsyncTransport", "SyncTransport"]

_T = TypeVar("_T")


def _method(root: Any, path: str) -> Callable[..., Any]:
    return functools.reduce(getattr, path.split("."), root)  # type: ignore[no-any-return]


def _warn_before(op: Op, vertex: bool, today: date) -> None:
    """Before sending a call naming a model shut down on this backend: warn."""
    if "model" in op.kwargs:
        warn_if_shut_down(op.kwargs["model"], backend_of(vertex), today)


def _explained(error: NotFoundError, op: Op, vertex: bool, today: date) -> NotFoundError:
    """A 404 for a model shut down on this backend, saying so (`_models.lifecycle`)."""
    found = explain_not_found(error, op.kwargs.get("model"), backend_of(vertex), today)
    return error if found is None else found


#: Bytes per read when an image is streamed from its link to disk.
LINK_CHUNK = 256 * 1024


def fetch_link(client: genai.Client, uri: str, sink: Sink) -> None:
    """Streams the image at ``uri`` into ``sink``, through google-genai's own HTTP client.

    Toward the API's own host the request is google-genai's (``download_file``): the
    client's key header (or Vertex credentials), its timeout, its error mapping. A link to
    any other host (a signed storage URL) is fetched with the same HTTP client and timeout
    but never the key, which is for the API alone.

    Raises:
        APIError: The link answered with an error (403/404/410 are turned into
            `ImageExpiredError` by the image).
        APIConnectionError: The connection failed or dropped.
    """
    from urllib.parse import urlsplit

    api = client._api_client
    base, link = urlsplit(api._http_options.base_url or ""), urlsplit(uri)
    with translating():
        if (link.scheme, link.netloc) == (base.scheme, base.netloc):
            path = link.path.lstrip("/") + (f"?{link.query}" if link.query else "")
            options: Any = {"base_url": f"{link.scheme}://{link.netloc}", "api_version": ""}
            out: Any = sink  # google-genai asks only that it has ``write``
            api.download_file(path, http_options=options, destination=out, chunk_size=LINK_CHUNK)
            return
        from google.genai import errors

        timeout = (api._http_options.timeout or 0) / 1000 or None
        with api._httpx_client.stream("GET", uri, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                errors.APIError.raise_for_response(response)
            for chunk in response.iter_bytes(LINK_CHUNK):
                sink.write(chunk)


def _bind_links(value: Any, client: genai.Client) -> Any:
    """Gives the images a call returned by link the client's way to fetch them."""
    if isinstance(value, Result):
        for image in (*value.images, *value.thought_images):
            if isinstance(image, LinkedImage):
                image.bind(functools.partial(fetch_link, client))
    return value


class SyncTransport:
    """Performs steps by blocking: ``genai.Client`` calls, and the policy's ``sleep``."""

    def __init__(
        self, client: genai.Client, policy: RetryPolicy, today: Callable[[], date] = date.today
    ) -> None:
        self.client, self.policy, self.today = client, policy, today
        self.vertex = bool(client.vertexai)
        """Whether calls go to Vertex AI, which takes options the Gemini API refuses."""
        self.api = Api()
        """Which API generations go through (`NanoBanana(api=...)`)."""

    def perform(self, step: Step) -> Any:
        """Does one step; google-genai and transport errors come out as ours."""
        if isinstance(step, Sleep):
            return self.policy.sleep(step.seconds)
        if isinstance(step, Offload):
            return step.fn(*step.args)
        if isinstance(step, Next):
            with translating():
                return next(step.stream, END)
        assert isinstance(step, Op)
        today = self.today()
        _warn_before(step, self.vertex, today)
        try:
            with translating():
                return _method(self.client, step.method)(**step.kwargs)
        except NotFoundError as error:
            explained = _explained(error, step, self.vertex, today)
            if explained is error:
                raise
            raise explained from error

    def events(self, flow: Flow, out: list[Any]) -> Iterator[Any]:
        """Runs a flow, yielding what it emits; its return value is appended to ``out``."""
        value: Any = None
        error: NanoBananaError | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                out.append(_bind_links(stop.value, self.client))
                return
            value, error = None, None
            if isinstance(step, Emit):
                yield step.value
                continue
            try:
                value = self.perform(step)
            except NanoBananaError as exc:
                error = exc

    def run(self, flow: Flow) -> Any:
        """Runs a flow that emits nothing to its return value."""
        out: list[Any] = []
        for _ in self.events(flow, out):
            raise AssertionError("this flow emits values: iterate events() instead")
        return out[0]

    def offload(self, fn: Callable[..., _T], /, *args: Any) -> _T:
        """Disk and CPU work (reading references): done here, since blocking is fine."""
        return fn(*args)

    def close(self) -> None:
        self.client.close()


class AsyncTransport:
    """Performs steps by awaiting: ``client.aio`` calls, and the policy's ``asleep``."""

    def __init__(
        self, client: genai.Client, policy: RetryPolicy, today: Callable[[], date] = date.today
    ) -> None:
        self.client, self.policy, self.today = client, policy, today
        self.vertex = bool(client.vertexai)
        """Whether calls go to Vertex AI, which takes options the Gemini API refuses."""
        self.api = Api()
        """Which API generations go through (`NanoBanana(api=...)`)."""

    async def perform(self, step: Step) -> Any:
        """Does one step; see `SyncTransport.perform`."""
        if isinstance(step, Sleep):
            return await self.policy.asleep(step.seconds)
        if isinstance(step, Offload):
            return await self.offload(step.fn, *step.args)
        if isinstance(step, Next):
            with translating():
                return await anext(step.stream, END)
        assert isinstance(step, Op)
        today = self.today()
        _warn_before(step, self.vertex, today)
        try:
            with translating():
                return await _method(self.client.aio, step.method)(**step.kwargs)
        except NotFoundError as error:
            explained = _explained(error, step, self.vertex, today)
            if explained is error:
                raise
            raise explained from error

    async def events(self, flow: Flow, out: list[Any]) -> AsyncIterator[Any]:
        """Runs a flow, yielding what it emits; see `SyncTransport.events`."""
        value: Any = None
        error: NanoBananaError | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                out.append(_bind_links(stop.value, self.client))
                return
            value, error = None, None
            if isinstance(step, Emit):
                yield step.value
                continue
            try:
                value = await self.perform(step)
            except NanoBananaError as exc:
                error = exc

    async def run(self, flow: Flow) -> Any:
        """Runs a flow that emits nothing to its return value."""
        out: list[Any] = []
        async for _ in self.events(flow, out):
            raise AssertionError("this flow emits values: iterate events() instead")
        return out[0]

    async def offload(self, fn: Callable[..., _T], /, *args: Any) -> _T:
        """Disk and CPU work (reading references) in a worker thread, off the event loop."""
        import asyncio

        return await asyncio.to_thread(fn, *args)

    async def close(self) -> None:
        await self.client.aio.aclose()
