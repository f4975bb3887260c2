"""The Batch API in shards (`nb.batch.run`): limits kept, results recorded, resumable after a kill.

The emulator's jobs pend and run on a manual clock that the client's polling advances, so no
test waits for real time; the 100,000-request run is in ``nox -s bench``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nanobanana import AsyncNanoBanana, NanoBanana, RetryPolicy
from nanobanana._batch.shards import ShardLimits, ShardWriter, run_flow
from nanobanana._core.steps import Offload, Op
from nanobanana._models.registry import BATCH_LIMITS
from nanobanana._runs.manifest import MANIFEST_NAME, read_entries
from nanobanana._runs.records import read_any
from nanobanana._runs.store import ObjectOut, output
from nanobanana._transport import SyncTransport
from nanobanana.testing import FakeGemini, ManualClock


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def server(clock: ManualClock) -> Iterator[FakeGemini]:
    with FakeGemini(clock=clock, batch_pending=30, batch_running=60, record=False) as em:
        yield em


@pytest.fixture
def nb(server: FakeGemini, clock: ManualClock) -> Iterator[NanoBanana]:
    server.reset()
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep, jitter=0)
    with NanoBanana(api_key="t", base_url=server.url, retry=policy) as client:
        yield client


def _prompts(n: int) -> Iterator[str]:
    return (f"a paper boat number {i}" for i in range(n))


def _small(jobs: int = 100, tokens: int = 5_000) -> ShardLimits:
    """Limits small enough that 2 Pro requests (about 2,045 tokens each) fill a shard."""
    api = replace(BATCH_LIMITS, concurrent_jobs=jobs,
                  enqueued_tokens={"gemini-3-pro-image": {1: tokens}})  # fmt: skip
    return ShardLimits(tier=1, limits=api)


class _Kill(BaseException):
    """A kill -9 stand-in: nothing after the step it follows runs."""


class _Killing(SyncTransport):
    """Performs steps until ``when(step)`` says the process dies right after this one."""

    def __init__(self, base: SyncTransport, when: Any, live: Any = None) -> None:
        super().__init__(base.client, base.policy)
        self.when, self.live, self.creates = when, live, 0

    def perform(self, step: Any) -> Any:
        if isinstance(step, Op) and step.method == "batches.create" and self.live is not None:
            self.live()  # the limits hold at every create
        value = super().perform(step)
        if isinstance(step, Op) and step.method == "batches.create":
            self.creates += 1
        if self.when(step):
            raise _Kill
        return value


def _run(nb: NanoBanana, out: Path | str, n: int, limits: ShardLimits, transport: Any = None
         ) -> Any:  # fmt: skip
    transport = transport or nb.batch._transport
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        requests = (nb.batch._make({})(p) for p in _prompts(n))
        flow = run_flow(transport, requests, output(out), limits, Path(folder))
        return transport.run(flow)


def test_a_run_is_cut_into_shards_and_every_result_is_recorded(nb, server, tmp_path) -> None:
    report = nb.batch.run(_prompts(7), out_dir=tmp_path / "run", shard_size=3)
    assert (report.done, report.failed, report.shards, len(report.jobs)) == (7, 0, 3, 3)
    assert report.images == 7 and report.cost > 0
    entries = read_entries(tmp_path / "run")
    assert len(entries) == 7 and all(e["status"] == "ok" for e in entries.values())
    assert len(list((tmp_path / "run").glob("*.jpg"))) == 7
    jobs = server.list_batches()
    names = {j.display_name for j in jobs}
    assert len(names) == 3 and all(n.startswith("nanobanana-") for n in names)
    assert {len(j.requests) for j in jobs} == {3, 1}
    inputs = [f for f in server.files.list() if not f.name.endswith("-results")]
    assert inputs == []  # each input file deleted once its job ended (batch storage)
    again = nb.batch.run(_prompts(7), out_dir=tmp_path / "run", shard_size=3)
    assert (again.done, again.done_before, again.jobs) == (0, 7, [])
    assert len(server.list_batches()) == 3  # nothing submitted (or paid for) twice


def test_shards_keep_within_the_token_and_job_limits(nb, server, tmp_path) -> None:
    live_counts: list[int] = []

    def live() -> None:
        states = [server.batches.state(j) for j in server.list_batches()]
        live_counts.append(sum(s in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
                               for s in states))  # fmt: skip

    base = nb.batch._transport
    transport = _Killing(base, lambda step: False, live)
    report = _run(nb, tmp_path / "run", 9, _small(jobs=2, tokens=100_000), transport)
    assert report.done == 9 and report.shards == 1  # 9 x ~2,045 tokens fit in one shard
    report = _run(nb, tmp_path / "run2", 9, _small(jobs=2), transport)
    assert report.done == 9 and report.shards == 5  # 2 requests per 5,000 tokens
    # one job at a time: two would enqueue more than 5,000 tokens of one model
    assert max(live_counts) == 0
    live_counts.clear()
    limits = replace(_small(jobs=2, tokens=100_000), max_requests=2)
    report = _run(nb, tmp_path / "run3", 9, limits, transport)
    assert report.done == 9 and report.shards == 5
    assert max(live_counts) == 1  # two jobs at once, never a third


def test_shard_boundaries_do_not_move_when_some_keys_are_done(tmp_path) -> None:
    from nanobanana import GenerationRequest

    requests = [GenerationRequest(f"a kite {i}") for i in range(7)]

    def cut(done: set[int]) -> list[tuple[str, int, int]]:
        keys: list[str] = []
        folder = tmp_path / f"spool-{len(done)}"
        folder.mkdir()
        from nanobanana._runs.manifest import request_key

        keys = [request_key(r) for r in requests]
        writer = ShardWriter(requests, folder, _small(), lambda k: keys.index(k) in done, "r")
        shards = []
        while (shard := writer.next()) is not None:
            shards.append((shard.display_name, shard.total, shard.count))
        return shards

    full, partial = cut(set()), cut({0, 1, 4})
    assert [s[0] for s in full] == [s[0] for s in partial]  # the same names: found again
    assert [s[2] for s in full] == [2, 2, 2, 1] and [s[2] for s in partial] == [0, 2, 1, 1]


@pytest.mark.parametrize("after", ["create", "record"])
def test_a_kill_at_any_point_resumes_without_paying_twice(nb, server, tmp_path, after) -> None:
    def killed_after(step: Any) -> bool:
        if after == "create":  # a job created, never recorded: found again by its name
            return isinstance(step, Op) and step.method == "batches.create"
        return isinstance(step, Offload) and getattr(step.fn, "__name__", "") == "record"

    out = tmp_path / "run"
    limits = ShardLimits(tier=1, max_requests=3)
    dying = _Killing(nb.batch._transport, killed_after)
    with pytest.raises(_Kill):
        _run(nb, out, 7, limits, dying)
    # killed after the first create, or (all three fitting the limits at once) after the
    # first chunk of results was recorded
    created = len(server.list_batches())
    assert created == (1 if after == "create" else 3)
    if after == "create":
        assert not (out / MANIFEST_NAME).exists() or not read_entries(out)
    else:
        assert len(read_entries(out)) == 3
    report = nb.batch.run(_prompts(7), out_dir=out, shard_size=3)
    assert report.attached == (1 if after == "create" else 2)  # a recorded shard: skipped
    assert len(server.list_batches()) == 3  # no job created again
    entries = read_entries(out)
    assert len(entries) == 7 and all(e["status"] == "ok" for e in entries.values())
    assert len(list(out.glob("*.jpg"))) == 7  # recorded results were not saved again
    assert report.done + report.done_before == 7


def test_results_stream_into_an_object_store_as_records(nb, server) -> None:
    url = "memory://shards/run"
    report = nb.batch.run(_prompts(5), out_dir=url, shard_size=2)
    assert (report.done, report.shards) == (5, 3)
    out = ObjectOut(url)
    entries = read_any(out)
    assert len(entries) == 5
    for entry in entries.values():
        assert entry["uris"][0].startswith(url + "/")
        assert out.read(entry["images"][0])[:3] == b"\xff\xd8\xff"
    chunks = [n for n in out.names("records") if n.endswith(".jsonl")]
    assert len(chunks) == 3  # one object per chunk of results, not per item
    jobs = [json.loads(out.read(n)) for n in out.names("jobs")]
    assert sorted(j["requests"] for j in jobs) == [1, 2, 2]
    again = nb.batch.run(_prompts(5), out_dir=url, shard_size=2)
    assert (again.done, again.done_before) == (0, 5)


def test_the_async_client_runs_shards_too(server, clock, tmp_path) -> None:
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep, jitter=0)
    server.reset()

    async def main() -> Any:
        async with AsyncNanoBanana(api_key="t", base_url=server.url, retry=policy) as nb:
            return await nb.batch.run(_prompts(4), out_dir=tmp_path / "run", shard_size=3)

    report = asyncio.run(main())
    assert (report.done, report.shards) == (4, 2)


def test_bad_options_and_requests_are_named(nb, tmp_path) -> None:
    from nanobanana import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="tier must be .* 1, 2 or 3"):
        nb.batch.run(["a fox"], out_dir=tmp_path, tier=4)
    with pytest.raises(InvalidRequestError, match="shard_size must be a positive"):
        nb.batch.run(["a fox"], out_dir=tmp_path, shard_size=0)
    with pytest.raises(InvalidRequestError, match="request #2"):  # a list: checked whole
        nb.batch.run(["a fox", ""], out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad" / MANIFEST_NAME).exists()
    # drawn lazily, a bad item is reported as failed and the rest run
    report = nb.batch.run(iter(["a fox", "", "a hen"]), out_dir=tmp_path / "lazy")
    assert (report.done, report.failed) == (2, 1)
    assert report.failures[0]["error"]["message"].startswith("request #2: ")


def test_what_an_earlier_run_settled_is_not_sent_again(nb, server, tmp_path) -> None:
    from nanobanana.testing import Fault

    server.push(Fault.blocked())  # a blocked prompt: another try would be blocked too
    first = nb.generate_many(["a paper boat number 0", "a paper boat number 1"],
                             out_dir=tmp_path, progress=False)  # fmt: skip
    assert (first.done, first.failed) == (1, 1)
    report = nb.batch.run(_prompts(4), out_dir=tmp_path, shard_size=3)
    assert (report.done_before, report.failed_before, report.done) == (1, 1, 2)
    assert sum(len(j.requests) for j in server.list_batches()) == 2
