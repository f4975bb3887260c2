"""A run's record in an object store: one small create-only object per item (or per shard).

An object store cannot append, and many writers (Beam workers, a re-run beside a run) share
one output, so the JSONL manifest of a local folder becomes objects read back as one manifest:

- ``records/<key>.json``: the item's final entry (an image saved, or a failure another try
  would not fix). Written create-only: it is the idempotency key. An item is done when it
  exists; of two writers racing for it one wins, and the other's images (paid for too) are
  kept and recorded in ``duplicates/<key>-<id>.json``, never lost.
- ``records/<name>.jsonl``: many entries at once (a Batch API shard), read like a manifest.
- ``attempts/<key>-<id>.json``: a transient failure (its cost counts; a later run retries).
- ``jobs/<id>.json``: Batch API jobs created for this output.

`RecordManifest` offers what the runner uses of `manifest.Manifest`; `read_any` reads either
form (a folder's ``manifest.jsonl``, or these objects), for the gallery and the CLI.
"""

from __future__ import annotations

import collections
import json
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .manifest import _ITEMS, MANIFEST_NAME, ItemIndex, _Item, read_entries
from .store import ObjectOut

__all__ = ["RecordManifest", "read_any", "record_name"]


def record_name(key: str) -> str:
    return f"records/{key}.json"


def _line(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, ensure_ascii=False).encode()


class RecordManifest(ItemIndex):
    """The record of a run under a URL, read once (all entries) and written one object a time."""

    def __init__(self, out: ObjectOut) -> None:
        self.out = out
        self.index: dict[str, _Item] = {}
        self.jobs: list[dict[str, Any]] = []
        self.spent = 0.0
        self.recovered_torn_line = False
        self.upgraded = False
        self.duplicates = 0
        """Items another writer recorded first (their images kept under ``duplicates/``)."""
        for entry in _entries(out, with_attempts=True):
            if entry.get("type") == "batch_job":
                self.jobs.append(entry)
            else:
                self._note(entry)

    def _note(self, entry: dict[str, Any]) -> None:
        cost = entry.get("cost")
        self.spent += float(cost) if isinstance(cost, int | float) else 0.0
        key = str(entry["key"])
        if self.index.get(key, _Item(False, True)).ok:
            return  # a success stays done whatever comes after
        self.index[key] = _ITEMS[entry.get("status") == "ok", bool(entry.get("transient", False))]

    def append(self, entry: dict[str, Any]) -> bool:
        """Records one entry; ``False`` when another writer had recorded this item first."""
        won = write_record(self.out, entry)
        if entry.get("type") == "batch_job":
            self.jobs.append(entry)
        elif won:
            self._note(entry)
        else:
            self.duplicates += 1
        return won

    def append_shard(self, name: str, entries: list[dict[str, Any]]) -> bool:
        """Records many entries as one ``records/<name>.jsonl`` object (a Batch API chunk).

        ``False`` when an object of that name existed already: ``name`` must be derived from
        the entries' keys, so that such an object holds these same items.
        """
        won = write_shard(self.out, name, entries)
        for entry in entries:
            self._note(entry)
        return won

    def entries(self) -> dict[str, dict[str, Any]]:
        return read_any(self.out)


def write_record(out: ObjectOut, entry: dict[str, Any]) -> bool:
    """Writes one entry where it belongs; ``False`` when the item's record existed already."""
    tag = uuid.uuid4().hex[:12]
    if entry.get("type") == "batch_job":
        return out.put_new(f"jobs/{tag}.json", _line(entry))
    key = str(entry["key"])
    if entry.get("status") != "ok" and entry.get("transient"):
        return out.put_new(f"attempts/{key}-{tag}.json", _line(entry))
    if out.put_new(record_name(key), _line(entry)):
        return True
    out.put_new(f"duplicates/{key}-{tag}.json", _line(entry))
    return False


def write_shard(out: ObjectOut, name: str, entries: Iterable[dict[str, Any]]) -> bool:
    """Many entries as one ``records/<name>.jsonl`` object (create-only)."""
    body = b"\n".join(_line(e) for e in entries) + b"\n"
    return out.put_new(f"records/{name}.jsonl", body)


#: Objects read at once: 100,000 records are 100,000 round trips, so they overlap.
READERS = 32


def _entries(out: ObjectOut, *, with_attempts: bool) -> Iterator[dict[str, Any]]:
    """Every entry under the output, its objects read concurrently, in name order.

    At most a window of ``READERS x 4`` objects is held at once, so memory stays flat.
    """
    folders = ("jobs", "attempts", "records") if with_attempts else ("records",)
    with ThreadPoolExecutor(READERS, thread_name_prefix="nanobanana-records") as pool:
        for folder in folders:
            names = iter(sorted(out.names(folder)))
            window: collections.deque[Future[bytes]] = collections.deque()
            while True:
                while len(window) < READERS * 4 and (name := next(names, None)) is not None:
                    window.append(pool.submit(_read_or_empty, out, name))
                if not window:
                    break
                yield from _parse(window.popleft().result())


def _read_or_empty(out: ObjectOut, name: str) -> bytes:
    try:
        return out.read(name)
    except FileNotFoundError:
        return b""


def _parse(raw: bytes) -> Iterator[dict[str, Any]]:
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and ("key" in entry or entry.get("type")):
            yield entry


def read_any(out: Path | ObjectOut) -> dict[str, dict[str, Any]]:
    """Every entry by key, from a folder's ``manifest.jsonl`` or a URL's records (or both).

    A URL may also hold a ``manifest.jsonl`` (a local run copied up): its lines come first,
    the records after, and a success is never replaced by a later failure.
    """
    if isinstance(out, Path):
        if not (out / "records").is_dir():
            return read_entries(out)
        # a pipeline's folder: records objects (and maybe a manifest of a local run too)
        out = ObjectOut(out.resolve().as_uri())
    found: dict[str, dict[str, Any]] = {}
    try:
        raw = out.read(MANIFEST_NAME)
    except FileNotFoundError:
        raw = b""
    lines = [_loads(x) for x in raw.splitlines()]
    for entry in [*lines, *_entries(out, with_attempts=False)]:
        if not isinstance(entry, dict) or "key" not in entry or entry.get("type"):
            continue
        key = str(entry["key"])
        if found.get(key, {}).get("status") != "ok":
            found[key] = entry
    return found


def _loads(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None  # a torn line
