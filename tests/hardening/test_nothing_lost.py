"""Nothing paid for is lost: one case for each class of loss found by trying to break a run."""

from __future__ import annotations

import base64
import contextlib
import errno
import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nanobanana import (
    GenerationRequest,
    InvalidRequestError,
    NanoBanana,
    QuotaExhaustedError,
    RateLimitError,
    Result,
    RetryPolicy,
    UnknownModelWarning,
)
from nanobanana._runs.manifest import Manifest
from nanobanana._runs.pacing import RateLimiter
from nanobanana.testing import FakeGemini, Fault
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


_RUN_UNTIL_CTRL_C = """
import json, sys
from nanobanana import NanoBanana
url, out = sys.argv[1:]
with NanoBanana(api_key="test", base_url=url) as nb:
    report = nb.generate_many([f"prompt {i}" for i in range(12)], out_dir=out, concurrency=4,
                              progress=False)
print(json.dumps({"done": report.done, "not_started": report.not_started}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_a_real_ctrl_c_saves_every_answer_in_flight(tmp_path) -> None:
    # On CPython before 3.13 a join() interrupted by Ctrl-C marks the thread stopped while it
    # still runs: a runner that trusted is_alive() returned with the answers in flight unsaved.
    with FakeGemini(latency=0.5) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", _RUN_UNTIL_CTRL_C, server.url, str(tmp_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(server.generate_requests) < 4 and child.poll() is None:
            assert time.monotonic() < deadline, "the run never had 4 requests in flight"
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        paid = len(server.generate_requests)
    assert child.returncode == 0, err
    report = json.loads(out)
    saved = [r for r in records(tmp_path) if r.get("status") == "ok"]
    assert 4 <= paid < 12
    assert report == {"done": paid, "not_started": 12 - paid}
    assert len(saved) == paid and len(images_in(tmp_path)) == paid


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


def _signature(doc, value) -> None:
    parts = doc["turns"][0]["model_parts"]
    next(p for p in parts if "image" in p)["thought_signature"] = value


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: _signature(d, "not base64!"), "thought_signature is not base64"),
        (lambda d: d["turns"][0]["references"][0].update(path="a\x00b"), "not a usable path"),
        (lambda d: d.update(deep=[[[[[[[[[[]]]]]]]]]] * 1 and "[" * 100_000), None),
    ],
)  # fmt: skip
def test_a_broken_session_is_a_typed_refusal(nb, saved, change, words) -> None:
    from nanobanana import Session

    if words is None:  # nested past what json can read
        saved.write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
        words = "not a saved session"
    else:
        _rewrite(saved, change)
    with pytest.raises(InvalidRequestError, match=words):
        Session.load(saved, nb)


def test_a_session_naming_one_image_many_times_reads_it_once(nb, saved, monkeypatch) -> None:
    from nanobanana import Session
    from nanobanana._sessions import file

    def twenty(doc) -> None:
        doc["turns"] = doc["turns"] * 20

    _rewrite(saved, twenty)
    loaded = Session.load(saved, nb)
    first, last = loaded.turns[0].references[0], loaded.turns[-1].references[0]
    assert first.data is last.data  # one copy in memory, not twenty
    size = len(first.data)
    monkeypatch.setattr(file, "_MAX_SESSION_IMAGE_BYTES", 3 * size)
    with pytest.raises(InvalidRequestError, match="in all, more than a session holds"):
        Session.load(saved, nb)  # inline images and signatures count toward the whole


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


# -- the API key ------------------------------------------------------------------------------

SECRET = "AIzaSyA-the-users-secret-key-0123456789"


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (f"{SECRET}\n{SECRET}", "line break at position 40"),
        (f"{SECRET}\x00", r"control character \(U\+0000\) at position 40"),
        (f"{SECRET[:5]}\u00e9{SECRET[5:]}", "non-ASCII character at position 6"),
        (f"{SECRET} {SECRET}", "whitespace at position 40"),
    ],
)
def test_a_key_that_cannot_be_sent_is_refused_without_echoing_it(key, words) -> None:
    from nanobanana import InvalidAPIKeyError

    with pytest.raises(InvalidAPIKeyError, match=words) as caught:
        NanoBanana(api_key=key)
    assert isinstance(caught.value, InvalidRequestError)
    assert SECRET[:12] not in str(caught.value)


def test_a_key_from_the_environment_is_checked_too(monkeypatch) -> None:
    from nanobanana import InvalidAPIKeyError

    monkeypatch.setenv("GEMINI_API_KEY", f"{SECRET}\r\n{SECRET}")
    with pytest.raises(InvalidAPIKeyError, match="GEMINI_API_KEY has a line break") as caught:
        NanoBanana()
    assert SECRET[:12] not in str(caught.value)


def test_a_trailing_newline_is_not_part_of_the_key(policy) -> None:
    with FakeGemini(api_keys=[SECRET]) as server:  # any other key is answered 403
        with NanoBanana(api_key=f"{SECRET}\n", base_url=server.url, retry=policy) as nb:
            assert nb.generate("a fox").image


def test_no_error_text_carries_the_key(fake_gemini, policy, tmp_path) -> None:
    echo = f"API key {SECRET} not valid (https://x.test/v1?alt=sse&key={SECRET[::-1]})"
    fake_gemini.push(Fault.error(400, "INVALID_ARGUMENT", echo))
    with NanoBanana(api_key=SECRET, base_url=fake_gemini.url, retry=policy) as nb:
        with pytest.raises(InvalidRequestError.__mro__[1]) as caught:
            nb.generate("a fox")
        fake_gemini.push(Fault.error(400, "INVALID_ARGUMENT", echo))
        nb.generate_many(["an owl"], out_dir=tmp_path)
    shown = str(caught.value) + caught.value.message + str(caught.value.__cause__)
    assert "not valid" in shown and "key=***" in shown
    assert SECRET not in shown and SECRET[::-1] not in shown
    manifest = (tmp_path / "manifest.jsonl").read_text()
    assert "not valid" in manifest and SECRET not in manifest and SECRET[::-1] not in manifest


def test_a_transport_error_naming_the_key_is_scrubbed() -> None:
    from nanobanana import APIConnectionError
    from nanobanana._auth import genai_factory
    from nanobanana._errors import translating

    genai_factory(SECRET, base_url=None, timeout=1, vertexai=False, project=None, location=None)
    with pytest.raises(APIConnectionError) as caught, translating():
        raise ConnectionError(f"Illegal header value b'{SECRET}'")
    assert SECRET not in str(caught.value) and SECRET not in str(caught.value.__cause__)


# -- one writer per folder --------------------------------------------------------------------

_HOLD_FOLDER = """
import sys
from pathlib import Path
from nanobanana._runs.lock import FolderLock
lock = FolderLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_second_process_on_one_folder_is_refused_until_the_first_dies(
    fake_gemini, nb, tmp_path
) -> None:
    from nanobanana import FolderInUseError

    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_FOLDER, str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(FolderInUseError, match=f"process {holder.pid} on ") as caught:
            nb.generate_many(["a fox"], out_dir=tmp_path)
        assert caught.value.pid == holder.pid and caught.value.since
        assert fake_gemini.generate_requests == []  # refused before anything was paid
    finally:
        holder.kill()  # SIGKILL: the lock it leaves is stale
        holder.communicate()  # and close its pipes
    assert nb.generate_many(["a fox"], out_dir=tmp_path).done == 1


