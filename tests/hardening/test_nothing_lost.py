"""Nothing paid for is lost: one case for each class of loss found by trying to break a run."""

from __future__ import annotations

import errno
import itertools
import json
import os
import threading
from pathlib import Path

import pytest

from nanobanana import (
    GenerationRequest,
    InvalidRequestError,
    QuotaExhaustedError,
    RateLimitError,
    Result,
    RetryPolicy,
    UnknownModelWarning,
)
from nanobanana._runs.manifest import Manifest
from nanobanana._runs.pacing import RateLimiter
from nanobanana.testing import Fault
from tests.conftest import photo


def images_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".jpg", ".png"))


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


# -- money and images -------------------------------------------------------------------------


def test_repeats_are_distinct_work(fake_gemini, nb, tmp_path) -> None:
    report = nb.generate_many(["a cat"] * 5, out_dir=tmp_path)
    assert (report.done, len(fake_gemini.generate_requests)) == (5, 5)
    assert len(images_in(tmp_path)) == 5  # every paid image its own file
    again = nb.generate_many(["a cat"] * 5, out_dir=tmp_path)
    assert (again.done, again.done_before, len(fake_gemini.generate_requests)) == (0, 5, 5)
    more = nb.generate_many(["a cat"] * 6, out_dir=tmp_path)  # one more: exactly one request
    assert (more.done, more.done_before, len(fake_gemini.generate_requests)) == (1, 5, 6)


def test_n_copies_of_one_request(fake_gemini, nb, tmp_path) -> None:
    report = nb.generate_many([GenerationRequest("a dog", n=3)], out_dir=tmp_path)
    assert report.done == 3 and len(images_in(tmp_path)) == 3
    assert nb.generate("a dog", aspect_ratio="1:1").image  # generate() stays one request


def test_nothing_existing_is_overwritten(fake_gemini, nb, tmp_path) -> None:
    nb.generate_many(["a fox"], out_dir=tmp_path)
    (name,) = images_in(tmp_path)
    (tmp_path / "manifest.jsonl").unlink()  # a new job in the same folder, same names
    (tmp_path / name).write_bytes(b"the user's own file")
    nb.generate_many(["a fox"], out_dir=tmp_path)
    assert (tmp_path / name).read_bytes() == b"the user's own file"
    assert len(images_in(tmp_path)) == 2


def test_a_whole_last_line_without_newline_is_kept(fake_gemini, nb, tmp_path) -> None:
    nb.generate_many(["a fox", "an owl"], out_dir=tmp_path)
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # the newline never reached the disk
    sent = len(fake_gemini.generate_requests)
    report = nb.generate_many(["a fox", "an owl"], out_dir=tmp_path)
    assert report.done_before == 2 and len(fake_gemini.generate_requests) == sent
    assert path.read_bytes().endswith(b"\n")


def test_a_torn_tail_is_dropped_and_redone(fake_gemini, nb, tmp_path) -> None:
    nb.generate_many(["a fox"], out_dir=tmp_path)
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(path.read_bytes() + b'{"key": "abc", "stat')
    assert Manifest(path).recovered_torn_line
    assert all(line.strip().startswith(b"{") for line in path.read_bytes().splitlines())


def test_someone_elses_manifest_is_never_touched(nb, tmp_path) -> None:
    theirs = b'{"image": "cat1.png", "label": "cat"}\n{"image": "dog.png", "label": "dog"}\n'
    (tmp_path / "manifest.jsonl").write_bytes(theirs)
    with pytest.raises(InvalidRequestError, match=r"manifest\.jsonl was not written by nanobanana"):
        nb.generate_many(["a fox"], out_dir=tmp_path)
    assert (tmp_path / "manifest.jsonl").read_bytes() == theirs


