"""One writer per local folder: a lock held while a run, a batch's results or a gallery write.

`filelock` takes an OS lock (``flock`` on POSIX, ``msvcrt`` on Windows) on ``.nanobanana.lock``
in the folder. The OS drops it when its process dies, so a lock left by a killed process is
free at once (stale); the holder's pid, host and start time sit beside it, in
``.nanobanana.lock.json``, to name the holder to a writer that is refused. The lock is taken
per call and released when the call ends, so a long-lived process (a server) holds no folder
between calls.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from .._errors import FolderInUseError, InvalidRequestError
from .._images.generated import atomic_write

__all__ = ["HOLDER_NAME", "LOCK_NAME", "FolderLock", "check_wait"]

LOCK_NAME = ".nanobanana.lock"
HOLDER_NAME = ".nanobanana.lock.json"


def check_wait(wait: float) -> float:
    """``wait`` as seconds to wait for a busy folder.

    Raises:
        InvalidRequestError: Not a finite number of 0 or more.
    """
    if (
        isinstance(wait, bool)
        or not isinstance(wait, int | float)
        or not math.isfinite(wait)
        or wait < 0
    ):
        raise InvalidRequestError(
            f"wait must be a finite number of seconds, 0 or more (0: refuse a busy folder at "
            f"once), got {wait!r}"
        )
    return float(wait)


class FolderLock:
    """Holds ``folder`` for one writer; ``wait`` seconds for another to finish, then refuses.

    Raises:
        FolderInUseError: Another writer still held the folder after ``wait`` seconds.
    """

    def __init__(self, folder: Path, *, wait: float = 0.0) -> None:
        self.folder = folder
        self.wait = check_wait(wait)
        self._lock: Any = None

    def acquire(self) -> None:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.folder / LOCK_NAME), thread_local=False, is_singleton=False)
        try:
            lock.acquire(timeout=self.wait, poll_interval=min(0.05, self.wait or 0.05))
        except Timeout:
            raise self._refusal() from None
        self._lock = lock
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
        with contextlib.suppress(OSError):  # naming the holder is a courtesy; the lock holds
            atomic_write(self.folder / HOLDER_NAME, json.dumps(holder).encode())

    def release(self) -> None:
        if self._lock is None:
            return
        (self.folder / HOLDER_NAME).unlink(missing_ok=True)  # before another can take it
        self._lock.release()
        self._lock = None

    def _refusal(self) -> FolderInUseError:
        try:
            holder = json.loads((self.folder / HOLDER_NAME).read_bytes())
            pid, host, since = int(holder["pid"]), str(holder["host"]), str(holder["since"])
            who = f"process {pid} on {host}, since {since}"
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            pid = host = since = None  # type: ignore[assignment]
            who = "another process (it has not said which)"
        waited = f" (waited {self.wait:g} s)" if self.wait else ""
        return FolderInUseError(
            f"{self.folder} is being written by {who}{waited}: one writer per folder, so that "
            "no request is paid for twice. Wait for it to finish, pass wait=<seconds> to "
            "wait for it, or use another folder",
            folder=str(self.folder), pid=pid, host=host, since=since,
        )  # fmt: skip

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
