"""The long hardening profile: ``nox -s faults`` (``python -m tests.hardening.report``).

Prints every figure and rewrites docs/reliability.md. Exits 1 if any check fails.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from nanobanana import GenerationRequest, InvalidRequestError
from tests.hardening.cases import (
    bad_inputs,
    check_parse,
    emulator_load,
    fault_matrix,
    key_hygiene,
    kill_and_resume,
    matrix_table,
    responses,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def fuzz(examples: int) -> float:
    start = time.monotonic()
    settings_ = settings(max_examples=examples, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))  # fmt: skip
    given(responses)(settings_(check_parse))()
    return time.monotonic() - start


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    sections, ok = [], True

    seconds = fuzz(10_000)
    sections.append(f"## Fuzzed parsing\n\n10,000 responses shaped like the real ones, with random "
                    f"parts, missing and extra keys, unknown enum values, bad base64, truncated and "
                    f"non-image bytes and 200 kB texts: every one gave a `Result` or a "
                    f"`NanoBananaError`, and no intact final image was dropped ({seconds:.0f} s).")  # fmt: skip
    print(sections[-1], "\n")

    cells = fault_matrix(tmp / "matrix")
    ok &= all(c.ok for c in cells)
    sections.append("## Fault matrix\n\nEach fault injected once by the emulator into each entry "
                    "point. ✅ means the right retry or the right typed error, every image kept, "
                    "and no request repeated after a success (a batch job is never created twice: "
                    "creating one is not retried once it may have happened).\n\n" + matrix_table(cells))  # fmt: skip
    print(sections[-1], "\n")

    rng = random.Random(20261125)
    points = [round(rng.uniform(0.4, 1.6), 2) for _ in range(20)]
    steps = kill_and_resume(tmp / "kill", points, n=40)
    twice = sum(len(s["paid_twice"]) for s in steps)
    partial = sum(len(s["partial_final_files"]) for s in steps)
    torn = sum(s["torn_line_recovered"] for s in steps)
    complete = steps[-1]["complete"] and not steps[-1]["unlisted_images"]
    ok &= twice == 0 and partial == 0 and complete
    sections.append(f"## Kill and resume\n\n`generate_many` of 40 images, killed with SIGKILL at 20 "
                    f"random points ({', '.join(f'{p:g}' for p in points)} s) and re-run each time: "
                    f"finished items requested again: **{twice}**; partial files under a final name: "
                    f"**{partial}**; torn manifest lines recovered: {torn}; the set completed: "
                    f"**{'yes' if complete else 'NO'}**.")  # fmt: skip
    print(sections[-1], "\n")

    hygiene = key_hygiene(tmp / "key")
    ok &= not hygiene["leaks"]
    sections.append(f"## Key hygiene\n\nA recognisable key was used for generate (with a retry), "
                    f"three kinds of error, a session, `generate_many`, the gallery and the CLI with "
                    f"`-v`; {hygiene['places']} places were scanned (reprs, exception messages and "
                    f"causes, {hygiene['log_lines']} log records at DEBUG from every logger, "
                    f"manifests, session JSON, sidecars, the gallery page, CLI output, the "
                    f"emulator's records). The key appeared in: "
                    f"**{', '.join(hygiene['leaks']) or 'none'}**.")  # fmt: skip
    print(sections[-1], "\n")

    rows = ["| input | error | message |", "|---|---|---|"]
    for label, kwargs, words in bad_inputs(tmp / "bad"):
        prompt = kwargs.pop("prompt")
        try:
            GenerationRequest(prompt, **kwargs).prepare_references()
            rows.append(f"| {label} | (accepted) | |")
            ok = False
        except InvalidRequestError as exc:
            ok &= words in str(exc)
            message = str(exc).replace(str(tmp / "bad") + "/", "").replace("|", "\\|")
            rows.append(f"| {label} | `{type(exc).__name__}` | {message[:220]} |")
    sections.append("## Every bad input\n\nEach is refused before anything is sent, at every entry "
                    "point (`generate`, its async twin, a session turn, `generate_many`, a batch, "
                    "the CLI), with a typed error that says what was wrong and what is allowed. "
                    "A negative spend cap is refused the same way (`max_cost must be a finite USD amount of "
                    "0 or more`).\n\n" + "\n".join(rows))  # fmt: skip
    print(sections[-1], "\n")

    load = emulator_load(clients=64, total=2000)
    ok &= not load["errors"] and not load["cross_talk"]
    rss = load["rss_mb"]
    sections.append(f"## Emulator under load\n\n64 concurrent clients, 2,000 requests (1K and 2K): "
                    f"{len(load['errors'])} errors, {len(load['cross_talk'])} answers that did not "
                    f"match their request, {load['seconds']:.0f} s; resident memory of the process "
                    f"sampled through the run: {', '.join(map(str, rss))} MB.")  # fmt: skip
    print(sections[-1], "\n")

    DOC.write_text("# Reliability\n\nRegenerated by `nox -s faults`; the normal test suite runs a "
                   "fast slice of each check (tests/hardening).\n\n" + "\n\n".join(sections) + "\n")  # fmt: skip
    print(f"{'all checks passed' if ok else 'SOME CHECKS FAILED'}; wrote {DOC}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
