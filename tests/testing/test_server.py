"""The emulator as a server: it reads safely, bounds what it keeps, and answers fast."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlsplit

import pytest

from nanobanana.testing import FakeGemini
from tests.testing.helpers import GENERATE, call, text_body


def raw_exchange(server: FakeGemini, request: bytes, read: int = 65536) -> bytes:
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(read)


@pytest.mark.parametrize(
    ("length", "status"), [("-5", b"400"), ("abc", b"400"), (str(10**12), b"413")]
)
def test_content_length_is_checked_before_reading(
    fake_gemini: FakeGemini, length: str, status: bytes
) -> None:
    head = (
        f"POST {GENERATE} HTTP/1.1\r\nHost: x\r\nx-goog-api-key: k\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    answer = raw_exchange(fake_gemini, head)  # no body is sent: it must not wait for one
    assert answer.split(b" ")[1] == status


def test_idle_connections_are_closed() -> None:
    with FakeGemini(idle_timeout=0.3) as server:
        url = urlsplit(server.url)
        with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
            start = time.monotonic()
            assert sock.recv(10) == b""  # the server hangs up on a silent client
            assert time.monotonic() - start < 4


def test_record_bounds() -> None:
    for record, kept in ((True, 5), (False, 0), (0, 0), (2, 2)):
        with FakeGemini(record=record) as server:
            for _ in range(5):
                call(server, "/v1beta/models", method="GET")
            assert len(server.requests) == kept, record


def test_a_client_reset_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with FakeGemini(latency=0.3) as server, caplog.at_level(logging.INFO, "nanobanana.testing"):
        url = urlsplit(server.url)
        sock = socket.create_connection((url.hostname, url.port))
        body = b'{"contents": [{"parts": [{"text": "a fox"}]}]}'
        sock.sendall(
            f"POST {GENERATE} HTTP/1.1\r\nHost: x\r\nx-goog-api-key: k\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST while the emulator is still "generating"
        time.sleep(0.6)
        assert call(server, "/v1beta/models", method="GET")[0] == 200
    lines = [r for r in caplog.records if r.name == "nanobanana.testing"]
    assert all(r.exc_info is None for r in lines)
    assert all("\n" not in r.getMessage() for r in lines)


def test_sequential_requests_do_not_stall_on_nagle(fake_gemini: FakeGemini) -> None:
    """With Nagle's algorithm on, each reply waited ~40 ms for a delayed ACK (25 req/s)."""
    import http.client

    url = urlsplit(fake_gemini.url)
    conn = http.client.HTTPConnection(url.hostname, url.port)
    start = time.perf_counter()
    for _ in range(40):
        conn.request("GET", "/v1beta/models", headers={"x-goog-api-key": "k"})
        conn.getresponse().read()
    conn.close()
    assert (time.perf_counter() - start) / 40 < 0.03  # was ~0.04-0.045 per request


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = FakeGemini(host="::1")
    except OSError as exc:
        pytest.skip(f"cannot bind ::1: {exc}")
    with server:
        assert server.url.startswith("http://[::1]:")
        assert call(server, "/v1beta/models", method="GET")[0] == 200


def test_thread_cap_queues_rather_than_refuses() -> None:
    import threading

    with FakeGemini(max_threads=2, latency=0.05) as server:
        statuses: list[int] = []
        workers = [
            threading.Thread(target=lambda: statuses.append(call(server, GENERATE, text_body())[0]))
            for _ in range(6)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert statuses == [200] * 6


def test_a_finished_batch_carries_its_output_once(fake_gemini: FakeGemini) -> None:
    from google import genai
    from google.genai import types

    from nanobanana.testing import ManualClock

    clock = ManualClock()
    with FakeGemini(clock=clock) as server:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url))
        job = client.batches.create(
            model="gemini-3-pro-image",
            src=[{"contents": [{"parts": [{"text": "a fox"}]}]}],
        )
        clock.advance(10)
        status, op = call(server, f"/v1beta/{job.name}", method="GET")
        assert status == 200 and op["done"]
        assert "response" not in op  # google-genai reads metadata.output
        assert len(op["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]) == 1
        done = client.batches.get(name=job.name)
        assert done.dest.inlined_responses[0].response.candidates
