"""Every error nanobanana raises, sorted by whose fault it is.

```
NanoBananaError
├── InvalidRequestError (also a ValueError): nothing was sent
│   ├── InvalidReferenceError: a reference image is unreadable or of the wrong type
│   └── MissingAPIKeyError: no key given and none in the environment
├── APIError: the API answered with an error (.code, .status, .message, .details)
│   ├── BadRequestError (400), PermissionDeniedError (403), NotFoundError (404)
│   ├── RateLimitError (429, will recover): .retry_delay, .quota
│   ├── QuotaExhaustedError (429, per-day or zero quota: will not recover by retrying)
│   └── ServerError (5xx)
├── APIConnectionError: the connection dropped or the body was cut off
│   └── APITimeoutError: no answer within the timeout
├── InvalidResponseError: the response body could not be read at all
├── BatchJobError (.job, .state): a batch job ended without results
└── GenerationError (.result): the call succeeded but no final image came back
    ├── SafetyBlockedError: a safety filter or prompt block (.reason, .message)
    └── NoImageError: the model answered without an image
```

`google-genai` and transport errors are translated at one boundary (`translate_error`) with
`raise ... from exc`, so the original stays reachable as `__cause__`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._result import Result

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "BadRequestError",
    "BatchJobError",
    "GenerationError",
    "InvalidReferenceError",
    "InvalidRequestError",
    "InvalidResponseError",
    "MissingAPIKeyError",
    "NanoBananaError",
    "NoImageError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExhaustedError",
    "RateLimitError",
    "SafetyBlockedError",
    "ServerError",
]


def _rebuild(cls: type[BaseException], state: dict[str, Any], args: tuple[Any, ...]) -> Any:
    obj = cls.__new__(cls)
    Exception.__init__(obj, *args)
    obj.__dict__.update(state)
    return obj


class NanoBananaError(Exception):
    """Base class of every error nanobanana raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors break Exception's default pickling; rebuild from state.
        return (_rebuild, (type(self), self.__dict__.copy(), self.args))


class InvalidRequestError(NanoBananaError, ValueError):
    """The request is invalid; nothing was sent and nothing was paid for."""


class InvalidReferenceError(InvalidRequestError):
    """A reference image cannot be used: not an image, truncated, or of an unsupported type."""

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


class MissingAPIKeyError(InvalidRequestError):
    """No API key was given and none was found in the environment."""


class APIError(NanoBananaError):
    """The Gemini API answered with an error.

    Attributes:
        code: HTTP status code (e.g. 400, 429, 503).
        status: The API's status name (e.g. ``RESOURCE_EXHAUSTED``).
        message: The API's message, as sent.
        details: The ``error.details`` list of the response body (``QuotaFailure``,
            ``RetryInfo``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{code} {status or ''}: {message}".replace("  ", " "))
        self.code = code
        self.status = status
        self.message = message
        self.details = details or []


class BadRequestError(APIError):
    """400: the API rejected the request as invalid. Not retried."""


class PermissionDeniedError(APIError):
    """403: the key is missing, invalid or has no access to this model. Not retried."""


class NotFoundError(APIError):
    """404: unknown or retired model, or a missing file or batch. Not retried."""


class RateLimitError(APIError):
    """429 on a quota that recovers (per minute): retried after ``retry_delay``.

    Attributes:
        retry_delay: Seconds the server asked to wait (``RetryInfo.retryDelay``), if it said.
        quota: The quota that ran out (``QuotaFailure.violations[].quotaId``), if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = 429,
        status: str | None = "RESOURCE_EXHAUSTED",
        details: list[dict[str, Any]] | None = None,
        retry_delay: float | None = None,
        quota: str | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status, details=details)
        self.retry_delay = retry_delay
        self.quota = quota


class QuotaExhaustedError(RateLimitError):
    """429 on a quota that will not recover by retrying (per day, or a limit of 0). Not retried."""


class ServerError(APIError):
    """5xx: the service failed or is overloaded. Retried."""


class APIConnectionError(NanoBananaError):
    """The connection failed, dropped, or the response was cut off. Retried."""


class APITimeoutError(APIConnectionError):
    """No complete answer within the timeout. Retried while the deadline allows."""


class InvalidResponseError(NanoBananaError):
    """The response body cannot be read at all (not JSON, or not the shape of a response)."""


class BatchJobError(NanoBananaError):
    """A batch job ended without results (failed, cancelled or expired), or was not ready."""

    def __init__(self, message: str, *, job: str, state: str) -> None:
        super().__init__(message)
        self.job, self.state = job, state


class GenerationError(NanoBananaError):
    """The API answered, but without a final image.

    Everything that did come back (text, thought images, usage) is kept in ``result``:
    what was paid for is never lost.
    """

    def __init__(self, message: str, *, result: Result) -> None:
        super().__init__(message)
        self.result = result


class SafetyBlockedError(GenerationError):
    """A safety filter stopped the image, or the prompt was blocked.

    Attributes:
        reason: ``finishReason`` (``IMAGE_SAFETY``, ``PROHIBITED_CONTENT``, ...) or the
            prompt's ``blockReason``. The API's explanation, when it sent one, is
            ``result.finish_message``.
    """

    def __init__(self, message: str, *, result: Result, reason: str) -> None:
        super().__init__(message, result=result)
        self.reason = reason


class NoImageError(GenerationError):
    """The model answered with text only (e.g. ``NO_IMAGE``, or ``STOP`` with no image)."""
