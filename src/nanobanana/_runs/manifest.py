"""The record of a run: ``manifest.jsonl``, shared by runs, batch jobs, the CLI and the gallery.

One JSON line per finished request, written after its images are saved, with a single
``write`` so lines never interleave. A re-run skips every request already done, keyed by a
content hash of the request, so a crash or Ctrl-C never pays twice for an image; a torn last
line (a crash mid-write) is dropped and rewritten, never fatal.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .._errors import (
    APIConnectionError,
    BatchJobError,
    CorruptManifestError,
    GenerationError,
    InvalidRequestError,
    NanoBananaError,
    RateLimitError,
    ServerError,
)
from .._images.bytes import ImageBytes
from .._images.generated import atomic_write, save_new
from .._images.linked import LinkedImage
from .._request.request import GenerationRequest
from .._result.result import Result

if TYPE_CHECKING:
    from .store import ObjectOut

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "entry_head",
    "expand",
    "failure_entry",
    "read_entries",
    "read_planned",
    "reference_digests",
    "request_key",
    "slug",
    "success_entry",
    "unfetched_entry",
    "unsaved_entry",
]

MANIFEST_NAME = "manifest.jsonl"
_KEYED_BY_0_1 = frozenset(
    {"prompt", "references", "model", "aspect_ratio", "size", "include_thoughts", "n",
     "expected_images"}
)  # fmt: skip
#: Failures worth another try on the next run; others (blocks, bad requests) would recur. A
#: batch job that failed, was cancelled or expired leaves its requests to be sent again.
_TRANSIENT = (RateLimitError, ServerError, APIConnectionError, BatchJobError)


def request_key(request: GenerationRequest, digests: Sequence[bytes] | None = None) -> str:
    """A content hash of everything that shapes the result: prompt, references, config, model.

    Args:
        request: The request.
        digests: The SHA-256 of each reference's bytes, from the read that sends them
            (`reference_digests`); ``None`` reads the references here.
    """
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
    details = [r.media_resolution for r in request.references]
    if any(details):
        digest.update(repr(details).encode() + b"\0")
    if digests is None:
        digests = reference_digests([ref.load(i) for i, ref in enumerate(request.references)])
    for ref, sha in zip(request.references, digests, strict=True):
        digest.update(ref.kind.encode() + b"\0")
        digest.update(sha)
    return digest.hexdigest()[:24]


def reference_digests(images: Sequence[ImageBytes]) -> list[bytes]:
    """The SHA-256 of each reference's bytes as read (before any fitting): what keys hash."""
    return [hashlib.sha256(image.data).digest() for image in images]


def _v(x: Any) -> str:
    return str(getattr(x, "value", x))


#: The first line of every manifest nanobanana writes: a file of that common name that lacks
#: it (and is not 0.1's, recognised by its entries) belongs to someone else and is never touched.
FORMAT = "nanobanana-manifest"
VERSION = 2
_HEADER = json.dumps({"format": FORMAT, "version": VERSION}).encode() + b"\n"


@dataclass(frozen=True)
class _Item:
    """What resume needs of an entry: whether it is done, and whether a failure may recur."""

    ok: bool
    transient: bool


#: The four there are, shared: a resume of 100,000 entries keeps a key and a pointer each.
_ITEMS = {(ok, tr): _Item(ok, tr) for ok in (True, False) for tr in (True, False)}


class ItemIndex:
    """What a record says of each item, and the one rule of what a re-run skips."""

    index: dict[str, _Item]

    def is_done(self, key: str) -> bool:
        """Finished, or failed in a way that another try would not fix."""
        item = self.index.get(key)
        return item is not None and (item.ok or not item.transient)

    def failed_for_good(self, key: str) -> bool:
        """Failed earlier in a way another try would not fix (a block, a bad request)."""
        item = self.index.get(key)
        return item is not None and not item.ok and not item.transient


