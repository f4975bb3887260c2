"""The ``nanobanana`` command.

Imports stay inside the commands: ``nanobanana --help`` loads neither google-genai, Pillow
nor pydantic. Every command takes ``--emulator`` to run offline on the embedded emulator.

Exit codes: 0 done; 1 unexpected error; 2 invalid input or no key (nothing was sent);
3 API or connection error; 4 safety block; 5 no image; 6 a run finished with failures;
130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence

# Not typing.TYPE_CHECKING: importing typing costs the --help path ~2 ms.
_TYPE_CHECKING = False
if _TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from . import GenerationRequest, NanoBanana, Result

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_API, EXIT_BLOCKED, EXIT_NO_IMAGE, EXIT_PARTIAL = range(7)

DEMO_JOBS = (
    ("A red fox curled up asleep in fresh snow at dawn, soft golden light", "16:9", "2K"),
    (
        "A character sheet with three views of a small robot gardener: a full-body three-quarter "
        "view, a close-up portrait, and an expression sheet, in one consistent style",
        "3:2",
        "1K",
    ),
    ("A minimalist travel poster of a banana-shaped island", "9:16", "1K"),
)

NO_KEY = (
    "no API key: set GEMINI_API_KEY (get one at https://aistudio.google.com/apikey), "
    "or add --emulator to run offline on the built-in emulator"
)


# -- shared plumbing -------------------------------------------------------------------------


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[NanoBanana]:
    """The real API, or with ``--emulator`` the embedded one (no key, no network, no cost)."""
    from . import NanoBanana
    from ._constants import API_KEY_ENV_VARS
    from ._errors import MissingAPIKeyError

    options: dict[str, Any] = {"model": args.model} if args.model else {}
    if args.emulator:
        from .testing import FakeGemini

        with (
            FakeGemini() as server,
            NanoBanana(api_key="emulator", base_url=server.url, **options) as nb,
        ):
            yield nb
        return
    if not any(os.environ.get(v) for v in API_KEY_ENV_VARS):
        raise MissingAPIKeyError(NO_KEY)
    with NanoBanana(**options) as nb:
        yield nb


def _references(args: argparse.Namespace) -> list[Any]:
    from . import Reference

    return (
        [Reference.object(p) for p in args.ref]
        + [Reference.human(p) for p in args.human]
        + [Reference.style(p) for p in args.style]
    )


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _describe(request: GenerationRequest) -> dict[str, Any]:
    from ._core import estimate_cost

    return {
        "model": request.model,
        "prompt": request.prompt,
        "aspect_ratio": request.aspect_ratio.value if request.aspect_ratio else None,
        "size": request.size.value if request.size else None,
        "references": [
            {"kind": r.kind, "source": r.label(i)} for i, r in enumerate(request.references)
        ],
        "expected_images": request.expected_images,
        "estimated_cost_usd": estimate_cost(request),
    }


def _dry_run(args: argparse.Namespace, requests: Sequence[GenerationRequest]) -> int:
    described = [_describe(r) for r in requests]
    for r in requests:
        r.prepare_references()  # read and check every reference: nothing is sent
    total = sum(d["estimated_cost_usd"] or 0 for d in described)
    lines = [
        f"{d['model']} · {d['aspect_ratio'] or 'auto'} · {d['size'] or '1K'} · "
        f"{len(d['references'])} references · {d['expected_images']} image(s) · "
        f"~${d['estimated_cost_usd'] or 0:.3f}\n  {d['prompt'][:200]}"
        for d in described
    ]
    lines.append(f"{len(requests)} request(s), estimated ${total:.2f}; nothing was sent (dry run)")
    _emit(args, {"requests": described, "estimated_cost_usd": total}, "\n".join(lines))
    return EXIT_OK


def _run_one(args: argparse.Namespace, request: GenerationRequest) -> int:
    """Generate one request, save it through the run manifest, report it."""
    from pathlib import Path

    from ._errors import GenerationError
    from ._many import (
        MANIFEST_NAME,
        Manifest,
        entry_head,
        failure_entry,
        request_key,
        success_entry,
    )

    if args.dry_run:
        return _dry_run(args, [request])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out / MANIFEST_NAME)
    key = request_key(request)
    with _client(args) as nb:
        try:
            result = nb.generate_request(request)
        except GenerationError as exc:
            manifest.append(failure_entry(entry_head(request, key, 0), exc))
            _maybe_gallery(args, out)
            raise
    entry = success_entry(entry_head(request, key, 0), result, out)
    manifest.append(entry)
    thoughts = _save_thoughts(args, result, out, Path(entry["images"][0]).stem)
    _maybe_gallery(args, out)
    paths = [str(out / n) for n in entry["images"]]
    data = {"images": paths, "thought_images": thoughts, "text": result.text,
            "finish_reason": result.finish_reason, "cost_usd": result.cost,
            "usage": entry["usage"], "response_id": result.response_id}  # fmt: skip
    text = "\n".join(paths + thoughts) + f"\n{len(paths)} image(s), about ${result.cost or 0:.3f}"
    _emit(args, data, text)
    return EXIT_OK


def _save_thoughts(args: argparse.Namespace, result: Result, out: Path, stem: str) -> list[str]:
    if not getattr(args, "keep_thoughts", False):
        return []
    return [
        str(image.save(out / f"{stem}-thought-{k}"))
        for k, image in enumerate(result.thought_images, 1)
    ]


def _maybe_gallery(args: argparse.Namespace, out: Path) -> None:
    if getattr(args, "gallery", False):
        from ._gallery import write_gallery

        path = write_gallery(out)
        if not args.json:
            print(f"gallery: {path}", file=sys.stderr)


# -- commands ----------------------------------------------------------------------------------


def _generate(args: argparse.Namespace) -> int:
    from . import GenerationRequest

    request = GenerationRequest(
        args.prompt, references=_references(args), aspect_ratio=args.aspect, size=args.size,
        include_thoughts=args.keep_thoughts, **({"model": args.model} if args.model else {}),
    )  # fmt: skip
    return _run_one(args, request)


def _sheet(args: argparse.Namespace) -> int:
    from . import CharacterSheet, GenerationRequest

    options: dict[str, Any] = {"character": args.character, "features": args.feature}
    if args.view:
        options["views"] = args.view
    if args.art_style:
        options["style"] = args.art_style
    request = GenerationRequest(
        CharacterSheet(**options), references=_references(args), aspect_ratio=args.aspect,
        size=args.size, include_thoughts=args.keep_thoughts,
        **({"model": args.model} if args.model else {}),
    )  # fmt: skip
    return _run_one(args, request)


def _load_jsonl(path: str) -> list[GenerationRequest]:
    """Lines are prompts, or objects with prompt, aspect_ratio, size, model and references."""
    from pathlib import Path

    from . import GenerationRequest, Reference
    from ._errors import InvalidRequestError

    requests = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequestError(f"{path}: cannot be read ({exc.strerror})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise InvalidRequestError(f"{path}:{n}: not JSON: {line[:80]!r}") from None
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict) or "prompt" not in item:
            raise InvalidRequestError(f'{path}:{n}: expected a prompt string or {{"prompt": ...}}')
        refs = [Reference.object(p) for p in item.pop("references", [])]
        refs += [Reference.human(p) for p in item.pop("human", [])]
        refs += [Reference.style(p) for p in item.pop("style", [])]
        try:
            requests.append(GenerationRequest(references=refs, **item))
        except (InvalidRequestError, TypeError) as exc:
            raise InvalidRequestError(f"{path}:{n}: {exc}") from None
    if not requests:
        raise InvalidRequestError(f"{path}: no requests in it")
    return requests


def _batch(args: argparse.Namespace) -> int:
    requests = _load_jsonl(args.requests)
    if args.dry_run:
        return _dry_run(args, requests)
    with _client(args) as nb:
        if args.batch_api:
            job = nb.batch.submit(requests, out_dir=args.out)
            print(f"submitted {job.name}; waiting (Ctrl-C leaves it running)", file=sys.stderr)
            results = list(job.wait().results())
            done, failed, cost = len(results), len(job.errors), sum(r.cost or 0 for r in results)
        else:
            report = nb.generate_many(
                requests, out_dir=args.out, concurrency=args.concurrency, rpm=args.rpm,
                ipm=args.ipm, max_cost=args.max_cost,
            )  # fmt: skip
            done, failed, cost = report.done + report.skipped, report.failed, report.cost
    from pathlib import Path

    _maybe_gallery(args, Path(args.out))
    _emit(
        args,
        {"done": done, "failed": failed, "cost_usd": cost, "out_dir": args.out},
        f"{done} done, {failed} failed, about ${cost:.2f}; manifest: {args.out}/manifest.jsonl",
    )
    return EXIT_PARTIAL if failed else EXIT_OK


def _edit(args: argparse.Namespace) -> int:
    """A multi-turn session: one instruction per line; :undo, :save, :quit."""
    from pathlib import Path

    from . import Session
    from ._errors import NanoBananaError

    out = Path(args.out)
    with _client(args) as nb:
        session_file = Path(args.session) if args.session else None
        if session_file and session_file.exists():
            session = Session.load(session_file, nb)
        else:
            session = nb.session(aspect_ratio=args.aspect, size=args.size)
        first_refs = [args.image] if args.image else []
        interactive = sys.stdin.isatty()
        while True:
            if interactive:
                print("edit> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line in (":quit", ":q"):
                break
            if line == ":undo":
                turn = session.undo()
                print(f"undid: {turn.prompt}")
                continue
            if line.startswith(":save"):
                target = line[5:].strip() or str(session_file or out / "session.json")
                print(f"saved {session.save(target)}")
                continue
            try:
                result = session.send(line, references=first_refs)
            except NanoBananaError as exc:
                print(f"error: {exc} (the session is unchanged)", file=sys.stderr)
                continue
            first_refs = []
            path = result.image.save(out / f"edit-{len(session.history)}")
            print(f"{path}  {result.image.width}x{result.image.height}  ${result.cost or 0:.3f}")
        if session_file:
            session.save(session_file)
    return EXIT_OK


def _gallery(args: argparse.Namespace) -> int:
    from ._gallery import write_gallery

    print(write_gallery(args.folder, args.output))
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import GenerationRequest
    from ._gallery import write_gallery
    from ._many import MANIFEST_NAME, Manifest, request_key

    out = Path(args.out)
    requests = [
        GenerationRequest(p, aspect_ratio=r, size=s, include_thoughts=True) for p, r, s in DEMO_JOBS
    ]
    with _client(args) as nb:
        print("Emulator running: offline, no key, no cost.")
        nb.generate_many(requests, out_dir=out, progress=False)
    entries = Manifest(out / MANIFEST_NAME).entries
    mine = [entries[request_key(r)] for r in requests]  # this run's, or an earlier run's
    for entry in mine:
        for name in entry.get("images", []):
            print(f"  {out / name}")
    print(f"Gallery: {write_gallery(out)}")
    cost = sum(e.get("cost", 0.0) for e in mine)
    print(f"Done. The same calls against the real API would cost about ${cost:.2f}.")
    return EXIT_OK


def _emulator(args: argparse.Namespace) -> int:
    from .testing._cli import run

    return run(args)


# -- parser ----------------------------------------------------------------------------------


def _args_generate(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", help="what to draw, described in sentences")
    p.set_defaults(run=_generate)


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
    p.set_defaults(run=_sheet)


def _args_edit(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="?", help="an image to start from")
    p.add_argument("--session", metavar="FILE", help="resume from, and save to, this session file")
    p.add_argument("--aspect", metavar="RATIO", help="aspect ratio of the results")
    p.add_argument("--size", help="1K, 2K or 4K")
    p.add_argument(
        "-o", "--out", default=".", metavar="DIR", help="folder for the images (default: .)"
    )
    p.set_defaults(run=_edit)


def _args_batch(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "requests", help='JSONL: one prompt string or {"prompt": ..., "aspect_ratio": ...} per line'
    )
    p.add_argument(
        "-o", "--out", required=True, metavar="DIR", help="folder for images and the manifest"
    )
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (default: 4)")
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
        "--dry-run",
        action="store_true",
        help="check every request and estimate the cost; send nothing",
    )
    p.add_argument("--gallery", action="store_true", help="write an HTML contact sheet when done")
    p.set_defaults(run=_batch)


def _args_gallery(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="a folder with a manifest.jsonl")
    p.add_argument(
        "--output", metavar="FILE", help="where to write it (default: FOLDER/index.html)"
    )
    p.set_defaults(run=_gallery, json=False)


def _args_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", default="out", help="folder to write images to (default: out)")
    p.set_defaults(run=_demo, json=False, model=None, emulator=True)


def _args_emulator(p: argparse.ArgumentParser) -> None:
    from .testing._cli import add_arguments

    add_arguments(p)
    p.set_defaults(run=_emulator, json=False)


_COMMANDS: list[tuple[str, str, tuple[str, ...], Callable[[argparse.ArgumentParser], None]]] = [
    ("generate", "generate an image from a prompt", ("common", "image"), _args_generate),
    ("sheet", "a character sheet: several consistent views", ("common", "image"), _args_sheet),
    ("edit", "edit in turns: one instruction per line on stdin", ("common",), _args_edit),
    ("batch", "run a JSONL file of requests (resumable)", ("common",), _args_batch),
    ("gallery", "write an HTML contact sheet of a run folder", (), _args_gallery),
    ("demo", "generate sample images offline, on the embedded emulator", (), _args_demo),
    ("emulator", "serve the Gemini API emulator on loopback", (), _args_emulator),
]


def _shared_options() -> dict[str, argparse.ArgumentParser]:
    """The option groups several commands share."""
    shared = {
        "common": argparse.ArgumentParser(add_help=False),
        "image": argparse.ArgumentParser(add_help=False),
    }
    common, image = shared["common"], shared["image"]
    common.add_argument(
        "--emulator",
        action="store_true",
        help="run offline on the embedded emulator (no key, no cost)",
    )
    common.add_argument("--model", help="model id (default: gemini-3-pro-image)")
    common.add_argument("--json", action="store_true", help="print results as JSON, for scripts")
    common.add_argument("-v", "--verbose", action="store_true", help="log each attempt and retry")

    image.add_argument(
        "-r",
        "--ref",
        action="append",
        default=[],
        metavar="FILE",
        help="object reference image (repeatable)",
    )
    image.add_argument(
        "--human",
        action="append",
        default=[],
        metavar="FILE",
        help="person to keep consistent (repeatable)",
    )
    image.add_argument(
        "--style",
        action="append",
        default=[],
        metavar="FILE",
        help="style reference image (repeatable)",
    )
    image.add_argument(
        "--aspect", metavar="RATIO", help="1:1 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 21:9"
    )
    image.add_argument("--size", help="1K, 2K or 4K (any case)")
    image.add_argument(
        "-o",
        "--out",
        default=".",
        metavar="DIR",
        help="folder for images and the manifest (default: .)",
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
    return shared


def build_parser(wanted: str | None = "*") -> argparse.ArgumentParser:
    """The command-line parser.

    With ``wanted``, only that command's options are built, so ``--help`` stays fast;
    ``"*"`` builds every command (the docs do).
    """
    parser = argparse.ArgumentParser(
        prog="nanobanana",
        description="Generate and edit images with Nano Banana Pro (gemini-3-pro-image).",
        epilog="Exit codes: 0 done, 2 invalid input or no key, 3 API error, 4 safety block, "
        "5 no image, 6 run finished with failures.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shared: dict[str, argparse.ArgumentParser] = {}
    for name, help_text, parents, add_arguments in _COMMANDS:
        if wanted != "*" and name != wanted:
            commands.add_parser(name, help=help_text)  # listed in --help; its options not built
            continue
        shared = shared or _shared_options()
        sub = commands.add_parser(name, parents=[shared[k] for k in parents], help=help_text)
        add_arguments(sub)
    return parser


def _exit_code(exc: BaseException) -> int:
    from ._errors import (
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
    wanted = next((a for a in argv if a in {c[0] for c in _COMMANDS}), None)
    args = build_parser(wanted).parse_args(argv)
    if getattr(args, "verbose", False):
        import logging

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from ._errors import NanoBananaError

        if not isinstance(exc, NanoBananaError):
            raise
        code = _exit_code(exc)
        if getattr(args, "json", False):
            print(
                json.dumps(
                    {"error": {"type": type(exc).__name__, "message": str(exc), "exit_code": code}}
                )
            )
        else:
            print(f"error: {exc}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