def test_a_symlinked_manifest_is_refused(nb, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text("")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.jsonl").symlink_to(elsewhere)
    with pytest.raises(InvalidRequestError, match="symbolic link"):
        nb.generate_many(["a fox"], out_dir=tmp_path / "run")
    assert elsewhere.read_text() == ""


def test_a_0_1_manifest_is_upgraded_in_place(fake_gemini, nb, tmp_path) -> None:
    old = {"key": "89f3b3317c9ed548663c57cb", "index": 0, "prompt": "a fox", "status": "ok",
           "images": ["a-fox-89f3b331.jpg"], "cost": 0.13}  # fmt: skip
    (tmp_path / "manifest.jsonl").write_text(json.dumps(old) + "\n")
    report = nb.generate_many(["a fox"], out_dir=tmp_path)
    assert report.done_before == 1 and fake_gemini.generate_requests == []
    assert records(tmp_path)[0] == {"format": "nanobanana-manifest", "version": 2}


# -- caps -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [float("nan"), float("inf"), -0.01])
def test_caps_that_are_not_amounts(nb, tmp_path, cap) -> None:
    with pytest.raises(InvalidRequestError, match="finite USD amount"):
        nb.generate_many(["a fox"], out_dir=tmp_path, max_cost=cap)


def test_a_cap_on_an_unpriced_model_refuses_to_start(fake_gemini, nb, tmp_path) -> None:
    with (
        pytest.warns(UnknownModelWarning),
        pytest.raises(
            InvalidRequestError, match="max_cost cannot be kept for gemini-9-image"
        ) as caught,
    ):
        nb.generate_many([GenerationRequest("a fox", model="gemini-9-image")], out_dir=tmp_path,
                         max_cost=1.0)  # fmt: skip
    assert "nb.models()" in str(caught.value)
    assert fake_gemini.requests == []


def test_the_cap_counts_what_the_folder_already_spent(fake_gemini, nb, tmp_path) -> None:
    first = nb.generate_many(["a fox", "an owl"], out_dir=tmp_path)
    estimate = GenerationRequest("a cat").estimated_cost()
    assert estimate is not None
    cap = first.cost + estimate * 1.5  # room for one more request, not two
    report = nb.generate_many(["a fox", "an owl", "a cat", "a dog"], out_dir=tmp_path,
                              max_cost=cap)  # fmt: skip
    assert report.spent_before == pytest.approx(first.cost)
    assert (report.done, report.not_started) == (1, 1)
    assert "spend cap" in (report.stopped_by or "")


# -- quotas -----------------------------------------------------------------------------------


def test_a_quota_that_will_not_recover_stops_the_run(fake_gemini, nb, tmp_path) -> None:
    fake_gemini.push(Fault.rate_limit(quota="per_day"))
    report = nb.generate_many([f"a fox {i}" for i in range(6)], out_dir=tmp_path, concurrency=1)
    assert (
        report.failed == 1 and report.failures[0]["error"]["type"] == QuotaExhaustedError.__name__
    )
    assert report.not_started == 5 and "will not recover" in (report.stopped_by or "")
    assert len(fake_gemini.generate_requests) == 1


def test_a_429_about_another_quota_pauses_nothing_else() -> None:
    now = [0.0]
    limiter = RateLimiter(rpm=60, ipm=None, clock=lambda: now[0])
    tokens = RateLimitError("slow", retry_delay=30.0,
                            quota="GenerateContentInputTokensPerModelPerMinute")  # fmt: skip
    limiter.on_retry(tokens, 30.0, 1)
    assert limiter.wait_time(1) == 0 and limiter.scale == 1.0
    requests = RateLimitError("slow", retry_delay=30.0, quota="GenerateRequestsPerMinute")
    limiter.on_retry(requests, 30.0, 1)
    assert limiter.wait_time(1) == 30.0
    assert limiter.burst == 1  # refused with the window empty: a bucket of one, learned
    limiter.on_retry(requests, 30.0, 1)
    assert limiter.scale < 1.0  # a 429 that teaches nothing new slows the rate


def test_a_zero_retry_delay_still_backs_off() -> None:
    assert RetryPolicy(jitter=0).delay(RateLimitError("slow", retry_delay=0.0), 1) > 0


# -- saving -----------------------------------------------------------------------------------


def test_one_item_failing_to_save_never_kills_the_run(
    fake_gemini, nb, tmp_path, monkeypatch
) -> None:
    import nanobanana._runs.manifest as manifest_module

    real = manifest_module.save_new
    calls = [0]

    def flaky(data, directory, stem):
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(data, directory, stem)

    monkeypatch.setattr(manifest_module, "save_new", flaky)
    report = nb.generate_many([f"a fox {i}" for i in range(4)], out_dir=tmp_path, concurrency=1)
    assert (report.done, report.failed) == (3, 1)
    failure = report.failures[0]
    assert "No space left" in failure["error"]["message"] and failure["transient"]
    again = nb.generate_many([f"a fox {i}" for i in range(4)], out_dir=tmp_path)
    assert again.done == 1  # asked again, so the image is not lost


@pytest.mark.parametrize("declared", ["image/jpg", "image/JPEG", "image/jpeg; q=0.9", "image/png"])
def test_the_file_type_comes_from_the_bytes(declared, tmp_path) -> None:
    import base64

    from nanobanana._images.generated import save_new

    jpeg = photo(64, 48)
    body = {"candidates": [{"content": {"parts": [
        {"inlineData": {"mimeType": declared, "data": base64.b64encode(jpeg).decode()}}]}}]}  # fmt: skip
    image = Result.from_body(body).image
    assert image.mime_type == "image/jpeg"
    assert save_new(image.data, tmp_path, "x").name == "x.jpg"


# -- Ctrl-C -----------------------------------------------------------------------------------


def test_stop_lets_answers_in_flight_land(fake_gemini, nb, tmp_path) -> None:
    stop = threading.Event()
    stop.set()  # as if Ctrl-C came before anything started
    report = nb.generate_many(["a fox", "an owl"], out_dir=tmp_path, stop=stop)
    assert (report.done, report.not_started) == (0, 2) and "Ctrl-C" in (report.stopped_by or "")
    assert fake_gemini.generate_requests == []


# -- batch jobs -------------------------------------------------------------------------------


def test_a_resubmitted_batch_reattaches_instead_of_paying_twice(fake_gemini, nb, tmp_path) -> None:
    first = nb.batch.submit(["a fox", "an owl"], out_dir=tmp_path)
    again = nb.batch.submit(["a fox", "an owl"], out_dir=tmp_path)
    created = [r for r in fake_gemini.requests if r.path.endswith(":batchGenerateContent")]
    assert len(created) == 1 and again.name == first.name
    jobs = [r for r in records(tmp_path) if r.get("type") == "batch_job"]
    assert [j["name"] for j in jobs] == [first.name]


def test_batch_requests_with_repeats_are_all_sent(fake_gemini, nb, tmp_path) -> None:
    job = nb.batch.submit(["a fox", "a fox", GenerationRequest("an owl", n=2)], out_dir=tmp_path)
    assert len(job.requests) == 4


# -- inputs refused ---------------------------------------------------------------------------


@pytest.mark.parametrize("line", ['{"prompt": "a fox", "aspect": "16:9"}',
                                  '{"prompt": "a fox", "sise": "2K"}'])  # fmt: skip
def test_unknown_request_fields_are_refused(line) -> None:
    with pytest.raises(InvalidRequestError, match="has no field"):
        GenerationRequest(**json.loads(line))


def test_a_lone_surrogate_prompt_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        GenerationRequest("a fox \ud800")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_not_a_reference(fake_gemini, nb) -> None:
    from nanobanana import InvalidReferenceError

    with pytest.raises(InvalidReferenceError):
        nb.generate("a fox", references="/dev/zero")
    assert fake_gemini.requests == []


# -- saved sessions are untrusted input --------------------------------------------------------


@pytest.fixture
def saved(nb, tmp_path) -> Path:
    session = nb.session(aspect_ratio="1:1")
    session.send("a fox", references=[photo(320, 240)])
    return session.save(tmp_path / "s.json")


def _rewrite(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.pop("turns"), "has no 'turns'"),
        (lambda d: d["turns"][0].update(prompt=5), r"turns\[0\]\.prompt must be str"),
        (lambda d: d["turns"][0]["references"][0].update(path="../../etc/passwd"),
         "points outside the session's folder"),
        (lambda d: d["turns"][0]["references"][0].update(path="/etc/hostname"),
         "points outside the session's folder"),
        (lambda d: d["turns"][0]["references"][0].update(sha256="0" * 64),
         "has changed since it was saved"),
    ],
)  # fmt: skip
def test_a_saved_session_is_checked_as_untrusted_input(nb, saved, change, words) -> None:
    from nanobanana import Session

    _rewrite(saved, change)
    with pytest.raises(InvalidRequestError, match=words):
        Session.load(saved, nb)


