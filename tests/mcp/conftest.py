"""The MCP server as an agent meets it: a subprocess over stdio, driven by the SDK's client."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters


def server_params(url: str | None, out: Path, *flags: str) -> StdioServerParameters:
    """``python -m nanobanana mcp`` on the emulator at ``url`` (or the embedded one)."""
    where = ["--base-url", url] if url else ["--emulator"]
    env = {**os.environ, "GEMINI_API_KEY": "test"}
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "nanobanana", "mcp", *where, "--out", str(out), *flags],
        env=env,
    )


@contextlib.asynccontextmanager
async def connect(url: str | None, out: Path, *flags: str, **client: Any) -> AsyncIterator[Client]:
    async with Client(server_params(url, out, *flags), **client) as session:
        yield session


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"
