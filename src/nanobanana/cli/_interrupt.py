"""Two-stage Ctrl-C: the first asks a run to wind down, the second aborts it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

__all__ = ["GracefulInterrupt"]


class GracefulInterrupt:
    """Within the block, the first SIGINT sets `stop` and calls ``on_first``.

    The second raises `KeyboardInterrupt` as usual (so does ``on_first`` when a run cannot
    wind down).

    Outside the main thread (where signals cannot be handled) it does nothing.
    """

    def __init__(self, on_first: Callable[[], None]) -> None:
        self.on_first = on_first
        self.stop = threading.Event()
        self._previous: object = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        self.on_first()

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
