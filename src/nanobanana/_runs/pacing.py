"""Pacing a run: a rate limiter that learns the server's quota, and how many to keep in flight.

A quota per minute can be counted in several ways, and the server does not say which. A
sliding window or fixed minutes allow ``rpm`` requests at once in a fresh minute, then hold
the rest until the minute has passed; a token bucket allows a smaller burst, then ``rpm / 60``
a second. `RateLimiter` starts as a fresh minute allows, and learns from the server's 429s
(which quota, its limit, ``retryDelay``) how much burst it really has.

In flight = rate x latency (Little's law), or a fresh minute's burst when that is more: at 60
requests a minute and 20 s an image, 60 may start at once, and 20 in flight keep the quota busy
after that. The latency comes from the registry's typical figure for the model and size, then
from the latencies measured during the run.
"""

from __future__ import annotations

import bisect
import collections
import math
from collections.abc import Callable
from typing import Any

from .._errors import RateLimitError
from .._models.registry import typical_latency, typical_quota

__all__ = ["Pacer", "RateLimiter"]

#: The server counts a request when it arrives, a little after we start it: free a slot late.
_WINDOW = 61.0
#: In flight at the most, whatever the arithmetic says (each holds a request in memory).
MAX_IN_FLIGHT = 256
#: Seconds between starts in a burst: long enough for a 429 (which comes back at once) to
#: stop the burst before more go out into a server that allows less burst than a minute's.
#: (A minute's burst of 60 takes 6 s: little against image latencies of 10-100 s.)
PROBE = 0.1


class RateLimiter:
    """Requests and images per minute: a fresh minute's burst, then the quota's rate.

    Starts go out as a sliding 61 s window allows (which also keeps within fixed minutes),
    ``probe`` seconds apart. A 429 teaches: its quota's limit (``quotaValue``) replaces a
    guessed one, and a 429 that comes while the window still had room says the server counts
    by a bucket holding fewer: from then on starts also follow a token bucket of that size,
    refilled at the quota's rate. A 429 slows only the limit it is about: one naming a request
    quota slows requests, one naming an image quota slows images, one naming neither (or
    unknown) both; a 429 about another quota (input tokens, say) pauses nothing but its own
    retry. The limit concerned pauses starts until the server's ``retryDelay``; a 429 that
    teaches nothing new also drops its rate 15%, and each success wins back 5% (additive
    increase, multiplicative decrease, as TCP does).
    """

    def __init__(
        self,
        rpm: int | None,
        ipm: int | None,
        clock: Callable[[], float],
        *,
        probe: float = PROBE,
    ) -> None:
        self.rpm, self.ipm, self.clock, self.probe = rpm, ipm, clock, probe
        self.window: collections.deque[tuple[float, int]] = collections.deque()
        self.paused_until = 0.0
        self.next_start = -math.inf
        self.scale = 1.0  # requests
        self.image_scale = 1.0
        self.burst: float | None = None
        """The bucket's size learned from a 429 (``None``: none learned, a minute's burst)."""
        self.tokens = 0.0
        self.refilled = 0.0

    def _rate(self) -> float | None:
        """Requests a second the bucket refills at, or ``None``.

        The quota's rate, less 3%: the server counts arrivals, a little after our starts
        and not evenly so (as the window is 61 s for the server's 60).
        """
        rates = [self.rpm * self.scale / 60] if self.rpm else []
        rates += [self.ipm * self.image_scale / 60] if self.ipm else []
        return min(rates) * 0.97 if rates else None

    def _refill(self, now: float) -> None:
        rate = self._rate()
        if self.burst is not None and rate is not None and now > self.refilled:
            self.tokens = min(self.burst, self.tokens + (now - self.refilled) * rate)
            self.refilled = now

    def wait_time(self, images: int) -> float:
        """Seconds before a request for ``images`` images may start (0: now)."""
        now = self.clock()
        while self.window and self.window[0][0] <= now - _WINDOW:
            self.window.popleft()
        wait = max(0.0, self.paused_until - now, self.next_start - now)
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
        if self.burst is not None and (rate := self._rate()):
            self._refill(now)
            if self.tokens < 1 - 1e-9:  # (a clock's float steps must not stall the loop)
                wait = max(wait, (1 - self.tokens) / rate + 1e-9)
        return wait

    def acquire(self, images: int, at: float | None = None) -> None:
        """Books a start (now, or the future moment a retry will go out)."""
        when = self.clock() if at is None else at
        bisect.insort(self.window, (when, images))
        if at is None:  # a retry booked for later leaves today's starts alone
            if self.rpm or self.ipm:  # a quota whose burst may be less than a minute's
                self.next_start = when + min(self.probe, 60 / (self.rpm or self.ipm or 1))
            if self.burst is not None:
                self._refill(when)
                self.tokens -= 1

    def on_retry(self, error: BaseException, wait: float, images: int) -> None:
        """A retry is another request to the server: book it, and learn from a 429."""
        now = self.clock()
        in_window = len(self.window)
        self.acquire(images, at=now + wait)
        if self.burst is not None:  # the retry will take a token too, when it goes
            self._refill(now)
            self.tokens -= 1
        if not isinstance(error, RateLimitError):
            return
        about = (error.quota or "").lower()
        requests = "request" in about or not about
        images_ = "image" in about or not about
        if not (requests or images_):
            return  # another quota than the ones this run paces: its own retry waits
        self.paused_until = max(self.paused_until, now + wait)
        learned = False
        limit = quota_value(error)
        if limit is not None and requests and "image" not in about and limit != self.rpm:
            self.rpm, learned = limit, True
        elif limit is not None and images_ and "image" in about and limit != self.ipm:
            self.ipm, learned = limit, True
        # Refused though the window had room: the server allows less burst than a minute's.
        # What it took before this refusal is its bucket.
        room = self.rpm is None or in_window <= math.floor(self.rpm * self.scale)
        if room and self.burst is None and requests:
            taken = sum(1 for at, _ in self.window if at <= now) - 1
            self.burst = float(max(1, taken))
            self.tokens, self.refilled = -1.0, now  # empty, and this one's retry to come
            learned = True
        if learned:
            return
        if requests:
            self.scale = max(0.25, self.scale * 0.85)
        if images_:
            self.image_scale = max(0.25, self.image_scale * 0.85)

    def on_success(self) -> None:
        self.scale = min(1.0, self.scale + 0.05)
        self.image_scale = min(1.0, self.image_scale + 0.05)


def quota_value(error: RateLimitError) -> int | None:
    """The limit a 429 names (``QuotaFailure.violations[].quotaValue``), if it names one."""
    for detail in error.details or []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith(
            "QuotaFailure"
        ):
            continue
        for violation in detail.get("violations") or []:
            value: Any = violation.get("quotaValue") if isinstance(violation, dict) else None
            if isinstance(value, str | int) and str(value).isdigit() and int(value) > 0:
                return int(value)
    return None


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
        """Requests to keep in flight now: a fresh minute's burst, or rate x latency."""
        wanted = max(1, math.ceil(self.rate * max(self.latency, 60.0)))
        return min(wanted, self.ceiling or MAX_IN_FLIGHT, MAX_IN_FLIGHT)
