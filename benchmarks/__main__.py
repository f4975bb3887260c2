"""Speed and size targets, each as a ratio against the naive google-genai way, same run.

Run with ``nox -s bench`` (or ``python -m benchmarks [name ...]``). Prints one table; exits 1
when a target is missed. Timings are the best of several runs, on this machine.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    name: str
    ours: float
    naive: float
    unit: str
    target: str
    ok: bool
    note: str = ""


def best(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_references() -> list[Row]:
    """14 phone photos as references: nanobanana vs PIL.Image objects given to google-genai."""
    from google import genai
    from google.genai import types
    from PIL import Image

    from nanobanana import GenerationRequest, Reference
    from nanobanana.testing import FakeGemini, sample_photo

    tmp = Path(tempfile.mkdtemp())
    paths = []
    for i in range(14):
        path = tmp / f"phone{i}.jpg"
        path.write_bytes(sample_photo(4032, 3024, seed=i, orientation=6))
        paths.append(path)
    mb = sum(p.stat().st_size for p in paths) / 1e6
    prompt = "Put every one of these in one scene"

    def ours_prepare() -> object:
        refs = [Reference.object(p) for p in paths[:6]] + [Reference.human(p) for p in paths[6:11]]
        refs += [Reference.style(p) for p in paths[11:]]
        return GenerationRequest(prompt, references=refs).to_genai()

    def naive_prepare() -> object:
        # What google-genai does with PIL images before it sends: encode each one.
        from google.genai import _transformers as t

        return t.t_contents([prompt, *(Image.open(p) for p in paths)])

    with (
        FakeGemini() as server,
        genai.Client(
            api_key="bench", http_options=types.HttpOptions(base_url=server.url)
        ) as client,
    ):
        call = ours_prepare()
        client.models.generate_content(model=call.model, contents=call.contents, config=call.config)  # type: ignore[attr-defined]
        ours_size = server.generate_requests[-1].size
        try:
            client.models.generate_content(
                model="gemini-3-pro-image", contents=[prompt, *(Image.open(p) for p in paths)]
            )
        except Exception as exc:  # the API (and the emulator) reject it
            naive_error = f"{type(exc).__name__} {getattr(exc, 'code', '')}"
        else:
            naive_error = "accepted"
        naive_size = server.generate_requests[-1].size
    ours_t, naive_t = best(ours_prepare, 3), best(naive_prepare, 2)
    return [
        Row(
            "14 phone photos: prepare (s)",
            ours_t,
            naive_t,
            "s",
            ">= 5x faster",
            naive_t / ours_t >= 5,
            f"{mb:.0f} MB of JPEG in",
        ),
        Row(
            "14 phone photos: request (MB)",
            ours_size / 1e6,
            naive_size / 1e6,
            "MB",
            "< 20 MB",
            ours_size < 20 * 1024 * 1024,
            f"naive answer: {naive_error}",
        ),
    ]


def bench_save() -> list[Row]:
    """Saving a received 4K JPEG: save() vs writing the bytes vs the docs' Pillow snippet."""
    from PIL import Image

    from nanobanana import GeneratedImage
    from nanobanana.testing import sample_photo

    data = sample_photo(5504, 3072, seed=3, quality=90)
    image = GeneratedImage(data, "image/jpeg")
    tmp = Path(tempfile.mkdtemp())

    # Each run writes a new file, as saving newly generated images does. (Overwriting an
    # existing file through a rename makes ext4 flush the new data first: auto_da_alloc.)
    names = iter(range(10**6))

    def direct() -> None:
        with open(tmp / f"direct{next(names)}.jpg", "wb") as handle:
            handle.write(data)

    ours = best(lambda: image.save(tmp / f"ours{next(names)}.jpg"), 9)
    raw = best(direct, 9)
    docs = best(lambda: Image.open(io.BytesIO(data)).save(tmp / "docs.png"), 2)
    return [
        Row(
            "save 4K JPEG vs write bytes (s)",
            ours,
            raw,
            "s",
            "<= 1.5x",
            ours <= 1.5 * raw,
            f"{len(data) / 1e6:.1f} MB; atomic",
        ),
        Row("save 4K JPEG vs docs' PIL .png (s)", ours, docs, "s", "faster", ours < docs),
    ]


