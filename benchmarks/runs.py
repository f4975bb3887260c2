"""Runs of many images: quota use at real latencies, and the client's memory as runs grow."""

from __future__ import annotations

import shutil
from typing import Any

from ._common import Options, Row, ScaledClock, child, emulator, scratch


def _peak_in_flight(arrivals: list[float], latency: float) -> int:
    """Most requests the emulator was serving at once (each takes ``latency``)."""
    events = sorted([(t, 1) for t in arrivals] + [(t + latency, -1) for t in arrivals])
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def _latency_row(latency: float, rpm: int, n: int, factor: float) -> Row:
    from nanobanana import NanoBanana, RetryPolicy

    clock = ScaledClock(factor)
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep)
    options: dict[str, Any] = {"rpm": rpm, "latency": latency, "clock": clock, "sleep": clock.sleep}
    with (
        emulator(**options) as server,
        NanoBanana(api_key="b", base_url=server.url, retry=policy) as nb,
    ):
        folder = scratch("latency")
        start = clock()
        report = nb.generate_many(
            [f"product shot {i}" for i in range(n)], out_dir=folder, rpm=rpm, progress=False
        )
        taken = clock() - start
        shutil.rmtree(folder)
        served = [r.at for r in server.generate_requests if r.status == 200]
        rejected = sum(1 for r in server.generate_requests if r.status == 429)
    best = (n - 1) * 60 / rpm + latency  # starts spread evenly at the quota, the last one's latency
    can_serve = rpm / 60 * latency
    peak = _peak_in_flight(served, latency)
    ok = best / taken >= 0.9 and report.failed == 0 and peak <= can_serve + 1
    return Row(
        f"generate_many: {n} images, {latency:g} s latency, {rpm} rpm (s)",
        taken,
        best,
        "s",
        ">= 90% of best",
        ok,
        f"{best / taken:.0%} of the quota's best; {report.failed} failed, {rejected} 429s; "
        f"at most {peak} in flight (quota serves {can_serve:g}); time {factor:g}x faster",
    )


def bench_latency(opts: Options) -> list[Row]:
    """Pro at 1K (about 20 s) and at 4K (about 100 s), time scaled down, quotas the emulator
    can serve on two cores. Best: starts spread evenly at the quota, plus one latency."""
    return [
        _latency_row(20.0, 60, opts.pick(120, 60), 50),
        _latency_row(100.0, 30, opts.pick(60, 30), 100),
    ]


_MANY_4K = """
import sys
from nanobanana import NanoBanana, GenerationRequest
nb = NanoBanana(api_key="b", base_url=sys.argv[1])
reqs = [GenerationRequest(f"poster {i}", aspect_ratio="16:9", size="4K") for i in range(50)]
report = nb.generate_many(reqs, out_dir=sys.argv[2], concurrency=8, progress=False)
EXTRA = report.done
"""

_NAIVE_4K = """
import sys, pathlib
from google import genai
from google.genai import types
c = genai.Client(api_key="b", http_options={"base_url": sys.argv[1]})
cfg = types.GenerateContentConfig(
    image_config=types.ImageConfig(aspect_ratio="16:9", image_size="4K"))
for i in range(50):  # the naive loop done well: save each image, keep nothing
    r = c.models.generate_content(model="gemini-3-pro-image", contents=f"poster {i}", config=cfg)
    part = next(p for p in r.candidates[0].content.parts if p.inline_data)
    pathlib.Path(sys.argv[2], f"{i}.jpg").write_bytes(part.inline_data.data)
    del r, part
EXTRA = 50
"""