def test_a_second_run_in_one_process_waits_or_is_refused(fake_gemini, nb, tmp_path) -> None:
    from nanobanana import FolderInUseError
    from nanobanana._runs.gallery import write_gallery
    from nanobanana._runs.lock import FolderLock

    lock = FolderLock(tmp_path)
    lock.acquire()
    with pytest.raises(FolderInUseError, match=r"waited 0\.05 s"):
        nb.generate_many(["a fox"], out_dir=tmp_path, wait=0.05)
    with pytest.raises(FolderInUseError):
        nb.batch.submit(["a fox"], out_dir=tmp_path)
    assert [r for r in fake_gemini.requests if r.method == "POST"] == []
    threading.Timer(0.05, lock.release).start()
    assert nb.generate_many(["a fox"], out_dir=tmp_path, wait=30).done == 1
    assert write_gallery(tmp_path).name == "index.html"  # each call took and left the folder


@pytest.mark.parametrize("wait", [-1, math.nan, math.inf, "5"])
def test_wait_is_a_number_of_seconds(nb, tmp_path, wait) -> None:
    with pytest.raises(InvalidRequestError, match="wait must be a finite number"):
        nb.generate_many(["a fox"], out_dir=tmp_path, wait=wait)


def test_an_out_dir_that_cannot_be_written_is_found_before_paying(fake_gemini, nb, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(InvalidRequestError, match="is a file, not a folder"):
        nb.generate_many(["a fox"], out_dir=a_file)
    with pytest.raises(InvalidRequestError, match="cannot be written"):
        nb.generate_many(["a fox"], out_dir=a_file / "inside")
    assert fake_gemini.generate_requests == [] and a_file.read_text() == "mine"


# -- every write checked ----------------------------------------------------------------------


@contextlib.contextmanager
def file_size_limit(size: int):
    """A disk that fills at ``size`` bytes per file: writes past it are short, then EFBIG."""
    import resource

    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, handler)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
