"""The status line, drawn on a fake terminal with a fake clock: no real sleeps."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from nanobanana import GenerationRequest
from nanobanana.cli._console import Console
from nanobanana.cli._interrupt import GracefulInterrupt
from nanobanana.cli._progress import BatchCounter, Live, StatusLine, duration, money
from nanobanana.cli._single import waiting_for


class FakeTTY(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class FakeTime:
    """A clock that moves only when the status thread waits: each wait is one frame."""

    def __init__(self, frames: int) -> None:
        self.now = 1000.0
        self.frames = frames

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        self.frames -= 1
        return self.frames <= 0  # True: stop drawing


def frames_of(stream: FakeTTY) -> list[str]:
    return [f.replace("\x1b[K", "") for f in stream.getvalue().split("\r") if f.strip("\x1b[K")]


def test_spinner_says_what_it_waits_for_from_the_first_frame() -> None:
    err = FakeTTY()
    console = Console(err=err, out=io.StringIO())
    request = GenerationRequest("a red fox", size="2k")
    time = FakeTime(frames=25)
    live = Live(console.status, lambda t: f"{waiting_for(request)} · {duration(t)}",
                clock=time.clock, wait=time.wait, interval=0.5)  # fmt: skip
    with live:
        assert live._thread is not None
        live._thread.join()  # the fake wait ends it after 25 frames
    shown = frames_of(err)
    assert shown[0] == "⠋ waiting for gemini-3-pro-image (2K) · 0s"
    assert shown[2] == "⠹ waiting for gemini-3-pro-image (2K) · 1s"
    assert shown[-1].endswith("· 12s")
    assert err.getvalue().endswith("\r\x1b[K")  # cleared before anything else prints


def test_results_clear_the_line_first() -> None:
    err, out = FakeTTY(), io.StringIO()
    console = Console(err=err, out=out)
    assert console.status is not None
    console.status.show("⠋ waiting")
    console.say("fox.jpg")
    assert err.getvalue() == "\r⠋ waiting\x1b[K\r\x1b[K" and out.getvalue() == "fox.jpg\n"


def test_piped_or_quiet_shows_no_progress_at_all() -> None:
    for console in (Console(err=io.StringIO()), Console(err=FakeTTY(), quiet=True)):
        assert console.status is None
        time = FakeTime(frames=3)
        with Live(console.status, lambda t: "never", clock=time.clock, wait=time.wait) as live:
            assert live._thread is None
        assert console.err.getvalue() == ""  # type: ignore[attr-defined]


def test_an_ascii_terminal_gets_ascii_frames() -> None:
    stream = FakeTTY()
    stream.encoding = "ascii"  # type: ignore[misc]
    assert StatusLine(stream).frames == "|/-\\"


def test_the_line_never_wraps() -> None:
    err = FakeTTY()
    StatusLine(err).show("x" * 500)  # a StringIO has no terminal size: 80 columns
    assert len(err.getvalue().replace("\x1b[K", "").strip("\r")) == 79


def test_retries_show_as_a_note() -> None:
    time = FakeTime(frames=1)
    live = Live(StatusLine(FakeTTY()), lambda t: "waiting", clock=time.clock, wait=time.wait)
    with live.notes_from_retries():
        logging.getLogger("nanobanana").info(
            "attempt %d of %d failed (%s); retrying in %.1fs",
            1, 5, "RateLimitError: 429 quota", 12.0,
        )  # fmt: skip
    assert live._retry_note() == "RateLimitError: retry 1 of 4 in 12s"
    time.now += 11.5
    assert live._retry_note() == "RateLimitError: retry 1 of 4 in 1s"
    time.now += 1
    assert live._retry_note() == "retry 1 of 4 (after RateLimitError)"
    assert logging.getLogger("nanobanana").level == logging.NOTSET  # restored


def test_batch_counter_shows_0_of_n_then_counts_cost_and_eta(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"key": "old", "status": "ok", "cost": 9.0}) + "\n")
    counter = BatchCounter(manifest, total=40, before=1)
    assert counter.render(0.4) == "1/40 · $0.000 · 0s"  # the earlier run's cost is not this run's
    with manifest.open("a") as f:
        f.write(json.dumps({"key": "a", "status": "ok", "cost": 0.134}) + "\n")
        f.write(json.dumps({"key": "b", "status": "failed", "cost": 0.002}) + "\n")
        f.write('{"key": "c", "sta')  # a line still being written
    assert counter.render(20.0) == "3/40 · 1 failed · $0.136 · 20s · ETA 6m10s"
    with manifest.open("a") as f:
        f.write('tus": "ok", "cost": 0.134}\n')
    assert counter.render(30.0).startswith("4/40 · 1 failed · $0.270")


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (59, "59s"), (65, "1m05s"),
                                               (7380, "2h03m")])  # fmt: skip
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_one_rounding_for_every_amount() -> None:
    assert money(0.2449) == "$0.245" and money(None) == "$0.000"


def test_first_ctrl_c_winds_down_second_aborts() -> None:
    calls = []
    interrupt = GracefulInterrupt(lambda: calls.append("first"))
    interrupt.handle(2, None)
    assert interrupt.stop.is_set() and calls == ["first"]
    with pytest.raises(KeyboardInterrupt):
        interrupt.handle(2, None)
    assert calls == ["first"]


def test_warnings_are_one_clean_line() -> None:
    import warnings

    err = io.StringIO()
    console = Console(err=err)
    with console.installed():
        # As the library's own warnings are attributed (even where -W error is the rule).
        warnings.warn_explicit("model x is retired; using y", DeprecationWarning,
                               "_registry.py", 1, module="nanobanana._models.registry")  # fmt: skip
    assert err.getvalue() == "warning: model x is retired; using y (DeprecationWarning)\n"


def test_verbose_logs_without_afc_chatter() -> None:
    err = io.StringIO()
    with Console(err=err, verbose=True).installed():
        logging.getLogger("google_genai.models").info("AFC is enabled with max remote calls: 10.")
        logging.getLogger("nanobanana").info("attempt 1 of 5 failed")
    assert err.getvalue() == "INFO nanobanana: attempt 1 of 5 failed\n"
