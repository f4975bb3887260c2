"""The live status line: a spinner while one answer is awaited, counts while a batch runs.

A 4K image takes 50-120 s with no byte sent meanwhile; the line says from the first second
what is awaited and for how long (``⠋ waiting for gemini-3-pro-image (2K) · 12s``). It is
drawn by a thread on stderr, only on a terminal, and cleared before anything else prints.
Clock and wait are injectable, so tests run it without sleeping.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["BatchCounter", "Live", "StatusLine", "duration", "money"]

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_FRAMES = "|/-\\"


def money(usd: float | None) -> str:
    """One rounding for every amount the CLI prints: per image and in totals alike."""
    return f"${usd or 0.0:.3f}"


def duration(seconds: float) -> str:
    """``7s``, ``1m05s``, ``2h03m``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class StatusLine:
    """One line on a terminal, rewritten in place; whatever else prints clears it first."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.RLock()
        self.shown = False
        encoding = (getattr(stream, "encoding", None) or "ascii").lower()
        self.frames = FRAMES if encoding.replace("-", "") in ("utf8", "utf16") else ASCII_FRAMES

    def _width(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            return 80

    def show(self, text: str) -> None:
        with self.lock:
            # Never wider than the terminal: a wrapped line cannot be rewritten in place.
            self.stream.write("\r" + text[: max(10, self._width() - 1)] + "\x1b[K")
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.shown = False

    def write_above(self, text: str, stream: IO[str]) -> None:
        """Prints a line; the status comes back on its next tick."""
        with self.lock:
            self.clear()
            stream.write(text + "\n")
            stream.flush()


class Live:
    """Redraws ``render(elapsed)`` with a spinner frame until the block ends, then clears it.

    With ``line`` None (piped, or ``--quiet``) it does nothing at all.

    Args:
        line: Where to draw.
        render: The text for the seconds elapsed so far.
        clock: Seconds, monotonic.
        wait: Waits up to the given seconds; returns True to stop drawing. Default: until
            the block ends.
        interval: Seconds between frames.
    """

    def __init__(
        self,
        line: StatusLine | None,
        render: Callable[[float], str],
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
        interval: float = 0.1,
    ) -> None:
        self.line, self.render, self.clock, self.interval = line, render, clock, interval
        self.note = ""
        """A remark shown after the text."""
        self.retry: tuple[str, int, int, float] | None = None
        """The latest retry: error kind, attempt, retries allowed, when it goes out."""
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def __enter__(self) -> Live:
        if self.line is not None:
            self._started = self.clock()
            self._thread = threading.Thread(target=self._run, name="nanobanana-status", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.line is not None
        frame = 0
        while not self._stop.is_set():
            text = self.render(self.clock() - self._started)
            frames = self.line.frames
            note = self._retry_note() or self.note
            note = f" · {note}" if note else ""
            self.line.show(f"{frames[frame % len(frames)]} {text}{note}")
            frame += 1
            if self._wait(self.interval):
                break

    def _retry_note(self) -> str:
        if self.retry is None:
            return ""
        kind, attempt, retries, at = self.retry
        left = at - self.clock()
        if left > 0:
            return f"{kind}: retry {attempt} of {retries} in {duration(left + 0.999)}"
        return f"retry {attempt} of {retries} (after {kind})"

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.line is not None:
            self.line.clear()

    def notes_from_retries(self) -> _RetryNotes:
        """A logging handler that shows the library's retry messages as this line's note."""
        return _RetryNotes(self)


class _RetryNotes(logging.Handler):
    """Turns ``attempt 1 of 5 failed (RateLimitError: ...); retrying in 4.0s`` into a note."""

    def __init__(self, live: Live) -> None:
        super().__init__(logging.INFO)
        self.live = live
        self._level = logging.NOTSET

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        attempt, attempts, error, wait = (*args, None, None, None, None)[:4]
        if isinstance(attempt, int) and isinstance(attempts, int) and isinstance(wait, int | float):
            kind = str(error).split(":", 1)[0]
            self.live.retry = (kind, attempt, attempts - 1, self.live.clock() + wait)
        else:
            self.live.note = record.getMessage()[:60]

    def __enter__(self) -> _RetryNotes:
        logger = logging.getLogger("nanobanana")
        self._level = logger.level
        logger.addHandler(self)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("nanobanana")
        logger.removeHandler(self)
        logger.setLevel(self._level)


class BatchCounter:
    """Counts a run's finished requests as its manifest grows: ``12/40 · 1 failed · $1.608``.

    Reads only the lines appended since it was made (earlier runs' lines are ``before``).
    """

    def __init__(self, manifest: Path, total: int, before: int) -> None:
        self.path, self.total, self.before = manifest, total, before
        self.offset = manifest.stat().st_size if manifest.exists() else 0
        self.ok = self.failed = 0
        self.cost = 0.0
        self._tail = b""

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return
        self.offset += len(chunk)
        *lines, self._tail = (self._tail + chunk).split(b"\n")
        for line in lines:
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if not isinstance(entry, dict) or "status" not in entry:
                continue
            if entry["status"] == "ok":
                self.ok += 1
            else:
                self.failed += 1
            cost = entry.get("cost")
            self.cost += cost if isinstance(cost, int | float) else 0.0

    def render(self, elapsed: float) -> str:
        self.poll()
        finished = self.ok + self.failed
        parts = [f"{self.before + finished}/{self.total}"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts += [money(self.cost), duration(elapsed)]
        remaining = self.total - self.before - finished
        if finished and remaining > 0:
            parts.append(f"ETA {duration(elapsed / finished * remaining)}")
        return " · ".join(parts)
