"""When to retry, and how long to wait: one policy for the sync and async clients.

The decisions live here and never sleep: the flows in `_core` ask `RetryPolicy.next_delay`
after each failure, and the transports sleep with the policy's ``sleep``/``asleep``
(``time.sleep``, ``asyncio.sleep``, or a test's fake clock).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ._errors import APIConnectionError, QuotaExhaustedError, RateLimitError, ServerError

__all__ = ["RetryPolicy"]

#: Retry defaults (see `RetryPolicy`).
#: Retry defaults (see `RetryPolicy`).
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_INITIAL_DELAY = 2.0
DEFAULT_MAX_DELAY = 60.0
DEFAULT_DEADLINE = 600.0

logger = logging.getLogger("nanobanana")
# A library adds no output of its own: configure logging (or pass -v to the CLI) to see retries.
logger.addHandler(logging.NullHandler())

_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


async def _asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries what is transient, waits what the server asks, and gives up in time.

    Retried: 429 on a per-minute quota, 500, 502, 503, 504, dropped connections and
    timeouts. Never retried: 400, 403, 404, safety blocks, and 429 on a per-day or zero quota
    (`QuotaExhaustedError`, which names the quota).

    Example:
        >>> NanoBanana(retry=RetryPolicy(max_attempts=8, deadline=300))
        >>> NanoBanana(retry=RetryPolicy.none())
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    """Attempts in all, the first included."""
    initial_delay: float = DEFAULT_INITIAL_DELAY
    """Backoff before the second attempt; doubles each time."""
    max_delay: float = DEFAULT_MAX_DELAY
    """Cap on one backoff wait (a server's ``retryDelay`` is honoured above it)."""
    deadline: float | None = DEFAULT_DEADLINE
    """Seconds from the first attempt after which no new attempt starts."""
    jitter: float = 0.25
    """Backoff waits are drawn from ``[d * (1 - jitter), d]``."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    asleep: Callable[[float], Awaitable[None]] = field(
        default=_asyncio_sleep, repr=False, compare=False
    )
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        from ._errors import InvalidRequestError

        if self.max_attempts < 1:
            raise InvalidRequestError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("initial_delay", "max_delay"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise InvalidRequestError(
                    f"{name} must be a finite number of seconds, 0 or more, got {value!r}"
                )
        if self.deadline is not None and (
            not _is_number(self.deadline) or math.isnan(self.deadline) or self.deadline <= 0
        ):
            raise InvalidRequestError(
                f"deadline must be a positive number of seconds or None, got {self.deadline!r}"
            )
        if not _is_number(self.jitter) or not 0 <= self.jitter <= 1:
            raise InvalidRequestError(f"jitter must be between 0 and 1, got {self.jitter}")

    @classmethod
    def none(cls) -> RetryPolicy:
        """Never retry."""
        return cls(max_attempts=1)

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """True for what is transient."""
        if isinstance(exc, QuotaExhaustedError):
            return False
        if isinstance(exc, RateLimitError | APIConnectionError):
            return True
        return isinstance(exc, ServerError) and exc.code in _TRANSIENT_STATUS

    def delay(self, exc: BaseException, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if isinstance(exc, RateLimitError) and exc.retry_delay is not None:
            # The server knows when its quota window reopens; "0s" still backs off a little,
            # or every client retrying at once makes the next 429.
            return max(float(exc.retry_delay), self.initial_delay / 4)
        backoff = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return float(backoff * (1 - self.jitter * self.rng.random()))

    def next_delay(
        self, error: BaseException, attempt: int, elapsed: float, *, idempotent: bool = True
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up and raise.

        The one decision behind every retry loop (tenacity's, and the stream's). A call that is
        not ``idempotent`` (creating a batch job) is not retried after a dropped connection:
        the server may have done it already.
        """
        if not self.is_retryable(error) or attempt >= self.max_attempts:
            return None
        if not idempotent and isinstance(error, APIConnectionError):
            return None
        wait = self.delay(error, attempt)
        if self.deadline is not None and elapsed + wait > self.deadline:
            return None
        return wait

    def log_retry(self, error: BaseException, attempt: int, wait: float) -> None:
        logger.info(
            "attempt %d of %d failed (%s); retrying in %.1fs",
            attempt, self.max_attempts, _describe(error), wait,
        )  # fmt: skip

    def tenacity_kwargs(
        self,
        *,
        is_async: bool = False,
        on_retry: Callable[[BaseException, float], None] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying``, for one call.

        Deprecated: nanobanana's own calls retry through `next_delay`, the one decision; use
        it in your own loops. Kept working for 0.1 callers.
        """
        import warnings

        import tenacity

        from ._errors import user_stacklevel

        warnings.warn(
            "RetryPolicy.tenacity_kwargs() is deprecated: call policy.next_delay(error, "
            "attempt, elapsed) for the one retry decision",
            DeprecationWarning,
            stacklevel=user_stacklevel(),
        )

        start = self.clock()
        planned: dict[int, float | None] = {}

        def decision(state: tenacity.RetryCallState) -> float | None:
            n = state.attempt_number
            if n not in planned:
                exc = state.outcome.exception() if state.outcome else None
                planned[n] = (
                    None
                    if exc is None
                    else self.next_delay(exc, n, self.clock() - start, idempotent=idempotent)
                )
            return planned[n]

        def log(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = decision(state) or 0.0
            if exc is not None:
                self.log_retry(exc, state.attempt_number, wait)
                if on_retry is not None:
                    on_retry(exc, wait)

        return {
            "retry": tenacity.retry_if_exception(self.is_retryable),
            "stop": lambda state: decision(state) is None,
            "wait": lambda state: decision(state) or 0.0,
            "sleep": self.asleep if is_async else self.sleep,
            "before_sleep": log,
            "reraise": True,
        }


def _describe(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "no exception"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
