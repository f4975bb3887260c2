"""generate_many and the Batch API against the emulator."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
from pathlib import Path

import pytest

from nanobanana import (
    AsyncNanoBanana,
    BatchJobError,
    CharacterSheet,
    GenerationRequest,
    InvalidRequestError,
    NanoBanana,
    RetryPolicy,
)
from nanobanana._runs.manifest import Manifest
from nanobanana.testing import FakeGemini, Fault


def lines(out: Path) -> list[dict]:
    """The manifest's entries, after its header line."""
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert records[0] == {"format": "nanobanana-manifest", "version": 2}
    return [r for r in records[1:] if "key" in r]  # not the runs', nor the batch jobs' lines


def prompts_sent(server: FakeGemini) -> collections.Counter:
    return collections.Counter(
        r.body["contents"][-1]["parts"][0]["text"] for r in server.generate_requests
    )


class TestGenerateMany:
    def test_images_stream_to_disk_with_a_manifest(self, fake_gemini, policy, tmp_path) -> None:
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            report = nb.generate_many(
                [f"a fox number {i}" for i in range(6)] + [CharacterSheet(character="a robot")],
                out_dir=tmp_path, concurrency=3,
            )  # fmt: skip
        assert (report.done, report.failed, report.images) == (7, 0, 9)
        entries = lines(tmp_path)
        assert len(entries) == 7 and all(e["status"] == "ok" for e in entries)
        for entry in entries:
            for name in entry["images"]:
                assert (tmp_path / name).read_bytes()[:3] == b"\xff\xd8\xff"
        assert not list(tmp_path.glob(".*.part"))
        assert report.cost == pytest.approx(sum(e["cost"] for e in entries))

    def test_rerun_skips_what_is_done(self, fake_gemini, policy, tmp_path) -> None:
        prompts = [f"a fox number {i}" for i in range(5)]
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            nb.generate_many(prompts, out_dir=tmp_path)
            again = nb.generate_many([*prompts, "one more"], out_dir=tmp_path)
        assert (again.skipped, again.done) == (5, 1)
        assert max(prompts_sent(fake_gemini).values()) == 1

    def test_failures_are_collected_and_only_transient_ones_retried(
        self, fake_gemini, tmp_path
    ) -> None:
        fake_gemini.push(Fault.safety(), Fault.unavailable())
        prompts = [f"a fox number {i}" for i in range(4)]
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=RetryPolicy.none()) as nb:
            first = nb.generate_many(prompts, out_dir=tmp_path, concurrency=1)
            assert (first.done, first.failed) == (2, 2)
            kinds = sorted(f["error"]["type"] for f in first.failures)
            assert kinds == ["SafetyBlockedError", "ServerError"]
            second = nb.generate_many(prompts, out_dir=tmp_path, concurrency=1)
        assert (second.done, second.skipped) == (1, 3)  # the 503 again, not the blocked one

    def test_spend_cap(self, fake_gemini, policy, tmp_path) -> None:
        prompts = [f"a fox number {i}" for i in range(10)]
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            capped = nb.generate_many(prompts, out_dir=tmp_path, max_cost=0.50, concurrency=2)
            assert capped.done == 3 and capped.not_started == 7 and capped.cost <= 0.50
            assert len(fake_gemini.generate_requests) == 3
            rest = nb.generate_many(prompts, out_dir=tmp_path, max_cost=5)
        assert (rest.skipped, rest.done) == (3, 7)

    def test_stays_within_quota_with_no_failed_request(self, clock, policy, tmp_path) -> None:
        # One at a time, so the manual clock never jumps while a request is in transit (real
        # clocks do not jump; concurrent throughput is measured in benchmarks/, in real time).
        with (
            FakeGemini(rpm=5, ipm=6, clock=clock, sleep=clock.sleep) as server,
            NanoBanana(api_key="t", base_url=server.url, retry=policy) as nb,
        ):
            report = nb.generate_many(
                [f"a fox number {i}" for i in range(12)],
                out_dir=tmp_path,
                rpm=5,
                ipm=6,
                concurrency=1,
            )
        assert report.done == 12
        assert all(r.status == 200 for r in server.generate_requests)  # never a 429
        assert clock() - 1000 >= 120  # 12 requests at 5 a minute: at least two minutes

    def test_adapts_to_429s(self, fake_gemini, clock, policy, tmp_path) -> None:
        fake_gemini.push(Fault.rate_limit(retry_delay=30), Fault.rate_limit(retry_delay=30))
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            report = nb.generate_many(
                [f"a fox {i}" for i in range(6)], out_dir=tmp_path, concurrency=2
            )
        assert report.done == 6 and report.failed == 0
        assert 30.0 in clock.sleeps

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"concurrency": 0}, "concurrency must be at least 1"),
            ({"max_cost": -1}, "max_cost must be a finite USD amount"),
            ({"max_cost": float("nan")}, "max_cost must be a finite USD amount"),
            ({"max_cost": float("inf")}, "max_cost must be a finite USD amount"),
            ({"rpm": 0}, "rpm must be a positive number"),
        ],
    )
    def test_bad_options(self, fake_gemini, tmp_path, kwargs, message) -> None:
        with (
            NanoBanana(api_key="t", base_url=fake_gemini.url) as nb,
            pytest.raises(InvalidRequestError, match=message),
        ):
            nb.generate_many(["a fox"], out_dir=tmp_path, **kwargs)
        assert fake_gemini.requests == []

    def test_a_bad_request_is_named_before_anything_is_sent(self, fake_gemini, tmp_path) -> None:
        with (
            NanoBanana(api_key="t", base_url=fake_gemini.url) as nb,
            pytest.raises(InvalidRequestError, match="request #2"),
        ):
            nb.generate_many(["a fox", "   "], out_dir=tmp_path)
        assert fake_gemini.requests == []

    def test_an_iterator_is_drawn_lazily_and_a_bad_item_fails_alone(
        self, fake_gemini, policy, tmp_path
    ) -> None:
        drawn: list[int] = []

        def prompts():  # endless: the run must never try to draw it whole
            for i in itertools.count():
                drawn.append(i)
                yield "   " if i == 1 else f"a fox number {i}"

        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            report = nb.generate_many(prompts(), out_dir=tmp_path, max_cost=0.5, concurrency=1)
        assert report.done == 3 and report.failed == 1 and report.cost <= 0.5
        (bad,) = report.failures
        assert (
            bad["index"] == 1 and "request #2: prompt must not be empty" in bad["error"]["message"]
        )
        assert len(drawn) <= 6  # what it started, the one held back by the cap, and no more
        assert "spend cap" in (report.stopped_by or "")

    def test_a_path_reference_is_read_once_and_keyed_from_that_read(
        self, fake_gemini, policy, tmp_path, monkeypatch
    ) -> None:
        import os

        from nanobanana._runs.manifest import request_key
        from tests.conftest import photo

        path = tmp_path / "ref.jpg"
        path.write_bytes(photo(320, 240))
        request = GenerationRequest("a fox", references=[str(path)])
        opened = collections.Counter[str]()
        real_open = os.open

        def counting(name, *args, **kwargs):
            opened[str(name)] += 1
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(os, "open", counting)
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            report = nb.generate_many(iter([request]), out_dir=tmp_path / "out")
        assert report.done == 1 and opened[str(path)] == 1
        monkeypatch.undo()
        (entry,) = lines(tmp_path / "out")
        assert entry["key"] == request_key(request)  # the same key as hashing a second read

    def test_a_file_object_reference_keeps_its_media_resolution(
        self, fake_gemini, policy, tmp_path
    ) -> None:
        import io

        from nanobanana import Reference
        from tests.conftest import photo

        ref = Reference(io.BytesIO(photo(320, 240)), kind="human", detail="low")
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            report = nb.generate_many([GenerationRequest("a fox", references=[ref])],
                                      out_dir=tmp_path)  # fmt: skip
        assert report.done == 1, report.failures
        (sent,) = fake_gemini.generate_requests
        part = sent.body["contents"][-1]["parts"][1]
        assert part["mediaResolution"] == {"level": "MEDIA_RESOLUTION_LOW"}

    def test_a_list_with_a_missing_reference_is_refused_before_anything_is_sent(
        self, fake_gemini, tmp_path
    ) -> None:
        requests = ["a fox", GenerationRequest("a cat", references=[str(tmp_path / "nope.jpg")])]
        with (
            NanoBanana(api_key="t", base_url=fake_gemini.url) as nb,
            pytest.raises(InvalidRequestError, match="request #2: .*nope.jpg: no such file"),
        ):
            nb.generate_many(requests, out_dir=tmp_path)
        assert fake_gemini.requests == []

    def test_torn_last_line_is_recovered(self, tmp_path) -> None:
        good = json.dumps({"key": "a", "status": "ok", "images": []})
        (tmp_path / "manifest.jsonl").write_text(good + "\n" + '{"key": "b", "sta')
        manifest = Manifest(tmp_path / "manifest.jsonl")
        assert manifest.recovered_torn_line and manifest.is_done("a") and not manifest.is_done("b")
        manifest.append({"key": "c", "status": "ok"})
        lines = [
            json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()
        ]
        assert lines[0]["format"] == "nanobanana-manifest"  # 0.1's manifest, upgraded in place
        assert [line["key"] for line in lines[1:]] == ["a", "c"]

    def test_async_entry_point(self, fake_gemini, policy, tmp_path) -> None:
        async def run():
            async with AsyncNanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
                return await nb.generate_many([f"a fox {i}" for i in range(4)], out_dir=tmp_path)

        assert asyncio.run(run()).done == 4

    def test_works_inside_a_running_event_loop(self, fake_gemini, policy, tmp_path) -> None:
        async def notebook_cell():  # Jupyter runs cells inside a loop: asyncio.run would fail
            with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
                return nb.generate_many(["a fox"], out_dir=tmp_path)

        assert asyncio.run(notebook_cell()).done == 1


