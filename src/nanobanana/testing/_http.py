"""HTTP for the emulator: one handler that reads safely, routes, records and writes.

It never crashes on a bad request: a body it cannot read is answered 400 or 413 as the API
does; a client that hangs up is one log line, not a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import _wire as wire
from ._faults import Fault
from ._routes import Emulator, Reply, json_reply, route

__all__ = ["RecordedRequest", "make_server"]

log = logging.getLogger("nanobanana.testing")

_REDACTED = "<redacted>"
#: Bodies above this are refused (413) before a byte is read: uploads come in 8 MiB chunks
#: and a generate request is capped at 20 MB anyway.
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it, the API key redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """Parsed JSON, or ``None`` (uploads keep only their size)."""
    size: int
    """Bytes in the request body."""
    at: float
    """The emulator clock when it arrived."""
    status: int = 0
    """The HTTP status answered (0 for a dropped connection)."""

    @property
    def model(self) -> str | None:
        """The model id in the path, for generate and batch calls."""
        m = re.search(r"/models/([^/:]+)", self.path)
        return m.group(1) if m else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nanobanana-emulator"
    sys_version = ""
    # Without this, every reply waits ~40 ms for a delayed ACK (Nagle's algorithm).
    disable_nagle_algorithm = True

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator  # type: ignore[attr-defined, no-any-return]

    def setup(self) -> None:
        self.timeout = self.emulator.idle_timeout  # type: ignore[misc]  # idle connections close
        super().setup()
        self.rfile.close()  # the socket's own file: reads go through the deadline instead
        self._deadline: float | None = None
        self.rfile = io.BufferedReader(_DeadlineSocket(self), 64 * 1024)

    def handle_one_request(self) -> None:
        """Waits (idle) for a request's first byte; then its headers have a deadline."""
        self._deadline = None
        try:
            if not self.rfile.peek(1):  # type: ignore[attr-defined]
                self.close_connection = True
                return
        except (TimeoutError, ConnectionError, OSError):
            self.close_connection = True
            return
        self._deadline = time.monotonic() + self.emulator.header_timeout
        super().handle_one_request()

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError) as exc:
            log.info("client %s hung up: %s", self.client_address[0], type(exc).__name__)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        """The body, within the server's budget of body bytes held at once."""
        text = self.headers.get("content-length")
        length = int(text) if text and text.isdigit() else 0
        with self.server.bodies.hold(min(length, MAX_BODY_BYTES)):  # type: ignore[attr-defined]
            return self._read_body_checked()

    def _read_body_checked(self) -> bytes:
        """Reads the body after checking its declared length; raises `ApiError` first."""
        text = self.headers.get("content-length")
        if text is None:
            if self.headers.get("transfer-encoding"):
                self.close_connection = True
                raise wire.ApiError(411, "LENGTH_REQUIRED", "Content-Length is required.")
            return b""
        try:
            length = int(text)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise wire.invalid_argument(f"Invalid Content-Length: {text!r}.")
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread: this connection is done
            raise wire.ApiError(
                413, "PAYLOAD_TOO_LARGE",
                f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes.",
            )  # fmt: skip
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        em = self.emulator
        arrived = em.clock()
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        headers = {
            k: (_REDACTED if k.lower() in ("x-goog-api-key", "authorization") else v)
            for k, v in self.headers.items()
        }
        lower = {k.lower(): v for k, v in self.headers.items()}
        self._deadline = None  # the headers are in: the body has the idle timeout per read
        self.server.slots.acquire()  # type: ignore[attr-defined]
        try:
            self._serve(em, arrived, split, query, headers, lower)
        finally:
            self.server.slots.release()  # type: ignore[attr-defined]

    def _serve(
        self, em: Emulator, arrived: float, split: Any, query: dict[str, str],
        headers: dict[str, str], lower: dict[str, str],
    ) -> None:  # fmt: skip
        raw = b""
        body: Any = None
        try:
            raw = self._read_body()
            if raw and "upload_id" not in query:
                body = _parse_json(raw)
            reply = route(em, self.command, split.path, query, lower, raw, body, arrived)
        except wire.ApiError as exc:
            reply = json_reply(exc.code, exc.body())
        except Exception:  # a bug in the emulator: answer 500, log it, keep serving
            log.exception("emulator error on %s %s", self.command, split.path)
            reply = json_reply(
                500, wire.ApiError(500, "INTERNAL", "An internal error has occurred.").body()
            )
        dropped = reply.fault is not None and reply.fault.kind == "drop"
        # Recorded before answering, so a client that has its answer sees the record.
        em._recording(
            RecordedRequest(
                self.command,
                split.path,
                {k: (_REDACTED if k == "key" else v) for k, v in query.items()},
                headers,
                body,
                len(raw),
                arrived,
                0 if dropped else reply.code,
            )
        )
        try:
            self._write(reply)
        except (ConnectionError, TimeoutError) as exc:
            self.close_connection = True
            log.info("client %s hung up: %s", self.client_address[0], type(exc).__name__)

    # -- writing -------------------------------------------------------------------------------

    def _write(self, reply: Reply) -> None:
        fault = reply.fault
        if fault is not None and fault.kind == "drop":
            self._drop()
            return
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.content_type)
        if reply.chunks is None:
            self.send_header("Content-Length", str(len(reply.data)))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        truncate = fault is not None and fault.kind == "truncate"
        if reply.chunks is None:
            if truncate:
                self.wfile.write(reply.data[: int(len(reply.data) * fault.params["fraction"])])  # type: ignore[union-attr]
                self.wfile.flush()
                self._drop()
            else:
                self.wfile.write(reply.data)
            return
        self._write_chunks(reply.chunks, fault, reply.waits)

    def _write_chunks(
        self, chunks: list[bytes], fault: Fault | None, waits: list[float] | None = None
    ) -> None:
        cut = None
        if fault is not None and fault.kind == "truncate":  # this chunk is cut in half
            cut = min(len(chunks) - 1, int(len(chunks) * fault.params["fraction"]))
        for i, chunk in enumerate(chunks):
            if waits and i < len(waits) and waits[i] > 0:
                self.emulator.sleep(waits[i])
            if i == cut:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk[: len(chunk) // 2])
                self.wfile.flush()
                self._drop()
                return
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        if fault is not None and fault.kind == "stream_error":
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise wire.invalid_argument(
            "Invalid JSON payload received. Nesting is too deep (the limit is 100 levels)."
        ) from None
    except UnicodeDecodeError:
        raise wire.invalid_argument("Invalid JSON payload received. Invalid UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise wire.invalid_argument(
            f"Invalid JSON payload received. {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None


class _DeadlineSocket(io.RawIOBase):
    """The handler's socket as a raw stream whose reads keep the header deadline."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        handler = self.handler
        deadline = handler._deadline
        if deadline is None:
            handler.connection.settimeout(handler.timeout)
        else:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request headers took too long")
            handler.connection.settimeout(left)
        return int(handler.connection.recv_into(buffer))


class _BodyBudget:
    """Bytes of request bodies held at once; a body that does not fit waits its turn."""

    def __init__(self, limit: int) -> None:
        self.limit, self.in_use, self.peak = limit, 0, 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, size: int) -> Iterator[None]:
        size = min(size, self.limit)  # one body larger than the budget waits to be alone
        with self._cond:
            if not self._cond.wait_for(lambda: self.in_use + size <= self.limit, timeout=300):
                raise wire.ApiError(503, "UNAVAILABLE", "The service is currently unavailable.")
            self.in_use += size
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= size
                self._cond.notify_all()


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of 30 clients overflows it, and the
    # kernel makes the rest retry their SYN a second later. Real APIs take bursts.
    request_queue_size = 256
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], max_threads: int, body_memory: int) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        #: Requests served at once (taken once a request's headers are in).
        self.slots = threading.BoundedSemaphore(max_threads)
        self.bodies = _BodyBudget(body_memory)
        # Connections open at once, most of them idle or sending headers (each a thread).
        self._slots = threading.BoundedSemaphore(max_threads * 16)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # At most 16 x max_threads connections at once; the next waits in the accept loop.
        if not self._slots.acquire(timeout=30):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.warning("connection from %s failed", client_address[0], exc_info=True)


def make_server(
    emulator: Emulator, host: str, port: int, max_threads: int, body_memory: int = 256 << 20
) -> _Server:
    """Binds the listening socket (raises `OSError` if the port is taken)."""
    server = _Server((host, port), max_threads, body_memory)
    server.emulator = emulator  # type: ignore[attr-defined]
    return server