def test_a_manifest_that_cannot_be_written_stops_the_run_and_keeps_what_was_paid(
    fake_gemini, nb, tmp_path
) -> None:
    from nanobanana import ManifestWriteError

    nb.generate_many(["a fox"], out_dir=tmp_path)
    manifest = tmp_path / "manifest.jsonl"
    (fox,) = [r for r in records(tmp_path) if "key" in r]
    with manifest.open("a") as out:  # earlier work of this folder, so that the file is large
        for i in range(150):
            out.write(json.dumps({**fox, "key": f"earlier-{i}", "images": []}) + "\n")
    prompts = [f"prompt {i}" for i in range(24)]
    with file_size_limit(manifest.stat().st_size + 1500):  # room for two records, then full
        with pytest.raises(ManifestWriteError) as caught:
            nb.generate_many(prompts, out_dir=tmp_path, concurrency=4)
    paid = len(fake_gemini.generate_requests) - 1
    error = caught.value
    lines = manifest.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])  # no glued record
    recorded = [r for r in records(tmp_path) if str(r.get("prompt")).startswith("prompt ")]
    assert len(recorded) >= 2 and len(recorded) + len(error.entries) == paid < 24
    assert len(images_in(tmp_path)) == 1 + paid  # every answer paid for was saved
    assert error.kept and str(tmp_path) in str(error) and "not started" in str(error)
    assert error.report.not_started == 24 - paid
    again = nb.generate_many(prompts, out_dir=tmp_path)  # the records kept aside count
    assert (again.done, again.done_before) == (24 - paid, paid)
    assert len(fake_gemini.generate_requests) == 1 + 24
    assert not Path(error.kept).exists()


def test_only_the_sdks_own_temporary_files_are_cleaned(fake_gemini, nb, tmp_path) -> None:
    mine = tmp_path / ".thesis-draft.part"
    mine.write_text("the user's")
    ours = tmp_path / ".nanobanana-tmp-fox.x1y2.part"  # a killed run's, an hour old
    ours.write_bytes(b"half an image")
    os.utime(ours, (time.time() - 3600,) * 2)
    nb.generate_many(["a fox"], out_dir=tmp_path)
    assert mine.read_text() == "the user's" and not ours.exists()


