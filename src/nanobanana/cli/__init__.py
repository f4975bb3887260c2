"""The ``nanobanana`` command.

Imports stay inside the commands: ``nanobanana --help`` loads neither google-genai, Pillow
nor pydantic, and not even ``json`` or ``shutil``. Every command that calls the API takes
``--emulator`` to run offline on the embedded emulator.

Layout: `_parser` (the parser, nothing else), `_console` (where output goes: results,
warnings, logging), `_progress` (the live status line), `_files` (output names, never
clobbering), `_record` (the run manifest), `_connect` (the client), and one module per
command family (`_single`, `_edit`, `_batch`, `_misc`, `_emulator`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._parser import COMMANDS, build_parser

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_API, EXIT_BLOCKED, EXIT_NO_IMAGE, EXIT_PARTIAL = range(7)
EXIT_INTERRUPTED = 130


def exit_code(exc: BaseException) -> int:
    """The exit code for an error (see the epilog of ``--help``)."""
    from .._errors import (
        APIConnectionError,
        APIError,
        InvalidRequestError,
        NoImageError,
        SafetyBlockedError,
    )

    for cls, code in ((InvalidRequestError, EXIT_USAGE), (SafetyBlockedError, EXIT_BLOCKED),
                      (NoImageError, EXIT_NO_IMAGE), (APIError, EXIT_API),
                      (APIConnectionError, EXIT_API)):  # fmt: skip
        if isinstance(exc, cls):
            return code
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = next((a for a in argv if a in {c[0] for c in COMMANDS}), None)
    args = build_parser(wanted).parse_args(argv)
    from ._console import Console

    console = Console.for_args(args)
    module_name, _, function = args.runner.partition(":")
    module = __import__(f"{__name__}.{module_name}", fromlist=[function])
    with console.installed():
        try:
            code: int = getattr(module, function)(args, console)
        except KeyboardInterrupt:
            console.note("interrupted")
            return EXIT_INTERRUPTED
        except Exception as exc:
            from .._errors import NanoBananaError

            if not isinstance(exc, NanoBananaError):
                raise
            code = exit_code(exc)
            console.error(exc, code)
    return code
