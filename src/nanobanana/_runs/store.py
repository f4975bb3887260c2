"""Outputs anywhere: a run's images and records under a URL (``gs://``, ``s3://``, ``memory://``).

A local path keeps today's folder (`manifest.Manifest`, `save_new`). A URL goes through
`obstore <https://developmentseed.org/obstore/>`_, one small Rust-backed library that speaks
GCS, S3, Azure and memory with the same calls, and does what a run needs to never overwrite:
``put(mode="create")`` is a GCS generation precondition (``ifGenerationMatch=0``) or an S3
``If-None-Match: *``, so of two writers racing for one name exactly one wins and the other is
told so (`AlreadyExistsError`).

Credentials and endpoints come from obstore's environment variables (``AWS_*``,
``GOOGLE_SERVICE_ACCOUNT``...); an ``http://`` endpoint (an emulator) is allowed when one is
configured. ``memory://name`` is one in-process store per name, for tests and notebooks.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._errors import InvalidRequestError
from .._images.generated import extension_for, image_mime

if TYPE_CHECKING:
    from obstore.store import ClientConfig

__all__ = ["ObjectOut", "is_url", "output"]

_STORES: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def is_url(out: object) -> bool:
    """``gs://b/run`` is a URL; ``runs/fox``, ``C:/runs`` and ``file:///x`` are local paths."""
    if not isinstance(out, str):
        return False
    scheme = urlsplit(out).scheme
    return len(scheme) > 1 and scheme != "file" and "://" in out


def output(out: str | os.PathLike[str] | ObjectOut) -> Path | ObjectOut:
    """Where a run writes: a local folder (`Path`) or an object store (`ObjectOut`)."""
    if isinstance(out, ObjectOut | Path):
        return out
    text = os.fspath(out)
    if is_url(text):
        return ObjectOut(text)
    if text.startswith("file://"):
        return Path(urlsplit(text).path)
    return Path(text)


class ObjectOut:
    """A run's outputs under one URL prefix; every write of paid-for data is create-only.

    Raises:
        InvalidRequestError: The URL names no bucket, or its scheme is not one obstore knows.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme == "file":  # a folder as a store (a pipeline on one machine)
            from obstore.store import LocalStore

            self.url, self.scheme, self.prefix = url.rstrip("/"), "file", ""
            self.store = LocalStore(parts.path, mkdir=True)
            return
        if not parts.netloc:
            raise InvalidRequestError(
                f"{url}: an output URL names a bucket: gs://bucket/run, s3://bucket/run, "
                "memory://name/run"
            )
        self.url = url.rstrip("/")
        self.scheme = parts.scheme
        self.prefix = parts.path.strip("/")
        self.store = _store(parts.scheme, parts.netloc)

    def __repr__(self) -> str:
        return f"ObjectOut({self.url!r})"

    def __str__(self) -> str:
        return self.url

    def __reduce__(self) -> tuple[Any, ...]:  # pickled to Beam workers as its URL
        return (ObjectOut, (self.url,))

    def _path(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def uri(self, name: str) -> str:
        """The full URL of ``name`` under this output."""
        return f"{self.url}/{name}"

    def put_new(self, name: str, data: bytes) -> bool:
        """Writes ``name`` only if it does not exist; ``False`` when another writer has it."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            obstore.put(self.store, self._path(name), data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        return True

    def put(self, name: str, data: bytes) -> None:
        """Writes ``name``, replacing it: only for what is derived again (a gallery page)."""
        import obstore

        obstore.put(self.store, self._path(name), data)

    def read(self, name: str) -> bytes:
        """The bytes of ``name``.

        Raises:
            FileNotFoundError: It does not exist.
        """
        import obstore

        try:
            return bytes(obstore.get(self.store, self._path(name)).bytes())
        except FileNotFoundError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "NotFoundError":
                raise FileNotFoundError(self.uri(name)) from None
            raise

    def exists(self, name: str) -> bool:
        import obstore

        try:
            obstore.head(self.store, self._path(name))
        except FileNotFoundError:
            return False
        return True

    def names(self, folder: str) -> Iterator[str]:
        """Every object name under ``folder/`` (relative to this output), page by page."""
        import obstore

        start = len(self.prefix) + 1 if self.prefix else 0
        for page in obstore.list(self.store, self._path(folder.strip("/")) + "/"):
            for meta in page:
                yield str(meta["path"])[start:]

    def save_new(self, data: bytes, stem: str) -> str:
        """Writes an image as ``stem.<ext>``, or ``stem-2.<ext>``...: never over an object."""
        ext = extension_for(image_mime(data))
        for n in range(1, 10_000):
            name = f"{stem}{'' if n == 1 else f'-{n}'}{ext}"
            if self.put_new(name, data):
                return name
        raise FileExistsError(f"no free name for {stem}{ext} in {self.url}")

    def check_create_only(self) -> bool:
        """Whether the store refuses a second create of one name (writes two probe objects)."""
        import obstore

        name = f".nanobanana/probe-{uuid.uuid4().hex}"
        first = self.put_new(name, b"1")
        second = self.put_new(name, b"2")
        with contextlib.suppress(Exception):  # a store that forbids deletes keeps the probe
            obstore.delete(self.store, self._path(name))
        return first and not second

    def read_json(self, name: str) -> Any:
        return json.loads(self.read(name))


def _store(scheme: str, bucket: str) -> Any:
    """One store per bucket per process (connections reused; ``memory://x`` is shared)."""
    with _LOCK:
        if (scheme, bucket) not in _STORES:
            _STORES[scheme, bucket] = _open(scheme, bucket)
        return _STORES[scheme, bucket]


def _open(scheme: str, bucket: str) -> Any:
    try:
        from obstore.store import MemoryStore, from_url
    except ImportError:
        raise InvalidRequestError(
            f"{scheme}:// outputs need obstore: pip install 'nanobanana-sdk[cloud]'"
        ) from None
    if scheme == "memory":
        return MemoryStore()
    try:
        return from_url(f"{scheme}://{bucket}", client_options=_client_options(scheme))
    except Exception as exc:
        reason = str(exc).split("\n\n")[0]  # obstore appends a Rust debug dump
        raise InvalidRequestError(
            f"{scheme}://{bucket}: cannot open it ({reason}). Outputs go to a folder or to "
            "gs://, s3://, az:// or memory:// URLs"
        ) from None


def _client_options(scheme: str) -> ClientConfig:
    """Plain HTTP only toward an endpoint configured as such (an emulator on this machine)."""
    endpoint = ""
    if scheme in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL", "")
        endpoint = endpoint or os.environ.get("AWS_ENDPOINT", "")
    elif scheme in ("gs", "gcs"):
        account = os.environ.get("GOOGLE_SERVICE_ACCOUNT") or os.environ.get(
            "GOOGLE_SERVICE_ACCOUNT_PATH", ""
        )
        try:
            endpoint = str(json.loads(Path(account).read_text()).get("gcs_base_url", ""))
        except (OSError, ValueError, AttributeError):
            endpoint = ""
    options: ClientConfig = {"allow_http": True} if endpoint.startswith("http://") else {}
    return options
