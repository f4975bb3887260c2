"""``emulator``: serve the Gemini API emulator on loopback.

Kept apart on purpose: its flags and runner move to ``nanobanana.testing._cli``
(``add_arguments(parser)``, ``run(args) -> int``); this module is what they replace.
"""

from __future__ import annotations

import argparse

from ._console import Console

__all__ = ["emulator"]


def emulator(args: argparse.Namespace, console: Console) -> int:
    from ..testing import FakeGemini

    server = FakeGemini(host=args.host, port=args.port)
    print(f"Gemini API emulator on {server.url} (Ctrl-C to stop)", flush=True)
    print(f"  export GOOGLE_GEMINI_BASE_URL={server.url}  # then any google-genai code uses it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
