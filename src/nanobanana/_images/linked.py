"""`LinkedImage`: an image the API returned as a link (``delivery="uri"``), fetched when used.

A `GeneratedImage` in every respect of its public API: ``save()`` streams the link to disk
chunk by chunk (the image is never held whole in memory), ``.data`` fetches it (and keeps
it), ``width``/``height`` read only the head of it, ``sha256`` hashes it as it streams by.
A link the server no longer serves is an `ImageExpiredError` that names the link, when it
was handed out, and what to do; the result that carried it (its cost, its id) is kept.

The fetch itself is the client's (`_transport.fetch_link`: google-genai's own HTTP client,
its timeout, its key header toward the API's host only), bound to the image when the call
that returned it ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from .._errors import APIError, ImageExpiredError, InvalidRequestError
from .generated import GeneratedImage, atomic_write, image_mime
from .sniff import _SOF_MARKERS, sniff

__all__ = ["Fetch", "LinkedImage", "Sink"]

#: How much of the start of an image is kept to read its header (JPEG's SOF can follow a
#: large EXIF block).
HEAD_BYTES = 256 * 1024
#: What a link answers once it has expired (live: confirm which).
_GONE = frozenset({403, 404, 410})


class Sink(Protocol):
    def write(self, chunk: bytes, /) -> object: ...


#: Streams the bytes at a link into a sink (``sink.write(chunk)`` per chunk).
Fetch = Callable[[str, Sink], None]


class _Enough(Exception):
    """Stops a fetch once the head has come (to read the header only)."""


class _JpegSize:
    """Reads a JPEG's size from its frame header as chunks pass, keeping only a few bytes.

    The marker segments before the frame header (EXIF, ICC profiles, padding) are skipped
    by their lengths, however long, so the size is known without holding the image.
    """

    def __init__(self) -> None:
        self.buf, self.skip = b"", 0
        self.size: tuple[int, int] | None = None
        self.done = False

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        if self.skip >= len(chunk):
            self.skip -= len(chunk)
            return
        data, self.skip, pos = self.buf + chunk[self.skip :], 0, 0
        while not self.done:
            if pos + 4 > len(data):
                break
            if data[pos] != 0xFF:
                self.done = True
                break
            marker = data[pos + 1]
            if marker == 0xFF:
                pos += 1
                continue
            if marker in (0x01, 0xD8, *range(0xD0, 0xD8)):
                pos += 2
                continue
            if marker in _SOF_MARKERS:
                if pos + 9 > len(data):
                    break
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                self.size, self.done = (width, height), True
                break
            if marker == 0xDA:
                self.done = True
                break
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            end = pos + 2 + length
            if end > len(data):
                self.skip, pos = end - len(data), len(data)
                break
            pos = end
        self.buf = data[pos:]


class _Tap:
    """Passes chunks on to ``out`` (if any), hashing them, keeping the head, reading the size."""

    def __init__(self, out: Sink | None, head_only: bool = False) -> None:
        self.out, self.head_only = out, head_only
        self.digest = hashlib.sha256()
        self.head = bytearray()
        self.size = 0
        self.jpeg = _JpegSize()

    def write(self, chunk: bytes) -> int:
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        if self.head.startswith(b"\xff\xd8"):
            self.jpeg.feed(chunk)
        if self.head_only:
            jpeg = self.head.startswith(b"\xff\xd8")
            if self.jpeg.done if jpeg else len(self.head) >= HEAD_BYTES or _sized(self.head):
                raise _Enough
            return len(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        if self.out is not None:
            self.out.write(chunk)
        return len(chunk)


def _sized(head: bytes | bytearray) -> bool:
    info = sniff(bytes(head))
    return info is not None and info.width is not None


class LinkedImage(GeneratedImage):
    """An image returned as a link (``delivery="uri"``): fetched when saved or read.

    Attributes:
        uri: The link the API gave.
        issued: When the API handed it out (ISO 8601), when it said.
    """

    uri: str
    issued: str | None
    _fetch: Fetch | None
    _bytes: bytes | None
    _digest: str | None
    _size: int | None

    def __init__(
        self,
        uri: str,
        mime_type: str,
        thought_signature: bytes | None = None,
        thought: bool = False,
        metadata: Mapping[str, Any] | None = None,
        *,
        issued: str | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        # A frozen dataclass's fields are set as its own __init__ would.
        for name, value in (
            ("uri", uri), ("mime_type", mime_type), ("thought_signature", thought_signature),
            ("thought", thought), ("metadata", dict(metadata or {})), ("issued", issued),
            ("_fetch", fetch), ("_bytes", None), ("_digest", None), ("_size", None),
        ):  # fmt: skip
            object.__setattr__(self, name, value)

    def bind(self, fetch: Fetch) -> None:
        """Gives the image the client's way to fetch its link (done when a call ends)."""
        if self._fetch is None:
            object.__setattr__(self, "_fetch", fetch)

    @property
    def data(self) -> bytes:
        """The bytes, fetched from the link on first use and kept.

        Raises:
            ImageExpiredError: The link no longer serves the image.
        """
        cached: bytes | None = self._bytes
        if cached is None:
            buffer = io.BytesIO()
            self._pull(buffer)
            cached = buffer.getvalue()
            object.__setattr__(self, "_bytes", cached)
        return cached

    @property
    def fetched(self) -> bool:
        """Whether the bytes are in memory (after ``.data``); a save streams them instead."""
        return self._bytes is not None

    @property
    def _info(self) -> tuple[int | None, int | None]:
        """The size from the header: read as the image streamed by, else from its head only."""
        if "_header" not in self.__dict__:
            if self._bytes is not None:
                info = sniff(self._bytes)
                self.__dict__["_header"] = (info.width, info.height) if info else (None, None)
            else:
                tap = _Tap(None, head_only=True)
                with contextlib.suppress(_Enough):
                    self._fetch_into(tap)
                self._note_head(tap)
        known: tuple[int | None, int | None] = self.__dict__["_header"]
        return known

    def _note_head(self, tap: _Tap) -> None:
        if tap.jpeg.size is not None:
            self.__dict__["_header"] = tap.jpeg.size
            return
        info = sniff(bytes(tap.head))
        self.__dict__["_header"] = (info.width, info.height) if info else (None, None)

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes (hashed as they stream by; fetched to hash if not yet)."""
        if self._digest is None:
            self._pull(None)
        assert self._digest is not None
        return self._digest

    def _fetch_into(self, tap: _Tap) -> None:
        if self._fetch is None:
            raise InvalidRequestError(
                f"this image is a link ({self.uri}) made outside a client, so nanobanana "
                "cannot fetch it: get it from a NanoBanana client's result"
            )
        try:
            self._fetch(self.uri, tap)
        except APIError as exc:
            if exc.code not in _GONE or isinstance(exc, ImageExpiredError):
                raise
            when = f"handed out at {self.issued}" if self.issued else "handed out earlier"
            raise ImageExpiredError(
                f"the link to this image has expired: {self.uri} ({when}) answers {exc.code}. "
                "The API keeps an image's link for a limited time; the image was paid for "
                "(its cost and response id are in the result or the run's manifest) but "
                "can no longer be fetched. Save images soon after they come, or use "
                "delivery='inline' (the default) to receive them in the answer; to get this "
                "one again, generate it again",
                uri=self.uri, issued=self.issued, code=exc.code, status=exc.status,
            ) from exc  # fmt: skip

    def _pull(self, out: Sink | None) -> bytes:
        """Streams the whole image into ``out`` (or nowhere, hashing); returns its head."""
        tap = _Tap(out)
        self._fetch_into(tap)
        object.__setattr__(self, "_digest", tap.digest.hexdigest())
        object.__setattr__(self, "_size", tap.size)
        self._note_head(tap)
        return bytes(tap.head)

    def _stream(self, out: BinaryIO) -> bytes:
        if self._bytes is not None:
            return super()._stream(out)
        return self._pull(out)

    def _write_as_is(self, target: Path, fmt: str) -> None:
        if self._bytes is not None:
            return super()._write_as_is(target, fmt)
        heads: list[bytes] = []
        atomic_write(target, lambda handle: heads.append(self._pull(handle)))
        if image_mime(heads[0], self.mime_type) != self.mime_type:
            # The link sent another type than the answer declared: the name must match.
            atomic_write(target, self._convert(fmt))
        return None

    def __repr__(self) -> str:
        kind = "thought image" if self.thought else "image"
        size = f"{self._size / 1e6:.2f} MB" if self._size is not None else "not fetched yet"
        return f"<GeneratedImage {kind} {self.mime_type} by link {self.uri} ({size})>"