def test_without_hard_links_a_file_appears_only_complete_and_never_replaces(
    tmp_path, monkeypatch
) -> None:
    from nanobanana._images.generated import save_new

    def no_links(src, dst):
        raise OSError(errno.EPERM, "hard links are not supported here")

    monkeypatch.setattr(os, "link", no_links)  # a file system without them (exFAT, some FUSE)
    (tmp_path / "fox.jpg").write_bytes(b"the user's fox")
    jpeg = photo(64, 48)
    assert save_new(jpeg, tmp_path, "fox").name == "fox-2.jpg"
    assert (tmp_path / "fox.jpg").read_bytes() == b"the user's fox"
    assert (tmp_path / "fox-2.jpg").read_bytes() == jpeg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fox-2.jpg", "fox.jpg"]
    with file_size_limit(len(jpeg) // 2), pytest.raises(OSError):  # a disk that fills midway
        save_new(jpeg, tmp_path, "owl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fox-2.jpg", "fox.jpg"]


@pytest.mark.parametrize("cost", ["NaN", "-5.0", "Infinity", '"free"'])
def test_a_cost_that_is_not_an_amount_is_a_corrupt_line(nb, tmp_path, cost) -> None:
    from nanobanana import CorruptManifestError

    header = '{"format": "nanobanana-manifest", "version": 2}\n'
    line = '{"key": "k", "status": "ok", "images": [], "cost": ' + cost + "}\n"
    (tmp_path / "manifest.jsonl").write_text(header + line)
    with pytest.raises(CorruptManifestError, match=r"line 2: the cost .* is not an amount"):
        nb.generate_many(["a fox"], out_dir=tmp_path, max_cost=1.0)


def test_a_manifest_that_is_a_folder_is_refused(nb, tmp_path) -> None:
    (tmp_path / "manifest.jsonl").mkdir()
    with pytest.raises(InvalidRequestError, match="is not a file"):
        nb.generate_many(["a fox"], out_dir=tmp_path)


# -- batch re-submits -------------------------------------------------------------------------


class TestBatchResubmits:
    @pytest.fixture
    def server(self, clock):
        with FakeGemini(clock=clock, batch_pending=10, batch_running=20) as server:
            yield server

    @pytest.fixture
    def nb(self, server, policy):
        with NanoBanana(api_key="t", base_url=server.url, retry=policy) as client:
            yield client

    @staticmethod
    def created(server) -> list[list[str]]:
        """The keys each created job carried."""
        return [
            [r["metadata"]["key"] for r in req.body["batch"]["inputConfig"]["requests"]["requests"]]
            for req in server.requests
            if req.path.endswith(":batchGenerateContent")
        ]

    def test_a_new_prompt_sends_only_itself_and_a_subset_sends_nothing(
        self, server, nb, clock, tmp_path
    ) -> None:
        first = nb.batch.submit(["a fox", "an owl"], out_dir=tmp_path)
        more = nb.batch.submit(["a fox", "an owl", "a cat"], out_dir=tmp_path)
        fewer = nb.batch.submit(["an owl"], out_dir=tmp_path)
        assert [len(keys) for keys in self.created(server)] == [2, 1]
        assert set(first.names) < set(more.names) and fewer.names == first.names
        clock.advance(60)
        assert len(list(more.wait().results())) == 3 and len(images_in(tmp_path)) == 3
        again = nb.batch.submit(["a fox"], out_dir=tmp_path)  # all saved: nothing is sent
        assert len(self.created(server)) == 2 and again.names == first.names

    def test_keys_of_a_failed_job_are_sent_again(self, server, nb, clock, tmp_path) -> None:
        server.fail_next_batch("the batch failed")
        failed = nb.batch.submit(["a fox", "an owl"], out_dir=tmp_path)
        clock.advance(60)
        assert failed.refresh() == "JOB_STATE_FAILED"
        again = nb.batch.submit(["a fox", "an owl"], out_dir=tmp_path)
        assert again.names != failed.names and [len(k) for k in self.created(server)] == [2, 2]
        clock.advance(60)
        assert len(list(again.wait().results())) == 2

    def test_a_job_created_but_not_recorded_is_found_again(self, server, nb, tmp_path) -> None:
        first = nb.batch.submit(["a fox", "an owl"], out_dir=tmp_path, display_name="animals")
        manifest = tmp_path / "manifest.jsonl"
        kept = [line for line in manifest.read_text().splitlines() if '"batch_job"' not in line]
        manifest.write_text("\n".join(kept) + "\n")  # killed between create and record
        again = nb.batch.submit(["a fox", "an owl"], out_dir=tmp_path, display_name="animals")
        assert again.names == first.names and len(self.created(server)) == 1
        jobs = [r for r in records(tmp_path) if r.get("type") == "batch_job"]
        assert [j["name"] for j in jobs] == list(first.names)
        assert server.list_batches()[0].display_name.startswith("animals [nb-")

    @pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
    def test_results_record_a_save_error_against_its_item_and_go_on(
        self, nb, clock, tmp_path
    ) -> None:
        job = nb.batch.submit([f"prompt {i}" for i in range(6)], out_dir=tmp_path)
        clock.advance(60)
        job.wait()
        with file_size_limit(16_000):  # the manifest fits; no image does
            results = list(job.results())
        assert len(results) == 6 and len(job.errors) == 6
        failed = [r for r in records(tmp_path) if r.get("status") == "failed"]
        assert len(failed) == 6 and all(r["transient"] for r in failed)
        assert "could not be saved" in failed[0]["error"]["message"]

    def test_keys_from_elsewhere_are_saved_under_safe_names(self, server, nb, clock, tmp_path):
        from google.genai import types

        from tests.conftest import raw_client

        with raw_client(server) as raw:
            made = raw.batches.create(
                model="gemini-3-pro-image",
                src=[types.InlinedRequest(contents="a fox", metadata={"key": "../../escape/1"}),
                     types.InlinedRequest(contents="an owl", metadata={"key": "a\\b:c"})],
            )  # fmt: skip
        clock.advance(60)
        job = nb.batch.get(str(made.name), out_dir=tmp_path / "out")
        assert len(list(job.wait().results())) == 2
        saved = images_in(tmp_path / "out")
        assert len(saved) == 2 and not any(set("/\\:") & set(name) for name in saved)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# -- caps that hold ---------------------------------------------------------------------------


def test_a_cap_holds_when_grounded_calls_bill_several_queries(fake_gemini, nb, tmp_path) -> None:
    prompts = [f"the news about topic number {i} today" for i in range(12)]
    plain = GenerationRequest(prompts[0]).estimated_cost()
    assert plain is not None
    cap = 5 * (plain + 0.014)  # five calls, had each searched once
    report = nb.generate_many(prompts, out_dir=tmp_path, search=True, max_cost=cap)
    assert report.done >= 1 and report.not_started >= 1
    assert report.cost <= cap  # the emulator bills up to 3 web queries and an empty one


# -- typed refusals and neighbours ------------------------------------------------------------


def test_a_foreign_jsonl_is_upgraded_only_if_every_line_is_a_0_1_record(nb, tmp_path) -> None:
    theirs = '{"key": "a", "status": "ok"}\n{"user": "kim", "status": "active"}\n'
    (tmp_path / "manifest.jsonl").write_text(theirs)
    with pytest.raises(InvalidRequestError, match="not written by nanobanana"):
        nb.generate_many(["a fox"], out_dir=tmp_path)
    assert (tmp_path / "manifest.jsonl").read_text() == theirs
    odd = '{"key": "a", "status": "active"}\n'  # a key and a status, but not 0.1's
    (tmp_path / "manifest.jsonl").write_text(odd)
    with pytest.raises(InvalidRequestError, match="not written by nanobanana"):
        nb.generate_many(["a fox"], out_dir=tmp_path)
    assert (tmp_path / "manifest.jsonl").read_text() == odd


def test_an_index_html_the_sdk_did_not_write_is_never_replaced(fake_gemini, nb, tmp_path):
    from nanobanana._runs.gallery import write_gallery

    nb.generate_many(["a fox"], out_dir=tmp_path)
    (tmp_path / "index.html").write_text("<h1>my own site</h1>")
    with pytest.raises(InvalidRequestError, match="not written by nanobanana"):
        write_gallery(tmp_path)
    assert (tmp_path / "index.html").read_text() == "<h1>my own site</h1>"
    page = write_gallery(tmp_path, tmp_path / "gallery.html")
    assert write_gallery(tmp_path, page) == page  # ours: replaced with a fresh one


def test_one_string_where_many_are_expected_is_one_prompt(fake_gemini, nb, tmp_path) -> None:
    report = nb.generate_many("fox", out_dir=tmp_path)
    assert report.done == 1 and len(fake_gemini.generate_requests) == 1
    assert [r["prompt"] for r in records(tmp_path) if "key" in r] == ["fox"]


def test_the_gallery_survives_odd_sources_and_folder_names(fake_gemini, nb, tmp_path) -> None:
    from nanobanana._runs.gallery import write_gallery

    folder = tmp_path / os.fsdecode(b"run-\xff") if sys.platform == "linux" else tmp_path / "r"
    nb.generate_many(["a fox"], out_dir=folder)
    manifest = folder / "manifest.jsonl"
    lines = manifest.read_text(errors="surrogateescape").splitlines()
    entry = json.loads(lines[-1])
    entry["grounding"] = {"queries": ["x"], "sources": [{"uri": "http://[::1", "title": "t"}]}
    manifest.write_text("\n".join([*lines[:-1], json.dumps(entry)]) + "\n")
    page = write_gallery(folder).read_text()
    assert "<li>t</li>" in page and 'href="http://[::1' not in page  # shown, not linked


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: NanoBanana(api_key="k", timeout=-1), "timeout must be a finite number"),
        (lambda: NanoBanana(api_key="k", timeout=math.nan), "timeout must be a finite number"),
        (lambda: NanoBanana(api_key="k", timeout=math.inf), "timeout must be a finite number"),
        (lambda: RetryPolicy(max_delay=math.nan), "max_delay must be a finite number"),
        (lambda: RetryPolicy(initial_delay=math.inf), "initial_delay must be a finite number"),
        (lambda: RetryPolicy(deadline=math.nan), "deadline must be a positive number"),
        (lambda: NanoBanana(api_key="k").batch.get(""), "a batch job name is 'batches/<id>'"),
    ],
)
def test_bad_settings_are_typed_refusals(make, words) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(words)):
        make()


