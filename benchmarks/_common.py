"""What every benchmark shares: rows, interleaved rounds, child processes, a cheap emulator."""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One line of the table: ours against a reference, and the target it must meet.

    ``ok`` is ``None`` for rows that only inform (no target).
    """

    name: str
    ours: float
    reference: float
    unit: str
    target: str
    ok: bool | None
    note: str = ""


@dataclass
class Options:
    quick: bool = False

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def interleaved(
    fns: dict[str, Callable[[], object]],
    rounds: int,
    setup: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """Runs every function once per round, alternating the order, and returns their times.

    Interleaving puts each side under the same load: this machine is shared, and a load spike
    must not land on one side only. ``setup`` runs, untimed, before each call.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        for name in list(fns) if r % 2 == 0 else list(reversed(fns)):
            if setup is not None:
                setup()
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def median_ratio(slow: list[float], fast: list[float]) -> float:
    """The median over rounds of slow / fast: each round compared with itself."""
    return statistics.median(s / f for s, f in zip(slow, fast, strict=True))


# As installed: pip compiles bytecode at install time. (This workplace sets
# PYTHONDONTWRITEBYTECODE, which would make every run recompile every module.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

#: Printed by every child as its last line: its own peak (VmHWM, reset by exec, unlike
#: ru_maxrss, which Linux carries across exec from a large parent), CPU and wall time.
CHILD_FOOTER = """
import json as _json, os as _os, time as _time
_t = _os.times()
print(_json.dumps({
    "peak_mb": next(int(l.split()[1]) for l in open("/proc/self/status")
                    if l.startswith("VmHWM")) / 1024,
    "cpu_s": _t.user + _t.system,
    "wall_s": _time.perf_counter() - _START,
    "extra": globals().get("EXTRA"),
}))
"""
CHILD_HEADER = "import time as _time\n_START = _time.perf_counter()\n"


def child(code: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    """Runs ``code`` in a fresh interpreter; returns what its footer printed."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD_HEADER + code + CHILD_FOOTER, *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )
    if out.returncode:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def emulator(*, cheap_images: bool = True, **options: Any) -> Iterator[Any]:
    """A `FakeGemini` on loopback whose pictures are drawn once per size, then reused.

    What is measured is the client; the emulator's drawing (0.15-0.25 s per 1K picture on
    this machine) would otherwise be most of the time, on the same two cores. The bytes are
    real images of the requested size.
    """
    from nanobanana.testing import FakeGemini

    if cheap_images:
        _patch_render()
    with FakeGemini(**options) as server:
        yield server


def _patch_render() -> None:
    from nanobanana.testing import _generate, _images

    if getattr(_generate.render, "_bench", False):
        return

    @functools.cache
    def once(width: int, height: int, mime_type: str) -> bytes:
        return _images.render(0, width, height, "benchmark", mime_type)

    def render(seed: int, width: int, height: int, caption: str, mime_type: str) -> bytes:
        return once(width, height, mime_type)

    render._bench = True  # type: ignore[attr-defined]
    _generate.render = render  # type: ignore[assignment]


def scratch(name: str) -> Path:
    """A fresh directory for one benchmark's files."""
    return Path(tempfile.mkdtemp(prefix=f"nb-bench-{name}-"))


class ScaledClock:
    """Real time, sped up: a 100 s latency passes in 1 s, quotas per minute in 0.6 s."""

    def __init__(self, factor: float) -> None:
        self.factor, self.t0 = factor, time.monotonic()

    def __call__(self) -> float:
        return (time.monotonic() - self.t0) * self.factor

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.factor)

    async def asleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(max(0.0, seconds) / self.factor)


_SERVE = """
import json, sys
from benchmarks._common import _patch_render
from nanobanana.testing import FakeGemini
_patch_render()
with FakeGemini(**json.loads(sys.argv[1])) as server:
    print(server.url, flush=True)
    sys.stdin.read()  # serves until the benchmark closes our stdin
"""


@contextmanager
def emulator_process(**options: Any) -> Iterator[str]:
    """A cheap-image `FakeGemini` in a process of its own: the client's CPU is measured alone.

    Yields its URL. ``options`` must be JSON (no clocks: those need `emulator`).
    """
    root = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, json.dumps({"record": False, **options})],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
        env={**ENV, "PYTHONPATH": root},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def cpu_and_wall(
    fns: dict[str, Callable[[], object]], rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """`interleaved`, also timing this process's CPU (user + system, every thread) per call."""
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    for r in range(rounds):
        for name in list(fns) if r % 2 == 0 else list(reversed(fns)):
            cpu, wall = time.process_time(), time.perf_counter()
            fns[name]()
            out[name].append((time.process_time() - cpu, time.perf_counter() - wall))
    return out
