"""The steps a flow yields and a driver performs: one call, a sleep, a stream chunk, an event.

A flow is a generator: it yields a `Step`, and the driver sends back what happened (or throws
the error it raised, translated). Nothing here does anything.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any


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


@dataclass(frozen=True)
class Offload:
    """Disk or CPU work a flow needs done: read references, save an image, append a record.

    The flow names the function; the sync driver calls it, the async one in a worker thread,
    so no flow blocks an event loop and every flow stays free of I/O.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


END: Any = object()
"""What a driver sends back for `Next` when the stream has ended."""

Step = Op | Sleep | Next | Emit | Offload
Flow = Generator[Step, Any, Any]
