"""What a batch submit to a folder still has to send: nothing saved, nothing in a live job.

A submit to an ``out_dir`` records, before each API job is created, an intent: a tag that goes
into the job's display name (``"bikes [nb-3f2a9c1d07e4]"``), and the keys it will carry. Once
the job exists, the job is recorded too. A re-submit then:

- asks the API for the state of each recorded job: keys in a job still live (pending,
  running, or succeeded with results to fetch) are attached to, never sent again; keys of a
  job that failed, was cancelled or expired are submittable again;
- finds a job that was created but not recorded (the submitter killed in between) by its
  tag among the key's jobs, records it, and attaches to it;
- sends only the keys that are neither saved nor in a live job, as new jobs (a subset of an
  earlier submit sends nothing).

Kept apart from `flows` (the submit itself): `plan_flow` is the one hook it calls.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._core.flows import attempt, list_flow
from .._core.steps import Flow, Offload, Op
from .._errors import InvalidRequestError, NotFoundError
from .._retry import RetryPolicy
from .._runs.manifest import Manifest

__all__ = ["INTENT", "Plan", "narrow", "new_tag", "plan_flow", "tagged"]

#: The manifest line written before a job is created.
INTENT = "batch_intent"
#: States after which a job will never produce its results: its keys may be sent again.
DEAD = frozenset({"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})


@dataclass
class Plan:
    """Jobs to attach to (by name), and the sources still to create."""

    attach: list[str]
    send: list[Any]  # flows.Source, narrowed to the keys still to send


def new_tag() -> str:
    return secrets.token_hex(6)


def tagged(display_name: str | None, tag: str) -> str:
    """The display name that carries the submit's tag, so that a job can be found again."""
    return f"{display_name or 'nanobanana'} [nb-{tag}]"


def plan_flow(sources: Sequence[Any], manifest: Manifest, policy: RetryPolicy) -> Flow:
    """Decides what to attach to and what to send (see the module); returns a `Plan`."""
    recorded = {str(job["name"]): job for job in manifest.jobs}
    orphans = [i for i in manifest.intents if not any(
        j.get("tag") == i.get("tag") for j in manifest.jobs)]  # fmt: skip
    if orphans:
        listed = yield from list_flow("batches.list", policy)
        for intent in orphans:
            mark = f"[nb-{intent.get('tag')}]"
            for job in listed:
                if mark in str(getattr(job, "display_name", "") or ""):
                    entry = {"type": "batch_job", "name": str(job.name),
                             "tag": intent["tag"], "model": intent.get("model"),
                             "keys": list(intent.get("keys", []))}  # fmt: skip
                    yield Offload(manifest.append, (entry,))
                    recorded[entry["name"]] = entry
    live_keys: set[str] = set()
    live_jobs: dict[str, set[str]] = {}
    for name, job in recorded.items():
        keys = {str(k) for k in job.get("keys", ())}
        if not keys - {k for k in keys if manifest.is_done(k)}:
            continue  # every key saved: nothing to attach to
        try:
            fetched = yield from attempt(Op("batches.get", {"name": name}), policy)
        except NotFoundError:
            continue  # deleted: its keys are submittable again
        state = fetched.state.name if fetched.state is not None else "JOB_STATE_UNSPECIFIED"
        if state in DEAD:
            continue
        if state == "JOB_STATE_SUCCEEDED":  # live only for the results not yet fetched
            keys = {k for k in keys if k not in manifest.index}
        live_keys |= keys
        live_jobs[name] = keys
    wanted = {k for source in sources for k in source.keys}
    attach = [name for name, keys in live_jobs.items() if keys & wanted]
    send = []
    for source in sources:
        left = [k for k in source.keys if k not in live_keys and not manifest.is_done(k)]
        if left:
            send.append(narrow(source, left))
    if not attach and not send:  # all saved: the jobs that did it, for their results
        attach = [name for name, job in recorded.items()
                  if {str(k) for k in job.get("keys", ())} & wanted]  # fmt: skip
    if not attach and not send:
        raise InvalidRequestError(
            f"every request is already done in {manifest.path.parent} (see its manifest): "
            "nothing to submit. Use another out_dir for a new set of images"
        )
    return Plan(attach, send)


def narrow(source: Any, keys: Sequence[str]) -> Any:
    """The source with only ``keys`` (inline requests by metadata, JSONL lines by key)."""
    if tuple(keys) == tuple(source.keys):
        return source
    chosen = set(keys)
    if isinstance(source.src, bytes):
        lines = [line for line in source.src.split(b"\n")
                 if line.strip() and str(json.loads(line)["key"]) in chosen]  # fmt: skip
        return replace(source, keys=tuple(keys), src=b"\n".join(lines) + b"\n")
    inline = [r for r in source.src if str((r.metadata or {}).get("key")) in chosen]
    return replace(source, keys=tuple(keys), src=inline)
