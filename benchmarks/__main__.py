"""Targets users feel, each measured against the naive google-genai way, in the same run.

``nox -s bench`` (or ``python -m benchmarks [--quick] [name ...]``) prints one table, writes it
into ``docs/performance.md``, and exits 1 only when a target is missed. Both sides of every
comparison run in interleaved rounds, so that load from elsewhere on the machine falls on both.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ._common import Options, Row
from .mcp import bench_mcp
from .micro import bench_emulator, bench_parse, bench_per_call, bench_save, bench_startup
from .refs import bench_pool, bench_references
from .runs import bench_batch, bench_latency, bench_memory, bench_scale
from .scale import bench_batch_api, bench_pipeline

BENCHES: dict[str, Callable[[Options], list[Row]]] = {
    "references": bench_references,
    "pool": bench_pool,
    "save": bench_save,
    "parse": bench_parse,
    "startup": bench_startup,
    "percall": bench_per_call,
    "emulator": bench_emulator,
    "latency": bench_latency,
    "memory": bench_memory,
    "batch": bench_batch,
    "scale": bench_scale,
    "mcp": bench_mcp,
    "batch_api": bench_batch_api,
    "pipeline": bench_pipeline,
}

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
MARK = "<!-- bench table -->"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _verdict(row: Row) -> str:
    return "-" if row.ok is None else ("pass" if row.ok else "MISS")


def table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | ours | reference | target | result | note |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {_fmt(r.ours)} | {_fmt(r.reference)} | {r.target} | "
            f"{_verdict(r)} | {r.note} |"
        )
    return "\n".join(lines)


def write_doc(rows: list[Row], opts: Options, seconds: float) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (
        f"Last run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{'quick' if opts.quick else 'full'} mode, {os.cpu_count()} cores, "
        f"load {load:.1f} at the end, Python {platform.python_version()}, "
        f"{seconds / 60:.1f} min.\n\n"
    )
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{MARK}\n"
    before, _, rest = text.partition(MARK)
    _, _, after = rest.partition(MARK)
    DOC.write_text(f"{before}{MARK}\n{header}{table(rows)}\n{MARK}{after}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller runs")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    opts = Options(quick=args.quick)
    names = args.names or list(BENCHES)
    start = time.perf_counter()
    rows: list[Row] = []
    for name in names:
        t0 = time.perf_counter()
        try:
            new = BENCHES[name](opts)
        except Exception as exc:  # a crash is a miss, not the end of the table
            new = [
                Row(
                    f"{name}: crashed",
                    0,
                    0,
                    "",
                    "runs",
                    False,
                    f"{type(exc).__name__}: {exc}"[:300],
                )
            ]
        rows += new
        for r in new:
            print(f"{_verdict(r):>4}  {r.name}: {_fmt(r.ours)} vs {_fmt(r.reference)} {r.unit}  "
                  f"[{r.target}]  {r.note}", flush=True)  # fmt: skip
        print(f"      ({name}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print()
    print(table(rows))
    if not args.no_doc and not args.names:
        write_doc(rows, opts, time.perf_counter() - start)
    missed = [r.name for r in rows if r.ok is False]
    if missed:
        print(f"\n{len(missed)} target(s) missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