def bench_parse() -> list[Row]:
    """Parsing a response with one 4K image and a realistic signature."""
    import base64
    import os

    from google.genai import models, types

    from nanobanana._core import parse_body
    from nanobanana.testing import sample_photo

    image = sample_photo(5504, 3072, seed=4, quality=90)
    signature = os.urandom(1_500_000)
    body = json.dumps(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Here you go", "thoughtSignature": base64.b64encode(signature[:900_000]).decode()},
                            {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(image).decode()},
                             "thoughtSignature": base64.b64encode(signature).decode()},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 2000, "totalTokenCount": 2300,
                              "thoughtsTokenCount": 288, "serviceTier": "standard"},
            "modelVersion": "gemini-3-pro-image",
            "responseId": "abc",
        }
    )  # fmt: skip

    def genai_parse() -> object:
        # What google-genai does in generate_content after the HTTP call.
        response = models._GenerateContentResponse_from_mldev(json.loads(body), None, None)
        return types.GenerateContentResponse._from_response(response=response, kwargs={})

    ours = best(lambda: parse_body(body), 9)
    theirs = best(genai_parse, 9)
    return [
        Row(
            "parse 4K response (s)",
            ours,
            theirs,
            "s",
            "<= 1.1x",
            ours <= 1.1 * theirs,
            f"{len(body) / 1e6:.1f} MB body",
        ),
    ]


# As installed: pip compiles bytecode at install time. (This workplace sets
# PYTHONDONTWRITEBYTECODE, which would make every run recompile every module.)
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cmd(code: str) -> float:
    return best(lambda: subprocess.run([sys.executable, "-c", code], check=True, env=_ENV), 7)


def bench_import() -> list[Row]:
    """Import cost, and the CLI's --help path."""
    ours = _cmd("from nanobanana import NanoBanana")
    theirs = _cmd("from google import genai")
    # The console script users run; `python -m nanobanana` adds runpy's own ~4 ms.
    script = Path(sys.executable).with_name("nanobanana")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "nanobanana"]
    help_ = best(
        lambda: subprocess.run(
            [*command, "--help"], check=True, stdout=subprocess.DEVNULL, env=_ENV
        ),
        7,
    )
    bare = _cmd("pass")
    plain = _cmd("import nanobanana")
    return [
        Row(
            "from nanobanana import NanoBanana (s)",
            ours,
            theirs,
            "s",
            "<= 1.1x",
            ours <= 1.1 * theirs,
            "vs from google import genai",
        ),
        Row("import nanobanana (s)", plain, theirs, "s", "<= 1.1x", plain <= 1.1 * theirs),
        Row(
            "nanobanana --help (s)",
            help_,
            bare,
            "s",
            "<= 3x",
            help_ <= 3 * bare,
            "vs python -c pass",
        ),
    ]


def bench_emulator() -> list[Row]:
    """Emulator start-up, and a 4K image: the emulator must not take seconds."""
    from google import genai
    from google.genai import types

    from nanobanana.testing import FakeGemini

    start = time.perf_counter()
    server = FakeGemini().start()
    started = time.perf_counter() - start
    config = types.GenerateContentConfig(
        image_config=types.ImageConfig(aspect_ratio="21:9", image_size="4K")
    )
    with genai.Client(api_key="b", http_options=types.HttpOptions(base_url=server.url)) as client:
        times = []
        for i in range(5):
            t0 = time.perf_counter()
            client.models.generate_content(
                model="gemini-3-pro-image", contents=f"fox {i}", config=config
            )
            times.append(time.perf_counter() - t0)
    server.stop()
    return [
        Row("emulator start (s)", started, 1.0, "s", "< 1 s", started < 1.0, "vs 1 s"),
        Row(
            "emulator 4K answer (s)",
            statistics.median(times),
            50.0,
            "s",
            "< 1 s",
            statistics.median(times) < 1.0,
            "vs the real 50-120 s",
        ),
    ]


class ScaledClock:
    """Real time, sped up: quotas per minute pass in seconds, with no jumps."""

    def __init__(self, factor: float) -> None:
        self.factor, self.t0 = factor, time.monotonic()

    def __call__(self) -> float:
        return (time.monotonic() - self.t0) * self.factor

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.factor)

    async def asleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds / self.factor)


