"""Running the server: stdio or streamable HTTP with an optional bearer token, real or offline."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import InvalidRequestError, MissingAPIKeyError

__all__ = ["TOKEN_ENV", "Options", "serve"]

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


def serve(options: Options) -> int:
    """Runs the server until its transport ends (stdin closes, or Ctrl-C)."""
    token = options.token or os.environ.get(TOKEN_ENV) or None
    if options.http is None and token:
        raise InvalidRequestError("--token guards the HTTP transport: add --http PORT")
    asyncio.run(_main(options, token))
    return 0


@contextlib.asynccontextmanager
async def _service(options: Options) -> AsyncIterator[Any]:
    from .. import AsyncNanoBanana, RetryPolicy
    from .._auth import API_KEY_ENV_VARS
    from .service import Service, data_dir

    retry = RetryPolicy(max_attempts=options.max_attempts) if options.max_attempts else None
    kwargs: dict[str, Any] = {"retry": retry} if retry else {}
    if options.model:
        kwargs["model"] = options.model
    emulator = None
    if options.emulator:
        from ..testing import FakeGemini

        emulator = FakeGemini(batch_pending=0, batch_running=0).start()
        client = AsyncNanoBanana(api_key="emulator", base_url=emulator.url, **kwargs)
    elif options.base_url:
        client = AsyncNanoBanana(base_url=options.base_url, **kwargs)
    else:
        if not any(os.environ.get(v) for v in API_KEY_ENV_VARS):
            raise MissingAPIKeyError(
                "no API key: set GEMINI_API_KEY in the server's environment (the host's "
                "config has an env block for it), or add --emulator to run offline"
            )
        client = AsyncNanoBanana(**kwargs)
    service = Service(
        client,
        options.out or data_dir(),
        max_cost=options.max_cost,
        allow_dirs=options.allow_dirs,
        progress_interval=options.progress_every,
        rpm=options.rpm,
        ipm=options.ipm,
    )
    try:
        yield service
    finally:
        await service.close()
        if emulator is not None:
            emulator.stop()


async def _main(options: Options, token: str | None) -> None:
    from .server import build_server

    async with _service(options) as service:
        server = build_server(service)
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
