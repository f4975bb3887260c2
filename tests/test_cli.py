"""The console script, run for real in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nanobanana", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_help_lists_the_commands() -> None:
    out = run("--help")
    assert out.returncode == 0
    assert "demo" in out.stdout and "emulator" in out.stdout


def test_demo_writes_real_images(tmp_path: Path) -> None:
    out = run("demo", "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    images = sorted((tmp_path / "out").glob("*.jpg"))
    assert [p.name for p in images] == [
        "fox.jpg",
        "poster.jpg",
        "sheet-1.jpg",
        "sheet-2.jpg",
        "sheet-3.jpg",
    ]
    assert all(p.read_bytes()[:3] == b"\xff\xd8\xff" for p in images)
    meta = json.loads((tmp_path / "out" / "fox.jpg.json").read_text())
    assert (meta["width"], meta["height"]) == (2752, 1536)
    assert "would cost about $" in out.stdout


def test_emulator_command_serves_any_client() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanobanana", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline()).group(0)  # type: ignore[union-attr]
        request = urllib.request.Request(url + "/v1beta/models", headers={"x-goog-api-key": "k"})
        with urllib.request.urlopen(request, timeout=10) as response:
            models = json.loads(response.read())["models"]
        assert "models/gemini-3-pro-image" in [m["name"] for m in models]
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
