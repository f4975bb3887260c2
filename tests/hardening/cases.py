"""Hardening cases, shared by the fast tests and the long profiles of ``nox -s faults``."""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from nanobanana import (
    APIConnectionError,
    AsyncNanoBanana,
    NanoBanana,
    NanoBananaError,
    QuotaExhaustedError,
    Reference,
    Result,
    RetryPolicy,
)
from nanobanana.testing import FakeGemini, Fault, ManualClock, sample_photo

# -- the fault matrix --------------------------------------------------------------------------

FAULTS: dict[str, Callable[[], Fault]] = {
    "429 with RetryInfo": lambda: Fault.rate_limit(retry_delay=7),
    "429 per-day": lambda: Fault.rate_limit(quota="per_day"),
    "500": Fault.internal,
    "503": Fault.unavailable,
    "504": Fault.deadline_exceeded,
    "connection reset": Fault.drop,
    "body cut mid-stream": lambda: Fault.truncate(0.5),
    "slower than the timeout": lambda: Fault.slow(2.5),
}
ENTRY_POINTS = [
    "sync generate",
    "async generate",
    "streaming",
    "session turn",
    "generate_many",
    "batch job",
]
TIMEOUT = 1.0  # seconds; the slow fault answers after 2.5


@dataclass
class Cell:
    fault: str
    entry: str
    ok: bool
    outcome: str
    requests: int


def _expectation(fault: str, entry: str) -> str:
    if fault == "429 per-day":
        return "recorded" if entry == "generate_many" else "QuotaExhaustedError"
    if entry == "batch job" and fault in (
        "connection reset",
        "body cut mid-stream",
        "slower than the timeout",
    ):
        return "APIConnectionError"  # creating a job is never retried once it may have happened
    return "retried"


def run_cell(fault: str, entry: str, tmp: Path) -> Cell:
    """Injects one fault into one entry point; checks the retry or the error, and the bill."""
    clock = ManualClock()
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep)
    with FakeGemini(clock=clock, sleep=time.sleep, batch_pending=1, batch_running=1) as server:
        options = {"api_key": "t", "base_url": server.url, "retry": policy, "timeout": TIMEOUT}
        expected = _expectation(fault, entry)
        outcome, images = "", 0
        try:
            if entry == "batch job":
                server.push(FAULTS[fault](), scope="batch")
            elif entry == "session turn":
                pass  # pushed after the first turn
            else:
                server.push(FAULTS[fault]())
            images = _run_entry(entry, fault, server, options, tmp)
            outcome = "retried" if images else "no image"
            if entry == "generate_many" and images == 0:
                outcome = "recorded"
        except QuotaExhaustedError:
            outcome = "QuotaExhaustedError"
        except APIConnectionError:
            outcome = "APIConnectionError"
        except NanoBananaError as exc:
            outcome = type(exc).__name__
        succeeded = [r for r in server.generate_requests if r.status == 200]
        generated = len(succeeded) - (
            1
            if fault in ("body cut mid-stream", "slower than the timeout") and entry != "batch job"
            else 0
        )
        jobs = len([r for r in server.requests if r.path.endswith(":batchGenerateContent")])
        ok = outcome == expected
        if expected == "retried" and entry not in ("batch job", "session turn"):
            ok = ok and images == 1 and generated <= 1  # one image, paid for once
        if entry == "batch job":
            ok = ok and len(server.list_batches()) <= 1  # never two jobs
        if entry == "session turn" and expected == "retried":
            ok = ok and images == 1
        return Cell(fault, entry, ok, outcome, len(server.generate_requests) + jobs)


