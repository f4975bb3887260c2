"""Sans-IO core: every call is built here, every answer parsed here, every flow decided here.

Nothing here sends, reads a file, awaits or sleeps. A shell prepares the references (the one
disk and CPU step, `_references`), `build`s a `Call` from the prepared bytes, and runs a flow:
a generator that yields what to do (`Op`: one google-genai call; `Sleep`; `Next`: one chunk of
an open stream; `Emit`: an event for the caller) and receives what happened, or the error it
raised, translated. Two drivers in `_transport` perform the steps, one blocking, one awaiting,
as httpx runs its ``Auth.auth_flow`` generators. So the retry loop, the stream's retry, uploads
and the batch flows exist once, whichever twin runs them.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pydantic_core

from ._errors import (
    InvalidResponseError,
    NanoBananaError,
    NoImageError,
    SafetyBlockedError,
)
from ._limits import SizeMismatchWarning
from ._registry import user_stacklevel
from ._request import GenerationRequest
from ._result import FinalPart, Result, TextPart
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from google.genai import types

    from ._references import ImageBytes

__all__ = [
    "END",
    "Call",
    "Emit",
    "MissingImagesWarning",
    "Next",
    "Op",
    "Sleep",
    "attempt",
    "build",
    "finish",
    "generate_flow",
    "list_flow",
    "parse_body",
    "require_image",
    "upload_flow",
]

#: Finish reasons that mean a safety system stopped the image.
SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)


class MissingImagesWarning(UserWarning):
    """Fewer final images came back than the prompt asked for; all that came are kept."""


# -- steps a driver performs ------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One google-genai call: ``method`` is a path on the client (``"models.generate_content"``).

    The sync driver calls it on ``genai.Client``, the async one awaits it on ``client.aio``.
    """

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    idempotent: bool = True
    """False for what must never be done twice (creating a batch job): not retried after a
    dropped connection, since the server may have done it already."""


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds (with the policy's sleep, so tests inject a clock)."""

    seconds: float


@dataclass(frozen=True)
class Next:
    """Read the next chunk of an open stream; the driver sends back the chunk, or `END`."""

    stream: Any


@dataclass(frozen=True)
class Emit:
    """Hand this to the caller as it arrives (a stream's events, a batch's results)."""

    value: Any


END: Any = object()
"""What a driver sends back for `Next` when the stream has ended."""

Step = Op | Sleep | Next | Emit
Flow = Generator[Step, Any, Any]


# -- building -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A request ready to send: the arguments of ``models.generate_content``."""

    request: GenerationRequest
    model: str
    contents: list[types.Content]
    config: types.GenerateContentConfig
    reference_sha256: tuple[str, ...] = ()
    """Digests of the reference bytes as sent (after any fitting), for provenance."""

    def kwargs(self, *, raw_body: bool = True) -> dict[str, Any]:
        """``model=, contents=, config=``, asking for the raw HTTP body unless told not to.

        google-genai drops ``finishMessage`` (the reason text users need) when it converts a
        response; with ``should_return_http_response`` we parse the body ourselves, once.
        Streams cannot have it (google-genai refuses), so they lose ``finishMessage``.
        """
        config = self.config.model_copy(update={"should_return_http_response": raw_body or None})
        return {"model": self.model, "contents": self.contents, "config": config}


def user_content(prompt: str, parts: Sequence[types.Part]) -> types.Content:
    """A user turn: the prompt, then the reference parts."""
    from google.genai import types

    return types.Content(role="user", parts=[types.Part(text=prompt), *parts])


def inline_parts(images: Sequence[ImageBytes]) -> list[types.Part]:
    """Prepared reference bytes as inline parts."""
    from google.genai import types

    return [
        types.Part(inline_data=types.Blob(data=image.data, mime_type=image.mime_type))
        for image in images
    ]


def model_content(parts: Sequence[FinalPart]) -> types.Content:
    """An earlier answer, sent back with every thought signature byte for byte."""
    from google.genai import types

    out = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append(types.Part(text=p.text, thought_signature=p.thought_signature))
        else:
            blob = types.Blob(data=p.data, mime_type=p.mime_type)
            out.append(types.Part(inline_data=blob, thought_signature=p.thought_signature))
    return types.Content(role="model", parts=out)


def build(
    request: GenerationRequest,
    images: Sequence[ImageBytes],
    *,
    vertex: bool = False,
    history: Sequence[types.Content] = (),
    parts: Sequence[types.Part] | None = None,
) -> Call:
    """The call for a request whose references are prepared: plain, or a session's next turn.

    Args:
        request: What to ask.
        images: Its references, read and fitted (`_references`).
        vertex: Whether the call goes to Vertex AI (which alone takes ``output_format``).
        history: Earlier turns (`user_content` / `model_content`), oldest first.
        parts: The references as parts, when some are Files API uploads (a session's); by
            default every image goes inline with its media resolution.
    """
    import hashlib

    from google.genai import types

    user = (
        types.Content(role="user", parts=request.user_parts(images))
        if parts is None
        else user_content(request.prompt, parts)
    )
    digests = tuple(hashlib.sha256(image.data).hexdigest() for image in images)
    config = request.generation_config(vertex=vertex)
    return Call(request, request.model, [*history, user], config, digests)


# -- parsing ----------------------------------------------------------------------------------


def parse_body(text: str | bytes, call: Call | None = None, *, batch: bool = False) -> Result:
    """Parses a response body as sent on the wire.

    Raises:
        InvalidResponseError: The body is not JSON.
    """
    try:
        # pydantic-core's parser: ~5x faster than json.loads on megabytes of base64.
        body = pydantic_core.from_json(text)
    except ValueError as exc:
        raise InvalidResponseError(f"the response body is not JSON ({exc})") from exc
    return parse(body, call, batch=batch)


def parse(
    body: Any,
    call: Call | None = None,
    *,
    request: GenerationRequest | None = None,
    batch: bool = False,
    problems: tuple[str, ...] = (),
) -> Result:
    """Parses a loaded body: a dict as sent, or a google-genai response object.

    The one parse path from body to `Result`: plain calls, stream chunks gathered, session
    turns and batch lines all come here.
    """
    if not isinstance(body, dict) and hasattr(body, "model_dump"):
        http = getattr(body, "sdk_http_response", None)
        if http is not None and http.body is not None:
            return parse_body(http.body, call, batch=batch)
        body = body.model_dump(by_alias=True, exclude_none=True, mode="python")
    request = call.request if call is not None else request
    digests = call.reference_sha256 if call is not None else ()
    return Result.from_body(
        body, request=request, batch=batch, reference_sha256=digests, problems=problems
    )


def require_image(result: Result) -> Result:
    """Returns the result, or raises the typed error for a response without a final image."""
    if result.images:
        return result
    if result.block_reason or (result.finish_reason or "") in SAFETY_REASONS:
        reason = result.block_reason or result.finish_reason or "unknown"
        raise SafetyBlockedError(
            f"the image was blocked ({result.describe_outcome()})", result=result, reason=reason
        )
    raise NoImageError(
        f"the model answered without an image ({result.describe_outcome()})", result=result
    )


def finish(result: Result) -> Result:
    """Insists on a final image, and warns when fewer came, or of another size, than asked."""
    result = require_image(result)
    for text in result.size_mismatches:
        warnings.warn(text, SizeMismatchWarning, stacklevel=user_stacklevel())
    if result.missing:
        warnings.warn(
            f"asked for {result.missing + len(result.images)} images but "
            f"{len(result.images)} came back; the {len(result.images)} received are kept in "
            f"the result (result.missing == {result.missing})",
            MissingImagesWarning,
            stacklevel=user_stacklevel(),
        )
    return result


# -- flows ------------------------------------------------------------------------------------


def attempt(
    op: Op, policy: RetryPolicy, *, on_retry: Callable[[BaseException, float], None] | None = None
) -> Flow:
    """Performs ``op`` under the retry policy; returns what it returned.

    ``on_retry(error, wait)`` hears of each retry (a run's rate limiter slows down on 429).
    """
    started = policy.clock()
    for n in itertools.count(1):
        try:
            return (yield op)
        except NanoBananaError as error:
            wait = policy.next_delay(error, n, policy.clock() - started, idempotent=op.idempotent)
            if wait is None:
                raise
            policy.log_retry(error, n, wait)
            if on_retry is not None:
                on_retry(error, wait)
            yield Sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def generate_flow(
    call: Call,
    policy: RetryPolicy,
    *,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> Flow:
    """One generation: the call under the retry policy, parsed, with a final image."""
    response = yield from attempt(
        Op("models.generate_content", call.kwargs()), policy, on_retry=on_retry
    )
    return finish(parse(response, call))


def list_flow(method: str, policy: RetryPolicy) -> Flow:
    """Everything a google-genai pager lists (``"models.list"``, ``"batches.list"``)."""
    pager = yield from attempt(Op(method), policy)
    items = []
    while (item := (yield Next(pager))) is not END:
        items.append(item)
    return items


def upload_flow(image: ImageBytes, policy: RetryPolicy) -> Flow:
    """Uploads image bytes to the Files API; returns the file's URI."""
    import io

    from google.genai import types

    config = types.UploadFileConfig(mime_type=image.mime_type)
    op = Op("files.upload", {"file": io.BytesIO(image.data), "config": config})
    uploaded = yield from attempt(op, policy)
    return str(uploaded.uri)
