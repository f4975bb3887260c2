"""The Files API of the emulator: resumable uploads, metadata, downloads, deletes."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _wire as wire
from ._plan import get

__all__ = ["FileStore", "StoredFile"]


@dataclass
class StoredFile:
    """One uploaded (or emulator-written) file."""

    name: str
    mime_type: str
    display_name: str | None
    data: bytearray
    expected: int
    created: float
    done: bool = False


class FileStore:
    """Files kept by the emulator; thread-safe."""

    def __init__(self, clock: Callable[[], float], iso: Callable[[float], str]) -> None:
        self._clock, self._iso = clock, iso
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self._uploads: dict[str, str] = {}

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._uploads.clear()

    def bytes_of(self, name: str) -> tuple[bytes, str] | None:
        """A finished file's bytes and MIME type, or ``None``."""
        with self._lock:
            f = self._files.get(name)
        return (bytes(f.data), f.mime_type) if f is not None and f.done else None

    def to_json(self, f: StoredFile, base_url: str, version: str) -> dict[str, Any]:
        return {
            "name": f.name,
            "displayName": f.display_name or "",
            "mimeType": f.mime_type,
            "sizeBytes": str(len(f.data)),
            "createTime": self._iso(f.created),
            "updateTime": self._iso(f.created),
            "expirationTime": self._iso(f.created + 48 * 3600),
            "sha256Hash": hashlib.sha256(f.data).hexdigest(),
            "uri": f"{base_url}/{version}/{f.name}",
            "state": "ACTIVE" if f.done else "PROCESSING",
            "source": "UPLOADED",
        }

    def start_upload(self, meta: Any, headers: Mapping[str, str]) -> str:
        spec = get(meta, "file") or {}
        name = get(spec, "name") or f"files/{uuid.uuid4().hex[:12]}"
        size_text = headers.get("x-goog-upload-header-content-length") or get(spec, "sizeBytes")
        try:
            size = int(size_text or 0)
        except (TypeError, ValueError):
            raise wire.invalid_argument(f"Invalid upload size: {size_text!r}.") from None
        mime = headers.get("x-goog-upload-header-content-type") or get(spec, "mimeType") or ""
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._files[name] = StoredFile(
                name, str(mime), get(spec, "displayName"), bytearray(), size, self._clock()
            )
            self._uploads[upload_id] = name
        return upload_id

    def upload_chunk(self, upload_id: str, offset: int, chunk: bytes, finalize: bool) -> StoredFile:
        with self._lock:
            name = self._uploads.get(upload_id)
            if name is None:
                raise wire.ApiError(404, "NOT_FOUND", "Upload session not found.")
            f = self._files[name]
            if offset != len(f.data):
                raise wire.invalid_argument(f"Upload offset {offset} does not match {len(f.data)}.")
            f.data += chunk
            if finalize:
                f.done = True
                del self._uploads[upload_id]
            return f

    def add(self, name: str, data: bytes, mime_type: str) -> None:
        with self._lock:
            self._files[name] = StoredFile(
                name, mime_type, None, bytearray(data), len(data), self._clock(), True
            )

    def get(self, name: str) -> StoredFile:
        with self._lock:
            f = self._files.get(name)
        if f is None:
            raise wire.ApiError(
                403, "PERMISSION_DENIED",
                f"You do not have permission to access the File {name.removeprefix('files/')} "
                "or it may not exist.",
            )  # fmt: skip
        return f

    def delete(self, name: str) -> None:
        self.get(name)
        with self._lock:
            self._files.pop(name, None)

    def list(self) -> list[StoredFile]:
        with self._lock:
            return [f for f in self._files.values() if f.done]
