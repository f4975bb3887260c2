"""Pacing a run: a sliding-window rate limiter, and how many requests to keep in flight.

In flight = rate x latency (Little's law): at 20 requests a minute and 25 s an image, 9 in
flight keep the quota busy; 4 would waste more than half of it. The rate comes from the
quota given (``rpm``/``ipm``) or the registry's typical one; the latency from the registry's
typical figure for the model and size, then from the latencies measured during the run.
"""

from __future__ import annotations

import bisect
import collections
import math
from collections.abc import Callable

from .._errors import RateLimitError
from .._models.registry import typical_latency, typical_quota

__all__ = ["Pacer", "RateLimiter"]

#: The server counts a request when it arrives, a little after we start it: free a slot late.
_WINDOW = 61.0
#: In flight at the most, whatever the arithmetic says (each holds a request in memory).
MAX_IN_FLIGHT = 256


class RateLimiter:
    """Requests and images per minute over a sliding window, adaptive to 429s.

    Starts are spread evenly at the quota (one every ``60 / rpm`` seconds), so a run never
    bursts into the server's window. A 429 slows only the limit it is about: one naming a
    request quota slows requests, one naming an image quota slows images, one naming neither
    (or unknown) both; a 429 about another quota (input tokens, say) pauses nothing but its
    own retry. The slowed limit pauses starts until the server's ``retryDelay`` and drops 15%;
    each success wins back 5%, up to the configured quota (additive increase, multiplicative
    decrease, as TCP does).
    """

    def __init__(self, rpm: int | None, ipm: int | None, clock: Callable[[], float]) -> None:
        self.rpm, self.ipm, self.clock = rpm, ipm, clock
        self.window: collections.deque[tuple[float, int]] = collections.deque()
        self.paused_until = 0.0
        self.spaced_until = 0.0  # starts are spread evenly at the quota, never in a burst
        self.scale = 1.0  # requests
        self.image_scale = 1.0

    def wait_time(self, images: int) -> float:
        """Seconds before a request for ``images`` images may start (0: now)."""
        now = self.clock()
        while self.window and self.window[0][0] <= now - _WINDOW:
            self.window.popleft()
        wait = max(0.0, self.paused_until - now, self.spaced_until - now)
        if self.rpm is not None and len(self.window) >= max(1, math.floor(self.rpm * self.scale)):
            wait = max(wait, self.window[0][0] + _WINDOW - now)
        if self.ipm is not None:
            budget = max(images, math.floor(self.ipm * self.image_scale))
            used = sum(n for _, n in self.window)
            if used + images > budget:
                # wait until enough of the oldest starts leave the window
                freed, t = 0, now
                for start, n in self.window:
                    freed += n
                    t = start + _WINDOW
                    if used - freed + images <= budget:
                        break
                wait = max(wait, t - now)
        return wait

    def acquire(self, images: int, at: float | None = None) -> None:
        """Books a start (now, or the future moment a retry will go out)."""
        when = self.clock() if at is None else at
        bisect.insort(self.window, (when, images))
        gaps = [60 / (self.rpm * self.scale)] if self.rpm else []
        gaps += [60 * images / (self.ipm * self.image_scale)] if self.ipm else []
        if gaps and at is None:  # a retry booked for later leaves today's starts alone
            self.spaced_until = max(self.spaced_until, when) + max(gaps)

    def on_retry(self, error: BaseException, wait: float, images: int) -> None:
        """A retry is another request to the server: book it, and back off on a 429."""
        self.acquire(images, at=self.clock() + wait)
        if not isinstance(error, RateLimitError):
            return
        about = (error.quota or "").lower()
        requests = "request" in about or not about
        images_ = "image" in about or not about
        if not (requests or images_):
            return  # another quota than the ones this run paces: its own retry waits
        self.paused_until = max(self.paused_until, self.clock() + wait)
        if requests:
            self.scale = max(0.25, self.scale * 0.85)
        if images_:
            self.image_scale = max(0.25, self.image_scale * 0.85)

    def on_success(self) -> None:
        self.scale = min(1.0, self.scale + 0.05)
        self.image_scale = min(1.0, self.image_scale + 0.05)


class Pacer:
    """How many requests to keep in flight: rate x latency, adapting to measured latency.

    Args:
        model: The run's model (its typical latency and quota are the starting point).
        size: The size asked (``None``: 1K).
        images: Images each request asks for.
        rpm: The requests-per-minute quota, or ``None`` for the registry's typical one.
        ipm: The images-per-minute quota, or ``None``.
        ceiling: An upper bound the caller set (``concurrency=``), or ``None``.
    """

    def __init__(
        self,
        model: str,
        size: str | None,
        images: int,
        rpm: int | None,
        ipm: int | None,
        ceiling: int | None,
    ) -> None:
        if rpm is None and ipm is None:
            typical = typical_quota(model)
            rpm, ipm = typical.rpm, typical.ipm
        rates = [r / 60 for r in (rpm,) if r] + [i / 60 / max(1, images) for i in (ipm,) if i]
        self.rate = min(rates) if rates else 1.0
        """Requests per second the quota allows."""
        self.latency = typical_latency(model, size)
        """Seconds one request takes: the registry's figure, then a moving average."""
        self.ceiling = ceiling

    def observe(self, seconds: float) -> None:
        """One request took ``seconds``: move the latency estimate a fifth of the way."""
        self.latency += (seconds - self.latency) * 0.2

    def at_least(self, seconds: float) -> None:
        """A request still out has taken ``seconds`` so far: the latency is no less."""
        self.latency = max(self.latency, seconds)

    def limit(self) -> int:
        """Requests to keep in flight now: never more than the quota can serve."""
        wanted = max(1, math.ceil(self.rate * self.latency))
        return min(wanted, self.ceiling or MAX_IN_FLIGHT, MAX_IN_FLIGHT)
