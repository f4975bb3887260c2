"""The API key, kept out of sight, and the google-genai client made with it.

The environment is read when a client is made, never at import. The key lives in a holder with
no repr, so no ``vars()``, ``__dict__`` or repr of nanobanana's own objects shows it;
google-genai's client keeps its own copy, as it does.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import (
    InvalidAPIKeyError,
    InvalidRequestError,
    MissingAPIKeyError,
    register_secret,
)

if TYPE_CHECKING:
    from google import genai
    from google.genai import types

__all__ = ["check_api_key", "genai_factory"]

#: Environment variables read for the API key, in order (as `google-genai` does).
API_KEY_ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

#: A 4K image takes 50-120 s with no byte sent meanwhile (FACTS): the timeout must outlast it.
DEFAULT_TIMEOUT = 180.0


class _Secret:
    """Holds the API key: its repr and its ``__slots__`` never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def get(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "_Secret('***')"


def genai_factory(
    api_key: str | None,
    *,
    base_url: str | None,
    timeout: float,
    vertexai: bool,
    project: str | None,
    location: str | None,
    credentials: Any = None,
) -> Callable[[], genai.Client]:
    """A maker of google-genai clients with this configuration, the key held out of sight.

    Raises:
        MissingAPIKeyError: No key given, none in the environment, and not Vertex AI.
    """
    from google.genai import types

    if (
        isinstance(timeout, bool) or not isinstance(timeout, int | float)
        or not math.isfinite(timeout) or timeout <= 0
    ):  # fmt: skip
        raise InvalidRequestError(
            f"timeout must be a finite number of seconds above 0, got {timeout!r} (the default "
            f"is {DEFAULT_TIMEOUT:g}: a 4K image takes up to 2 minutes)"
        )
    if not vertexai:
        given = "api_key"
        if not api_key:
            given, api_key = next(
                ((v, os.environ[v]) for v in API_KEY_ENV_VARS if os.environ.get(v)),
                (given, api_key),
            )
        if api_key:
            api_key = check_api_key(api_key, given)
        if not api_key:
            raise MissingAPIKeyError(
                "no API key: pass api_key=..., or set GEMINI_API_KEY (or GOOGLE_API_KEY). "
                "Get a key at https://aistudio.google.com/apikey, or run offline against "
                "the emulator: `with FakeGemini() as s: NanoBanana(api_key='test', "
                "base_url=s.url)`"
            )
    if api_key and not vertexai:
        register_secret(api_key)
    # attempts=1: our RetryPolicy decides every retry. Without it google-genai's
    # Interactions client retries 429 and 5xx itself (4 more times, sleeping).
    http_options = types.HttpOptions(
        base_url=base_url,
        timeout=int(timeout * 1000),
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    secret = _Secret(None if vertexai else api_key)
    return functools.partial(_make, secret, vertexai, project, location, http_options, credentials)


def check_api_key(key: object, given: str = "api_key") -> str:
    """The key with surrounding whitespace removed, if it can be sent as a header.

    Raises:
        InvalidAPIKeyError: Not a string, or whitespace, control or non-ASCII characters
            inside. The message names the position, never the key.
    """
    if not isinstance(key, str):
        raise InvalidAPIKeyError(f"{given} must be a string, got {type(key).__name__}")
    stripped = key.strip()
    for position, char in enumerate(stripped, 1):
        if char.isspace():
            what = "a line break" if char in "\r\n" else "whitespace"
        elif not char.isascii():
            what = "a non-ASCII character"
        elif not char.isprintable():
            what = f"a control character (U+{ord(char):04X})"
        else:
            continue
        raise InvalidAPIKeyError(
            f"{given} has {what} at position {position} of {len(stripped)}: an API key is "
            "one word of printable ASCII (letters, digits, '-', '_'). Were two keys pasted "
            "together, or a quote or space copied with it? Copy it again from "
            "https://aistudio.google.com/apikey"
        )
    return stripped


def _make(
    secret: _Secret,
    vertexai: bool,
    project: str | None,
    location: str | None,
    http_options: types.HttpOptions,
    credentials: Any,
) -> genai.Client:
    from google import genai

    return genai.Client(
        api_key=secret.get(),
        vertexai=vertexai or None,
        project=project,
        location=location,
        credentials=credentials,
        http_options=http_options,
    )
