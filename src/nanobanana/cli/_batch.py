"""``batch``: a JSONL file of requests, run concurrently (or on the Batch API), resumable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import GenerationRequest, Reference
from .._errors import InvalidRequestError
from .._runs.store import is_url
from ._connect import client
from ._console import Console
from ._interrupt import GracefulInterrupt
from ._progress import BatchCounter, Live, duration, money
from ._record import MANIFEST_NAME, JobView
from ._single import dry_run, maybe_gallery, plural

__all__ = ["batch", "load_jsonl"]

_REFERENCE_KEYS = {"references": Reference.object, "human": Reference.human,
                   "style": Reference.style}  # fmt: skip


def load_jsonl(path: str) -> list[GenerationRequest]:
    """Reads a JSONL file of requests.

    Lines are prompts, or objects with `GenerationRequest`'s fields (``references``,
    ``human`` and ``style`` list image files). Unknown keys are errors, named with
    ``file:line``: a misspelt ``"aspect"`` must not silently become the default.
    """
    known = set(GenerationRequest.model_fields) | set(_REFERENCE_KEYS)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(
            f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    requests = []
    for n, line in enumerate(text.split("\n"), 1):  # U+2028 in a prompt is no line end
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            raise InvalidRequestError(f"{path}:{n}: not JSON: {line[:80]!r}") from None
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict) or "prompt" not in item:
            raise InvalidRequestError(f'{path}:{n}: expected a prompt string or {{"prompt": ...}}')
        unknown = sorted(set(item) - known)
        if unknown:
            raise InvalidRequestError(
                f"{path}:{n}: unknown key{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        refs = []
        for key, make in _REFERENCE_KEYS.items():
            files = item.pop(key, [])
            files = [files] if isinstance(files, str) else files
            if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                raise InvalidRequestError(f"{path}:{n}: {key!r} must be a file name or a list")
            refs += [make(f) for f in files]
        try:
            requests.append(GenerationRequest(references=refs, **item))
        except (InvalidRequestError, TypeError) as exc:
            raise InvalidRequestError(f"{path}:{n}: {exc}") from None
    if not requests:
        raise InvalidRequestError(f"{path}: no requests in it")
    return requests


def batch(args: argparse.Namespace, console: Console) -> int:
    if args.batch_api and args.max_cost is not None:
        raise InvalidRequestError(
            "--max-cost is not kept on the Batch API path (every shard is paid for when it "
            "is submitted); see the estimate with --dry-run, or drop --batch-api for a capped run"
        )
    requests = load_jsonl(args.requests)
    if args.dry_run:
        return dry_run(console, requests)
    if is_url(args.out):
        return _to_url(args, requests, console)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidRequestError(f"-o {out}: not a folder; a batch writes a folder of images")
    job = JobView(out, requests)
    with client(args) as nb:
        if args.batch_api:
            summary = _batch_api(nb, requests, out, console, args.tier)
        else:
            summary = _run(nb, args, requests, job, console)
    maybe_gallery(args, console, out)
    summary["failed"] = failed = job.still_failed()
    summary.update(out_dir=str(out), manifest=str(out / MANIFEST_NAME))
    parts = [f"{summary['done_now']} done now"]
    if summary.get("done_before"):
        parts.append(f"{summary['done_before']} done before")
    parts.append(f"{failed} failed")
    if summary.get("not_started"):
        parts.append(
            f"{summary['not_started']} not started ({summary.get('stopped_by') or 'the spend cap'})"
        )
    console.emit(summary, f"{', '.join(parts)}; about {money(summary['cost_usd'])}; "
                          f"manifest: {summary['manifest']}")  # fmt: skip
    if summary.get("interrupted"):
        return 130  # Ctrl-C: what was in flight is saved; a re-run does the rest
    return 6 if failed else 0


def _run(nb: Any, args: argparse.Namespace, requests: list[GenerationRequest], job: JobView,
         console: Console) -> dict[str, Any]:  # fmt: skip
    options: dict[str, Any] = {"concurrency": args.concurrency, "rpm": args.rpm,
                               "ipm": args.ipm, "max_cost": args.max_cost}  # fmt: skip

    def on_first() -> None:
        console.note("stopping: no new request starts; waiting for the answers in flight "
                     "(already paid for). Ctrl-C again to abort.")  # fmt: skip

    counter = BatchCounter(job.folder / MANIFEST_NAME, len(requests), job.done())
    with GracefulInterrupt(on_first) as interrupt, Live(console.status, counter.render):
        report = nb.generate_many(requests, out_dir=job.folder, progress=False,
                                  stop=interrupt.stop, **options)  # fmt: skip
    return {"done": report.done + report.done_before, "done_now": report.done,
            "done_before": report.done_before, "failed_before": report.failed_before,
            "not_started": report.not_started, "stopped_by": report.stopped_by,
            "images": report.images, "cost_usd": report.cost,
            "interrupted": interrupt.stop.is_set()}  # fmt: skip


def _batch_api(nb: Any, requests: list[GenerationRequest], out: Path | str, console: Console,
               tier: int) -> dict[str, Any]:  # fmt: skip
    """The Batch API in shards (`nb.batch.run`): within the tier's limits, resumable."""
    console.note(f"{plural(len(requests), 'request')} to the Batch API in shards (tier {tier}); "
                 "Ctrl-C leaves submitted jobs running: run again to pick them up")  # fmt: skip
    try:
        with Live(console.status, lambda t: f"Batch API jobs running · {duration(t)}"):
            report = nb.batch.run(requests, out_dir=out, tier=tier)
    except KeyboardInterrupt:
        console.note("interrupted: each batch job submitted keeps running on the server; the "
                     "same command again attaches to it (nothing is paid twice)")  # fmt: skip
        return {"done": 0, "done_now": 0, "done_before": 0, "failed": 0, "job": "", "jobs": [],
                "shards": 0, "images": 0, "cost_usd": 0.0, "interrupted": True}  # fmt: skip
    return {"done": report.done + report.done_before, "done_now": report.done,
            "done_before": report.done_before, "failed": report.failed,
            "job": ",".join(report.jobs), "jobs": report.jobs, "shards": report.shards,
            "images": report.images, "cost_usd": report.cost, "interrupted": False}  # fmt: skip