class Manifest(ItemIndex):
    """The JSONL record of a run: a header line, then one line per finished request.

    Reading keeps only what resume needs (`index`); `entries()` reads the full lines on demand.

    Raises:
        InvalidRequestError: The file is a symbolic link, or someone else's ``manifest.jsonl``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index: dict[str, _Item] = {}
        self.jobs: list[dict[str, Any]] = []
        """Batch API jobs recorded for this folder (``{"names": [...], "keys": [...]}``)."""
        self.intents: list[dict[str, Any]] = []
        """Batch API jobs about to be created (``{"tag": ..., "keys": [...]}``): one with no
        job recorded may exist all the same, found again by its tag."""
        self.spent = 0.0
        """USD of every billed outcome recorded (a failed try that was billed counts too)."""
        self.recovered_torn_line = False
        self.upgraded = False
        """True when a manifest of 0.1 (no header) was given its header."""
        self._has_header = False
        self._line = 0
        if path.is_symlink():
            raise InvalidRequestError(
                f"{path} is a symbolic link: nanobanana never writes a manifest through one. "
                "Replace it with a regular file, or use another out_dir"
            )
        if path.exists() and not path.is_file():
            raise InvalidRequestError(
                f"{path} is not a file (a folder?): a run records itself in a file of that "
                "name. Move it away, or use another out_dir"
            )
        if path.exists():
            self._read()
        self._take_back_unrecorded()

    def _read(self) -> None:
        """One pass over the lines, keeping only what resume needs (never every entry)."""
        header: bool | None = None  # None: nothing read yet
        size = torn_at = 0
        last: bytes = b"\n"
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            for number, line in enumerate(handle, 1):
                self._line = number
                start, size, last = size, size + len(line), line
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):
                    if header is None and not line.startswith(_HEADER[:24]):
                        raise self._foreign() from None
                    if header is False and line.endswith(b"\n"):  # 0.1 tore only its tail
                        raise self._foreign() from None
                    torn_at = start if not line.endswith(b"\n") else torn_at
                    self.recovered_torn_line = True  # a torn line: keep the rest
                    continue
                if header is None:
                    header = isinstance(record, dict) and record.get("format") == FORMAT
                    if header:
                        continue
                ours = isinstance(record, dict) and (
                    ("key" in record and "status" in record)
                    or record.get("type") in ("batch_job", "batch_intent")
                )
                if not header and not _is_0_1_entry(record):
                    raise self._foreign()  # 0.1's entries say they are ours; this one does not
                if ours:
                    self._keep(record)
        if torn_at:
            self._truncate(torn_at)  # a crash mid-write tore the last line
        elif not last.endswith(b"\n"):
            self._write(b"\n")  # a whole last line that lost its newline: keep it, end it
        if header is False:
            self._upgrade()  # 0.1 wrote no header: its entries say it is ours
        self._has_header = header is not None

    def _keep(self, record: dict[str, Any]) -> None:
        if record.get("type") == "batch_job":
            self.jobs.append(record)
        elif record.get("type") == "batch_intent":
            self.intents.append(record)
        elif "key" in record:
            self._note(record)

    def _note(self, entry: dict[str, Any]) -> None:
        cost = entry.get("cost")
        if cost is not None and (
            isinstance(cost, bool) or not isinstance(cost, int | float)
            or not math.isfinite(cost) or cost < 0
        ):  # fmt: skip
            raise CorruptManifestError(
                f"the cost {cost!r} is not an amount in USD (a finite number, 0 or more), so "
                "the spend recorded here, and any cap kept from it, cannot be trusted. Nothing "
                "was sent. Correct the line, or delete it to have its request made again",
                path=str(self.path), line=self._line,
            )  # fmt: skip
        self.spent += float(cost or 0.0)
        ok = entry.get("status") == "ok"
        self.index[str(entry["key"])] = _ITEMS[ok, bool(entry.get("transient", False))]

    def _foreign(self) -> InvalidRequestError:
        return InvalidRequestError(
            f"{self.path} was not written by nanobanana (its first line is not a nanobanana "
            "manifest header), so it is left untouched. Use another out_dir"
        )

    def _upgrade(self) -> None:
        atomic_write(self.path, _HEADER + self.path.read_bytes())
        self.upgraded = True

    def _truncate(self, size: int) -> None:
        with open(self.path, "r+b") as handle:
            handle.truncate(size)

    def _write(self, data: bytes) -> None:
        """Appends ``data`` whole, or not at all.

        A short write (a full disk) is cut back off, so that no fragment is left for the next
        record to be glued onto; a fragment that could not be cut (or one a crash left) is
        ended with a newline before the next record.

        Raises:
            OSError: It could not be written; the file is as it was.
        """
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o644)
        try:
            start = os.fstat(fd).st_size
            if start:
                os.lseek(fd, start - 1, os.SEEK_SET)
                if os.read(fd, 1) != b"\n":
                    data = b"\n" + data
            written = 0
            try:
                while written < len(data):
                    count = os.write(fd, data[written:])
                    if count <= 0:
                        raise OSError(errno.ENOSPC, "no byte could be written", str(self.path))
                    written += count
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)

    @property
    def unrecorded_path(self) -> Path:
        """Where records go when the manifest cannot take them; the next run adds them to it."""
        return self.path.with_name(self.path.name + ".unrecorded")

    def keep_unrecorded(self, entries: Sequence[dict[str, Any]]) -> Path | None:
        """Writes records the manifest could not take beside it; ``None`` if that failed too."""
        lines = b"".join(_line(entry) for entry in entries)
        target = self.unrecorded_path
        try:
            old = target.read_bytes() if target.exists() else b""
            atomic_write(target, old + lines)
        except OSError:
            return None
        return target

    def _take_back_unrecorded(self) -> None:
        """Adds the records an earlier run could not write (`keep_unrecorded`), then drops them."""
        side = self.unrecorded_path
        if not side.is_file() or side.is_symlink():
            return
        for raw in side.read_bytes().split(b"\n"):
            try:
                entry = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(entry, dict) and "key" in entry and entry.get("type") != "batch_job":
                self.append(entry)
        side.unlink()

    def append(self, entry: dict[str, Any]) -> None:
        """Appends one line whole, or raises `OSError` having written nothing."""
        line = _line(entry)
        if not self._has_header:
            line = _HEADER + line
            self._has_header = True
        try:
            self._write(line)
        except OSError:
            if line.startswith(_HEADER):
                self._has_header = False
            raise
        if entry.get("type") == "batch_job":
            self.jobs.append(entry)
        elif entry.get("type") == "batch_intent":
            self.intents.append(entry)
        elif entry.get("type") == "run":
            pass  # what a run set out to do: for the gallery's "not started"
        else:
            self._note(entry)

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every entry by key, read in full from the file, the latest line winning."""
        return read_entries(self.path.parent) if self.path.exists() else {}