def test_an_unknown_save_format_is_a_typed_refusal(tmp_path) -> None:
    image = Result.from_body({"candidates": [{"content": {"parts": [{"inlineData": {
        "mimeType": "image/jpeg", "data": base64.b64encode(photo(64, 48)).decode()}}]}}]}).image  # fmt: skip
    with pytest.raises(InvalidRequestError, match="format='gif' is not one nanobanana saves"):
        image.save(tmp_path / "x", format="gif")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_deeply_nested_line_is_no_crash(fake_gemini, nb, tmp_path) -> None:
    nb.generate_many(["a fox"], out_dir=tmp_path)
    with (tmp_path / "manifest.jsonl").open("a") as out:
        out.write("[" * 100_000 + "]" * 100_000 + "\n")
    report = nb.generate_many(["a fox", "an owl"], out_dir=tmp_path)
    assert (report.done_before, report.done) == (1, 1)


def test_a_line_separator_in_a_prompt_is_not_a_line_end(tmp_path) -> None:
    from nanobanana.cli._batch import load_jsonl

    prompt = "a fox\u2028in the snow"
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps({"prompt": prompt}, ensure_ascii=False) + "\n")
    assert [r.prompt for r in load_jsonl(str(requests))] == [prompt]


# -- the emulator stays responsive ------------------------------------------------------------


