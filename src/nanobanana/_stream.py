"""The two handles of a streamed generation, `Stream` and `AsyncStream`.

The stream's flow and the gathering of its chunks are `_core.stream`'s; a handle only hands
out the events a driver emits and, at the end, the one `Result`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._core.stream import StreamEvent
    from ._result.result import Result

__all__ = ["AsyncStream", "Stream"]


class Stream:
    """A streamed generation: iterate for `StreamEvent`s as they arrive, then `final()`.

    Example:
        >>> stream = nb.stream("A red fox in snow", include_thoughts=True)
        >>> for event in stream:
        ...     show(event.image or event.text)   # thought images arrive first
        >>> stream.final().image.save("fox")
    """

    def __init__(self, events: Iterator[StreamEvent], outcome: list[Result]) -> None:
        self._events, self._outcome = events, outcome

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._events

    def final(self) -> Result:
        """The whole result (reading what is left of the stream first)."""
        for _ in self._events:
            pass
        return self._outcome[0]


class AsyncStream:
    """The async twin of `Stream`: ``async for event in stream``, then ``await stream.final()``."""

    def __init__(self, events: AsyncIterator[StreamEvent], outcome: list[Result]) -> None:
        self._events, self._outcome = events, outcome

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events

    async def final(self) -> Result:
        """The whole result (reading what is left of the stream first)."""
        async for _ in self._events:
            pass
        return self._outcome[0]