def bench_many() -> list[Row]:
    """generate_many against a quota'd, slow emulator with injected 429s, vs a sequential loop.

    The quota allows ``rpm`` starts in any 60 s, so the best possible time for N requests is
    (ceil(N / rpm) - 1) minutes plus one latency; efficiency is that over the time taken. Time
    runs 5x faster than real (a 20x clock made the emulator's own CPU the bottleneck).
    """
    import math

    from nanobanana import NanoBanana, RetryPolicy
    from nanobanana.testing import FakeGemini, Fault

    clock = ScaledClock(5)
    rpm, latency, n = 30, 10.0, 150
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep)
    with FakeGemini(rpm=rpm, latency=latency, clock=clock, sleep=clock.sleep) as server:
        server.push(*[Fault.rate_limit(retry_delay=5)] * 3)
        with NanoBanana(api_key="b", base_url=server.url, retry=policy) as nb:
            out = Path(tempfile.mkdtemp())
            start = clock()
            report = nb.generate_many([f"product shot {i}" for i in range(n)], out_dir=out, rpm=rpm,
                                      concurrency=rpm, progress=False)  # fmt: skip
            taken = clock() - start
            start = clock()
            for i in range(3):  # the naive way: one after another
                nb.generate(f"naive shot {i}")
            naive_rpm = 3 / ((clock() - start) / 60)
        rejected = sum(1 for r in server.generate_requests if r.status == 429)
    ideal = (math.ceil(n / rpm) - 1) * 60 + latency
    naive_time = n / naive_rpm * 60
    return [
        Row(
            f"generate_many, {n} images at {rpm} rpm (s)",
            taken,
            naive_time,
            "s",
            ">= 95% of quota",
            ideal / taken >= 0.95 and report.failed == 0,
            f"{ideal / taken:.0%} of the quota's best; {report.failed} failed, {rejected} 429s absorbed (3 injected)",
        ),
    ]


def bench_memory() -> list[Row]:
    """Peak memory of a run of 50 4K images, vs the naive loop that keeps its responses.

    Each side runs in its own process and reads its own peak (VmHWM). Not ru_maxrss: Linux
    carries that across exec, so a child of a large benchmark process reports the parent's.
    """
    from nanobanana.testing import FakeGemini

    ours_code = (
        "import sys\n"
        "from nanobanana import NanoBanana, GenerationRequest\n"
        "nb = NanoBanana(api_key='b', base_url=sys.argv[1])\n"
        "reqs = [GenerationRequest(f'poster {i}', aspect_ratio='16:9', size='4K') for i in range(50)]\n"
        "nb.generate_many(reqs, out_dir=sys.argv[2], concurrency=8, progress=False)\n"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    naive_code = (
        "import sys\n"
        "from google import genai\n"
        "from google.genai import types\n"
        "c = genai.Client(api_key='b', http_options={'base_url': sys.argv[1]})\n"
        "cfg = types.GenerateContentConfig(image_config=types.ImageConfig(aspect_ratio='16:9', image_size='4K'))\n"
        "out = [c.models.generate_content(model='gemini-3-pro-image', contents=f'poster {i}', config=cfg) for i in range(50)]\n"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    with FakeGemini(signature_bytes=1_500_000) as server:

        def peak(code: str) -> float:
            out = subprocess.run([sys.executable, "-c", code, server.url, tempfile.mkdtemp()],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            return int(out.stdout.split()[-1]) / 1024  # KB -> MB

        ours, naive = peak(ours_code), peak(naive_code)
    return [Row("peak memory, 50 4K images (MB)", ours, naive, "MB", "< 300 MB", ours < 300,
                "naive keeps its responses")]  # fmt: skip


BENCHES = {
    "references": bench_references,
    "save": bench_save,
    "parse": bench_parse,
    "import": bench_import,
    "emulator": bench_emulator,
    "many": bench_many,
    "memory": bench_memory,
}


def main(names: list[str]) -> int:
    rows: list[Row] = []
    for name in names or list(BENCHES):
        rows += BENCHES[name]()
    width = max(len(r.name) for r in rows)
    print(f"{'benchmark':<{width}}  {'ours':>9}  {'naive':>9}  {'ratio':>7}  target        ok")
    for r in rows:
        ratio = r.naive / r.ours if r.ours else float("inf")
        print(
            f"{r.name:<{width}}  {r.ours:>9.4f}  {r.naive:>9.4f}  {ratio:>6.2f}x  "
            f"{r.target:<12}  {'yes' if r.ok else 'NO'}  {r.note}"
        )
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
