"""Scripted faults for the emulator, and a clock tests can move by hand."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Fault", "ManualClock"]

FaultKind = Literal[
    "error", "rate_limit", "drop", "truncate", "slow", "finish", "blocked", "no_image",
    "images", "stream_error", "not_found",
]  # fmt: skip


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
        retry_delay: float | None = 17.395510932,
        quota: Literal["per_minute", "images_per_minute", "per_day", "zero"] = "per_minute",
        limit: int | None = None,
    ) -> Fault:
        """429 RESOURCE_EXHAUSTED naming a quota.

        A per-day quota carries no RetryInfo; ``"zero"`` is `quota_zero` (which does).
        """
        if quota == "zero":
            return cls.quota_zero(
                retry_delay=47.17 if retry_delay in (None, 17.395510932) else retry_delay
            )
        if quota == "per_day":
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
    def quota_zero(cls, *, retry_delay: float = 47.17, tokens_first: bool = False) -> Fault:
        """The live 429 of a project without access to the model (``limit: 0``).

        Two ``-FreeTier`` violations (per-day requests and per-minute input tokens; swap
        them with ``tokens_first``), ``limit: 0`` only in the message, no ``quotaValue``,
        a ``RetryInfo`` (``47s``), a ``Help`` link, and a message ending
        ``Please retry in 47.17s.`` Retrying never helps.
        """
        return cls(
            "rate_limit", 429, "RESOURCE_EXHAUSTED",
            params={"quota": "zero", "retry_delay": retry_delay, "limit": 0,
                    "tokens_first": tokens_first},
        )  # fmt: skip

    @classmethod
    def deadline_expired(cls) -> Fault:
        """503 UNAVAILABLE "Deadline expired before operation could complete." (a long 4K)."""
        return cls.error(503, "UNAVAILABLE", "Deadline expired before operation could complete.")

    @classmethod
    def model_not_found(cls) -> Fault:
        """The real 404 for a model id the API does not know, worded for the request's path."""
        return cls("not_found", 404, "NOT_FOUND")

    @classmethod
    def invalid_key(cls) -> Fault:
        """400 "API key not valid", with ``ErrorInfo`` (API_KEY_INVALID) and LocalizedMessage."""
        message = "API key not valid. Please pass a valid API key."
        return cls.error(
            400, "INVALID_ARGUMENT", message,
            details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com",
                 "metadata": {"service": "generativelanguage.googleapis.com"}},
                {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                 "message": message},
            ],
        )  # fmt: skip

    @classmethod
    def stream_error(
        cls,
        after: int = 1,
        code: int = 503,
        status: str = "UNAVAILABLE",
        message: str = "The model is overloaded. Please try again later.",
    ) -> Fault:
        """Cut a stream: ``after`` chunks, then an SSE error event, then the end.

        On ``generateContent`` (not streamed) the answer is whole.
        """
        return cls("stream_error", code, status, message, params={"after": after})

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