def _run_entry(
    entry: str, fault: str, server: FakeGemini, options: dict[str, Any], tmp: Path
) -> int:
    if entry == "sync generate":
        with NanoBanana(**options) as nb:
            return len(nb.generate("a fox").images)
    if entry == "async generate":

        async def go() -> int:
            async with AsyncNanoBanana(**options) as nb:
                return len((await nb.generate("a fox")).images)

        return asyncio.run(go())
    if entry == "streaming":
        with NanoBanana(**options) as nb:
            return len(nb.stream("a fox", include_thoughts=False).final().images)
    if entry == "session turn":
        with NanoBanana(**options) as nb:
            session = nb.session()
            session.send("a fox")
            server.push(FAULTS[fault]())
            before = len(session.history)
            result = session.send("make it blue")
            assert len(session.history) == before + 1
            return len(result.images)
    if entry == "generate_many":
        with NanoBanana(**options) as nb:
            report = nb.generate_many(["a fox"], out_dir=tmp / "many", progress=False)
            on_disk = len(list((tmp / "many").glob("*.jpg")))
            assert on_disk == report.images
            return report.images
    with NanoBanana(**options) as nb:  # batch job
        job = nb.batch.submit(["a fox"])
        return sum(len(r.images) for r in job.wait().results())


def fault_matrix(tmp: Path) -> list[Cell]:
    cells = []
    for fault in FAULTS:
        for entry in ENTRY_POINTS:
            cell_dir = tmp / f"{fault}-{entry}".replace(" ", "_")
            cell_dir.mkdir(parents=True, exist_ok=True)
            cells.append(run_cell(fault, entry, cell_dir))
    return cells


def matrix_table(cells: list[Cell]) -> str:
    rows = collections.defaultdict(dict)
    for c in cells:
        rows[c.fault][c.entry] = f"{'✅' if c.ok else '❌'} {c.outcome}"
    lines = ["| fault | " + " | ".join(ENTRY_POINTS) + " |", "|---" * (len(ENTRY_POINTS) + 1) + "|"]
    for fault in FAULTS:
        lines.append(f"| {fault} | " + " | ".join(rows[fault][e] for e in ENTRY_POINTS) + " |")
    return "\n".join(lines)


# -- every bad input ---------------------------------------------------------------------------


def bad_inputs(tmp: Path) -> list[tuple[str, dict[str, Any], str]]:
    """(what, generate() keyword arguments, words the error must contain) for inputs that
    must be refused before anything is sent."""
    tmp.mkdir(parents=True, exist_ok=True)
    empty = tmp / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp / "notes.jpg"
    text.write_text("this is a text file, not a photo")
    huge = tmp / "huge.jpg"
    with open(huge, "wb") as handle:
        handle.truncate(100_000_000)  # sparse: refused by its size before it is read
    folder = tmp / "a-folder"
    folder.mkdir(exist_ok=True)
    photo = sample_photo(64, 64)
    return [
        (
            "prompt of a wrong type",
            {"prompt": 42},
            "prompt must be a string or a prompt template, not int",
        ),
        ("empty prompt", {"prompt": ""}, "prompt must not be empty"),
        ("whitespace prompt", {"prompt": "  \n\t "}, "prompt must not be empty or only whitespace"),
        ("1 MB prompt", {"prompt": "a fox " * 175_000}, "any model takes about 262,144"),
        (
            "aspect ratio of a wrong type",
            {"prompt": "a fox", "aspect_ratio": 1.5},
            "takes no aspect ratio '1.5'",
        ),
        ("unknown aspect ratio", {"prompt": "a fox", "aspect_ratio": "7:3"}, "allowed: 1:1, 2:3"),
        (
            "unknown size",
            {"prompt": "a fox", "size": "8K"},
            "(did you mean 4K?); allowed: 1K, 2K, 4K",
        ),
        (
            "reference of a wrong type",
            {"prompt": "a fox", "references": [42]},
            "must be a path, bytes",
        ),
        (
            "15 references",
            {"prompt": "a fox", "references": [photo] * 15},
            "too many reference images: 15",
        ),
        (
            "4 style references",
            {"prompt": "a fox", "references": [Reference.style(photo)] * 4},
            "4 style reference",
        ),
        ("0-byte file", {"prompt": "a fox", "references": [empty]}, "empty.jpg: is empty"),
        (
            "text file named .jpg",
            {"prompt": "a fox", "references": [text]},
            "notes.jpg: is not an image",
        ),
        (
            "100 MB image",
            {"prompt": "a fox", "references": [huge]},
            "huge.jpg: is 100 MB; references up to 50 MB",
        ),
        ("a directory", {"prompt": "a fox", "references": [folder]}, "a-folder: is a directory"),
        (
            "a missing file",
            {"prompt": "a fox", "references": [tmp / "nope.jpg"]},
            "nope.jpg: no such file",
        ),
        (
            "malformed model id",
            {"prompt": "a fox", "model": "gemini 3 pro!"},
            "model must be a model id",
        ),
    ]


