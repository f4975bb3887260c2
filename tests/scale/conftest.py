"""Object-store servers for the scale tests: moto's S3 server and gcp-storage-emulator.

Each runs as its own process on a free local port, started once per session, only when a
test asks for it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent
BUCKET = "nb-runs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(argv: list[str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):  # polling a starting process: no clock to inject
        try:
            httpx.get(url, timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"{argv[0]} did not start")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server, with bucket ``nb-runs``; yields its endpoint."""
    pytest.importorskip("moto")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], url)
    try:
        httpx.put(f"{url}/{BUCKET}", headers={"Authorization": _anon()}).raise_for_status()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _anon() -> str:
    return "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request"


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """obstore's environment pointed at the S3 server; yields a fresh ``s3://`` prefix."""
    from nanobanana._runs import store

    for name, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(store, "_STORES", {})
    return f"s3://{BUCKET}/run-{time.monotonic_ns()}"


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """gcp-storage-emulator with bucket ``nb-runs``; yields its endpoint."""
    pytest.importorskip("gcp_storage_emulator")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "gcp-storage-emulator"), "start", "--port", str(port), "--in-memory",
            "--default-bucket", BUCKET]  # fmt: skip
    proc = _serve(argv, url)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
