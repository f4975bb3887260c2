"""The record of a run: ``manifest.jsonl``, shared by runs, batch jobs, the CLI and the gallery.

One JSON line per finished request, written after its images are saved, with a single
``write`` so lines never interleave. A re-run skips every request already done, keyed by a
content hash of the request, so a crash or Ctrl-C never pays twice for an image; a torn last
line (a crash mid-write) is dropped and rewritten, never fatal.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import (
    APIConnectionError,
    GenerationError,
    InvalidRequestError,
    NanoBananaError,
    RateLimitError,
    ServerError,
)
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
    details = [r.media_resolution for r in request.references]
    if any(details):
        digest.update(repr(details).encode() + b"\0")
    for ref in request.references:
        digest.update(ref.kind.encode() + b"\0")
        digest.update(hashlib.sha256(ref.load(0).data).digest())
    return digest.hexdigest()[:24]


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


class Manifest:
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
        self.spent = 0.0
        """USD of every billed outcome recorded (a failed try that was billed counts too)."""
        self.recovered_torn_line = False
        self.upgraded = False
        """True when a manifest of 0.1 (no header) was given its header."""
        self._has_header = False
        if path.is_symlink():
            raise InvalidRequestError(
                f"{path} is a symbolic link: nanobanana never writes a manifest through one. "
                "Replace it with a regular file, or use another out_dir"
            )
        if path.exists():
            self._read()

    def _read(self) -> None:
        """One pass over the lines, keeping only what resume needs (never every entry)."""
        header: bool | None = None  # None: nothing read yet
        size = torn_at = 0
        last: bytes = b"\n"
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            for line in handle:
                start, size, last = size, size + len(line), line
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    if header is None and not line.startswith(_HEADER[:24]):
                        raise self._foreign() from None
                    torn_at = start if not line.endswith(b"\n") else torn_at
                    self.recovered_torn_line = True  # a torn line: keep the rest
                    continue
                if header is None:
                    header = isinstance(record, dict) and record.get("format") == FORMAT
                    if header:
                        continue
                ours = isinstance(record, dict) and (
                    ("key" in record and "status" in record) or record.get("type") == "batch_job"
                )
                if not ours:
                    if not header:  # 0.1's entries say they are ours; this one does not
                        raise self._foreign()
                    continue
                if record.get("type") == "batch_job":
                    self.jobs.append(record)
                elif "key" in record:
                    self._note(record)
        if torn_at:
            self._truncate(torn_at)  # a crash mid-write tore the last line
        elif not last.endswith(b"\n"):
            self._write(b"\n")  # a whole last line that lost its newline: keep it, end it
        if header is False:
            self._upgrade()  # 0.1 wrote no header: its entries say it is ours
        self._has_header = header is not None

    def _note(self, entry: dict[str, Any]) -> None:
        cost = entry.get("cost")
        self.spent += float(cost) if isinstance(cost, int | float) else 0.0
        ok = entry.get("status") == "ok"
        self.index[str(entry["key"])] = _Item(ok, bool(entry.get("transient", False)))

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
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def is_done(self, key: str) -> bool:
        """Finished, or failed in a way that another try would not fix."""
        item = self.index.get(key)
        return item is not None and (item.ok or not item.transient)

    def failed_for_good(self, key: str) -> bool:
        """Failed earlier in a way another try would not fix (a block, a bad request)."""
        item = self.index.get(key)
        return item is not None and not item.ok and not item.transient

    def append(self, entry: dict[str, Any]) -> None:
        """Appends one line with a single write, so lines never interleave."""
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        if not self._has_header:
            line = _HEADER + line
            self._has_header = True
        self._write(line)
        if entry.get("type") == "batch_job":
            self.jobs.append(entry)
        else:
            self._note(entry)

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every entry by key, read in full from the file, the latest line winning."""
        return read_entries(self.path.parent) if self.path.exists() else {}


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
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if isinstance(entry, dict) and "key" in entry and entry.get("type") != "batch_job":
            found[str(entry["key"])] = entry
    return found


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
    key = entry["key"]
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
