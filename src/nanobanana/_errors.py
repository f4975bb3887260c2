"""Every error nanobanana raises, sorted by whose fault it is.

```
NanoBananaError
├── InvalidRequestError (also a ValueError): nothing was sent
│   ├── InvalidReferenceError: a reference image is unreadable or of the wrong type
│   ├── MissingAPIKeyError: no key given and none in the environment
│   ├── InvalidAPIKeyError: the key has whitespace, control or non-ASCII characters
│   ├── CorruptManifestError (.path, .line): a manifest line nanobanana cannot trust
│   └── SessionTooLargeError: the next turn of a session would not fit one request
├── APIError: the API answered with an error (.code, .status, .message, .details)
│   ├── BadRequestError (400), PermissionDeniedError (403), NotFoundError (404)
│   │   └── ImageExpiredError: an image's link (delivery="uri") can no longer be fetched
│   ├── RateLimitError (429, will recover): .retry_delay, .quota
│   ├── QuotaExhaustedError (429, per-day or zero quota: will not recover by retrying)
│   └── ServerError (5xx)
├── APIConnectionError: the connection dropped or the body was cut off
│   └── APITimeoutError: no answer within the timeout
├── InvalidResponseError: the response body could not be read at all
├── BatchJobError (.job, .state): a batch job ended without results
├── FolderInUseError (.folder, .pid, .host, .since): another writer holds the folder
├── ManifestWriteError (.path, .entries, .kept): answers paid for could not be recorded
└── GenerationError (.result): the call succeeded but no final image came back
    ├── SafetyBlockedError: a safety filter or prompt block (.reason, .message)
    └── NoImageError: the model answered without an image
```

`google-genai`, httpx and builtin transport errors are translated at one boundary,
`translating()`, with ``raise ... from exc``, so the original stays reachable as `__cause__`;
batch job states map through `batch_state_error`. Every text that passes the boundary is
scrubbed of the API keys in use and of ``key=`` query values (`scrub`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Protocol


class Outcome(Protocol):
    """What a `GenerationError` keeps: the `Result`.

    Named by its fields, so that this module, at the bottom of the package, imports nothing.
    """

    @property
    def images(self) -> tuple[Any, ...]: ...
    @property
    def text(self) -> str: ...
    @property
    def finish_reason(self) -> str | None: ...
    @property
    def finish_message(self) -> str | None: ...
    @property
    def block_reason(self) -> str | None: ...
    @property
    def response_id(self) -> str | None: ...
    @property
    def cost(self) -> float | None: ...
    def describe_outcome(self) -> str: ...


__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "BadRequestError",
    "BatchJobError",
    "CorruptManifestError",
    "FolderInUseError",
    "GenerationError",
    "InvalidAPIKeyError",
    "InvalidReferenceError",
    "InvalidRequestError",
    "InvalidResponseError",
    "ManifestWriteError",
    "MissingAPIKeyError",
    "NanoBananaError",
    "NoImageError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExhaustedError",
    "RateLimitError",
    "SafetyBlockedError",
    "ServerError",
    "SessionTooLargeError",
    "api_error",
    "batch_state_error",
    "map_error",
    "register_secret",
    "scrub",
    "translating",
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


class InvalidAPIKeyError(InvalidRequestError):
    """The API key cannot be sent: whitespace inside it, control or non-ASCII characters.

    The message names the position of the first bad character, never the key.
    """


class CorruptManifestError(InvalidRequestError):
    """A line of a run's manifest cannot be trusted (a cost that is not a USD amount, say).

    Nothing was sent: a spend cap kept from it would not be a cap. Fix or remove the line.

    Attributes:
        path: The manifest.
        line: The line's number (1 is the first).
    """

    def __init__(self, message: str, *, path: str, line: int) -> None:
        super().__init__(f"{path}, line {line}: {message}")
        self.path, self.line = path, line


class SessionTooLargeError(InvalidRequestError):
    """The next turn would exceed the request size limit even with references offloaded."""


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


class ImageExpiredError(NotFoundError):
    """An image returned as a link (``delivery="uri"``) can no longer be fetched.

    The image was paid for; its link outlived its lifetime on the server. ``code`` is what
    the link answered (404, 403 or 410).

    Attributes:
        uri: The link.
        issued: When the API handed it out (ISO 8601), when known.
    """

    def __init__(
        self, message: str, *, uri: str, issued: str | None, code: int = 404,
        status: str | None = "NOT_FOUND",
    ) -> None:  # fmt: skip
        super().__init__(message, code=code, status=status)
        self.uri, self.issued = uri, issued


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


class FolderInUseError(NanoBananaError):
    """Another run (this process or another) is writing to the folder; nothing was sent.

    Attributes:
        folder: The folder.
        pid: The process id of the writer holding it (``None``: not known).
        host: The machine it runs on.
        since: When it took the folder (ISO 8601, UTC).
    """

    def __init__(
        self, message: str, *, folder: str, pid: int | None, host: str | None, since: str | None
    ) -> None:
        super().__init__(message)
        self.folder, self.pid, self.host, self.since = folder, pid, host, since


class ManifestWriteError(NanoBananaError):
    """The run's manifest could not be written: the run started nothing more and stopped.

    Every answer already paid for was waited for and its images saved; the message says where
    they are. Their records are in ``entries`` and, when it could be written, in ``kept`` (a
    file beside the manifest that the next run adds to it), so a re-run does not pay again.

    Attributes:
        path: The manifest.
        entries: The records that are not in it.
        kept: Where they were written instead (``None``: nowhere; only in ``entries``).
        report: The run's `RunReport`.
    """

    def __init__(
        self, message: str, *, path: str, entries: list[dict[str, Any]], kept: str | None,
        report: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.path, self.entries, self.kept, self.report = path, entries, kept, report


class GenerationError(NanoBananaError):
    """The API answered, but without a final image.

    Everything that did come back (text, thought images, usage) is kept in ``result``:
    what was paid for is never lost.
    """

    def __init__(self, message: str, *, result: Outcome) -> None:
        super().__init__(message)
        self.result = result


class SafetyBlockedError(GenerationError):
    """A safety filter stopped the image, or the prompt was blocked.

    Attributes:
        reason: ``finishReason`` (``IMAGE_SAFETY``, ``PROHIBITED_CONTENT``, ...) or the
            prompt's ``blockReason``. The API's explanation, when it sent one, is
            ``result.finish_message``.
    """

    def __init__(self, message: str, *, result: Outcome, reason: str) -> None:
        super().__init__(message, result=result)
        self.reason = reason


class NoImageError(GenerationError):
    """The model answered with text only (e.g. ``NO_IMAGE``, or ``STOP`` with no image)."""


# -- the one boundary ------------------------------------------------------------------------

#: Transport errors by class name, for the HTTP stacks google-genai may use (httpx, httpx2,
#: aiohttp) without importing any of them.
_TIMEOUT_NAMES = frozenset(
    {"TimeoutException", "ServerTimeoutError", "TimeoutError", "APITimeoutError"}
)
_TRANSPORT_NAMES = frozenset(
    {
        "TransportError",
        "HTTPError",
        "ClientError",
        "StreamError",
        "ClientConnectionError",
        "APIConnectionError",
    }  # the last: google-genai's Interactions client
)


def map_error(exc: BaseException) -> NanoBananaError | None:
    """Our error for a `google-genai`, transport or builtin network error; ``None`` otherwise.

    Decided by ``isinstance`` on google-genai's errors and the builtins, and by class names
    (never module names) for the HTTP stacks, so a bare `TimeoutError` is a timeout too.
    """
    from google.genai import errors

    if isinstance(exc, NanoBananaError):
        return exc
    if isinstance(exc, errors.APIError):
        return api_error(exc.code, exc.status, exc.message or "", exc.details)
    code = getattr(exc, "status_code", None)
    if "GeminiNextGenAPIClientError" in {c.__name__ for c in type(exc).__mro__} and code:
        # google-genai's Interactions client raises its own tree, with the body as sent.
        raw = getattr(exc, "body", None)
        body: dict[str, Any] = raw if isinstance(raw, dict) else {}
        error = body["error"] if isinstance(body.get("error"), dict) else {}
        return api_error(int(code), error.get("status"), str(error.get("message") or exc), body)
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, TimeoutError) or names & _TIMEOUT_NAMES:
        return APITimeoutError(f"no complete answer within the timeout ({text})")
    if isinstance(exc, ConnectionError) or names & _TRANSPORT_NAMES:
        return APIConnectionError(f"the connection failed ({text})")
    return None


@contextmanager
def translating() -> Iterator[None]:
    """Raises our error for any `google-genai` or transport error inside, ``from`` it.

    The texts of both are scrubbed of API keys (`scrub`) on the way out.

    Example:
        >>> with translating():
        ...     client.models.generate_content(...)
    """
    try:
        yield
    except Exception as exc:
        ours = map_error(exc)
        _scrub_args(exc)
        if ours is None or ours is exc:
            raise
        _scrub_args(ours)
        if isinstance(ours, APIError):
            ours.message = scrub(ours.message)
        raise ours from exc


#: The API keys of the clients made in this process: never shown in an error's text.
_SECRETS: set[str] = set()
#: ``key=...`` in a URL's query (how the Gemini API also accepts a key).
_KEY_QUERY = re.compile(r"(?i)([?&;]key=)[^&#\s'\"]+")


def register_secret(secret: str) -> None:
    """Remembers an API key, so that `scrub` removes it from every error text."""
    if len(secret) >= 4:  # a shorter one would scrub ordinary words
        _SECRETS.add(secret)


def scrub(text: str) -> str:
    """``text`` without any API key in use or ``key=`` query value (each becomes ``***``)."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
        shown = repr(secret.encode("utf-8", "backslashreplace"))[2:-1]  # as bytes print it
        if shown != secret and shown in text:
            text = text.replace(shown, "***")
    return _KEY_QUERY.sub(r"\1***", text)


