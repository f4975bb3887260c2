"""Running the server: stdio or streamable HTTP with an optional bearer token, real or offline."""

from __future__ import annotations

import asyncio
import hmac
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._auth import API_KEY_ENV_VARS
from .._errors import InvalidRequestError, MissingAPIKeyError

if TYPE_CHECKING:
    from .service import Service

__all__ = ["TOKEN_ENV", "LazyService", "Options", "data_dir", "serve"]

#: The environment variable that holds the bearer token of the HTTP transport.
TOKEN_ENV = "NANOBANANA_MCP_TOKEN"


@dataclass
class Options:
    """What ``nanobanana mcp`` was asked for (its command-line flags)."""

    out: Path | None = None
    allow_dirs: Sequence[Path] = field(default_factory=tuple)
    max_cost: float | None = None
    model: str | None = None
    http: int | None = None
    host: str = "127.0.0.1"
    token: str | None = None
    emulator: bool = False
    base_url: str | None = None
    max_attempts: int | None = None
    progress_every: float = 5.0
    rpm: int | None = None
    ipm: int | None = None
    wait: float = 60.0
    """Seconds a call waits for another writer of ``out`` before it is refused."""


def serve(options: Options) -> int:
    """Runs the server until its transport ends (stdin closes, or Ctrl-C).

    What can be checked without the library is checked here, before serving: the token, the
    budget, the key, the output folder. The library itself loads after the first
    ``tools/list`` (`LazyService`).
    """
    token = options.token or os.environ.get(TOKEN_ENV) or None
    if options.http is None and token:
        raise InvalidRequestError("--token guards the HTTP transport: add --http PORT")
    if options.max_cost is not None and (
        not math.isfinite(options.max_cost) or options.max_cost < 0
    ):
        raise InvalidRequestError(
            f"--max-cost must be a USD amount of 0 or more, got {options.max_cost}"
        )
    if not math.isfinite(options.wait) or options.wait < 0:
        raise InvalidRequestError(
            f"--wait must be seconds, 0 or more (0: refuse at once when --out is busy), "
            f"got {options.wait}"
        )
    if not options.emulator and not any(os.environ.get(v) for v in API_KEY_ENV_VARS):
        raise MissingAPIKeyError(
            "no API key: set GEMINI_API_KEY in the server's environment (the host's "
            "config has an env block for it), or add --emulator to run offline"
        )
    options.out = (options.out or data_dir()).expanduser().resolve()
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequestError(
            f"--out {options.out}: cannot make the output folder ({exc.strerror}); give a "
            "folder you can write"
        ) from None
    asyncio.run(_main(options, token))
    return 0


def data_dir() -> Path:
    """The per-user data folder for the server's images (``--out`` overrides it)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("nanobanana", appauthor=False)) / "mcp"


class LazyService:
    """The server's `Service`, made in a worker thread on first need.

    Making it loads google-genai, Pillow, the client and (``--emulator``) the emulator: most
    of a cold start. The server answers ``initialize`` and ``tools/list`` without it, then
    `start` begins loading it while the agent thinks; a call that comes first waits for it.
    """

    def __init__(self, options: Options) -> None:
        self.options = options
        self._task: asyncio.Future[Service] | None = None
        self._emulator: Any = None

    def start(self) -> asyncio.Future[Service]:
        """Begins making the service (once); the future gives it."""
        if self._task is None:
            self._task = asyncio.ensure_future(asyncio.to_thread(self._make))
        return self._task

    async def __call__(self) -> Service:
        """The service, once made (shielded: a cancelled call does not stop the load)."""
        return await asyncio.shield(self.start())

    def _make(self) -> Service:
        from .. import RetryPolicy
        from .service import Service

        options = self.options
        assert options.out is not None
        retry = RetryPolicy(max_attempts=options.max_attempts) if options.max_attempts else None
        api_key, base_url = None, options.base_url
        if options.emulator:
            from ..testing import FakeGemini

            self._emulator = FakeGemini(batch_pending=0, batch_running=0).start()
            api_key, base_url = "emulator", self._emulator.url
        return Service.connect(
            options.out,
            api_key=api_key,
            base_url=base_url,
            model=options.model,
            retry=retry,
            max_cost=options.max_cost,
            allow_dirs=options.allow_dirs,
            progress_interval=options.progress_every,
            rpm=options.rpm,
            ipm=options.ipm,
            folder_wait=options.wait,
        )

    async def close(self) -> None:
        """Waits for the paid calls still out, closes the client, stops the emulator."""
        try:
            if self._task is not None:
                try:
                    service = await self._task
                except Exception:  # the load failed: each call has said why
                    return
                await service.close()
        finally:
            if self._emulator is not None:
                self._emulator.stop()


async def _main(options: Options, token: str | None) -> None:
    from .server import build_server

    service = LazyService(options)
    try:
        server = build_server(service, warm=service.start)
        if options.http is None:
            await server.run_stdio_async()
            return
        import uvicorn

        app: Any = server.streamable_http_app(host=options.host)
        if token:
            app = _BearerToken(app, token)
        config = uvicorn.Config(
            app, host=options.host, port=options.http, log_level="warning", lifespan="on"
        )
        await uvicorn.Server(config).serve()
    finally:
        await service.close()


class _BearerToken:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "missing or wrong bearer token"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
