"""The emulator's per-minute quotas, under the three models a server may count them by.

- ``"window"``: a sliding 60 s window; a request is refused while ``rpm`` others arrived in
  the 60 s before it (``retryDelay``: until the oldest leaves the window).
- ``"minute"``: fixed minutes of the clock; the count starts again at every whole minute
  (``retryDelay``: until the next one).
- ``"bucket"``: a token bucket holding ``burst`` requests (``rpm`` when not given), refilled
  at ``rpm / 60`` a second (``retryDelay``: until the next token).

Images per minute (``ipm``) are counted the same way, each request weighing its images.
Time is the emulator's injected clock, so a scaled or manual clock moves the quotas too.
"""

from __future__ import annotations

import bisect
import collections
import math
import threading
from typing import Literal

__all__ = ["QUOTA_MODELS", "Quota", "QuotaModel"]

QuotaModel = Literal["window", "minute", "bucket"]
QUOTA_MODELS: tuple[QuotaModel, ...] = ("window", "minute", "bucket")


class _Counter:
    """One limit (requests or images per minute) under one quota model."""

    def __init__(self, model: QuotaModel, limit: int, burst: int | None) -> None:
        self.model, self.limit = model, limit
        self.capacity = float(burst if burst is not None else limit)
        self.tokens = self.capacity
        self.refilled: float | None = None
        self.window: collections.deque[tuple[float, int]] = collections.deque()
        self.minute = -math.inf
        self.used = 0

    def check(self, now: float, weight: int) -> float | None:
        """Seconds until ``weight`` more would be admitted; ``None``: admitted now."""
        if self.model == "bucket":
            if self.refilled is not None:
                self.tokens = min(
                    self.capacity, self.tokens + (now - self.refilled) * self.limit / 60
                )
            self.refilled = now
            need = min(float(weight), self.capacity)
            return None if self.tokens >= need else (need - self.tokens) * 60 / self.limit
        if self.model == "minute":
            minute = math.floor(now / 60)
            if minute != self.minute:
                self.minute, self.used = minute, 0
            if self.used + weight > self.limit:
                return (minute + 1) * 60 - now
            return None
        while self.window and self.window[0][0] <= now - 60:
            self.window.popleft()
        used = sum(n for _, n in self.window)
        if used + weight > self.limit:
            freed = 0
            for start, n in self.window:
                freed += n
                if used - freed + weight <= self.limit:
                    return start + 60 - now
            return 60.0
        return None

    def take(self, now: float, weight: int) -> None:
        if self.model == "bucket":
            self.tokens -= min(float(weight), self.capacity)
        elif self.model == "minute":
            self.used += weight
        else:
            bisect.insort(self.window, (now, weight))


class Quota:
    """Requests and images per minute; `admit` refuses with the quota and ``retryDelay``."""

    def __init__(
        self,
        rpm: int | None,
        ipm: int | None,
        model: QuotaModel = "window",
        burst: int | None = None,
    ) -> None:
        if model not in QUOTA_MODELS:
            raise ValueError(f"quota_model must be one of {', '.join(QUOTA_MODELS)}, got {model!r}")
        if burst is not None and burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if burst is not None and model != "bucket":
            raise ValueError(f"burst={burst} is the bucket's size: only the bucket model uses it")
        self.rpm, self.ipm, self.model, self.burst = rpm, ipm, model, burst
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = (
                None if self.rpm is None else _Counter(self.model, self.rpm, self.burst)
            )
            images_burst = (
                None
                if self.burst is None or self.rpm is None or self.ipm is None
                else (max(1, self.burst * self.ipm // self.rpm))
            )
            self._images = (
                None if self.ipm is None else _Counter(self.model, self.ipm, images_burst)
            )

    def admit(self, now: float, images: int) -> tuple[str, int, float] | None:
        """Counts a request arriving at ``now``; or returns ``(quota, limit, retry_delay)``."""
        with self._lock:
            counters = [
                ("per_minute", self._requests, 1),
                ("images_per_minute", self._images, images),
            ]
            for quota, counter, weight in counters:
                if counter is not None and weight:
                    wait = counter.check(now, weight)
                    if wait is not None:
                        return quota, counter.limit, wait
            for _, counter, weight in counters:
                if counter is not None and weight:
                    counter.take(now, weight)
            return None
