"""Streamable HTTP on localhost with a bearer token, on the embedded emulator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
from mcp.client.streamable_http import streamable_http_client

from mcp import Client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_http_with_a_token(out: Path) -> None:
    port = _free_port()
    env = {**os.environ, "NANOBANANA_MCP_TOKEN": "s3cret"}
    cmd = [
        sys.executable,
        "-m",
        "nanobanana",
        "mcp",
        "--emulator",
        "--http",
        str(port),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        with anyio.fail_after(60):
            while True:
                try:
                    async with httpx2.AsyncClient() as probe:
                        refused = await probe.post(url, json={})
                    break
                except httpx2.TransportError:
                    await anyio.sleep(0.1)
        assert refused.status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport) as client:
                result = await client.call_tool("generate_image", {"prompt": "a fox over http"})
                assert not result.is_error, result.content
                assert Path(result.structured_content["images"][0]["path"]).is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr is not None:
            proc.stderr.close()
