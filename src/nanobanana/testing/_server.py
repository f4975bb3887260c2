"""`FakeGemini`: the Gemini REST API on loopback, for tests with the real `google-genai` client.

One thread per connection (capped), so concurrent requests are served concurrently; the
standard library only, plus Pillow to paint the images. HTTP lives in `_http`, files and
batch jobs in `_files` and `_batches`, reading and answering a request in `_plan` and
`_generate`.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any, Literal

from . import _wire as wire
from ._batches import Batch, BatchStore
from ._faults import Fault
from ._files import FileStore
from ._generate import Sizes, count_tokens, respond
from ._http import RecordedRequest, make_server
from ._interactions import InteractionStore, Stored, check_create, interaction_json, to_generate
from ._models import ALIASES, MODELS, shut_down
from ._plan import plan
from ._quota import Quota, QuotaModel

__all__ = ["FakeGemini", "RecordedRequest"]


class FakeGemini:
    """An offline emulator of the Gemini image API on loopback.

    Args:
        host: Address to bind; loopback only by default (``"::1"`` serves IPv6).
        port: Port to bind; 0 picks a free one.
        api_keys: Keys to accept; ``None`` accepts any non-empty key (a missing key is
            always answered 403, as the real API does).
        rpm: Requests per minute before 429 (``None``: no limit).
        ipm: Images per minute before 429 (``None``: no limit).
        quota_model: How the quotas count: ``"window"`` (a sliding 60 s window),
            ``"minute"`` (fixed minutes of the clock) or ``"bucket"`` (a token bucket of
            ``burst`` requests refilled at ``rpm / 60`` a second).
        burst: The bucket's size (``None``: ``rpm``); only the bucket model uses it.
        latency: Seconds to wait before answering, by image size (``{"1K": 0.2, "4K": 1.0}``)
            or one figure for all. Realistic mode draws them from live figures instead.
        clock: Monotonic seconds, for quotas, batch jobs and timestamps. Inject a
            `ManualClock` to move time by hand.
        sleep: How latency waits; a `ManualClock`'s ``sleep`` makes it free.
        signature_bytes: Size of each thought signature (real ones are 0.6-2.9 MB).
        batch_pending: Seconds a batch job stays pending, then ``batch_running`` running.
        record: Keep requests in `requests`: ``True`` every one (tests), ``False`` or 0
            none, ``N`` the last N (a long-running emulator).
        realistic: Live-sized answers: signatures of 0.6-2.9 MB, JPEGs of 0.7-0.9 MB at 1K
            and several MB at 4K, latency drawn from live figures (17-29 s at 1K, 50-120 s
            at 4K).
        time_scale: Multiplies every latency (``0.01``: a 20 s answer takes 0.2 s); quota
            windows follow ``clock``, and ``retryDelay`` is in its seconds.
        max_threads: Requests served at once; more wait for a free slot. A connection takes
            a slot only once its headers are in, so slow clients cannot hold them all.
        idle_timeout: Seconds an idle keep-alive connection stays open.
        header_timeout: Seconds a request's line and headers may take to arrive, from their
            first byte; a client that drips them slower is disconnected.
        body_memory: Bytes of request bodies held at once, across connections; a body that
            does not fit waits for others to finish (a bound on the emulator's memory).
        serve_retired: Serve models past their shutdown date (and retired preview ids, as
            their GA twin) instead of the real 404: for tests of old code.
        today: The date, for shutdowns; by default the wall-clock date at ``clock()`` (the
            same moment ``createTime`` and file timestamps give).

    Example:
        >>> with FakeGemini() as server:
        ...     client = genai.Client(api_key="test", http_options={"base_url": server.url})
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] | None = None,
        rpm: int | None = None,
        ipm: int | None = None,
        quota_model: QuotaModel = "window",
        burst: int | None = None,
        latency: float | Mapping[str, float] = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        signature_bytes: int = 2048,
        batch_pending: float = 1.0,
        batch_running: float = 2.0,
        record: bool | int = True,
        realistic: bool = False,
        time_scale: float = 1.0,
        max_threads: int = 64,
        idle_timeout: float = 60.0,
        header_timeout: float = 10.0,
        body_memory: int = 256 * 1024 * 1024,
        serve_retired: bool = False,
        today: Callable[[], date] | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must not be negative, got {time_scale}")
        self.api_keys = None if api_keys is None else frozenset(api_keys)
        self.rpm, self.ipm = rpm, ipm
        self.latency = latency
        self.clock, self.sleep = clock, sleep
        self.sizes = Sizes(signature_bytes, realistic)
        self.realistic, self.time_scale = realistic, time_scale
        self.record = record
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.serve_retired = serve_retired
        self._today = today
        self._records: collections.deque[RecordedRequest] = collections.deque(
            maxlen=None if record is True else max(0, int(record))
        )
        self._lock = threading.Lock()
        self._faults: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )
        self.quota = Quota(rpm, ipm, quota_model, burst)
        """The per-minute quotas (`rpm`, `ipm`) under ``quota_model``."""
        self._serial = itertools.count(1)
        self._wall0 = time.time() - clock()
        self.files = FileStore(clock, self._iso)
        self.batches = BatchStore(clock, self._iso, self.files, self._answer_batched)
        self.batches.pending, self.batches.running = batch_pending, batch_running
        self.interactions = InteractionStore(clock, self._iso)
        """Stored interactions and their ``uri`` media (``media_seconds``: how long a link
        lives)."""
        self._httpd = make_server(self, host, port, max_threads, body_memory)
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give a client, e.g. ``http://127.0.0.1:54321``."""
        address, port = self._httpd.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def start(self) -> FakeGemini:
        """Serves in a background thread; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name="FakeGemini", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serves in this thread until interrupted (the CLI's ``nanobanana emulator``)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forgets requests, faults, quota usage, files and batches."""
        with self._lock:
            self._records.clear()
            self._faults.clear()
            self.quota.reset()
        self.files.clear()
        self.batches.clear()
        self.interactions.clear()

    # -- scripting and inspection ----------------------------------------------------------

    def push(self, *faults: Fault, scope: Literal["generate", "batch"] = "generate") -> None:
        """Queues faults: each replaces the answer to one request, in order.

        ``scope="generate"`` (the default) hits generateContent and streamGenerateContent;
        ``scope="batch"`` the Batch API's endpoints (create, get, list, cancel).
        """
        with self._lock:
            self._faults[scope].extend(faults)

    def fail_next_batch(self, message: str = "The batch job failed.") -> None:
        """Makes the next batch job created end in ``BATCH_STATE_FAILED``."""
        self.batches.fail_next(message)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The recorded requests, oldest first (as many as ``record`` keeps)."""
        with self._lock:
            return list(self._records)

    @property
    def generate_requests(self) -> list[RecordedRequest]:
        """The recorded generateContent and streamGenerateContent requests."""
        return [r for r in self.requests if "enerateContent" in r.path and "batch" not in r.path]

    def list_batches(self) -> list[Batch]:
        """The batch jobs the emulator holds."""
        return self.batches.list()

    def add_file(self, name: str, data: bytes, mime_type: str) -> None:
        """Stores a finished file, as if uploaded (``name`` like ``"files/abc"``)."""
        self.files.add(name, data, mime_type)

    # -- called by the HTTP handler ----------------------------------------------------------

    def _recording(self, record: RecordedRequest) -> None:
        if self.record is not False and self._records.maxlen != 0:
            with self._lock:
                self._records.append(record)

    def _iso(self, at: float) -> str:
        moment = datetime.fromtimestamp(self._wall0 + at, timezone.utc)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def _next_fault(self, scope: str = "generate") -> Fault | None:
        with self._lock:
            queue = self._faults[scope]
            return queue.popleft() if queue else None

    def _take_fault(self, scope: str, model: str, version: str = "v1beta") -> Fault | None:
        """Applies the next fault that answers instead of the endpoint; returns the rest."""
        fault = self._next_fault(scope)
        if fault is None:
            return None
        p = fault.params
        if fault.kind == "rate_limit":
            if p["quota"] == "zero":
                raise wire.quota_zero(model, p["retry_delay"], p.get("tokens_first", False))
            raise wire.rate_limited(model, p["quota"], p["limit"], p["retry_delay"])
        if fault.kind == "not_found":
            raise wire.model_not_found(model, version)
        if fault.kind == "error":
            raise wire.ApiError(fault.code, fault.status, fault.message, p.get("details"))
        if fault.kind == "slow":
            self.sleep(p["seconds"] * self.time_scale)
        return fault

    def _admit(self, model: str, images: int, arrived: float) -> None:
        """Enforces requests and images per minute under the quota model.

        A request counts from when it arrived, as at a real API's front door, not from when
        this busy emulator got round to reading it.
        """
        refused = self.quota.admit(arrived, images)
        if refused is not None:
            quota, limit, wait = refused
            # Live, the message gives the delay to the nanosecond and RetryInfo whole seconds.
            raise wire.rate_limited(model, quota, limit, max(1.0, wait))

    def latency_for(self, size: str, seed: int = 0, model: str = "gemini-3-pro-image") -> float:
        """Seconds an answer of this image size takes, ``time_scale`` applied.

        Realistic mode draws it from the model's live range (Pro: 17-29 s at 1K; 2.5 Flash
        Image: about 6 s).
        """
        if isinstance(self.latency, Mapping):
            base = float(self.latency.get(size, 0.0))
        else:
            base = float(self.latency)
        if not base and self.realistic:
            spec = MODELS[ALIASES.get(model, model)]
            low, high = spec.latency.get(size) or max(spec.latency.values())
            base = low + (high - low) * (seed % 1000) / 999
        return base * self.time_scale

    def today(self) -> date:
        """The emulator's date: ``today()`` if given, else the wall clock at ``clock()``."""
        if self._today is not None:
            return self._today()
        return datetime.fromtimestamp(self._wall0 + self.clock(), timezone.utc).date()

    def served(self, model: str, vertex: bool = False) -> bool:
        """Whether ``model`` is answered on this backend today (not the real 404)."""
        if model in ALIASES:
            return self.serve_retired
        if model not in MODELS:
            return False
        return self.serve_retired or not shut_down(
            model, "vertex" if vertex else "gemini", self.today()
        )

    def _check_model(self, model: str, version: str, method: str = "generateContent") -> None:
        if not self.served(model):
            raise wire.model_not_found(model, version, method)

    def generate(
        self,
        model: str,
        body: Any,
        arrived: float | None = None,
        *,
        version: str = "v1beta",
        vertex: bool = False,
        wait: bool = True,
    ) -> tuple[dict[str, Any], Fault | None, float]:
        """Answers one generate request; raises `ApiError` for an error answer.

        Returns the body, the fault shaping it, and the seconds still to wait: 0 unless
        ``wait=False``, which leaves the latency to the caller (a stream spreads it over its
        chunks, so a thought image arrives before the final one).
        """
        if not vertex:
            self._check_model(model, version)
        fault = self._take_fault("generate", model, version)
        p = plan(body, model, self.files.bytes_of, vertex=vertex, version=version)
        self._admit(
            model, p.n_images if p.with_image else 0, self.clock() if arrived is None else arrived
        )
        delay = self.latency_for(p.size, p.seed, model)
        if delay and wait:
            self.sleep(delay)
        answer = respond(
            p, sizes=self.sizes, fault=fault, serial=next(self._serial), vertex=vertex,
            created=self._iso(self.clock()) if vertex else None,
        )  # fmt: skip
        return answer, fault, 0.0 if wait else delay

    def count_tokens(
        self, model: str, body: Any, *, version: str = "v1beta", vertex: bool = False
    ) -> dict[str, Any]:
        """Answers ``:countTokens`` (``{"totalTokens": n}``)."""
        from ._schema import validate_contents

        if not vertex:
            self._check_model(model, version, "countTokens")
        validate_contents(body, vertex=vertex, version=version)
        request = body.get("generateContentRequest") or body.get("generate_content_request")
        if not isinstance(request, dict):
            request = {"contents": body.get("contents")}
        return count_tokens(plan(request, model, self.files.bytes_of, vertex=vertex))

    def interact(
        self, body: Any, arrived: float | None = None, *, version: str = "v1beta"
    ) -> tuple[dict[str, Any], Fault | None]:
        """Answers ``POST /{version}/interactions``; raises `ApiError` for an error answer.

        The stored conversation before ``previous_interaction_id`` and this turn are read as
        one generateContent body, with every check that has (per-model ratios and sizes,
        references, signatures), so the answer is what generateContent would give.
        """
        check_create(body)
        model = str(body["model"]).removeprefix("models/")
        self._check_model(model, version, "interactions")
        previous = body.get("previous_interaction_id")
        history = self.interactions.get(previous).contents if previous else []
        turn = to_generate(body, self.files.bytes_of)
        gen: dict[str, Any] = {
            "contents": [*history, turn.user],
            "generationConfig": turn.generation_config,
        }
        if turn.tools:
            gen["tools"] = turn.tools
        if turn.system_instruction:
            gen["systemInstruction"] = {"parts": [{"text": turn.system_instruction}]}
        fault = self._take_fault("generate", model, version)
        p = plan(gen, model, self.files.bytes_of, version=version)
        now = self.clock() if arrived is None else arrived
        self._admit(model, p.n_images if p.with_image else 0, now)
        delay = self.latency_for(p.size, p.seed, model)
        background = bool(body.get("background"))
        if delay and not background:
            self.sleep(delay)
        answer = respond(p, sizes=self.sizes, fault=fault, serial=next(self._serial))
        item_id = self.interactions.new_id()

        def link(data: bytes, mime: str) -> str:
            token = self.interactions.add_media(data, mime)
            return f"{self.url}/download/{version}/interactions/media/{token}"

        result = interaction_json(
            item_id, model, answer, created=self._iso(now), previous=previous,
            media_link=link if turn.delivery == "uri" else None,
        )  # fmt: skip
        answered = (answer.get("candidates") or [{}])[0].get("content") or {}
        contents = [*history, turn.user]
        if answered.get("parts"):
            final = [part for part in answered["parts"] if not part.get("thought")]
            contents.append({"role": "model", "parts": final})
        stored = body.get("store", True) is not False
        self.interactions.put(
            Stored(item_id, model, contents, result, now, ready_at=now + delay,
                   expires_at=now + self.interactions.stored_seconds, stored=stored)
        )  # fmt: skip
        if background:
            waiting = {k: v for k, v in result.items() if k not in ("steps", "usage", "errors")}
            return {**waiting, "status": "in_progress"}, fault
        return result, fault

    def get_interaction(self, interaction_id: str) -> dict[str, Any]:
        """``GET /{version}/interactions/{id}``: ``in_progress`` until its latency has passed."""
        item = self.interactions.get(interaction_id)
        if self.clock() < item.ready_at:
            waiting = {k: v for k, v in item.json.items() if k not in ("steps", "usage", "errors")}
            return {**waiting, "status": "in_progress"}
        return item.json

    def create_batch(self, model: str, body: Any, version: str = "v1beta") -> Batch:
        self._check_model(model, version, "batchGenerateContent")
        return self.batches.create(model, body)

    def _answer_batched(self, model: str, request: Any) -> dict[str, Any]:
        p = plan(request, model, self.files.bytes_of)
        return respond(p, sizes=self.sizes, serial=next(self._serial))
