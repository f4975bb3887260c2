"""docs/mcp.md's host configurations have the JSON shape each host documents."""

from __future__ import annotations

import json
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"
_BLOCK = re.compile(r"<!-- host: (?P<host>[\w-]+) -->\n.*?```json\n(?P<json>.*?)```", re.S)


def _configs() -> dict[str, dict]:
    return {m["host"]: json.loads(m["json"]) for m in _BLOCK.finditer(PAGE.read_text())}


def _stdio_server(entry: dict) -> None:
    assert isinstance(entry["command"], str) and entry["command"] == "nanobanana"
    assert isinstance(entry["args"], list) and entry["args"][0] == "mcp"
    assert all(isinstance(a, str) for a in entry["args"])
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in entry.get("env", {}).items())


def test_every_host_has_a_config() -> None:
    assert set(_configs()) == {"claude-desktop", "claude-code", "gemini-cli", "vscode"}


def test_claude_and_gemini_use_mcp_servers() -> None:
    configs = _configs()
    for host in ("claude-desktop", "claude-code", "gemini-cli"):
        assert set(configs[host]) == {"mcpServers"}, host
        _stdio_server(configs[host]["mcpServers"]["nanobanana"])
    assert configs["claude-code"]["mcpServers"]["nanobanana"]["type"] == "stdio"
    assert isinstance(configs["gemini-cli"]["mcpServers"]["nanobanana"]["timeout"], int)


def test_vscode_uses_servers_with_a_type() -> None:
    config = _configs()["vscode"]
    assert set(config) <= {"servers", "inputs"}
    server = config["servers"]["nanobanana"]
    assert server["type"] == "stdio"
    _stdio_server(server)
    for item in config["inputs"]:
        assert {"type", "id", "description"} <= set(item)
