"""Beyond one machine: the Batch API at 100,000 requests, and pipelines on the DirectRunner.

The emulator runs in this process; each client runs in a child of its own, so that its peak
memory (VmHWM) is its own. Answers carry small (but real, correctly sized) JPEGs and short
signatures: what is measured is the client's sharding, streaming and recording.
"""

from __future__ import annotations

import functools
import shutil

from ._common import Options, Row, child, emulator, scratch

_BATCH_RUN = """
import sys, time
from nanobanana import NanoBanana, RetryPolicy
nb = NanoBanana(api_key="b", base_url=sys.argv[1],
                retry=RetryPolicy(sleep=lambda s: time.sleep(min(s, 0.05))))
n = int(sys.argv[3])
report = nb.batch.run((f"sticker {i}" for i in range(n)), out_dir=sys.argv[2])
EXTRA = [report.done, report.shards, report.failed, report.done_before]
"""


def _tiny_images() -> None:
    """Pictures of the asked size, flat and low quality: a few KB each (100,000 of them)."""
    import io

    from PIL import Image

    from nanobanana.testing import _generate

    @functools.cache
    def once(width: int, height: int, mime_type: str) -> bytes:
        out = io.BytesIO()
        fmt = "PNG" if mime_type == "image/png" else "JPEG"
        Image.new("RGB", (width, height), (200, 180, 40)).save(out, fmt, quality=20)
        return out.getvalue()

    def render(seed: int, width: int, height: int, caption: str, mime_type: str) -> bytes:
        return once(width, height, mime_type)

    _generate.render = render  # type: ignore[assignment]


def bench_batch_api(opts: Options) -> list[Row]:
    """Peak client memory of `nb.batch.run`, 10,000 vs 100,000 requests, and its resume."""
    small, large = opts.pick(10_000, 2_000), opts.pick(100_000, 10_000)
    _tiny_images()
    runs: dict[int, dict[str, object]] = {}
    with emulator(cheap_images=False, batch_pending=0, batch_running=0, record=False,
                  signature_bytes=256) as server:  # fmt: skip
        for n in (small, large):
            folder = scratch("batch-api")
            runs[n] = child(_BATCH_RUN, server.url, str(folder), str(n), timeout=7200)
            if n == large:
                runs[-1] = child(_BATCH_RUN, server.url, str(folder), str(n), timeout=3600)
            shutil.rmtree(folder)
            server.reset()  # the emulator's own store of result files
    a, b, again = runs[small], runs[large], runs[-1]
    growth = float(b["peak_mb"]) - float(a["peak_mb"])  # type: ignore[arg-type]
    done, shards = b["extra"][0], b["extra"][1]  # type: ignore[index]
    return [
        Row(
            f"Batch API run peak memory: {large:,} vs {small:,} requests (MB)",
            float(b["peak_mb"]),  # type: ignore[arg-type]
            float(a["peak_mb"]),  # type: ignore[arg-type]
            "MB",
            "within 60 MB",
            growth <= 60 and done == large,
            f"+{growth:.0f} MB; {done:,} done in {shards} shards, "
            f"{float(b['wall_s']):.0f} s ({float(b['wall_s']) / large * 1000:.1f} ms each)",  # type: ignore[arg-type]
        ),
        Row(
            f"Batch API run resume of {large:,} done (MB)",
            float(again["peak_mb"]),  # type: ignore[arg-type]
            float(b["peak_mb"]),  # type: ignore[arg-type]
            "MB",
            "no more than the run",
            float(again["peak_mb"]) <= float(b["peak_mb"]) + 10  # type: ignore[arg-type]
            and again["extra"][3] == large,  # type: ignore[index]
            f"{again['extra'][3]:,} done before, in {float(again['wall_s']):.0f} s",  # type: ignore[arg-type,index]
        ),
    ]


_PIPELINE = """
import sys, apache_beam as beam
from nanobanana.beam import GenerateImages
n = int(sys.argv[3])
with beam.Pipeline() as p:
    (p | beam.Create([f"icon {i}" for i in range(n)])
       | GenerateImages(sys.argv[2], base_url=sys.argv[1], api_key="b"))
import pathlib
EXTRA = len(list(pathlib.Path(sys.argv[2], "records").glob("*.json")))
"""

_MANY_AT = """
import sys
from nanobanana import NanoBanana
nb = NanoBanana(api_key="b", base_url=sys.argv[1])
n, ipm = int(sys.argv[3]), int(sys.argv[4])
report = nb.generate_many([f"icon {i}" for i in range(n)], out_dir=sys.argv[2], ipm=ipm,
                          progress=False)
EXTRA = report.done
"""


def bench_pipeline(opts: Options) -> list[Row]:
    """The DirectRunner: 10,000 requests (peak memory), and 1,000 against generate_many."""
    big, n = opts.pick(10_000, 1_000), opts.pick(1_000, 200)
    ipm, latency = opts.pick(600, 600), 0.05
    rows = []
    with emulator(record=False, latency=latency) as server:
        folder = scratch("pipeline-big")
        run = child(_PIPELINE, server.url, str(folder), str(big), timeout=7200)
        shutil.rmtree(folder)
    rows.append(
        Row(
            f"pipeline (DirectRunner) {big:,} requests: peak memory (MB)",
            float(run["peak_mb"]),
            0.0,
            "MB",
            "informative",
            None,
            f"{run['extra']:,} out in {float(run['wall_s']):.0f} s",
        )
    )
    with emulator(record=False, latency=latency, ipm=ipm) as server:
        folder = scratch("pipeline-quota")
        pipe = child(_PIPELINE, server.url, str(folder), str(n), timeout=3600)
        shutil.rmtree(folder)
        server.reset()
        folder = scratch("many-quota")
        many = child(_MANY_AT, server.url, str(folder), str(n), str(ipm), timeout=3600)
        shutil.rmtree(folder)
    ratio = float(pipe["wall_s"]) / float(many["wall_s"])
    rows.append(
        Row(
            f"pipeline vs generate_many, {n:,} requests at {ipm} IPM (time ratio)",
            ratio,
            1.0,
            "x",
            "<= 1.5x",
            ratio <= 1.5 and pipe["extra"] == n,
            f"pipeline {float(pipe['wall_s']):.0f} s, generate_many {float(many['wall_s']):.0f} s",
        )
    )
    return rows