def test_a_trusted_session_may_point_outside_its_folder(nb, saved, tmp_path) -> None:
    from nanobanana import Session

    ref = json.loads(saved.read_text())["turns"][0]["references"][0]
    moved = tmp_path.parent / f"{tmp_path.name}-outside.jpg"
    moved.write_bytes((saved.parent / ref["path"]).read_bytes())
    _rewrite(saved, lambda d: d["turns"][0]["references"][0].update(path=str(moved)))
    assert len(Session.load(saved, nb, allow_outside=True).history) == 1


def test_a_fresh_minute_allows_a_burst_then_the_window_holds_the_rest() -> None:
    now = [0.0]
    limiter = RateLimiter(rpm=3, ipm=None, clock=lambda: now[0], probe=0.0)
    for _ in range(3):
        assert limiter.wait_time(1) == 0
        limiter.acquire(1)
    assert limiter.wait_time(1) == pytest.approx(61.0)  # the window is full for a minute
    limiter.acquire(1, at=30.0)  # a retry booked for later counts in the window too
    now[0] = 61.0
    assert limiter.wait_time(1) == 0


def test_a_429_with_room_in_the_window_teaches_a_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(rpm=60, ipm=None, clock=lambda: now[0])
    for _ in range(5):
        now[0] += limiter.wait_time(1)
        limiter.acquire(1)
    assert limiter.wait_time(1) == pytest.approx(0.1)  # a burst, a probe apart
    limiter.on_retry(RateLimitError("slow", retry_delay=1.0, quota="RequestsPerMinute"), 1.0, 1)
    assert limiter.burst == 4 and limiter.scale == 1.0  # learned, not slowed
    starts = []
    for _ in range(5):
        now[0] += limiter.wait_time(1)
        starts.append(now[0])
        limiter.acquire(1)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([1 / 0.97] * 4)  # then the quota's rate (less 3%)


def test_a_429_names_the_limit_to_keep() -> None:
    from nanobanana._runs.pacing import quota_value

    details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "RequestsPerMinute", "quotaValue": "10"}]}]  # fmt: skip
    error = RateLimitError("slow", details=details, retry_delay=6.0, quota="RequestsPerMinute")
    assert quota_value(error) == 10
    limiter = RateLimiter(rpm=None, ipm=None, clock=lambda: 0.0)
    limiter.on_retry(error, 6.0, 1)
    assert limiter.rpm == 10


def test_in_flight_follows_rate_times_latency() -> None:
    from nanobanana._runs.pacing import Pacer

    pacer = Pacer("gemini-3-pro-image", "1K", 1, rpm=60, ipm=None, ceiling=None)
    assert pacer.limit() == 60  # a fresh minute's burst: 60 at once, more than 1/s x 23 s
    pacer.at_least(100.0)  # a call still out after 100 s: 4K-like latency
    assert pacer.limit() == 100
    assert Pacer("gemini-3-pro-image", "1K", 1, rpm=60, ipm=None, ceiling=8).limit() == 8
