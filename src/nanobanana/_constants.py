"""Defaults, in one place. Figures that drift (prices) live in `_registry`."""

from __future__ import annotations

DEFAULT_MODEL = "gemini-3-pro-image"

#: Environment variables read for the API key, in order (as `google-genai` does).
API_KEY_ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

#: A 4K image takes 50-120 s with no byte sent meanwhile (FACTS): the timeout must outlast it.
DEFAULT_TIMEOUT = 180.0

#: The Gemini API takes about 7 MB per inline image and about 20 MB per request (FACTS).
#: Both are measured here on the base64 text that goes on the wire, with headroom for the JSON
#: around it, so that a request we build is never the one the API rejects for its size.
MAX_INLINE_IMAGE_BYTES = 7 * 1000 * 1000
MAX_REQUEST_BYTES = 20 * 1000 * 1000
REQUEST_HEADROOM_BYTES = 256 * 1000

#: A reference file larger than this is refused before it is read: phone photos are 3-12 MB,
#: and anything sent is shrunk to 7 MB anyway.
MAX_REFERENCE_FILE_BYTES = 50 * 1000 * 1000

#: Nano Banana Pro takes 65,536 input tokens (Google's model page; not in FACTS). At about 4
#: characters a token, a prompt longer than this cannot fit, whatever else is sent.
MAX_PROMPT_CHARS = 65_536 * 4

#: Quality used when a reference image must be re-encoded to fit.
REENCODE_JPEG_QUALITY = 88

#: Retry defaults (see `RetryPolicy`).
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_INITIAL_DELAY = 2.0
DEFAULT_MAX_DELAY = 60.0
DEFAULT_DEADLINE = 600.0
