"""Where the CLI's output goes.

Results go to stdout (text, or JSON with ``--json``); notes, warnings, errors and the live
status line to stderr. The status line shows only on a terminal and never with ``--quiet``;
anything else printed clears it first, so a line is never drawn over.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import IO, Any

from ._progress import StatusLine, money

__all__ = ["Console", "money"]


class Console:
    """The CLI's output: results, notes, warnings, errors and the status line."""

    def __init__(
        self,
        *,
        json: bool = False,
        quiet: bool = False,
        verbose: bool = False,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.json, self.verbose = json, verbose
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        live = not quiet and _isatty(self.err)
        #: The status line, or None when progress is not shown (piped, or --quiet).
        self.status: StatusLine | None = StatusLine(self.err) if live else None

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Console:
        return cls(
            json=getattr(args, "json", False),
            quiet=getattr(args, "quiet", False),
            verbose=getattr(args, "verbose", False),
        )

    def _write(self, stream: IO[str], text: str) -> None:
        if self.status is not None:
            self.status.write_above(text, stream)
        else:
            stream.write(text + "\n")
            stream.flush()

    def emit(self, data: dict[str, Any], text: str, *, one_line: bool = False) -> None:
        """A command's result: ``data`` as JSON with ``--json``, else ``text``.

        ``one_line``: one of a stream of results (JSON Lines), not the command's only one.
        """
        if self.json:
            import json

            text = json.dumps(data, indent=None if one_line else 2, ensure_ascii=False)
        self._write(self.out, text)

    def say(self, text: str) -> None:
        """A line of a command's text output (nothing with ``--json``)."""
        if not self.json:
            self._write(self.out, text)

    def note(self, text: str) -> None:
        """Something the user should know, on stderr (also with ``--json``)."""
        self._write(self.err, text)

    def error(self, exc: BaseException, code: int) -> None:
        if self.json:
            self.emit({"error": {"type": type(exc).__name__, "message": str(exc),
                                 "exit_code": code}}, "")  # fmt: skip
        else:
            self.note(f"error: {exc}")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Warnings as one clean line each; with ``-v``, logs through this console."""
        handler = _ConsoleHandler(self) if self.verbose else None
        root = logging.getLogger()
        with warnings.catch_warnings():
            # Our own warnings (a retired model id, missing images) always show; the default
            # filters hide DeprecationWarning unless it is attributed to __main__.
            warnings.filterwarnings("default", module=r"nanobanana(\.|$)")
            warnings.showwarning = self._show_warning
            if handler is not None:
                root.addHandler(handler)
                old_level, root.level = root.level, logging.INFO
            try:
                yield
            finally:
                if handler is not None:
                    root.removeHandler(handler)
                    root.setLevel(old_level)

    def _show_warning(self, message: Warning | str, category: type[Warning], *_: Any,
                      **__: Any) -> None:  # fmt: skip
        # Not warnings' own format: that prints the source line (``sys.exit(main())``).
        self.note(f"warning: {message} ({category.__name__})")


class _ConsoleHandler(logging.Handler):
    """``-v``: log records on stderr, one per line, minus google-genai's AFC chatter."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        # "AFC is enabled with max remote calls: 10." means nothing to an image user.
        return not (record.name.startswith("google_genai") and str(record.msg).startswith("AFC "))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.note(self.format(record))
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