def _scrub_args(exc: BaseException) -> None:
    """Scrubs an exception's text in place (its ``args``, as ``str()`` shows them)."""
    args = tuple(_scrubbed(a) for a in exc.args)
    if args != exc.args:
        with suppress(AttributeError, TypeError):  # an exception type with read-only args
            exc.args = args


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "backslashreplace")
        return value if scrub(text) == text else scrub(text)
    return value


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*s\s*$")
_LIMIT_ZERO = re.compile(r"\blimit:\s*0\b")


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _quota(details: list[dict[str, Any]], message: str) -> tuple[str | None, bool]:
    """The quota that ran out, and whether it cannot recover by retrying.

    Reads every violation and the message: a per-day quota or a limit of 0 (which the live API
    states only in the message, ``limit: 0``, with violations in either order) never recovers,
    whatever the ``RetryInfo`` says.
    """
    quotas: list[str] = []
    hopeless = bool(_LIMIT_ZERO.search(message))
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            for violation in detail.get("violations") or []:
                if not isinstance(violation, dict):
                    continue
                quota_id = str(violation.get("quotaId") or violation.get("quotaMetric") or "")
                if quota_id:
                    quotas.append(quota_id)
                if "PerDay" in quota_id or str(violation.get("quotaValue")) == "0":
                    hopeless = True
                    quotas.insert(0, quotas.pop())  # name the one that will not recover
    return (", ".join(quotas) or None), hopeless


