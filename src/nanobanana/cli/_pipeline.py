"""``pipeline``: a JSONL file of requests through `nanobanana.beam` (DirectRunner by default)."""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .._errors import InvalidRequestError
from ._connect import NO_KEY
from ._console import Console
from ._progress import money

__all__ = ["pipeline"]


def pipeline(args: argparse.Namespace, console: Console) -> int:
    try:
        import apache_beam as beam
    except ImportError:
        raise InvalidRequestError(
            "the pipeline command needs Apache Beam: pip install 'nanobanana-sdk[beam]'"
        ) from None
    from ..beam import GenerateImages

    with _endpoint(args) as (api_key, base_url):
        transform = GenerateImages(args.out, model=args.model, max_cost=args.max_cost,
                                   base_url=base_url, api_key=api_key)  # fmt: skip
        _COUNTS.clear()
        with beam.Pipeline() as p:
            (p | beam.io.ReadFromText(args.requests) | transform
               | beam.Map(_tally))  # fmt: skip
    tally: dict[str, Any] = collections.Counter(s for s, _ in _COUNTS)
    cost = sum(c for s, (c, _, skip) in _COUNTS if s == "ok" and not skip)
    skipped = sum(1 for _, (_, _, skip) in _COUNTS if skip)
    summary = {"done": tally["ok"], "skipped": skipped, "failed": tally["failed"],
               "not_started": tally["not_started"], "cost_usd": cost, "out": args.out}  # fmt: skip
    console.emit(summary, f"{tally['ok']} done ({skipped} by an earlier run), "
                          f"{tally['failed']} failed, {tally['not_started']} not started; "
                          f"about {money(cost)} now; out: {args.out}")  # fmt: skip
    return 6 if tally["failed"] else 0


_COUNTS: list[tuple[str, tuple[float, int, bool]]] = []


def _tally(entry: dict[str, Any]) -> None:
    _COUNTS.append((str(entry.get("status")), (float(entry.get("cost") or 0.0),
                    len(entry.get("images") or []), bool(entry.get("skipped")))))  # fmt: skip


@contextlib.contextmanager
def _endpoint(args: argparse.Namespace) -> Iterator[tuple[str | None, str | None]]:
    """The key and endpoint the workers use: the embedded emulator, or the real API."""
    if args.emulator:
        from ..testing import FakeGemini

        with FakeGemini() as server:
            yield "emulator", server.url
        return
    from .._auth import API_KEY_ENV_VARS
    from .._errors import MissingAPIKeyError

    if not any(os.environ.get(v) for v in API_KEY_ENV_VARS):
        raise MissingAPIKeyError(NO_KEY)
    yield None, None