def _is_0_1_entry(record: Any) -> bool:
    """A line as 0.1 wrote them: a file without a header is ours only if every line is one."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("key"), str)
        and record.get("status") in ("ok", "failed")
    )


def _line(entry: dict[str, Any]) -> bytes:
    """One JSON line; readers split on newlines only, so U+2028 in a prompt never splits it."""
    return (json.dumps(entry, ensure_ascii=False) + "\n").encode()


def read_entries(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Every entry of a run folder's manifest by key, the latest line winning; reads only.

    Raises:
        InvalidRequestError: The folder has no readable manifest.
    """
    path = out_dir / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except OSError:
        raise InvalidRequestError(
            f"{out_dir}: no readable {MANIFEST_NAME} here: is this a nanobanana run folder?"
        ) from None
    found: dict[str, dict[str, Any]] = {}
    for line in raw.split(b"\n"):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a torn last line
        if isinstance(entry, dict) and "key" in entry and entry.get("type") != "batch_job":
            found[str(entry["key"])] = entry
    return found


def read_planned(out_dir: Path) -> int | None:
    """Requests the latest run in ``out_dir`` set out to do (``None``: no run said)."""
    planned = None
    with contextlib.suppress(OSError):
        for line in (out_dir / MANIFEST_NAME).read_bytes().split(b"\n"):
            if b'"type": "run"' not in line:
                continue
            with contextlib.suppress(ValueError, RecursionError):
                record = json.loads(line)
                if isinstance(record, dict) and isinstance(record.get("requests"), int):
                    planned = record["requests"]
    return planned


def expand(requests: Sequence[GenerationRequest]) -> list[tuple[int, GenerationRequest, str]]:
    """Every paid image its own item: ``n`` copies, and repeats of one request, each keyed apart.

    The k-th occurrence of identical work gets ``<key>-k``, in the order given, so a re-run
    of the same list resumes exactly.
    """
    items, seen = [], collections.Counter[str]()
    for index, request in enumerate(requests):
        key = request_key(request)
        for _ in range(request.n):
            seen[key] += 1
            k = seen[key]
            items.append((index, request, key if k == 1 else f"{key}-{k}"))
    return items


