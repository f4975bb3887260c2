"""Raw HTTP against the emulator, for what google-genai would refuse to send."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from nanobanana.testing import FakeGemini

PRO = "gemini-3-pro-image"
GENERATE = f"/v1beta/models/{PRO}:generateContent"


def call(
    server: FakeGemini,
    path: str,
    body: Any = None,
    *,
    method: str = "POST",
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    key: str | None = "k",
) -> tuple[int, Any]:
    """Sends one request on a fresh connection; returns (status, parsed JSON or bytes)."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = {"content-type": "application/json", **({"x-goog-api-key": key} if key else {})}
    try:
        conn.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(payload)
    except ValueError:
        return response.status, payload


def text_body(prompt: str = "a fox", **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    if config:
        body["generationConfig"] = config
    return body
