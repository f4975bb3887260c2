"""The MCP server: ready from a cold start, tool-call overhead, preview size and time."""

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

#: Ours may be this much slower than a bare MCPServer of the same SDK when the machine is too
#: loaded for the absolute target (importing the SDK alone can take over 1 s then).
READY_RATIO = 1.25


async def _ready(args: list[str], call: bool = False) -> float:
    """Seconds from spawn to tools/list answered (``call``: to a first generate_image)."""
    from mcp import Client, StdioServerParameters

    start = time.perf_counter()
    async with Client(StdioServerParameters(command=sys.executable, args=args, env=ENV)) as c:
        await c.list_tools()
        if call:
            await c.call_tool("generate_image", {"prompt": "a fox"})
        return time.perf_counter() - start


def bench_mcp(options: Options) -> list[Row]:
    rounds = options.pick(5, 2)
    out = tempfile.mkdtemp()
    ours_args = ["-m", "nanobanana", "mcp", "--emulator", "--out", out]
    sides = {
        "ours": lambda: asyncio.run(_ready(ours_args)),
        "bare": lambda: asyncio.run(_ready(["-c", _BARE])),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(rounds):  # interleaved: load from elsewhere falls on both sides
        for name in list(sides) if r % 2 == 0 else list(reversed(sides)):
            times[name].append(sides[name]())
    ready, bare = statistics.median(times["ours"]), statistics.median(times["bare"])
    ratio = statistics.median(o / b for o, b in zip(times["ours"], times["bare"], strict=True))
    first = statistics.median(
        asyncio.run(_ready(ours_args, call=True)) for _ in range(options.pick(3, 1))
    )
    overhead, library = asyncio.run(_overhead(options.pick(30, 8)))
    size = _preview_size()
    took, decode = _preview_time(options.pick(7, 3))
    return [
        Row(
            "mcp: ready from cold (tools/list answered)",
            ready,
            bare,
            "s",
            f"< 1 s, or < {READY_RATIO}x bare",
            ready < 1.0 or ratio < READY_RATIO,
            f"reference: a bare MCPServer of the same SDK; ours/bare {ratio:.2f}",
        ),
        Row(
            "mcp: cold start to a first generate_image",
            first,
            ready,
            "s",
            "-",
            None,
            "reference: ready; the library loads after tools/list",
        ),
        Row(
            "mcp: tool call over the library call",
            overhead * 1000,
            library * 1000,
            "ms",
            "< 20 ms",
            overhead < 0.020,
            "generate_image vs generate + save (reference), emulator, in process",
        ),
        Row(
            "mcp: preview of a 4096x4096 image",
            size / 1000,
            100.0,
            "KB",
            "< 100 KB",
            size < 100_000,
        ),
        Row(
            "mcp: preview time of a 4096x4096 JPEG",
            took * 1000,
            decode * 1000,
            "ms",
            "< full decode",
            took < decode,
            "reference: decoding it at full size",
        ),
    ]


async def _overhead(rounds: int) -> tuple[float, float]:
    """Median extra seconds of a generate_image tool call over the library call, and the latter.

    Both sides ask for the same prompt, after a warm-up: the emulator paints each new prompt
    once (about 30 ms) and caches it, which would otherwise land on one side only.
    """
    from mcp import Client
    from nanobanana import AsyncNanoBanana
    from nanobanana._images.generated import save_new
    from nanobanana.mcp.server import build_server
    from nanobanana.mcp.service import Service
    from nanobanana.testing import FakeGemini

    with FakeGemini() as gemini:
        nb = AsyncNanoBanana(api_key="x", base_url=gemini.url)
        service = Service.connect(Path(tempfile.mkdtemp()), api_key="x", base_url=gemini.url)
        plain = Path(tempfile.mkdtemp())
        async with Client(build_server(service)) as client:

            async def tool() -> None:
                await client.call_tool("generate_image", {"prompt": "a fox"})

            async def library() -> None:
                result = await nb.generate("a fox")
                save_new(result.image.data, plain, "fox")

            await tool()
            await library()
            times: dict[str, list[float]] = {"tool": [], "library": []}
            sides = {"tool": tool, "library": library}
            for r in range(rounds):
                for name in list(sides) if r % 2 == 0 else list(reversed(sides)):
                    start = time.perf_counter()
                    await sides[name]()
                    times[name].append(time.perf_counter() - start)
        await service.close()
    diffs = [t - lib for t, lib in zip(times["tool"], times["library"], strict=True)]
    return statistics.median(diffs), statistics.median(times["library"])


def _big_jpeg() -> Path:
    import os

    from PIL import Image

    path = Path(tempfile.mkdtemp()) / "big.jpg"
    Image.frombytes("RGB", (4096, 4096), os.urandom(4096 * 4096 * 3)).save(path, quality=95)
    return path


def _preview_size() -> int:
    from nanobanana.mcp.preview import preview

    return len(preview(_big_jpeg()))


def _preview_time(rounds: int) -> tuple[float, float]:
    from PIL import Image

    from nanobanana.mcp.preview import preview

    path = _big_jpeg()

    def decode() -> None:
        with Image.open(path) as image:
            image.load()

    times: dict[str, list[float]] = {"preview": [], "decode": []}
    sides = {"preview": lambda: preview(path), "decode": decode}
    for r in range(rounds):
        for name in list(sides) if r % 2 == 0 else list(reversed(sides)):
            start = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["preview"]), statistics.median(times["decode"])
