"""``emulator``: serve the Gemini API emulator; its flags and runner live with the emulator."""

from __future__ import annotations

import argparse

from ._console import Console

__all__ = ["emulator"]


def emulator(args: argparse.Namespace, console: Console) -> int:
    from ..testing._cli import run

    return run(args)
