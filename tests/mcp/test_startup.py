"""Start-up: what the first initialize and tools/list need, and nothing more; bad flags stop
the server at once with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_CHILD = """
import asyncio, sys
from pathlib import Path
from mcp import Client
from nanobanana.mcp.run import LazyService, Options
from nanobanana.mcp.server import build_server

HEAVY = ("google.genai", "PIL.Image", "nanobanana._client", "nanobanana.testing")

async def main():
    service = LazyService(Options(out=Path(sys.argv[1]), emulator=True))
    async with Client(build_server(service)) as client:
        assert len((await client.list_tools()).tools) == 11
        assert (await client.list_prompts()).prompts
        loaded = [m for m in HEAVY if m in sys.modules]
        assert not loaded, f"loaded before any call: {loaded}"
        made = await client.call_tool("generate_image", {"prompt": "a fox"})
        assert not made.is_error, made.content
        assert all(m in sys.modules for m in HEAVY)
    await service.close()
    print("ok")

asyncio.run(main())
"""


def test_tools_are_listed_before_the_library_loads(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert len(list(tmp_path.glob("*fox*.jpg"))) == 1


@pytest.mark.parametrize(
    ("flags", "env", "says"),
    [
        ([], {"GEMINI_API_KEY": "", "GOOGLE_API_KEY": ""}, "no API key"),
        (["--emulator", "--max-cost", "-1"], {}, "--max-cost must be"),
        (["--emulator", "--token", "t"], {}, "add --http PORT"),
        (["--emulator", "--out", "/proc/no/such"], {}, "cannot make the output folder"),
    ],
)
def test_bad_flags_stop_the_server_at_once(
    flags: list[str], env: dict[str, str], says: str, tmp_path: Path
) -> None:
    if "--out" not in flags:
        flags = [*flags, "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "nanobanana", "mcp", *flags],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
