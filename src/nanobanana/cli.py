"""The ``nanobanana`` command.

Imports stay inside the commands: ``nanobanana --help`` loads neither google-genai, Pillow
nor pydantic.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

DEMO_JOBS = (
    ("fox", "A red fox curled up asleep in fresh snow at dawn, soft golden light", "16:9", "2K"),
    (
        "sheet",
        "A character sheet with three views of a small robot gardener: a full-body three-quarter "
        "view, a close-up portrait, and an expression sheet, in one consistent style",
        "3:2",
        "1K",
    ),
    ("poster", "A minimalist travel poster of a banana-shaped island", "9:16", "1K"),
)


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import NanoBanana
    from .testing import FakeGemini

    out = Path(args.out)
    with FakeGemini() as server, NanoBanana(api_key="emulator", base_url=server.url) as nb:
        print(f"Emulator on {server.url} (offline: no key, no network, no cost)")
        total = 0.0
        for name, prompt, ratio, size in DEMO_JOBS:
            result = nb.generate(prompt, aspect_ratio=ratio, size=size, include_thoughts=True)
            for k, image in enumerate(result.images, 1):
                suffix = f"-{k}" if len(result.images) > 1 else ""
                path = image.save(out / f"{name}{suffix}", metadata=True)
                print(f"  {path}  {image.width}x{image.height}  {len(image.data) / 1e3:.0f} kB")
            total += result.cost or 0.0
        print(f"Done. The same calls against the real API would cost about ${total:.2f}.")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from .testing import FakeGemini

    server = FakeGemini(host=args.host, port=args.port)
    print(f"Gemini API emulator on {server.url} (Ctrl-C to stop)", flush=True)
    options = f"http_options={{'base_url': '{server.url}'}}"
    print(f"  point a client at it: genai.Client(api_key='test', {options})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanobanana", description="Generate images with Nano Banana Pro (gemini-3-pro-image)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="generate sample images offline, on the embedded emulator"
    )
    demo.add_argument("-o", "--out", default="out", help="folder to write images to (default: out)")
    demo.set_defaults(run=_demo)
    emulator = commands.add_parser("emulator", help="serve the Gemini API emulator on loopback")
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)"
    )
    emulator.add_argument(
        "--port", type=int, default=8765, help="port (default: 8765; 0 picks one)"
    )
    emulator.set_defaults(run=_emulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