def _to_url(args: argparse.Namespace, requests: list[GenerationRequest], console: Console) -> int:
    """``-o gs://bucket/run``: the same run, its record one create-only object per item."""
    if args.batch_api:
        with client(args) as nb:
            summary = _batch_api(nb, requests, args.out, console, args.tier)
        summary.update(out_dir=args.out, manifest=f"{args.out}/records/")
        console.emit(summary, f"{summary['done_now']} done now, {summary['done_before']} done "
                              f"before, {summary['failed']} failed in {summary['shards']} "
                              f"shard(s); about {money(summary['cost_usd'])}; records: "
                              f"{summary['manifest']}")  # fmt: skip
        if summary["interrupted"]:
            return 130  # the jobs run on; the same command attaches to them
        return 6 if summary["failed"] else 0
    with client(args) as nb, GracefulInterrupt(lambda: None) as interrupt:
        report = nb.generate_many(requests, out_dir=args.out, progress=False,
                                  stop=interrupt.stop, concurrency=args.concurrency,
                                  rpm=args.rpm, ipm=args.ipm, max_cost=args.max_cost)  # fmt: skip
    if getattr(args, "gallery", False):
        from .._runs.gallery import write_gallery

        write_gallery(args.out)
        console.note(f"gallery: {args.out}/index.html")
    summary = {"done": report.done + report.done_before, "done_now": report.done,
               "done_before": report.done_before, "failed": report.failed,
               "not_started": report.not_started, "stopped_by": report.stopped_by,
               "images": report.images, "cost_usd": report.cost, "out_dir": args.out,
               "manifest": str(report.manifest)}  # fmt: skip
    console.emit(summary, f"{report.done} done now, {report.done_before} done before, "
                          f"{report.failed} failed; about {money(report.cost)}; "
                          f"records: {report.manifest}")  # fmt: skip
    return 6 if report.failed else 0