class FailureError(TypedDict):
    """What went wrong: the error's class name and its message."""

    type: str
    message: str


class RunFailure(TypedDict, total=False):
    """One request a run could not finish, as its manifest line records it."""

    key: str
    """The request's content hash: a re-run finds it by this."""
    index: int
    """Its position in the run's input."""
    prompt: str | None
    model: str | None
    aspect_ratio: str | None
    size: str | None
    at: str
    """When it failed (ISO 8601, UTC)."""
    status: str
    """``"failed"``."""
    error: FailureError
    transient: bool
    """Worth trying again (a 5xx, a 429, a dropped connection): the next run does."""
    cost: float
    """USD billed anyway (a blocked image is billed)."""
    response_id: str | None


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


def success_entry(
    entry: dict[str, Any], result: Result, out_dir: Path | ObjectOut
) -> dict[str, Any]:
    """Saves the images under free names (never over a file), then describes them.

    Named by prompt and key; the k-th repeat of one request has its own key, so its own
    files.
    """
    key = _safe_key(entry["key"])
    stem = f"{slug(entry['prompt'] or 'image')}-{key[:8]}{key[24:]}"
    many = len(result.images) > 1
    stems = [f"{stem}-{k}" if many else stem for k in range(1, len(result.images) + 1)]
    if isinstance(out_dir, Path):
        # An image by link streams from it to disk (never held whole).
        names = [save_new(i, out_dir, s).name for i, s in zip(result.images, stems, strict=True)]
    else:  # an object store (`store.ObjectOut`): create-only, and the URIs recorded too
        names = [out_dir.save_new(i.data, s) for i, s in zip(result.images, stems, strict=True)]
        entry["uris"] = [out_dir.uri(name) for name in names]
    entry.update(
        status="ok",
        images=names,
        missing=result.missing,
        cost=result.cost or 0.0,
        usage=result.usage.__dict__,
        response_id=result.response_id,
        finish_reason=result.finish_reason,
    )
    if result.grounding is not None:
        entry["grounding"] = result.grounding.to_json()
    if result.size_mismatches:
        entry["size_mismatches"] = list(result.size_mismatches)
    return entry


def _safe_key(key: str) -> str:
    """A key as a part of a file name: ours are hex, a job made elsewhere may say ``a/../b``."""
    if re.fullmatch(r"[0-9a-f]{24}(-[0-9]+)?", key):
        return key
    safe = re.sub(r"[^A-Za-z0-9_]+", "-", key).strip("-")[:7]
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{safe}-{digest}"[:24] if safe else digest[:24]


def unsaved_entry(entry: dict[str, Any], result: Result, exc: OSError) -> dict[str, Any]:
    """An answer that came (and was billed) but could not be written: disk full, say.

    Recorded as a transient failure, so the next run asks again rather than lose it.
    """
    entry.update(
        status="failed",
        error={"type": type(exc).__name__, "message": f"the image could not be saved: {exc}"},
        transient=True,
        cost=result.cost or 0.0,
        response_id=result.response_id,
    )
    return entry


def unfetched_entry(entry: dict[str, Any], result: Result, exc: NanoBananaError) -> dict[str, Any]:
    """An answer that came (and was billed) with images by link that could not be fetched.

    Recorded as done for good (a re-run does not pay for it again), with the links, so an
    image whose link still lives can be fetched by hand, and the error saying why.
    """
    entry.update(
        status="failed",
        error={"type": type(exc).__name__, "message": f"the image could not be fetched: {exc}"},
        transient=False,
        cost=result.cost or 0.0,
        response_id=result.response_id,
        links=[i.uri for i in result.images if isinstance(i, LinkedImage)],
    )
    return entry


def slug(text: str, limit: int = 40) -> str:
    """``A red fox, asleep`` -> ``red-fox-asleep``: whole words only, at most ``limit`` long."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    while len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    return out or (words[0][:limit] if words else "image")


_ARTICLES = frozenset({"a", "an", "the"})
