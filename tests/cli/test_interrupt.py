"""Ctrl-C during a batch: the CLI's half of winding down (the run's half is the SDK's `stop`)."""

from __future__ import annotations

import argparse
import io
import signal
import threading
from pathlib import Path
from typing import Any

from nanobanana import GenerationRequest, RunReport
from nanobanana.cli._batch import _run
from nanobanana.cli._console import Console
from nanobanana.cli._record import JobView

ARGS = argparse.Namespace(concurrency=2, rpm=None, ipm=None, max_cost=None)


class Stoppable:
    """A client whose generate_many takes the ``stop`` event the SDK's run is getting."""

    def generate_many(self, requests: list[Any], *, out_dir: Path, progress: bool,
                      stop: threading.Event, **options: Any) -> RunReport:  # fmt: skip
        signal.raise_signal(signal.SIGINT)  # the user presses Ctrl-C mid-run
        assert stop.is_set()  # the run is told to start nothing new...
        return RunReport(out_dir, done=1, not_started=len(requests) - 1)  # ...and finishes


def test_first_ctrl_c_lets_the_answers_in_flight_finish(tmp_path: Path) -> None:
    requests = [GenerationRequest(f"a fox {i}") for i in range(3)]
    err = io.StringIO()
    summary = _run(Stoppable(), ARGS, requests, JobView(tmp_path, requests), Console(err=err))
    assert (summary["done_now"], summary["not_started"]) == (1, 2)
    assert "waiting for the answers in flight (already paid for)" in err.getvalue()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
