"""Recording real exchanges as cassettes: the format, the recorder, the redaction.

The format is described in docs/contributing.md ("Cassettes"); `tests/testing/` loads the
files this writes. One file holds one HTTP exchange. Nothing secret and nothing big is kept:
the API key, every thought signature and every image's base64 data are replaced by
``"<redacted>"``, and ``redacted`` says, by JSON Pointer, what stood there and how big it was.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import io
import json
from pathlib import Path
from typing import Any

FORMAT = 1
PLACEHOLDER = "<redacted>"
CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
_SIGNATURE_KEYS = ("thoughtSignature", "thought_signature")
_INLINE_KEYS = ("inlineData", "inline_data")


def _b64decode(text: str) -> bytes | None:
    """google-genai echoes bytes back URL-safe; the API sends them standard: accept both."""
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _pixel_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            return image.size
    except Exception:
        return None


def _pointer(path: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def redact(body: Any, *, key: str | None = None) -> tuple[Any, dict[str, dict[str, Any]]]:
    """A copy of a JSON body without signatures, image data or the key; and what was taken."""
    taken: dict[str, dict[str, Any]] = {}

    def size_of(value: str) -> dict[str, Any]:
        raw = _b64decode(value)
        entry: dict[str, Any] = {"base64_chars": len(value)}
        if raw is not None:
            entry["bytes"] = len(raw)
            entry["sha256"] = hashlib.sha256(raw).hexdigest()
        return entry

    def walk(node: Any, path: list[str | int]) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for name, value in node.items():
                here = [*path, name]
                if name in _SIGNATURE_KEYS and isinstance(value, str):
                    taken[_pointer(here)] = {"kind": "thought_signature", **size_of(value)}
                    out[name] = PLACEHOLDER
                elif (
                    name == "data" and isinstance(value, str) and path and path[-1] in _INLINE_KEYS
                ):
                    entry = {"kind": "inline_data", **size_of(value)}
                    mime = node.get("mimeType") or node.get("mime_type")
                    if mime:
                        entry["mime_type"] = mime
                    raw = _b64decode(value)
                    if raw is not None and (size := _pixel_size(raw)):
                        entry["width"], entry["height"] = size
                    taken[_pointer(here)] = entry
                    out[name] = PLACEHOLDER
                else:
                    out[name] = walk(value, here)
            return out
        if isinstance(node, list):
            return [walk(item, [*path, i]) for i, item in enumerate(node)]
        if key and isinstance(node, str) and key in node:
            taken[_pointer(path)] = {"kind": "api_key", "chars": len(key)}
            return node.replace(key, PLACEHOLDER)
        return node

    return walk(body, []), taken


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


class Recorder:
    """Keeps every exchange of a google-genai client, through httpx event hooks.

    Pass ``http_options=types.HttpOptions(client_args=rec.client_args(),
    async_client_args=rec.async_client_args())`` to ``genai.Client``.
    """

    def __init__(self, key: str | None = None) -> None:
        self.key = key
        self.exchanges: list[dict[str, Any]] = []

    def client_args(self) -> dict[str, Any]:
        return {"event_hooks": {"response": [self._on_response]}}

    def async_client_args(self) -> dict[str, Any]:
        return {"event_hooks": {"response": [self._on_async_response]}}

    def _on_response(self, response: Any) -> None:
        response.read()
        self._keep(response)

    async def _on_async_response(self, response: Any) -> None:
        await response.aread()
        self._keep(response)

    def _keep(self, response: Any) -> None:
        request = response.request
        content = request.content.decode("utf-8") if request.content else ""
        text = response.text
        if "text/event-stream" in response.headers.get("content-type", ""):
            body: Any = [
                _json_or_text(line[5:].strip())
                for line in text.splitlines()
                if line.startswith("data:")
            ]
        else:
            body = _json_or_text(text) if text else None
        self.exchanges.append(
            {
                "request": {
                    "method": request.method,
                    "path": request.url.path,
                    "body": _json_or_text(content) if content else None,
                },
                "response": {"status": response.status_code, "body": body},
            }
        )


def cassette(
    exchange: dict[str, Any], *, name: str, scenario: str, key: str | None = None, **notes: Any
) -> dict[str, Any]:
    """One exchange as a cassette: redacted, dated, and saying what made it."""
    from importlib.metadata import version

    request_body, taken_request = redact(exchange["request"]["body"], key=key)
    response_body, taken_response = redact(exchange["response"]["body"], key=key)
    path, _ = redact(exchange["request"]["path"], key=key)
    return {
        "format": FORMAT,
        "name": name,
        "scenario": scenario,
        "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "live",
        "client": {
            "google-genai": version("google-genai"),
            "nanobanana": version("nanobanana-sdk"),
        },
        "notes": notes,
        "request": {**exchange["request"], "path": path, "body": request_body},
        "response": {**exchange["response"], "body": response_body},
        "redacted": {
            **{f"/request/body{p}": v for p, v in taken_request.items()},
            **{f"/response/body{p}": v for p, v in taken_response.items()},
        },
    }


def write(
    cassettes: list[dict[str, Any]], directory: Path = CASSETTES, *, key: str | None = None
) -> list[Path]:
    """Writes each cassette as ``<name>.json``; refuses one that still holds a secret."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for item in cassettes:
        text = json.dumps(item, indent=1, ensure_ascii=False) + "\n"
        check_clean(text, key)
        path = directory / f"{item['name']}.json"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_clean(text: str, key: str | None = None, longest: int = 16384) -> None:
    """No key, and no string long enough to be an image or a signature."""
    if key and key in text:
        raise AssertionError("a cassette holds the API key")
    for value in _strings(json.loads(text)):
        if len(value) > longest:
            raise AssertionError(f"a cassette holds a {len(value)}-character string")


def _strings(node: Any) -> Any:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
