"""``nanobanana emulator``: its knobs, its banner, and its one-line errors."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from nanobanana.testing._cli import add_arguments, parse_fault, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_knobs_parse() -> None:
    args = parse("--fault", "429:2", "--fault", "503", "--fault", "stream_error", "--rpm", "5",
                 "--ipm", "7", "--latency", "0.5", "--realistic", "--time-scale", "0.01",
                 "--record", "100")  # fmt: skip
    assert args.fault == [("429", 2), ("503", 1), ("stream_error", 1)]
    assert (args.rpm, args.ipm, args.latency, args.realistic) == (5, 7, 0.5, True)
    assert (args.time_scale, args.record) == (0.01, 100)
    assert parse().record == 0  # the CLI keeps no requests unless asked
    args = parse("--rpm", "60", "--quota-model", "bucket", "--burst", "5")
    assert (args.quota_model, args.burst) == ("bucket", 5)
    assert parse().quota_model == "window"


def test_burst_without_a_bucket_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parse("--rpm", "60", "--burst", "5")) == 2
    assert "--quota-model bucket" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["nope", "429:0", "429:x", "503:-1"])
def test_bad_fault_is_a_clear_error(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_fault(bad)


def test_port_in_use_is_one_line_and_rc_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(parse("--port", str(port))) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot serve on 127.0.0.1:{port}: the port is in use\n"


def test_serves_with_faults_and_says_a_key_is_needed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanobanana", "emulator", "--port", "0", "--fault", "503:2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    try:
        banner = [proc.stdout.readline() for _ in range(4)]
        assert "API key" in "".join(banner)
        url = banner[0].split(" on ")[1].split()[0]
        body = json.dumps({"contents": [{"parts": [{"text": "a fox"}]}]}).encode()
        statuses = []
        for _ in range(3):
            request = urllib.request.Request(
                f"{url}/v1beta/models/gemini-3-pro-image:generateContent", data=body,
                headers={"x-goog-api-key": "any", "content-type": "application/json"},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        assert statuses == [503, 503, 200]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0
