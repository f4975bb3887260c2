"""The flows: one retry loop (`attempt`), a generation, a listing, an upload.

Nothing here sends, reads a file, awaits or sleeps. A shell prepares the references (the one
disk and CPU step, `_images.fit.prepare_references`), `build`s a `Call` from the prepared
bytes (`_core.wire`), and runs a flow: a generator that yields what to do (`_core.steps`:
`Op`, one google-genai call; `Sleep`; `Next`, one chunk of an open stream; `Emit`, an event
for the caller; `Offload`, disk work) and receives what happened, or the error it raised,
translated. Two drivers in `_transport` perform the steps, one blocking, one awaiting,
as httpx runs its ``Auth.auth_flow`` generators. So the retry loop, the stream's retry, uploads
and the batch flows exist once, whichever twin runs them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._errors import NanoBananaError
from .._retry import RetryPolicy
from .parse import finish, parse
from .steps import END, Flow, Next, Op, Sleep
from .wire import Call

if TYPE_CHECKING:
    from .._images.bytes import ImageBytes


def retrying(
    body: Callable[[], Flow],
    policy: RetryPolicy,
    *,
    idempotent: bool = True,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> Flow:
    """The one retry loop: runs the flow ``body()`` makes, again after each retryable error.

    ``policy.next_delay`` decides whether and how long to wait; ``on_retry(error, wait)``
    hears of each retry (a run's rate limiter slows down on 429).
    """
    started = policy.clock()
    for n in itertools.count(1):
        try:
            return (yield from body())
        except NanoBananaError as error:
            wait = policy.next_delay(error, n, policy.clock() - started, idempotent=idempotent)
            if wait is None:
                raise
            policy.log_retry(error, n, wait)
            if on_retry is not None:
                on_retry(error, wait)
            yield Sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def attempt(
    op: Op, policy: RetryPolicy, *, on_retry: Callable[[BaseException, float], None] | None = None
) -> Flow:
    """Performs ``op`` under the retry policy; returns what it returned."""

    def once() -> Flow:
        return (yield op)

    return (yield from retrying(once, policy, idempotent=op.idempotent, on_retry=on_retry))


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
