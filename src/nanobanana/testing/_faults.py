"""Scripted faults for the emulator, and a clock tests can move by hand."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Fault", "ManualClock"]

FaultKind = Literal[
    "error", "rate_limit", "drop", "truncate", "slow", "finish", "blocked", "no_image", "images"
]


@dataclass(frozen=True)
class Fault:
    """What the emulator does with one generate request instead of answering it normally.

    Make them with the class methods and queue them with `FakeGemini.push`:

    Example:
        >>> server.push(Fault.rate_limit(retry_delay=17), Fault.unavailable())
    """

    kind: FaultKind
    code: int = 0
    status: str = ""
    message: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def rate_limit(
        cls,
        *,
        retry_delay: float | None = 17.0,
        quota: Literal["per_minute", "images_per_minute", "per_day", "zero"] = "per_minute",
        limit: int | None = None,
    ) -> Fault:
        """429 RESOURCE_EXHAUSTED naming a quota; per-day and zero quotas carry no RetryInfo."""
        if quota in ("per_day", "zero"):
            retry_delay = None
        default_limit = {"per_minute": 10, "images_per_minute": 10, "per_day": 250, "zero": 0}
        return cls(
            "rate_limit",
            429,
            "RESOURCE_EXHAUSTED",
            params={
                "quota": quota,
                "retry_delay": retry_delay,
                "limit": default_limit[quota] if limit is None else limit,
            },
        )

    @classmethod
    def unavailable(cls) -> Fault:
        """503 UNAVAILABLE, "The model is overloaded": transient."""
        return cls.error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")

    @classmethod
    def internal(cls) -> Fault:
        """500 INTERNAL: transient."""
        return cls.error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        )

    @classmethod
    def deadline_exceeded(cls) -> Fault:
        """504 DEADLINE_EXCEEDED: transient."""
        return cls.error(504, "DEADLINE_EXCEEDED", "The request timed out. Please try again.")

    @classmethod
    def error(cls, code: int, status: str, message: str, **details: Any) -> Fault:
        """Any error status with the real body shape."""
        return cls("error", code, status, message, params={"details": details.get("details")})

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls("drop")

    @classmethod
    def truncate(cls, fraction: float = 0.5) -> Fault:
        """Answer 200 with the full Content-Length, but close after ``fraction`` of the body."""
        return cls("truncate", params={"fraction": fraction})

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, after ``seconds`` (of the emulator's sleep)."""
        return cls("slow", params={"seconds": seconds})

    @classmethod
    def safety(
        cls,
        reason: str = "IMAGE_SAFETY",
        message: str = "Unable to show the generated image. The image was filtered out "
        "because it violated Google's Generative AI Prohibited Use policy.",
    ) -> Fault:
        """HTTP 200 whose candidate stops with a safety ``finishReason`` and no image."""
        return cls("finish", message=message, params={"reason": reason})

    @classmethod
    def images(cls, count: int) -> Fault:
        """Answer normally, but with ``count`` final images whatever the prompt asked for."""
        return cls("images", params={"count": count})

    @classmethod
    def blocked(cls, reason: str = "PROHIBITED_CONTENT") -> Fault:
        """HTTP 200 with no candidates at all, only ``promptFeedback.blockReason``."""
        return cls("blocked", params={"reason": reason})

    @classmethod
    def no_image(cls, reason: str = "NO_IMAGE", text: str | None = None) -> Fault:
        """HTTP 200 without an image.

        ``NO_IMAGE`` comes with ``content: {}``; ``STOP`` (or another reason) with a text part.
        """
        if text is None:
            text = "" if reason == "NO_IMAGE" else "I can't draw that, but here is a description."
        return cls("no_image", message=text, params={"reason": reason})


class ManualClock:
    """A monotonic clock that moves only when told, for quotas and batch jobs in tests.

    Its `sleep` advances it instead of waiting, so scripted latency costs no real time.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        """Every sleep asked for, in order."""

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Advances the clock by ``seconds`` at once."""
        self.advance(max(0.0, seconds))
        self.sleeps.append(seconds)

    async def asleep(self, seconds: float) -> None:
        """The same, for async code."""
        self.sleep(seconds)
