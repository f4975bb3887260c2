"""The command-line parser, apart from the commands it runs.

Only ``argparse``, ``os`` and ``sys`` are imported here: ``nanobanana --help`` builds this and
nothing else. Each command names the module and function that runs it; `main` imports that
module only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

__all__ = ["COMMANDS", "EDIT_COMMANDS", "build_parser"]

#: The local commands of ``edit``: typed on their own line, never sent to the model.
EDIT_COMMANDS = (
    (":help", "list these commands"),
    (":undo", "drop the last turn; the next instruction continues from the one before"),
    (":save [FILE]", "save the session (default: the --session file, else OUT/session.json)"),
    (":quit", "end the session (also :q, or end of input)"),
)

_EXIT_CODES = (
    "Exit codes: 0 done, 1 unexpected error, 2 invalid input or no key (nothing sent), "
    "3 API or connection error, 4 safety block, 5 no image, 6 a run finished with failures, "
    "130 interrupted."
)


def _columns() -> int:
    """The terminal width as `shutil.get_terminal_size` finds it, without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap (what argparse asks `textwrap` for, without its import)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


class _Formatter(argparse.HelpFormatter):
    """argparse's own formatter, minus the imports of shutil and textwrap."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _columns() - 2)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # Lines that start indented are a table: kept as they are; the rest is wrapped.
        lines = []
        for paragraph in text.splitlines():
            kept = paragraph.startswith("  ")
            lines += [paragraph] if kept else _wrap(paragraph, width - len(indent))
        return "\n".join(indent + line for line in lines)


def _args_generate(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", help="what to draw, described in sentences")


def _args_sheet(p: argparse.ArgumentParser) -> None:
    p.add_argument("character", help='who the sheet is of, e.g. "a small robot gardener"')
    p.add_argument(
        "--feature",
        action="append",
        default=[],
        help="a distinctive feature every view keeps (repeatable)",
    )
    p.add_argument(
        "--view",
        action="append",
        default=[],
        help="one view, one image (repeatable; default: 3 views)",
    )
    p.add_argument("--art-style", help='drawing style (default: "clean digital illustration")')


def _args_edit(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="?", help="an image to start from")
    p.add_argument(
        "--session",
        metavar="FILE",
        help="resume from, and save to, this session file (also on Ctrl-C)",
    )
    p.add_argument("--aspect", metavar="RATIO", help="aspect ratio of the results")
    p.add_argument("--size", help="1K, 2K or 4K")
    p.add_argument(
        "-o",
        "--out",
        default=".",
        metavar="DIR",
        help="folder for the images and their manifest (default: .)",
    )
    p.epilog = "\n".join(
        [
            "Local commands, each on its own line (never sent to the model):",
            *(f"  {name:<14}{what}" for name, what in EDIT_COMMANDS),
            "Piped input stops at the first failed turn, with its exit code.",
        ]
    )


def _args_pipeline(p: argparse.ArgumentParser) -> None:
    p.add_argument("requests", help="JSONL: one prompt string or request object per line")
    p.add_argument("-o", "--out", required=True, metavar="DIR|URL",
                   help="a folder, or a gs://, s3://, memory:// URL")  # fmt: skip
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="a cap on the spend under --out, never exceeded")  # fmt: skip
    p.epilog = (
        "Needs nanobanana-sdk[beam]. Items recorded under --out are skipped: a re-run pays "
        "nothing twice. On Dataflow, use GenerateImages in a pipeline: docs/scale.md."
    )


def _args_batch(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "requests", help='JSONL: one prompt string or {"prompt": ..., "aspect_ratio": ...} per line'
    )
    p.add_argument(
        "-o", "--out", required=True, metavar="DIR|URL",
        help="folder or URL (gs://, s3://, ...) for images and the manifest (or records)",
    )  # fmt: skip
    p.add_argument(
        "--concurrency",
        type=int,
        help="requests in flight at most (default: as many as the quota can serve)",
    )
    p.add_argument("--rpm", type=int, help="your requests-per-minute quota")
    p.add_argument("--ipm", type=int, help="your images-per-minute quota")
    p.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="stop starting requests past this estimated spend",
    )
    p.add_argument(
        "--batch-api", action="store_true", help="use the Gemini Batch API (half price, slower)"
    )
    p.add_argument(
        "--tier",
        type=int,
        choices=(1, 2, 3),
        default=1,
        help="your project's usage tier: sizes --batch-api shards to its limits (default: 1)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check every request and estimate the cost; send nothing",
    )
    p.add_argument("--gallery", action="store_true", help="write an HTML contact sheet when done")
    p.epilog = (
        "Ctrl-C once: no new request starts and the answers in flight (already paid for) are "
        "saved; twice: abort. A re-run continues where the manifest left off."
    )


def _args_gallery(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="a folder with a manifest.jsonl")
    p.add_argument(
        "--output", metavar="FILE", help="where to write it (default: FOLDER/index.html)"
    )
    p.set_defaults(json=False, quiet=True)


def _args_models(p: argparse.ArgumentParser) -> None:
    p.set_defaults(quiet=True)


def _args_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", default="out", help="folder to write images to (default: out)")
    p.set_defaults(json=False, model=None, emulator=True, verbose=False)


def _args_emulator(p: argparse.ArgumentParser) -> None:
    from ..testing._cli import add_arguments

    add_arguments(p)
    p.set_defaults(json=False, quiet=True)


def _args_mcp(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR",
                   help="folder for every image, the manifest and the sessions "
                   "(default: a per-user data folder)")  # fmt: skip
    p.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                   help="a folder references may be read from (repeatable; besides MCP roots "
                   "and the images the server made)")  # fmt: skip
    p.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="the server's budget for its lifetime; a call over it is refused",
    )
    p.add_argument("--model", help="default model id (default: gemini-3-pro-image)")
    p.add_argument(
        "--http", type=int, metavar="PORT", help="serve streamable HTTP on PORT instead of stdio"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the HTTP address to bind (default: 127.0.0.1, this machine only)",
    )
    p.add_argument("--token", help="bearer token HTTP clients must send (or set "
                   "NANOBANANA_MCP_TOKEN)")  # fmt: skip
    p.add_argument(
        "--emulator",
        action="store_true",
        help="run offline on the embedded emulator (no key, no cost)",
    )
    p.add_argument("--base-url", metavar="URL", help="another API endpoint (a proxy, an emulator)")
    p.add_argument("--max-attempts", type=int, metavar="N", help="tries per call (default 5)")
    p.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="progress notifications during a long call (default: every 5 s)",
    )
    p.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                   help="how long a call waits for another writer of --out (a run, another "
                        "server) before it is refused (default: 60)")  # fmt: skip
    p.add_argument("--rpm", type=int, help="your requests-per-minute quota (calls are paced)")
    p.add_argument("--ipm", type=int, help="your images-per-minute quota")
    p.set_defaults(json=False, quiet=True, verbose=False)


_AddArguments = Callable[[argparse.ArgumentParser], None]

#: name, help, shared option groups, its own options, "module:function" that runs it.
COMMANDS: tuple[tuple[str, str, tuple[str, ...], _AddArguments, str], ...] = (
    (
        "generate",
        "generate an image from a prompt",
        ("common", "image"),
        _args_generate,
        "_single:generate",
    ),
    (
        "sheet",
        "a character sheet: several consistent views",
        ("common", "image"),
        _args_sheet,
        "_single:sheet",
    ),
    (
        "edit",
        "edit in turns: one instruction per line on stdin",
        ("common",),
        _args_edit,
        "_edit:edit",
    ),
    ("batch", "run a JSONL file of requests (resumable)", ("common",), _args_batch, "_batch:batch"),
    (
        "pipeline",
        "run a JSONL file on Apache Beam (DirectRunner)",
        ("common",),
        _args_pipeline,
        "_pipeline:pipeline",
    ),
    ("gallery", "write an HTML contact sheet of a run folder", (), _args_gallery, "_misc:gallery"),
    (
        "demo",
        "generate sample images offline, on the embedded emulator",
        (),
        _args_demo,
        "_misc:demo",
    ),
    (
        "models",
        "list the models your key can use, with prices",
        ("common",),
        _args_models,
        "_misc:models",
    ),
    (
        "emulator",
        "serve the Gemini API emulator on loopback",
        (),
        _args_emulator,
        "_emulator:emulator",
    ),
    (
        "mcp",
        "serve the tools to agents over MCP (Claude, Gemini CLI, VS Code)",
        (),
        _args_mcp,
        "_mcp:mcp",
    ),
)


def _shared_options() -> dict[str, argparse.ArgumentParser]:
    """The option groups several commands share."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    image = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    common.add_argument(
        "--emulator",
        action="store_true",
        help="run offline on the embedded emulator (no key, no cost)",
    )
    common.add_argument("--model", help="model id (default: gemini-3-pro-image)")
    common.add_argument("--json", action="store_true", help="print results as JSON, for scripts")
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress display (it shows only on a terminal anyway)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log each attempt and retry")
    for flag, dest, what in (
        (("-r", "--ref"), "ref", "object reference image (repeatable)"),
        (("--human",), "human", "person to keep consistent (repeatable)"),
        (("--style",), "style", "style reference image (repeatable)"),
    ):
        image.add_argument(*flag, dest=dest, action="append", default=[], metavar="FILE", help=what)
    image.add_argument(
        "--aspect", metavar="RATIO", help="1:1 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 21:9"
    )
    image.add_argument("--size", help="512, 1K, 2K or 4K (any case; which the model has)")
    image.add_argument(
        "--n", type=int, default=1, metavar="N", help="N images of this prompt, each its own file"
    )
    image.add_argument(
        "--search", action="store_true", help="ground the image in Google Search results"
    )
    image.add_argument(
        "--image-search",
        action="store_true",
        help="also search images (Nano Banana 2); implies --search",
    )
    image.add_argument(
        "--thinking", metavar="LEVEL", help="thinking level: minimal or high (Nano Banana 2)"
    )
    image.add_argument("--image-only", action="store_true", help="ask for the image alone, no text")
    image.add_argument(
        "-o",
        "--out",
        default=".",
        metavar="PATH",
        help="a folder (default: .), or an image file name such as out/fox.jpg; "
        "existing files are never overwritten",
    )
    image.add_argument(
        "--keep-thoughts", action="store_true", help="also save the interim thought images"
    )
    image.add_argument(
        "--dry-run",
        action="store_true",
        help="print the validated request and its estimated cost; send nothing",
    )
    image.add_argument(
        "--gallery",
        action="store_true",
        help="write an HTML contact sheet (index.html) of the folder",
    )
    return {"common": common, "image": image}


def build_parser(wanted: str | None = "*") -> argparse.ArgumentParser:
    """The command-line parser.

    Args:
        wanted: Build only this command's options (so ``--help`` stays fast); ``"*"``
            builds every command (the docs do), ``None`` none.
    """
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="nanobanana",
        description="Generate and edit images with Nano Banana Pro (gemini-3-pro-image).",
        epilog=_EXIT_CODES,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"nanobanana {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared: dict[str, argparse.ArgumentParser] = {}
    for name, help_text, parents, add_arguments, runner in COMMANDS:
        if wanted != "*" and name != wanted:
            # Listed in --help; its options not built.
            commands.add_parser(name, help=help_text, formatter_class=_Formatter)
            continue
        shared = shared or _shared_options()
        sub = commands.add_parser(
            name, parents=[shared[k] for k in parents], help=help_text, formatter_class=_Formatter
        )
        add_arguments(sub)
        sub.set_defaults(runner=runner)
    return parser
