"""Sans-IO core shared by every client: request -> call arguments, response -> `Result`.

Nothing here sends, awaits or sleeps. The sync and async clients (and later sessions, batches
and the CLI) build with `call_args`, send with `google-genai`, and finish with `finish`.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic_core

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    InvalidResponseError,
    NanoBananaError,
    NoImageError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExhaustedError,
    RateLimitError,
    SafetyBlockedError,
    ServerError,
)
from ._registry import MODELS, user_stacklevel
from ._request import GenaiCall, GenerationRequest
from ._result import GeneratedImage, Result
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from google.genai import types

__all__ = [
    "call_args",
    "estimate_cost",
    "finish",
    "parse",
    "parse_body",
    "require_image",
    "stream_retry",
    "translate_error",
]

#: Finish reasons that mean a safety system stopped the image.
SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)


def call_args(request: GenerationRequest) -> GenaiCall:
    """The `google-genai` call for a request, asking for the raw HTTP body as well.

    `google-genai` drops ``finishMessage`` (the reason text users need) when it converts a
    response; with ``should_return_http_response`` we parse the body ourselves, once.
    """
    call = request.to_genai()
    config = call.config.model_copy(update={"should_return_http_response": True})
    return call._replace(config=config)


def parse(
    response: types.GenerateContentResponse,
    request: GenerationRequest | None,
    call: GenaiCall | None = None,
) -> Result:
    """Parses what `generate_content` returned for `call_args`."""
    http = response.sdk_http_response
    if http is None or http.body is None:
        return Result.from_response(response, request=request)
    return parse_body(http.body, request, call)


def parse_body(
    text: str | bytes, request: GenerationRequest | None = None, call: GenaiCall | None = None
) -> Result:
    """Parses a response body as sent on the wire.

    Raises:
        InvalidResponseError: The body is not JSON.
    """
    try:
        # pydantic-core's parser: ~5x faster than json.loads on megabytes of base64.
        body = pydantic_core.from_json(text)
    except ValueError as exc:
        raise InvalidResponseError(f"the response body is not JSON ({exc})") from exc
    digests = call.reference_sha256 if call is not None else ()
    return Result.from_body(body, request=request, reference_sha256=digests)


def require_image(result: Result) -> Result:
    """Returns the result, or raises the typed error for a response without a final image."""
    if result.images:
        return result
    if result.block_reason or (result.finish_reason or "") in SAFETY_REASONS:
        reason = result.block_reason or result.finish_reason or "unknown"
        raise SafetyBlockedError(
            f"the image was blocked ({result.describe_outcome()})", result=result, reason=reason
        )
    raise NoImageError(
        f"the model answered without an image ({result.describe_outcome()})", result=result
    )


def finish(
    response: types.GenerateContentResponse, request: GenerationRequest, call: GenaiCall
) -> Result:
    """Parse, then insist on a final image, and say when fewer came than were asked for."""
    result = require_image(parse(response, request, call))
    if result.missing:
        warnings.warn(
            f"asked for {request.expected_images} images but {len(result.images)} came back; "
            f"the {len(result.images)} received are kept in the result (result.missing == "
            f"{result.missing})",
            MissingImagesWarning,
            stacklevel=user_stacklevel(),
        )
    return result


@dataclass(frozen=True)
class StreamEvent:
    """One part of a streamed answer, as it arrives: thought text or image, or a final part."""

    thought: bool
    text: str | None = None
    image: GeneratedImage | None = None


class StreamAccumulator:
    """Collects stream chunks into one response body, for the one parser.

    Images arrive whole, one per chunk; usage changes between chunks and the last one counts.
    """

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.candidate: dict[str, Any] = {}
        self.top: dict[str, Any] = {}
        self.cut_by: NanoBananaError | None = None

    def feed(self, chunk: types.GenerateContentResponse) -> list[StreamEvent]:
        """Adds one chunk; returns its parts as events."""
        body = chunk.model_dump(by_alias=True, exclude_none=True, mode="python")
        candidates = body.get("candidates") or []
        candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        new = (candidate.get("content") or {}).get("parts") or []
        self.parts.extend(new)
        for key in ("finishReason", "finishMessage"):
            if candidate.get(key) is not None:
                self.candidate[key] = candidate[key]
        for key in ("usageMetadata", "modelVersion", "responseId", "promptFeedback"):
            if body.get(key) is not None:
                self.top[key] = body[key]
        events = []
        for part in new:
            one = Result.from_body({"candidates": [{"content": {"parts": [part]}}]})
            for item in one.thoughts:
                events.append(
                    StreamEvent(True, *((item, None) if isinstance(item, str) else (None, item)))
                )
            for final in one.parts:
                events.append(
                    StreamEvent(
                        False,
                        *(
                            (None, final)
                            if isinstance(final, GeneratedImage)
                            else (final.text, None)
                        ),
                    )
                )
        return events

    def has_final_image(self) -> bool:
        return any(
            isinstance(p, dict)
            and not p.get("thought")
            and (p.get("inlineData") or p.get("inline_data"))
            for p in self.parts
        )

    def result(self, request: GenerationRequest, call: GenaiCall) -> Result:
        """The whole answer, parsed once; a stream cut after its images keeps them, noted."""
        body = {
            "candidates": [{"content": {"role": "model", "parts": self.parts}, **self.candidate}],
            **self.top,
        }
        result = Result.from_body(body, request=request, reference_sha256=call.reference_sha256)
        if self.cut_by is not None:
            note = f"the stream was cut before it finished ({self.cut_by}); all parts received kept"
            result = dataclasses.replace(result, problems=(*result.problems, note))
        return require_image(result)


def stream_retry(
    acc: StreamAccumulator,
    error: NanoBananaError,
    policy: RetryPolicy,
    attempt: int,
    started: float,
) -> float | None:
    """After a stream broke: seconds to wait before trying again, or ``None`` to stop.

    A stream that already brought a final image stops and keeps it: trying again would pay
    twice. Otherwise it is retried like any call, or the error is raised.
    """
    if acc.has_final_image():
        acc.cut_by = error
        return None
    wait = policy.next_delay(error, attempt, policy.clock() - started)
    if wait is None:
        raise error
    policy.log_retry(error, attempt, wait)
    return wait


def stream_config(call: GenaiCall) -> types.GenerateContentConfig:
    """The call's config for a stream.

    google-genai refuses raw HTTP bodies on streams, so streams are parsed from its objects,
    which lose ``finishMessage``.
    """
    return call.config.model_copy(update={"should_return_http_response": None})


#: Typical thinking tokens per image request, for estimates (billed at the text rate).
ESTIMATED_THINKING_TOKENS = 400


def estimate_cost(request: GenerationRequest, *, batch: bool = False) -> float | None:
    """Estimated USD for a request before it is sent; ``None`` for a model without prices.

    Counts the images the prompt asks for at the table's tokens per size, the prompt (about
    4 characters a token, each reference at the table's input tokens) and typical thinking.
    """
    info = MODELS.get(request.model)
    if info is None or info.pricing is None:
        return None
    price = info.pricing
    size = request.size.value if request.size else "1K"
    prompt_tokens = len(request.prompt) / 4 + len(request.references) * price.input_image_tokens
    usd = (
        prompt_tokens * price.input_per_mtok
        + request.expected_images * price.image_output_tokens[size] * price.image_output_per_mtok
        + ESTIMATED_THINKING_TOKENS * price.text_output_per_mtok
    ) / 1e6
    return usd * (price.batch_discount if batch else 1.0)


class MissingImagesWarning(UserWarning):
    """Fewer final images came back than the prompt asked for; all that came are kept."""


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*s\s*$")


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _quota(details: list[dict[str, Any]], message: str) -> tuple[str | None, bool]:
    """The quota that ran out, and whether it cannot recover by retrying (per day, or 0)."""
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            for violation in detail.get("violations") or []:
                quota_id = str(violation.get("quotaId") or violation.get("quotaMetric") or "")
                hopeless = "PerDay" in quota_id or str(violation.get("quotaValue")) == "0"
                return quota_id or None, hopeless
    return None, "limit: 0" in message


def translate_error(exc: BaseException) -> NanoBananaError | None:
    """Maps a `google-genai` or transport error to ours; ``None`` when it is neither."""
    from google.genai import errors

    if isinstance(exc, NanoBananaError):
        return exc
    if isinstance(exc, errors.APIError):
        return _api_error(exc.code, exc.status, exc.message or "", exc.details)
    names = {cls.__name__ for cls in type(exc).__mro__}
    module = type(exc).__module__.split(".")[0]
    if module in ("httpx", "httpx2", "httpcore", "aiohttp") or isinstance(exc, ConnectionError):
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if names & {"TimeoutException", "ServerTimeoutError", "TimeoutError"}:
            return APITimeoutError(f"no complete answer within the timeout ({text})")
        return APIConnectionError(f"the connection failed ({text})")
    return None


def _api_error(code: int, status: str | None, message: str, raw: Any) -> APIError:
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
