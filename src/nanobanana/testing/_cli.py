r"""``nanobanana emulator``: serve the Gemini API emulator from the command line.

Example:
    $ nanobanana emulator --port 8765 --rpm 10 --fault 429:2 --fault 503 --realistic \\
        --time-scale 0.05
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._faults import Fault

__all__ = ["FAULT_ALIASES", "FAULT_KINDS", "add_arguments", "parse_fault", "run"]

#: ``--fault KIND``: a `Fault` constructor's name, or a short alias for one.
FAULT_KINDS = (
    "rate_limit", "quota_zero", "unavailable", "internal", "deadline_exceeded",
    "deadline_expired", "model_not_found", "invalid_key", "drop", "truncate", "stream_error",
    "safety", "blocked", "no_image",
)  # fmt: skip
FAULT_ALIASES = {
    "429": "rate_limit", "429-zero": "quota_zero", "500": "internal", "503": "unavailable",
    "503-deadline": "deadline_expired", "504": "deadline_exceeded", "404": "model_not_found",
    "bad-key": "invalid_key",
}  # fmt: skip


def _fault(kind: str) -> Fault:
    from ._faults import Fault

    maker: Callable[[], Fault] = getattr(Fault, FAULT_ALIASES.get(kind, kind).replace("-", "_"))
    return maker()


def parse_fault(text: str) -> tuple[str, int]:
    """``"429:2"`` -> ``("429", 2)``; ``"503"`` -> ``("503", 1)`` (argparse type)."""
    kind, _, count_text = text.partition(":")
    if kind.replace("-", "_") not in FAULT_KINDS and kind not in FAULT_ALIASES:
        raise argparse.ArgumentTypeError(
            f"unknown fault {kind!r}; choose from: {', '.join(FAULT_KINDS)} "
            f"(or {', '.join(FAULT_ALIASES)})"
        )
    try:
        count = int(count_text) if count_text else 1
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"fault count must be a positive integer, got {text!r}")
    return kind, count


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``nanobanana emulator`` options to ``parser``."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1; ::1 for IPv6)"
    )
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks one)")
    parser.add_argument(
        "--latency", type=_non_negative, default=0.0, metavar="SECONDS",
        help="seconds before each answer (default: 0; --realistic draws live figures)",
    )  # fmt: skip
    parser.add_argument(
        "--rpm", type=_positive_int, help="requests per minute before 429 (default: no limit)"
    )
    parser.add_argument(
        "--ipm", type=_positive_int, help="images per minute before 429 (default: no limit)"
    )
    parser.add_argument(
        "--quota-model", choices=("window", "minute", "bucket"), default="window",
        help="how --rpm/--ipm count: a sliding 60 s window, fixed clock minutes, or a token "
        "bucket of --burst requests refilled at rpm/60 a second (default: window)",
    )  # fmt: skip
    parser.add_argument(
        "--burst", type=_positive_int, metavar="N",
        help="the bucket's size for --quota-model bucket (default: --rpm)",
    )  # fmt: skip
    parser.add_argument(
        "--fault", type=parse_fault, action="append", default=[], metavar="KIND[:COUNT]",
        help="answer the next COUNT generate requests with a fault, in order (repeatable): "
        + ", ".join(FAULT_KINDS)
        + " (aliases: "
        + ", ".join(f"{k}={v}" for k, v in FAULT_ALIASES.items())
        + ")",
    )  # fmt: skip
    parser.add_argument(
        "--realistic", action="store_true",
        help="live-sized answers: MB-sized signatures and images, 17-120 s latency",
    )  # fmt: skip
    parser.add_argument(
        "--time-scale", type=_non_negative, default=1.0, metavar="FACTOR",
        help="multiply every latency (e.g. 0.05); quota windows stay real (default: 1.0)",
    )  # fmt: skip
    parser.add_argument(
        "--serve-retired", action="store_true",
        help="serve models past their shutdown date instead of the real 404 (old code)",
    )  # fmt: skip
    parser.add_argument(
        "--record", type=int, default=0, metavar="N",
        help="keep the last N requests in memory (default: 0, none)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Serves until Ctrl-C; returns the exit code (2 when the address cannot be bound)."""
    from ._server import FakeGemini

    if args.record < 0:
        print(f"error: --record must be 0 or more, got {args.record}", file=sys.stderr)
        return 2
    if args.burst is not None and args.quota_model != "bucket":
        print("error: --burst is the bucket's size: use it with --quota-model bucket",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        server = FakeGemini(
            host=args.host, port=args.port, rpm=args.rpm, ipm=args.ipm, latency=args.latency,
            quota_model=args.quota_model, burst=args.burst,
            realistic=args.realistic, time_scale=args.time_scale, record=args.record,
            serve_retired=args.serve_retired,
        )  # fmt: skip
    except OSError as exc:
        reason = (
            "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        )
        print(f"error: cannot serve on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    for kind, count in args.fault:
        server.push(*(_fault(kind) for _ in range(count)))
    logging.basicConfig(level=logging.INFO, format="emulator: %(message)s")
    print(f"Gemini API emulator on {server.url} (Ctrl-C to stop)")
    print(f"  export GOOGLE_GEMINI_BASE_URL={server.url}  # then any google-genai code uses it")
    print("  clients still need an API key: any non-empty value works, e.g.")
    print("  export GEMINI_API_KEY=emulator", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