# -- fuzzed responses --------------------------------------------------------------------------

_JPEG = sample_photo(48, 32, seed=5)
_PNG = sample_photo(16, 16, format="PNG")


def _b64(data: bytes, urlsafe: bool) -> str:
    return (
        base64.urlsafe_b64encode(data).decode().rstrip("=")
        if urlsafe
        else base64.b64encode(data).decode()
    )


junk = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)
image_bytes = st.sampled_from([_JPEG, _PNG, _JPEG[: len(_JPEG) // 2], b"not an image at all", b""])
inline = st.fixed_dictionaries(
    {
        "data": st.one_of(
            st.builds(_b64, image_bytes, st.booleans()), st.just("%%% not base64 %%%"), junk
        )
    },
    optional={
        "mimeType": st.sampled_from(["image/jpeg", "image/png", "text/plain", ""]),
        "extra": junk,
    },
)
part = st.one_of(
    st.fixed_dictionaries(
        {"text": st.one_of(st.text(max_size=50), st.just("x" * 200_000))},
        optional={
            "thought": st.one_of(st.booleans(), junk),
            "thoughtSignature": st.one_of(
                st.builds(_b64, st.binary(max_size=64), st.booleans()), junk
            ),
        },
    ),
    st.fixed_dictionaries(
        {"inlineData": st.one_of(inline, junk)},
        optional={
            "thought": st.one_of(st.booleans(), junk),
            "thoughtSignature": st.one_of(
                st.builds(_b64, st.binary(max_size=64), st.booleans()), junk
            ),
            "unknownKey": junk,
        },
    ),
    junk,
)
finish = st.one_of(
    st.sampled_from(["STOP", "IMAGE_SAFETY", "NO_IMAGE", "PROHIBITED_CONTENT", "SOMETHING_NEW"]),
    junk,
)
candidate = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "content": st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={"role": junk, "parts": st.one_of(st.lists(part, max_size=6), junk)},
                ),
                junk,
            ),
            "finishReason": finish,
            "finishMessage": junk,
            "index": junk,
        },
    ),
    junk,
)
usage = st.one_of(st.dictionaries(st.sampled_from(["promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "totalTokenCount", "candidatesTokensDetails", "promptTokensDetails", "serviceTier"]), st.one_of(junk, st.lists(st.one_of(st.fixed_dictionaries({"modality": junk, "tokenCount": junk}), junk), max_size=3))), junk)  # fmt: skip
responses = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "candidates": st.one_of(st.lists(candidate, max_size=2), junk),
            "usageMetadata": usage,
            "promptFeedback": st.one_of(st.fixed_dictionaries({"blockReason": finish}), junk),
            "modelVersion": junk,
            "responseId": junk,
            "newField": junk,
        },
    ),
    junk,
)


def intact_final_images(body: Any) -> list[bytes]:
    """The final images a parser must keep: decodable inline data on non-thought parts."""
    try:
        parts = body["candidates"][0]["content"]["parts"]
    except (TypeError, KeyError, IndexError):
        return []
    if not isinstance(parts, list):
        return []
    out = []
    for p in parts:
        if (
            isinstance(p, dict)
            and p.get("thought") is not True
            and isinstance(p.get("inlineData"), dict)
        ):
            data = p["inlineData"].get("data")
            if isinstance(data, str) and data != "%%% not base64 %%%":
                out.append(
                    base64.urlsafe_b64decode(
                        data.replace("+", "-").replace("/", "_") + "=" * (-len(data) % 4)
                    )
                )
    return out


def check_parse(body: Any) -> None:
    """The property: a Result or a NanoBananaError, never another error, never a lost image."""
    expected = intact_final_images(body)
    try:
        result = Result.from_body(json.loads(json.dumps(body)))
    except NanoBananaError:
        assert not expected, "an intact image was lost to an error"
        return
    assert [i.data for i in result.images] == expected
    for image in (*result.images, *result.thought_images):
        repr(image), image.width, image.height  # header reads never raise
    result.cost, result.usage, result.describe_outcome()


# -- kill and resume -------------------------------------------------------------------------

RUN_SCRIPT = (
    "import sys\n"
    "from nanobanana import NanoBanana\n"
    "nb = NanoBanana(api_key='t', base_url=sys.argv[1])\n"
    "nb.generate_many([f'a fox number {i}' for i in range(int(sys.argv[3]))], out_dir=sys.argv[2], concurrency=3, progress=False)\n"
)


def kill_and_resume(tmp: Path, points: list[float], n: int = 24) -> list[dict[str, Any]]:
    """SIGKILLs a run after each delay in ``points``, re-running until done; checks every step.

    A request in flight when the run is killed was paid for but never received: sending it
    again is unavoidable. What must never happen is sending an item the manifest has as done.
    """
    out = tmp / "run"
    steps = []
    with FakeGemini(latency=0.05) as server:
        for delay in points:
            done_before, sent_before = _done(out), len(server.generate_requests)
            proc = subprocess.Popen(
                [sys.executable, "-c", RUN_SCRIPT, server.url, str(out), str(n)]
            )
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            steps.append(_check_run_folder(out, server, done_before, sent_before))
        done_before, sent_before = _done(out), len(server.generate_requests)
        with NanoBanana(api_key="t", base_url=server.url) as nb:
            report = nb.generate_many(
                [f"a fox number {i}" for i in range(n)], out_dir=out, progress=False
            )
        final = _check_run_folder(out, server, done_before, sent_before)
        final["complete"] = report.done + report.skipped == n
        steps.append(final)
    return steps


def _done(out: Path) -> set[str]:
    from nanobanana._runs.manifest import Manifest

    if not (out / "manifest.jsonl").exists():
        return set()
    return {
        e["prompt"]
        for e in Manifest(out / "manifest.jsonl").entries().values()
        if e["status"] == "ok"
    }


def _check_run_folder(
    out: Path, server: FakeGemini, done_before: set[str], sent_before: int
) -> dict[str, Any]:
    from nanobanana._runs.manifest import Manifest

    manifest = Manifest(out / "manifest.jsonl") if (out / "manifest.jsonl").exists() else None
    sent_since = collections.Counter(
        r.body["contents"][-1]["parts"][0]["text"]
        for r in server.generate_requests[sent_before:]
        if r.body  # a request cut off by the kill reached the emulator without a body
    )
    listed = {
        n for e in (manifest.entries().values() if manifest else []) for n in e.get("images", [])
    }
    return {
        "done": len(_done(out)),
        "paid_twice": sorted(p for p in done_before if sent_since[p]),
        "partial_final_files": [p.name for p in out.glob("*.jpg") if p.stat().st_size == 0],
        "unlisted_images": sorted(p.name for p in out.glob("*.jpg") if p.name not in listed),
        "torn_line_recovered": bool(manifest and manifest.recovered_torn_line),
    }


# -- emulator under load ---------------------------------------------------------------------


def emulator_load(clients: int, total: int) -> dict[str, Any]:
    """``clients`` threads share ``total`` raw HTTP requests of mixed sizes; checks each answer
    belongs to its request, and that the emulator's memory stays flat."""
    sizes = ["1K", "1K", "1K", "2K"]
    errors: list[str] = []
    crossed: list[str] = []
    counter = iter(range(total))
    lock = threading.Lock()
    rss: list[int] = []

    with FakeGemini(record=False) as server:

        def worker() -> None:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                prompt = f"load test request {i}"
                body = {"contents": [{"parts": [{"text": prompt}]}],
                        "generationConfig": {"imageConfig": {"aspectRatio": "1:1", "imageSize": sizes[i % 4]}}}  # fmt: skip
                req = urllib.request.Request(f"{server.url}/v1beta/models/gemini-3-pro-image:generateContent",
                                             data=json.dumps(body).encode(), headers={"x-goog-api-key": "k", "content-type": "application/json"})  # fmt: skip
                try:
                    with urllib.request.urlopen(req, timeout=60) as response:
                        answer = json.loads(response.read())
                except Exception as exc:
                    errors.append(f"{i}: {exc}")
                    continue
                # Like the real API, the emulator adds a text part to some answers only.
                parts = answer["candidates"][0]["content"]["parts"]
                text = next((p["text"] for p in parts if "text" in p), prompt)
                if prompt not in text:
                    crossed.append(f"{i}: {text[:60]}")
                if i % max(1, total // 8) == 0:
                    rss.append(_rss_mb())

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - start
    return {"requests": total, "clients": clients, "errors": errors, "cross_talk": crossed,
            "seconds": seconds, "rss_mb": rss}  # fmt: skip


def _rss_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


# -- key hygiene -----------------------------------------------------------------------------

SECRET = "AIzaSyNANOBANANA-SECRET-0123456789abcdef"


def key_hygiene(tmp: Path) -> dict[str, Any]:
    """Drives everything a user touches with a recognisable key; returns where it showed up.

    Scans reprs and strs of objects, exception messages (and their causes), logs at DEBUG
    from every logger, manifests, session JSON, sidecars, the gallery, and CLI output.
    """
    import logging

    from nanobanana._runs.gallery import write_gallery

    texts: dict[str, str] = {}
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    clock = ManualClock()
    try:
        with (
            FakeGemini() as server,
            NanoBanana(
                api_key=SECRET,
                base_url=server.url,
                retry=RetryPolicy(clock=clock, sleep=clock.sleep),
            ) as nb,
        ):
            texts["client repr"] = repr(nb) + str(nb)
            server.push(Fault.unavailable())
            result = nb.generate("a fox", include_thoughts=True)
            texts["result"] = repr(result) + str(result) + result._repr_html_() + repr(result.image)
            for fault in (
                Fault.error(400, "INVALID_ARGUMENT", "bad"),
                Fault.safety(),
                Fault.rate_limit(quota="per_day"),
            ):
                server.push(fault)
                try:
                    nb.generate("a fox")
                except NanoBananaError as exc:
                    chain = [exc, exc.__cause__]
                    texts[f"error {type(exc).__name__}"] = " ".join(
                        f"{e!s} {e!r}" for e in chain if e
                    )
            result.image.save(tmp / "fox", metadata=True)
            session = nb.session()
            session.send("a fox")
            session.save(tmp / "session.json")
            texts["session repr"] = repr(session)
            nb.generate_many(["a fox", "a cat"], out_dir=tmp / "run", progress=False)
            write_gallery(tmp / "run")
            env = {**os.environ, "GEMINI_API_KEY": SECRET, "GOOGLE_GEMINI_BASE_URL": server.url}
            cli = subprocess.run([sys.executable, "-m", "nanobanana", "generate", "a fox", "-v", "--json",
                                  "-o", str(tmp / "cli")], capture_output=True, text=True, env=env)  # fmt: skip
            texts["cli output"] = cli.stdout + cli.stderr
            texts["emulator records"] = repr(server.requests)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    texts["logs at DEBUG"] = "\n".join(handler.lines)
    for path in tmp.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".html"):
            texts[f"file {path.relative_to(tmp)}"] = path.read_text(errors="replace")
    return {"places": len(texts), "leaks": sorted(k for k, v in texts.items() if SECRET in v),
            "log_lines": len(handler.lines)}  # fmt: skip


class _Collect(__import__("logging").Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: Any) -> None:
        self.lines.append(self.format(record) + repr(record.__dict__))
