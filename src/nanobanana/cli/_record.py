"""The run manifest, as the CLI's single-shot commands write it.

The one place the CLI touches the manifest (`nanobanana._runs.manifest`, shared with runs and batch
jobs), so that ``nanobanana gallery`` shows what ``generate``, ``sheet`` and ``edit`` made, as
it shows a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._errors import NanoBananaError
from .._request.request import GenerationRequest
from .._result.result import Result
from .._runs.manifest import (
    MANIFEST_NAME,
    Manifest,
    entry_head,
    expand,
    failure_entry,
    read_entries,
    request_key,
)

__all__ = ["MANIFEST_NAME", "JobView", "Record"]


class Record:
    """Appends this command's lines to ``folder/manifest.jsonl``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(folder / MANIFEST_NAME)

    def new_key(self, request: GenerationRequest) -> str:
        """The request's key; a repeat of the same request is its own item (``<key>-2``)."""
        base = request_key(request)
        key, n = base, 1
        while key in self.manifest.index:
            n += 1
            key = f"{base}-{n}"
        return key

    def ok(self, request: GenerationRequest, key: str, result: Result, names: Sequence[str],
           **extra: Any) -> dict[str, Any]:  # fmt: skip
        """Records images already saved (under ``names``, relative to the folder)."""
        entry = entry_head(request, key, len(self.manifest.index))
        entry.update(
            status="ok", images=list(names), missing=result.missing, cost=result.cost or 0.0,
            usage=dict(vars(result.usage)), response_id=result.response_id,
            finish_reason=result.finish_reason, **extra,
        )  # fmt: skip
        if result.grounding is not None:  # the sources must be shown: keep them with it
            entry["grounding"] = result.grounding.to_json()
        self.manifest.append(entry)
        return entry

    def failed(self, request: GenerationRequest, key: str, exc: NanoBananaError) -> None:
        head = entry_head(request, key, len(self.manifest.index))
        self.manifest.append(failure_entry(head, exc))


class JobView:
    """What the manifest in ``folder`` says of a job's requests (keys computed once)."""

    def __init__(self, folder: Path, requests: Sequence[GenerationRequest]) -> None:
        self.folder = folder
        self.keys = [key for _, _, key in expand(requests)]

    def _manifest(self) -> Manifest | None:
        path = self.folder / MANIFEST_NAME
        return Manifest(path) if path.exists() else None

    def entries(self) -> list[dict[str, Any]]:
        """The latest manifest line of each request that has one, in request order."""
        found = read_entries(self.folder) if (self.folder / MANIFEST_NAME).exists() else {}
        return [found[k] for k in self.keys if k in found]

    def done(self) -> int:
        """Requests a run will skip: done, or failed in a way another try would not fix."""
        manifest = self._manifest()
        return sum(manifest.is_done(k) for k in self.keys) if manifest else 0

    def still_failed(self) -> int:
        """Requests whose latest line is a failure (this run's or an earlier one's)."""
        manifest = self._manifest()
        if manifest is None:
            return 0
        return sum(k in manifest.index and not manifest.index[k].ok for k in self.keys)