def bench_memory(opts: Options) -> list[Row]:
    """Peak client memory for 50 4K images written to ``out_dir``, each side in its own process."""
    peaks: dict[str, list[float]] = {"ours": [], "naive": []}
    with emulator(signature_bytes=1_500_000, record=False) as server:
        for r in range(opts.pick(2, 1)):
            for side in ("ours", "naive") if r % 2 == 0 else ("naive", "ours"):
                folder = scratch("mem4k")
                out = child(_MANY_4K if side == "ours" else _NAIVE_4K, server.url, str(folder))
                peaks[side].append(out["peak_mb"])
                shutil.rmtree(folder)
    ours, naive = max(peaks["ours"]), max(peaks["naive"])
    return [
        Row(
            "peak memory: 50 4K images to out_dir (MB)",
            ours,
            naive,
            "MB",
            "<= 150 MB",
            ours <= 150,
            "reference: google-genai loop that saves each image and drops it",
        )
    ]


_BATCH = """
import sys, time
from nanobanana import NanoBanana, RetryPolicy
nb = NanoBanana(api_key="b", base_url=sys.argv[1],
                retry=RetryPolicy(sleep=lambda s: time.sleep(min(s, 0.05))))
n = int(sys.argv[3])
job = nb.batch.submit([f"sticker {i}" for i in range(n)], out_dir=sys.argv[2])
job.wait()
EXTRA = sum(1 for _ in job.results())
"""


def bench_batch(opts: Options) -> list[Row]:
    """Peak client memory of a Batch API job, 200 vs 1,000 requests (1K answers)."""
    small, large = 200, opts.pick(1000, 600)
    peaks: dict[int, float] = {}
    with emulator(batch_pending=0.1, batch_running=0.2, record=False) as server:
        for n in (small, large):
            folder = scratch("batch")
            out = child(_BATCH, server.url, str(folder), str(n))
            peaks[n] = out["peak_mb"]
            shutil.rmtree(folder)
    growth = peaks[large] - peaks[small]
    return [
        Row(
            f"batch job peak memory: {large} vs {small} requests (MB)",
            peaks[large],
            peaks[small],
            "MB",
            "within 60 MB",
            growth <= 60 * (large - small) / 800,
            f"+{growth:.0f} MB for {large - small} more requests",
        )
    ]


_MANY = """
import sys
from nanobanana import NanoBanana
nb = NanoBanana(api_key="b", base_url=sys.argv[1])
n = int(sys.argv[3])
report = nb.generate_many((f"icon {i}" for i in range(n)), out_dir=sys.argv[2], progress=False)
EXTRA = [report.done, report.skipped, report.failed]
"""


def bench_scale(opts: Options) -> list[Row]:
    """A long generate_many (and its resume): memory stays flat, and so does time per item."""
    small, large = 1000, opts.pick(20_000, 4_000)
    with emulator(record=False) as server:
        folder = scratch("scale-small")
        first = child(_MANY, server.url, str(folder), str(small))
        shutil.rmtree(folder)
        folder = scratch("scale-large")
        run = child(_MANY, server.url, str(folder), str(large))
        resume = child(_MANY, server.url, str(folder), str(large))
        shutil.rmtree(folder)
    per_small = first["wall_s"] / small * 1000
    per_large = run["wall_s"] / large * 1000
    cpu_large = run["cpu_s"] / large * 1000
    done = run["extra"][0]
    return [
        Row(
            f"generate_many {large:,} items: peak memory (MB)",
            run["peak_mb"],
            first["peak_mb"],
            "MB",
            "< 150 MB",
            run["peak_mb"] < 150 and done == large,
            f"vs {small:,} items; {done:,} done, {run['extra'][2]} failed",
        ),
        Row(
            f"generate_many {large:,} items: resume peak memory (MB)",
            resume["peak_mb"],
            run["peak_mb"],
            "MB",
            "< 150 MB",
            resume["peak_mb"] < 150 and resume["extra"][1] == large,
            f"{resume['extra'][1]:,} skipped in {resume['wall_s']:.1f} s",
        ),
        Row(
            f"generate_many time per item, {large:,} vs {small:,} (ms)",
            per_large,
            per_small,
            "ms",
            "<= 1.2x",
            per_large <= 1.2 * per_small,
            f"client CPU {cpu_large:.2f} ms per item (the whole process, start-up included)",
        ),
    ]
