"""Nano Banana on Apache Beam: ``RunInference`` and a ready ``GenerateImages`` transform.

``pip install 'nanobanana-sdk[beam]'``. Runs on the DirectRunner locally and on Dataflow,
Flink or Spark::

    with beam.Pipeline() as p:
        (p | beam.io.ReadFromText("gs://bucket/requests.jsonl")
           | GenerateImages(out="gs://bucket/run", max_cost=50.0)
           | beam.Map(print))

- `NanoBananaModelHandler` is a Beam ``RemoteModelHandler``: Beam retries a failed batch with
  backoff and throttles adaptively on the client side, so the quota is shared across workers
  by Beam's mechanism. Each call goes through nanobanana's core (its checks, parsing, cost).
- **Never pay twice**: every item has a key (a content hash of the request, ``-2``, ``-3``...
  for its copies); before calling, an item whose record exists under ``out`` is skipped, and
  a record is written (create-only) as soon as its images are saved. A bundle the runner
  retries, or a pipeline run again, pays nothing again for what was recorded.
- **The cap** (``max_cost``) is kept per output location by reserving slices of it in the
  store (`nanobanana._runs.budget`): never exceeded, though a run may stop up to one slice per
  worker early.
- **Metrics** (namespace ``nanobanana``): ``images``, ``failures``, ``skipped``,
  ``not_started``, ``cost_micro_usd``, and the distribution ``latency_ms``: visible in
  Dataflow's UI and in ``result.metrics()``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.ml.inference.base import PredictionResult, RemoteModelHandler, RunInference

from ._client import NanoBanana
from ._errors import (
    APIConnectionError,
    InvalidRequestError,
    NanoBananaError,
    RateLimitError,
    ServerError,
)
from ._request.request import GenerationRequest
from ._retry import RetryPolicy
from ._runs.budget import Budget
from ._runs.manifest import entry_head, failure_entry, request_key, success_entry
from ._runs.records import record_name, write_record
from ._runs.store import ObjectOut, output

__all__ = ["GenerateImages", "NanoBananaModelHandler", "as_request"]

_NS = "nanobanana"
Keyed = tuple[str, GenerationRequest]


def _transient(exc: Exception) -> bool:
    """What Beam retries (with backoff and throttling): what another try may fix."""
    return isinstance(exc, RateLimitError | ServerError | APIConnectionError)


class NanoBananaModelHandler(RemoteModelHandler[Keyed, PredictionResult, NanoBanana]):
    """``RunInference`` over ``(key, GenerationRequest)`` pairs; each answer a manifest entry.

    Args:
        out: Where images and records go: a URL (``gs://``, ``s3://``, ``memory://``) or a
            folder that every worker sees.
        api_key: The Gemini API key (default: ``GEMINI_API_KEY`` on the worker).
        base_url: Another endpoint (the emulator, a proxy).
        max_cost: A cap in USD for everything under ``out``; see the module docstring.
        retry: nanobanana's own retry policy for each call (Beam's retries come after it).
        num_retries: How often Beam retries a batch that raised a transient error.
    """

    def __init__(
        self,
        out: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_cost: float | None = None,
        retry: RetryPolicy | None = None,
        num_retries: int = 5,
        throttle_delay_secs: int = 5,
    ) -> None:
        super().__init__(
            namespace=_NS, num_retries=num_retries,
            throttle_delay_secs=throttle_delay_secs, retry_filter=_transient,
        )  # fmt: skip
        self.out = str(out)
        self.api_key = api_key
        self.base_url = base_url
        self.max_cost = max_cost
        self.retry = retry
        self._budget: Budget | None = None
        self._images = Metrics.counter(_NS, "images")
        self._failures = Metrics.counter(_NS, "failures")
        self._skipped = Metrics.counter(_NS, "skipped")
        self._not_started = Metrics.counter(_NS, "not_started")
        self._cost = Metrics.counter(_NS, "cost_micro_usd")
        self._latency = Metrics.distribution(_NS, "latency_ms")

    def create_client(self) -> NanoBanana:
        """One client per worker (Beam calls this once per model load)."""
        return NanoBanana(api_key=self.api_key, base_url=self.base_url, retry=self.retry)

    def request(
        self,
        batch: Sequence[Keyed],
        model: NanoBanana,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        """Each item: skipped when recorded, else called, saved and recorded at once.

        A transient error raises (Beam retries the batch: the items answered before it are
        recorded, so the retry skips them).
        """
        out = _store(self.out)
        results = []
        for key, request in batch:
            results.append(PredictionResult((key, request), self._one(out, model, key, request)))
        return results

    def _one(
        self, out: ObjectOut, model: NanoBanana, key: str, request: GenerationRequest
    ) -> dict[str, Any]:
        done = _recorded(out, key)
        if done is not None:
            self._skipped.inc()
            return {**done, "skipped": True}
        estimate = request.estimated_cost() or 0.0
        if self.max_cost is not None:
            self._budget = self._budget or Budget(out, self.max_cost)
            if not self._budget.reserve(estimate):
                self._not_started.inc()
                return {**entry_head(request, key, -1), "status": "not_started",
                        "stopped_by": f"the spend cap max_cost ${self.max_cost:.2f}"}  # fmt: skip
        head = entry_head(request, key, -1)
        started = time.monotonic()
        try:
            result = model.generate_request(request)
        except NanoBananaError as exc:
            if self._budget is not None:
                self._budget.settle(estimate, 0.0)
            if isinstance(exc, RateLimitError | ServerError | APIConnectionError):
                raise  # Beam retries the batch; what was answered is recorded
            entry = failure_entry(head, exc)
            self._failures.inc()
            write_record(out, entry)
            return entry
        self._latency.update(int((time.monotonic() - started) * 1000))
        cost = result.cost or 0.0
        if self._budget is not None:
            self._budget.settle(estimate, cost)
        entry = success_entry(head, result, out)
        if not write_record(out, entry):  # another worker recorded it first: theirs stands
            entry["duplicate"] = True
        self._images.inc(len(result.images))
        self._cost.inc(round(cost * 1_000_000))
        return entry


def _store(out: str) -> ObjectOut:
    """The output as a store; a local folder too (one machine: the DirectRunner)."""
    where = output(out)
    return where if isinstance(where, ObjectOut) else ObjectOut(where.resolve().as_uri())


def _recorded(out: ObjectOut, key: str) -> dict[str, Any] | None:
    try:
        entry: dict[str, Any] = out.read_json(record_name(key))
    except FileNotFoundError:
        return None
    return entry


def as_request(item: Any, model: str | None = None) -> GenerationRequest:
    """A `GenerationRequest` from a request, a dict of its fields, a JSONL line or a prompt.

    Raises:
        InvalidRequestError: The item is none of these, or its fields are wrong.
    """
    if isinstance(item, bytes):
        item = item.decode("utf-8")
    if isinstance(item, str) and item.lstrip()[:1] in ("{", '"'):
        try:
            item = json.loads(item)
        except ValueError:
            raise InvalidRequestError(f"not a JSON line: {item[:80]!r}") from None
    if isinstance(item, str):  # a prompt (a JSONL line of a bare string, or plain text)
        item = {"prompt": item}
    if isinstance(item, dict):
        fields = {"model": model, **item} if model else item
        return GenerationRequest(**fields)
    if isinstance(item, GenerationRequest):
        return item.model_copy(update={"model": model}) if model else item
    raise InvalidRequestError(
        f"GenerateImages reads GenerationRequests, dicts or JSONL lines, got {type(item).__name__}"
    )


def _keyed(group: tuple[str, Iterable[GenerationRequest]]) -> Iterator[Keyed]:
    """Every copy its own item, keyed as `generate_many` keys them (``key``, ``key-2``...)."""
    key, requests = group
    k = 0
    for request in requests:
        for _ in range(request.n):
            k += 1
            one = request.model_copy(update={"n": 1})
            yield (key if k == 1 else f"{key}-{k}", one)


def _result(prediction: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {**prediction.inference}
    return entry


class GenerateImages(beam.PTransform):  # type: ignore[type-arg]
    """Requests in (GenerationRequests, dicts or JSONL lines), manifest entries out.

    Each output carries ``status``, the saved image ``uris``, ``usage``, ``cost`` and
    ``grounding``; ``skipped: True`` when an earlier run had done it.

    Example:
        >>> requests | GenerateImages(out="gs://bucket/run", max_cost=20.0)
    """

    def __init__(
        self,
        out: str,
        *,
        model: str | None = None,
        max_cost: float | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        num_retries: int = 5,
        throttle_delay_secs: int = 5,
    ) -> None:
        super().__init__()
        _store(out)  # a bad URL fails at construction, not on a worker
        if max_cost is not None and not (max_cost >= 0):
            raise InvalidRequestError(f"max_cost must be a USD amount of 0 or more: {max_cost}")
        self.model = model
        self.handler = NanoBananaModelHandler(
            out, api_key=api_key, base_url=base_url, max_cost=max_cost, retry=retry,
            num_retries=num_retries, throttle_delay_secs=throttle_delay_secs,
        )  # fmt: skip

    def expand(self, requests: Any) -> Any:
        """Parse, key each copy, skip or generate, record."""
        model = self.model
        return (
            requests
            | "Parse" >> beam.Map(as_request, model)
            | "Key" >> beam.Map(lambda r: (request_key(r), r))
            | "Group copies" >> beam.GroupByKey()
            | "Number copies" >> beam.FlatMap(_keyed)
            | "Generate" >> RunInference(self.handler)
            | "Entries" >> beam.Map(_result)
        )
