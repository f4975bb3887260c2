"""The record of a run: ``manifest.jsonl``, shared by runs, batch jobs, the CLI and the gallery.

One JSON line per finished request, written after its images are saved, with a single
``write`` so lines never interleave. A re-run skips every request already done, keyed by a
content hash of the request, so a crash or Ctrl-C never pays twice for an image; a torn last
line (a crash mid-write) is dropped and rewritten, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._errors import (
    APIConnectionError,
    GenerationError,
    NanoBananaError,
    RateLimitError,
    ServerError,
)
from ._request import GenerationRequest
from ._result import Result

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "entry_head",
    "failure_entry",
    "read_entries",
    "request_key",
    "success_entry",
]

MANIFEST_NAME = "manifest.jsonl"
_KEYED_BY_0_1 = frozenset(
    {"prompt", "references", "model", "aspect_ratio", "size", "include_thoughts", "n",
     "expected_images"}
)  # fmt: skip
#: Failures worth another try on the next run; others (blocks, bad requests) would recur.
_TRANSIENT = (RateLimitError, ServerError, APIConnectionError)


def request_key(request: GenerationRequest) -> str:
    """A content hash of everything that shapes the result: prompt, references, config, model."""
    digest = hashlib.sha256()
    # The fields of 0.1's keys, hashed as 0.1 did, so that its manifests still resume; any
    # option added since is hashed only when set, by name and value.
    for value in (request.prompt, request.model, _v(request.aspect_ratio), _v(request.size),
                  str(request.include_thoughts)):  # fmt: skip
        digest.update(value.encode() + b"\0")
    fields = type(request).model_fields
    for name in sorted(set(fields) - _KEYED_BY_0_1):
        value = getattr(request, name)
        if value != fields[name].default:
            digest.update(f"{name}={_v(value)!r}".encode() + b"\0")
    details = [r.detail for r in request.references]
    if any(details):
        digest.update(repr(details).encode() + b"\0")
    for ref in request.references:
        digest.update(ref.kind.encode() + b"\0")
        digest.update(hashlib.sha256(ref.load(0).data).digest())
    return digest.hexdigest()[:24]


def _v(x: Any) -> str:
    return str(getattr(x, "value", x))


class Manifest:
    """The JSONL record of a run: one line per finished request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.recovered_torn_line = False
        if path.exists():
            self._read()

    def _read(self) -> None:
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end < len(raw):
            # A crash mid-write left a torn last line: drop it, so the next append is clean.
            with open(self.path, "r+b") as handle:
                handle.truncate(end)
            self.recovered_torn_line = True
        for line in raw[:end].splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                self.recovered_torn_line = True
                continue
            if isinstance(entry, dict) and "key" in entry:
                self.entries[entry["key"]] = entry

    def is_done(self, key: str) -> bool:
        """Finished, or failed in a way that another try would not fix."""
        entry = self.entries.get(key)
        return entry is not None and (entry["status"] == "ok" or not entry.get("transient", False))

    def append(self, entry: dict[str, Any]) -> None:
        """Appends one line with a single write, so lines never interleave."""
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.entries[entry["key"]] = entry


def read_entries(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Every entry of a run folder's manifest by key, the latest line winning."""
    return Manifest(out_dir / MANIFEST_NAME).entries


def entry_head(request: GenerationRequest | None, key: str, index: int) -> dict[str, Any]:
    """The fields every manifest line has (runs and batch jobs write the same lines)."""
    return {
        "key": key,
        "index": index,
        "prompt": request.prompt if request else None,
        "model": request.model if request else None,
        "aspect_ratio": _v(request.aspect_ratio) if request and request.aspect_ratio else None,
        "size": _v(request.size) if request and request.size else None,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def failure_entry(entry: dict[str, Any], exc: NanoBananaError) -> dict[str, Any]:
    entry.update(status="failed", error={"type": type(exc).__name__, "message": str(exc)},
                 transient=isinstance(exc, _TRANSIENT))  # fmt: skip
    if isinstance(exc, GenerationError):  # billed even without an image
        entry.update(cost=exc.result.cost or 0.0, response_id=exc.result.response_id)
    return entry


def success_entry(entry: dict[str, Any], result: Result, out_dir: Path) -> dict[str, Any]:
    """Saves the images (atomically, named by prompt and key), then describes them."""
    stem = f"{_slug(entry['prompt'] or 'image')}-{entry['key'][:8]}"
    entry.update(
        status="ok",
        images=_save_all(result, out_dir, stem),
        missing=result.missing,
        cost=result.cost or 0.0,
        usage=result.usage.__dict__,
        response_id=result.response_id,
        finish_reason=result.finish_reason,
    )
    return entry


def _save_all(result: Result, out_dir: Path, stem: str) -> list[str]:
    many = len(result.images) > 1
    return [
        image.save(out_dir / (f"{stem}-{k}" if many else stem)).name
        for k, image in enumerate(result.images, 1)
    ]


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-") or "image"