def api_error(code: int, status: str | None, message: str, raw: Any) -> APIError:
    """The typed error for an API error answer (``raw``: the body, or its ``error`` object)."""
    error = raw.get("error", raw) if isinstance(raw, dict) else {}
    details = [d for d in (error.get("details") or []) if isinstance(d, dict)]
    kwargs: dict[str, Any] = {"code": code, "status": status, "details": details}
    if code == 429:
        quota, hopeless = _quota(details, message)
        if hopeless:
            return QuotaExhaustedError(
                f"{message} [quota {quota or 'unknown'} will not recover by retrying: it is "
                "per day, or 0 for this project; check your plan and billing]",
                quota=quota, **kwargs,
            )  # fmt: skip
        return RateLimitError(message, retry_delay=_retry_delay(details), quota=quota, **kwargs)
    cls = {400: BadRequestError, 403: PermissionDeniedError, 404: NotFoundError}.get(code)
    if cls is None:
        cls = ServerError if code >= 500 else APIError
    return cls(message, **kwargs)


#: Batch job states after which no results will come.
BATCH_FAILED_STATES = frozenset({"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})


def batch_state_error(job: str, state: str, *, waited: float | None = None) -> BatchJobError | None:
    """The error for a batch job in ``state`` when its results are wanted; ``None`` if done.

    Args:
        job: The job's name.
        state: Its ``JOB_STATE_*``.
        waited: Seconds waited, when a wait timed out.
    """
    if state == "JOB_STATE_SUCCEEDED" and waited is None:
        return None
    if waited is not None:
        message = f"batch job {job} still {state} after {waited:g} s"
    elif state in BATCH_FAILED_STATES:
        message = f"batch job {job} is {state}, not JOB_STATE_SUCCEEDED: no results"
    else:
        message = f"batch job {job} is {state}, not done yet: call wait() first"
    return BatchJobError(message, job=job, state=state)


# -- warnings ---------------------------------------------------------------------------


class ReferenceCountWarning(UserWarning):
    """More reference images than the model is advised to take (it may ignore some)."""


class UnknownModelWarning(UserWarning):
    """A model id the registry does not know: sent as it is, checked for syntax only."""


class SizeMismatchWarning(UserWarning):
    """The image that came back is not the size or aspect ratio that was asked for.

    Gateways and some model versions silently fall back to 1K or 1:1 when they do not
    understand a size or ratio.
    """


class MissingImagesWarning(UserWarning):
    """Fewer final images came back than the prompt asked for; all that came are kept."""


class ModelShutDownWarning(UserWarning):
    """The model was shut down on this backend (by the client's ``today``).

    The request is sent all the same, and the API will most likely answer 404. The message
    names the date and a replacement.
    """


_OURS = frozenset({"nanobanana", "pydantic", "pydantic_core"})


def user_stacklevel() -> int:
    """A ``stacklevel`` pointing a warning at the first frame outside nanobanana and pydantic."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in _OURS:
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level
