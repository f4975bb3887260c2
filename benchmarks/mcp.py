"""The MCP server: ready from a cold start, tool-call overhead, preview size."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ._common import ENV, Options, Row

_BARE = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("bare")
@server.tool()
def hello() -> str:
    return "hi"
server.run()
"""


async def _ready(args: list[str]) -> float:
    from mcp import Client, StdioServerParameters

    start = time.perf_counter()
    async with Client(StdioServerParameters(command=sys.executable, args=args, env=ENV)) as c:
        await c.list_tools()
        return time.perf_counter() - start


def bench_mcp(options: Options) -> list[Row]:
    rounds = options.pick(5, 2)
    out = tempfile.mkdtemp()
    ours_args = ["-m", "nanobanana", "mcp", "--emulator", "--out", out]
    ours, bare = [], []
    for _ in range(rounds):
        ours.append(asyncio.run(_ready(ours_args)))
        bare.append(asyncio.run(_ready(["-c", _BARE])))
    ready, ready_bare = statistics.median(ours), statistics.median(bare)
    overhead = asyncio.run(_overhead(options.pick(20, 5)))
    size = _preview_size()
    return [
        Row(
            "mcp: ready from cold (list_tools answered)",
            ready,
            ready_bare,
            "s",
            "< 1 s",
            ready < 1.0,
            "reference: a bare MCPServer of the same SDK",
        ),
        Row(
            "mcp: tool call over the library call",
            overhead * 1000,
            0.0,
            "ms",
            "< 20 ms",
            overhead < 0.020,
            "generate_image vs generate + save, emulator, in process",
        ),
        Row(
            "mcp: preview of a 4096x4096 image",
            size / 1000,
            100.0,
            "KB",
            "< 100 KB",
            size < 100_000,
        ),
    ]


async def _overhead(rounds: int) -> float:
    from mcp import Client
    from nanobanana import AsyncNanoBanana
    from nanobanana._images.generated import save_new
    from nanobanana.mcp.server import build_server
    from nanobanana.mcp.service import Service
    from nanobanana.testing import FakeGemini

    with FakeGemini() as gemini:
        nb = AsyncNanoBanana(api_key="x", base_url=gemini.url)
        service = Service(nb, Path(tempfile.mkdtemp()))
        plain = Path(tempfile.mkdtemp())
        async with Client(build_server(service)) as client:
            diffs = []
            for n in range(rounds):
                t0 = time.perf_counter()
                await client.call_tool("generate_image", {"prompt": f"a fox {n}"})
                t1 = time.perf_counter()
                result = await nb.generate(f"a fox {n}")
                save_new(result.image.data, plain, "fox")
                t2 = time.perf_counter()
                diffs.append((t1 - t0) - (t2 - t1))
        await service.close()
    return statistics.median(diffs)


def _preview_size() -> int:
    import os

    from PIL import Image

    from nanobanana.mcp.preview import preview

    path = Path(tempfile.mkdtemp()) / "big.jpg"
    Image.frombytes("RGB", (4096, 4096), os.urandom(4096 * 4096 * 3)).save(path, quality=95)
    return len(preview(path))