class TestBatch:
    @pytest.fixture
    def server(self, clock):
        with FakeGemini(clock=clock, batch_pending=10, batch_running=20) as server:
            yield server

    @pytest.fixture
    def nb(self, server, policy):
        with NanoBanana(api_key="t", base_url=server.url, retry=policy) as client:
            yield client

    def test_inline_lifecycle_at_half_price(self, server, nb, clock, tmp_path) -> None:
        job = nb.batch.submit(["a fox", GenerationRequest("a cat", size="2k"), CharacterSheet(character="a robot")],
                              out_dir=tmp_path)  # fmt: skip
        assert job.status == "JOB_STATE_PENDING"
        clock.advance(12)
        assert job.refresh() == "JOB_STATE_RUNNING" == job.status
        results = list(job.wait().results())
        assert [len(r.images) for r in results] == [1, 1, 3]
        assert results[0].batch and results[0].cost == pytest.approx(
            results[0].usage.output_image_tokens * 60 / 1e6, rel=0.2
        )
        sent = server.requests[0].body["batch"]["inputConfig"]["requests"]["requests"]
        assert sent[2]["request"]["generationConfig"]["imageConfig"]["aspectRatio"] == "3:4"
        assert len(lines(tmp_path)) == 3 and not job.errors

    def test_large_jobs_go_through_a_jsonl_file(self, server, nb, monkeypatch, tmp_path) -> None:
        monkeypatch.setattr("nanobanana._batch.flows.INLINE_LIMIT", 10)
        job = nb.batch.submit([f"a fox number {i}" for i in range(3)])
        assert "fileName" in server.requests[-1].body["batch"]["inputConfig"]
        results = list(job.wait().results())
        assert len(results) == 3 and all(r.images for r in results)

    def test_each_request_runs_on_its_own_model(self, server, nb, tmp_path) -> None:
        job = nb.batch.submit(
            ["a fox", GenerationRequest("a cat", model="gemini-3.1-flash-image"), "an owl"],
            out_dir=tmp_path,
        )
        created = sorted(
            r.model for r in server.requests if r.path.endswith(":batchGenerateContent")
        )
        assert created == ["gemini-3-pro-image", "gemini-3.1-flash-image"]  # one API job per model
        assert len(job.names) == 2 and job.name == ",".join(job.names)
        results = list(job.wait().results())
        by_prompt = {r.request.prompt: r.model_version for r in results}
        assert by_prompt == {"a fox": "gemini-3-pro-image", "an owl": "gemini-3-pro-image",
                             "a cat": "gemini-3.1-flash-image"}  # fmt: skip
        assert job.errors == []
        again = nb.batch.get(job.name)  # the joined name finds every API job again
        assert again.refresh() == "JOB_STATE_SUCCEEDED" and len(list(again.results())) == 3

    def test_failed_job(self, server, nb) -> None:
        server.fail_next_batch("the batch failed")
        job = nb.batch.submit(["a fox"])
        with pytest.raises(BatchJobError, match="JOB_STATE_FAILED"):
            job.wait()

    def test_cancelled_job_and_timeout(self, nb) -> None:
        job = nb.batch.submit(["a fox"])
        with pytest.raises(BatchJobError, match="still JOB_STATE_PENDING after 3 s"):
            job.wait(timeout=3)
        job.cancel()
        with pytest.raises(BatchJobError, match="CANCELLED"):
            job.wait()
        with pytest.raises(BatchJobError, match="no results"):
            list(job.results())

    def test_get_by_name(self, nb, clock) -> None:
        job = nb.batch.submit(["a fox"])
        clock.advance(31)
        again = nb.batch.get(job.name)
        assert again.status == "JOB_STATE_SUCCEEDED"
        with pytest.warns(DeprecationWarning, match="status"):
            assert again.state == again.status
        assert [len(r.images) for r in again.results()] == [1]

    def test_async_twin(self, server, clock, policy) -> None:
        async def run():
            async with AsyncNanoBanana(api_key="t", base_url=server.url, retry=policy) as nb:
                job = await nb.batch.submit(["a fox", "a cat"])
                await job.wait()
                return [r async for r in job.results()]

        assert len(asyncio.run(run())) == 2