def _connect(server: FakeGemini):
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(server.url)
    return socket.create_connection((url.hostname, url.port), timeout=5)


def test_slow_clients_cannot_starve_a_normal_one() -> None:
    with FakeGemini() as server:
        drips = [_connect(server) for _ in range(64)]  # every slot of the old emulator
        try:
            for sock in drips:
                sock.sendall(b"POST /v1beta/models/x:generateContent HTTP/1.1\r\nHost: a\r\n")
            policy = RetryPolicy(max_attempts=1)
            with NanoBanana(api_key="t", base_url=server.url, retry=policy, timeout=2) as nb:
                assert nb.generate("a fox").image  # answered while 64 clients drip
        finally:
            for sock in drips:
                sock.close()


def test_a_client_that_drips_its_headers_is_cut_off() -> None:
    with FakeGemini(header_timeout=0.3) as server, _connect(server) as sock:
        sock.sendall(b"GET /v1beta/models HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 5 and not closed:
            try:
                sock.sendall(b"x")
                sock.settimeout(0.05)
                closed = sock.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        assert closed and time.monotonic() - started < 3


def test_concurrent_large_bodies_stay_within_a_memory_bound() -> None:
    import urllib.error
    import urllib.request

    body = b"{" + b" " * 400_000 + b"}"
    with FakeGemini(body_memory=1_000_000) as server:

        def post() -> int:
            request = urllib.request.Request(
                f"{server.url}/v1beta/models/gemini-3-pro-image:generateContent",
                data=body, headers={"x-goog-api-key": "t", "content-type": "application/json"},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        codes: list[int] = []
        threads = [threading.Thread(target=lambda: codes.append(post())) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(codes) == 8 and 500 not in codes
        assert 0 < server._httpd.bodies.peak <= 1_000_000


# -- the CLI keeps what the library keeps -----------------------------------------------------


def test_generate_with_n_is_refused_naming_generate_many(fake_gemini, nb) -> None:
    with pytest.raises(
        InvalidRequestError, match=r"generate_many\(\[prompt\], out_dir=\.\.\., n=3\)"
    ):
        nb.generate("a fox", n=3)
    with pytest.raises(InvalidRequestError, match="n=3"):
        nb.stream("a fox", n=3)
    assert fake_gemini.generate_requests == []  # never one image for three


def _nanobanana(*args: str, url: str, **kw):
    env = {**os.environ, "GEMINI_API_KEY": "t", "GOOGLE_GEMINI_BASE_URL": url}
    command = [sys.executable, "-m", "nanobanana", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)  # fmt: skip


def test_search_in_the_cli_shows_and_keeps_its_sources(tmp_path) -> None:
    with FakeGemini() as server:
        shown = _nanobanana("generate", "the news today", "--search", "-o", f"{tmp_path}/",
                            "--gallery", url=server.url).communicate(timeout=60)[0]  # fmt: skip
        as_json = json.loads(_nanobanana("generate", "the news today", "--search", "-o",
                                         f"{tmp_path}/", "--json", url=server.url
                                         ).communicate(timeout=60)[0])  # fmt: skip
    assert "searched: the news today" in shown and "https://" in shown.split("sources:")[1]
    assert as_json["grounding"]["queries"][0] == "the news today"
    assert all("grounding" in r for r in records(tmp_path) if "key" in r)
    assert 'class="sources"' in (tmp_path / "index.html").read_text()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_an_interrupted_cli_batch_exits_130_and_its_gallery_counts_what_was_not_started(
    tmp_path,
) -> None:
    from nanobanana._runs.gallery import write_gallery

    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(f"prompt {i}") + "\n" for i in range(12)))
    out = tmp_path / "out"
    with FakeGemini(latency=0.5) as server:
        child = _nanobanana("batch", str(requests), "-o", str(out), "--concurrency", "4",
                            url=server.url)  # fmt: skip
        deadline = time.monotonic() + 60
        while len(server.generate_requests) < 4 and child.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=60)
        paid = len(server.generate_requests)
    assert child.returncode == 130
    assert len(images_in(out)) == paid < 12
    page = write_gallery(out).read_text()
    assert f"{paid} of 12 requests succeeded · {12 - paid} not started" in page


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_an_interrupted_cli_batch_api_wait_exits_130_and_leaves_the_job(tmp_path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(f"prompt {i}") + "\n" for i in range(3)))
    with FakeGemini() as server:  # its batch jobs stay pending for a while (real clock)
        child = _nanobanana("batch", str(requests), "-o", str(tmp_path / "out"), "--batch-api",
                            url=server.url)  # fmt: skip
        deadline = time.monotonic() + 60
        while not any(r.method == "GET" and "/batches/" in r.path for r in server.requests):
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)  # until the CLI is polling the job
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "keeps running" in err and "attaches" in err
