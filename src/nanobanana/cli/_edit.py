"""``edit``: a multi-turn session, one instruction per line; ``:``-commands stay local.

Each turn's image is saved under a free name and recorded in the folder's manifest, so
``nanobanana gallery`` shows the session. An earlier session's ``edit-1.jpg`` is never
overwritten: a new session names its turns ``edit-2-1.jpg``, ``edit-2-2.jpg``... With
``--session FILE`` the session is resumed from and saved to FILE at the end: on end of
input, ``:quit``, and Ctrl-C alike.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import Session
from .._errors import GenerationError, InvalidRequestError, NanoBananaError
from .._images.generated import save_new
from ._connect import client
from ._console import Console
from ._files import free_stem
from ._parser import EDIT_COMMANDS
from ._progress import Live, duration, money
from ._record import Record

__all__ = ["edit"]


def _lines(interactive: bool, console: Console) -> Iterator[str]:
    while True:
        if interactive:
            print("edit> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        if line.strip():
            yield line.strip()


def edit(args: argparse.Namespace, console: Console) -> int:
    from . import exit_code

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidRequestError(f"-o {out}: not a folder; edit writes one image per turn there")
    session_file = Path(args.session) if args.session else None
    stem = session_file.name.split(".")[0] if session_file else "edit"
    if not (session_file and session_file.exists()):
        # A new session's images keep together (edit-2-1.jpg, edit-2-2.jpg when an earlier
        # session made edit-1.jpg); a resumed one goes on numbering its turns.
        stem = free_stem(out, stem, 1)
    record = Record(out)
    interactive = sys.stdin.isatty()
    code = 0
    with client(args) as nb:
        if session_file and session_file.exists():
            session = Session.load(session_file, nb)
        else:
            session = nb.session(aspect_ratio=args.aspect, size=args.size, model=args.model)
        refs: list[Any] = [args.image] if args.image else []
        try:
            for line in _lines(interactive, console):
                if line.startswith(":"):
                    if _local(line, session, session_file or out / "session.json", console):
                        break
                    continue
                try:
                    path, result = _turn(session, nb.model, line, refs, out, stem, record, console)
                except NanoBananaError as exc:
                    code = exit_code(exc)
                    console.error(exc, code)
                    if not interactive:
                        break  # a script's later instructions would build on the wrong image
                    console.note("(the session is unchanged)")
                    continue
                refs = []
                turn = len(session.history)
                console.emit(
                    {"turn": turn, "prompt": line, "image": str(path), "width": result.image.width,
                     "height": result.image.height, "cost_usd": result.cost},
                    f"{path}  {result.image.width}x{result.image.height}  {money(result.cost)}",
                    one_line=True,
                )  # fmt: skip
        finally:
            if session_file:
                session.save(session_file)
                console.note(f"session saved: {session_file}")
    return code


def _turn(session: Session, model: str, line: str, refs: list[Any], out: Path, stem: str,
          record: Record, console: Console) -> tuple[Path, Any]:  # fmt: skip
    turn = len(session.history) + 1
    what = f"waiting for {session.model or model} ({session.size or '1K'}), turn {turn}"
    live = Live(console.status, lambda t: f"{what} · {duration(t)}")
    try:
        with live, live.notes_from_retries():
            result = session.send(line, references=refs)
    except GenerationError as exc:  # billed: record it
        request = getattr(exc.result, "request", None)
        if request is not None:
            record.failed(request, record.new_key(request), exc)
        raise
    path = save_new(result.image.data, out, f"{stem}-{len(session.history)}")
    if result.request is not None:
        record.ok(result.request, record.new_key(result.request), result, [path.name])
    return path, result


def _local(line: str, session: Session, default_save: Path, console: Console) -> bool:
    """Runs a ``:``-command; returns True to end the session."""
    command, _, rest = line.partition(" ")
    if command in (":quit", ":q"):
        return True
    if command == ":help":
        console.say("\n".join(f"  {name:<14} {what}" for name, what in EDIT_COMMANDS))
        console.say("  anything else is an instruction for the model")
    elif command == ":undo":
        try:
            turn = session.undo()
        except InvalidRequestError as exc:
            console.note(f"error: {exc}")
        else:
            console.emit({"undid": turn.prompt}, f"undid: {turn.prompt}", one_line=True)
    elif command == ":save":
        saved = session.save(rest.strip() or default_save)
        console.emit({"saved": str(saved)}, f"saved {saved}", one_line=True)
    else:
        console.note(f"unknown command {command} (not sent to the model); :help lists them")
    return False
