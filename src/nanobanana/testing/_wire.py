"""The Gemini API as the emulator knows it: sizes, tokens, limits and error bodies (FACTS).

Kept apart from the client's own tables on purpose: an emulator that shared the SDK's code
would agree with its bugs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

API_VERSIONS = ("v1", "v1beta")

ACCEPTED_INPUT_MIME = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
MAX_INLINE_BYTES = 7 * 1000 * 1000
MAX_REQUEST_BYTES = 20 * 1024 * 1024  # "Request payload size exceeds the limit: 20971520 bytes."

# Signatures are HMACs of the part they sign, so that the emulator can tell a missing or
# altered one from the real thing. The key is fixed: a session saved against one emulator
# resumes against another, as real signatures outlive a connection.
_SIGNATURE_KEY = b"nanobanana-emulator-thought-signature"
_SIGNATURE_MAGIC = b"NBSIG1"


def sign(payload: bytes, size: int) -> bytes:
    """A thought signature for ``payload``, padded to ``size`` bytes (real ones are 0.6-2.9 MB)."""
    mac = hmac.new(_SIGNATURE_KEY, payload, hashlib.sha256).digest()
    head = _SIGNATURE_MAGIC + mac
    pad = hashlib.shake_256(mac).digest(max(0, size - len(head)))
    return head + pad


def signature_matches(signature: bytes, payload: bytes) -> bool:
    """True when ``signature`` was made by `sign` for exactly this ``payload``."""
    if not signature.startswith(_SIGNATURE_MAGIC):
        return False
    return hmac.compare_digest(signature, sign(payload, len(signature)))


_URLSAFE = str.maketrans("-_", "+/")


def b64decode(text: str) -> bytes:
    """Decodes standard or URL-safe base64, padded or not: `google-genai` sends URL-safe."""
    if not isinstance(text, str):
        raise TypeError("base64 must be a string")
    text = text.strip().translate(_URLSAFE)
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ApiError(Exception):
    """An error the emulator answers with, in the real body format."""

    def __init__(
        self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid_argument(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def bad_base64(field: str, value: object = "") -> ApiError:
    text = str(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return invalid_argument(
        f"Invalid value at '{field}' (TYPE_BYTES), Base64 decoding failed for \"{text}\""
    )


_HELP = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [
        {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
        }
    ],
}
_QUOTA_HEAD = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
    "To monitor your current usage, head to: https://ai.dev/rate-limit. "
)
_QUOTAS = {
    "per_minute": ("GenerateRequestsPerMinutePerProjectPerModel", "generate_requests"),
    "images_per_minute": ("GenerateImagesPerMinutePerProjectPerModel", "generate_images"),
    "per_day": ("GenerateRequestsPerDayPerProjectPerModel", "generate_requests_per_day"),
    "zero_requests": (
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        "generate_content_free_tier_requests",
    ),
    "zero_tokens": (
        "GenerateContentInputTokensPerModelPerMinute-FreeTier",
        "generate_content_free_tier_input_token_count",
    ),
}


def _violation(model: str, quota: str) -> dict[str, Any]:
    quota_id, metric = _QUOTAS[quota]
    return {
        "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": model},
    }


def _seconds(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def _retry_info(retry_delay: float) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": f"{int(retry_delay)}s",
    }


def rate_limited(model: str, quota: str, limit: int, retry_delay: float | None) -> ApiError:
    """429 RESOURCE_EXHAUSTED with QuotaFailure and (for recoverable quotas) RetryInfo."""
    if quota == "zero":
        return quota_zero(model, retry_delay if retry_delay is not None else 47.17)
    metric = _QUOTAS[quota][1]
    message = (
        f"{_QUOTA_HEAD}\n* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, "
        f"limit: {limit}, model: {model}"
    )
    if retry_delay is not None:
        # Live: nanoseconds in the text ("17.395510932s"), whole seconds in RetryInfo.
        message += f"\nPlease retry in {_seconds(retry_delay)}s."
    violation = {**_violation(model, quota), "quotaValue": str(limit)}
    details: list[dict[str, Any]] = [
        _HELP,
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
    ]
    if retry_delay is not None:
        details.append(_retry_info(retry_delay))
    return ApiError(429, "RESOURCE_EXHAUSTED", message, details)


def quota_zero(model: str, retry_delay: float = 47.17, tokens_first: bool = False) -> ApiError:
    """The 429 of a project without access to the model, worded as live (FACTS).

    Two ``-FreeTier`` violations (either order), ``limit: 0`` only in the message, no
    ``quotaValue``, and a RetryInfo all the same: retrying never helps.
    """
    order = ["zero_requests", "zero_tokens"]
    if tokens_first:
        order.reverse()
    lines = "".join(
        f"\n* Quota exceeded for metric: generativelanguage.googleapis.com/{_QUOTAS[q][1]}, "
        f"limit: 0, model: {model}"
        for q in order
    )
    message = f"{_QUOTA_HEAD}{lines}\nPlease retry in {retry_delay:.2f}s."
    details = [
        _HELP,
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [_violation(model, q) for q in order],
        },
        _retry_info(retry_delay),
    ]
    return ApiError(429, "RESOURCE_EXHAUSTED", message, details)


def model_not_found(model: str, version: str, method: str = "generateContent") -> ApiError:
    """The real 404 for an unknown or retired model id."""
    return ApiError(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version {version}, or is not supported for "
        f"{method}. Call ModelService.ListModels to see the list of available models and "
        "their supported methods.",
    )


DEADLINE_MESSAGE = "Deadline expired before operation could complete."
MISSING_KEY = ApiError(
    403,
    "PERMISSION_DENIED",
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.",
)
INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."
INVALID_KEY = ApiError(
    400,
    "INVALID_ARGUMENT",
    INVALID_KEY_MESSAGE,
    [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": INVALID_KEY_MESSAGE,
        },
    ],
)
VERTEX_UNAUTHENTICATED = ApiError(
    401,
    "UNAUTHENTICATED",
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential.",
)


_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10,
}  # fmt: skip
_MANY = re.compile(
    r"\b(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\s+(?:[a-z-]+\s+){0,3}?"
    r"(images|pictures|views|panels|stickers|variations|versions|frames|illustrations)\b",
    re.IGNORECASE,
)
MAX_IMAGES_PER_RESPONSE = 10


def images_asked_for(prompt: str) -> int:
    """How many images a prompt asks for ("Generate 3 images: ...", "three views of ...")."""
    match = _MANY.search(prompt)
    if not match:
        return 1
    word = match.group(1).lower()
    n = int(word) if word.isdigit() else _NUMBERS[word]
    return max(1, min(n, MAX_IMAGES_PER_RESPONSE))


def text_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)
