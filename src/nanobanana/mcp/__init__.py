"""``nanobanana mcp``: an MCP server on the library's client, sessions, runs and manifest.

Install with ``pip install "nanobanana-sdk[mcp]"`` and run ``nanobanana mcp`` (stdio) or
``nanobanana mcp --http 8765``; see docs/mcp.md. The library never imports this package.

Layout: `service` (the library calls, money, files and sessions), `server` (the MCP tools,
resources and results), `prompts` (templates as MCP prompts), `preview` (small previews),
`schemas` (typed tool outputs), `run` (transports, the token, the emulator).
"""

__all__: list[str] = []
