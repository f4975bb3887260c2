"""``mcp``: serve the library to agents over the Model Context Protocol (see docs/mcp.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._errors import InvalidRequestError
from ._console import Console

__all__ = ["mcp"]

NO_EXTRA = 'the MCP server needs the official MCP SDK: pip install "nanobanana-sdk[mcp]"'


def mcp(args: argparse.Namespace, console: Console) -> int:
    import importlib.util

    if importlib.util.find_spec("mcp") is None:  # found, not imported: a bad flag fails fast
        raise InvalidRequestError(NO_EXTRA)
    from ..mcp.run import Options, serve

    options = Options(
        out=Path(args.out) if args.out else None,
        allow_dirs=[Path(d) for d in args.allow_dir],
        max_cost=args.max_cost,
        model=args.model,
        http=args.http,
        host=args.host,
        token=args.token,
        emulator=args.emulator,
        base_url=args.base_url,
        max_attempts=args.max_attempts,
        progress_every=args.progress_every,
        rpm=args.rpm,
        ipm=args.ipm,
        wait=args.wait,
    )
    return serve(options)
