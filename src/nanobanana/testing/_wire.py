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

#: Models the emulator serves, and the retired ones it answers 404 for, as the real API does.
IMAGE_MODELS = {"gemini-3-pro-image": "image/jpeg", "gemini-3.1-flash-image": "image/png"}
RETIRED_MODELS = {"gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview"}

#: (ratio, size) -> (width, height), from FACTS.
PIXELS: dict[tuple[str, str], tuple[int, int]] = {}
_TABLE = """
1:1 1024x1024 2048x2048 4096x4096
2:3 848x1264 1696x2528 3392x5056
3:2 1264x848 2528x1696 5056x3392
3:4 896x1200 1792x2400 3584x4800
4:3 1200x896 2400x1792 4800x3584
4:5 928x1152 1856x2304 3712x4608
5:4 1152x928 2304x1856 4608x3712
9:16 768x1376 1536x2752 3072x5504
16:9 1376x768 2752x1536 5504x3072
21:9 1584x672 3168x1344 6336x2688
"""
for _line in _TABLE.strip().splitlines():
    _ratio, *_dims = _line.split()
    for _size, _dim in zip(("1K", "2K", "4K"), _dims, strict=True):
        _w, _h = _dim.split("x")
        PIXELS[(_ratio, _size)] = (int(_w), int(_h))
ASPECT_RATIOS = tuple(dict.fromkeys(r for r, _ in PIXELS))
IMAGE_SIZES = ("1K", "2K", "4K")
#: Without an aspectRatio, live Pro calls returned 1408x768 at 1K, a size in no table.
UNSPECIFIED_RATIO_1K = (1408, 768)

OUTPUT_IMAGE_TOKENS = {"1K": 1120, "2K": 1120, "4K": 2000}
ACCEPTED_INPUT_MIME = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
MAX_IMAGES = 14
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


def b64decode(text: str) -> bytes:
    """Decodes standard or URL-safe base64, padded or not: `google-genai` sends URL-safe."""
    text = text.strip()
    text += "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(text)
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


def bad_base64(field: str) -> ApiError:
    return invalid_argument(f"Invalid value at '{field}' (TYPE_BYTES), Base64 decoding failed.")


_QUOTAS = {
    "per_minute": ("GenerateRequestsPerMinutePerProjectPerModel", "generate_requests"),
    "images_per_minute": ("GenerateImagesPerMinutePerProjectPerModel", "generate_images"),
    "per_day": ("GenerateRequestsPerDayPerProjectPerModel", "generate_requests_per_day"),
    "zero": ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "generate_requests_free_tier"),
}


def rate_limited(model: str, quota: str, limit: int, retry_delay: float | None) -> ApiError:
    """429 RESOURCE_EXHAUSTED with QuotaFailure and (for recoverable quotas) RetryInfo."""
    quota_id, metric = _QUOTAS[quota]
    message = (
        "You exceeded your current quota, please check your plan and billing details. "
        f"* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, "
        f"limit: {limit}, model: {model}"
    )
    if retry_delay is not None:
        message += f"\nPlease retry in {retry_delay:g}s."
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": str(limit),
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
    ]
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay:g}s"}
        )
    return ApiError(429, "RESOURCE_EXHAUSTED", message, details)


def model_not_found(model: str, version: str) -> ApiError:
    return ApiError(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version {version}, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods.",
    )


MISSING_KEY = ApiError(
    403,
    "PERMISSION_DENIED",
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.",
)
INVALID_KEY = ApiError(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
    ],
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


def input_image_tokens(width: int | None, height: int | None) -> int:
    """Input image tokens vary with size (258-1069 seen live): 258 per 768x768 tile, capped."""
    if not width or not height:
        return 560
    if max(width, height) <= 384:
        return 258
    tiles = -(-width // 768) * -(-height // 768)
    return min(1069, 258 * tiles)
