"""A session on disk: JSON with its images beside it by hash, and the checks to read it back.

A saved session is untrusted input (it may come from anyone): every key is checked for its
type, image paths must stay inside the session's own folder unless the caller opts in, sizes
are checked before reading, and every image's hash is verified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InvalidRequestError
from .._images.bytes import ImageBytes
from .._images.generated import GeneratedImage, atomic_write, extension_for
from .._images.read import MAX_REFERENCE_FILE_BYTES
from .._result.result import FinalPart, Result, TextPart

__all__ = ["SESSION_FORMAT", "SessionState", "Turn", "dump", "load"]

SESSION_FORMAT = 1
#: A session file larger than this is refused before it is read (inline images included).
_MAX_SESSION_FILE_BYTES = 512 * 1000 * 1000
#: The images of a session in all (files and inline), each file counted once.
_MAX_SESSION_IMAGE_BYTES = 1000 * 1000 * 1000


@dataclass(frozen=True)
class Turn:
    """One exchange: what was asked, with which references, and what came back."""

    prompt: str
    references: tuple[ImageBytes, ...]
    """The reference bytes as sent (after fitting)."""
    kinds: tuple[str, ...]
    result: Result
    interaction_id: str | None = None
    """The stored interaction this turn made, on the Interactions API (the next turn sends
    only itself and this id); ``None`` on generateContent."""


@dataclass(frozen=True)
class SessionState:
    """Everything a session file holds."""

    model: str | None
    aspect_ratio: str | None
    size: str | None
    include_thoughts: bool
    turns: tuple[Turn, ...]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dump(state: SessionState, path: str | os.PathLike[str], *, inline_images: bool) -> Path:
    """Writes ``state`` as JSON; images go to ``<stem>.images/`` by hash unless inline."""
    target = Path(path)
    folder = target.with_name(target.stem + ".images")

    def image_ref(data: bytes, mime: str) -> dict[str, Any]:
        digest = _digest(data)
        if inline_images:
            return {"sha256": digest, "mime_type": mime, "data": base64.b64encode(data).decode()}
        file = folder / f"{digest[:32]}{extension_for(mime)}"
        if not file.exists():
            atomic_write(file, data)
        return {
            "sha256": digest,
            "mime_type": mime,
            "path": file.relative_to(target.parent).as_posix(),
        }

    def part(p: FinalPart) -> dict[str, Any]:
        sig = base64.b64encode(p.thought_signature).decode() if p.thought_signature else None
        if isinstance(p, TextPart):
            return {"text": p.text, "thought_signature": sig}
        return {"image": image_ref(p.data, p.mime_type), "thought_signature": sig}

    doc: dict[str, Any] = {
        "format": SESSION_FORMAT,
        "model": state.model,
        "aspect_ratio": state.aspect_ratio,
        "size": state.size,
        "include_thoughts": state.include_thoughts,
        "turns": [
            {
                "prompt": t.prompt,
                "references": [
                    {**image_ref(r.data, r.mime_type), "kind": k}
                    for r, k in zip(t.references, t.kinds, strict=True)
                ],
                "model_parts": [part(p) for p in t.result.parts],
                "finish_reason": t.result.finish_reason,
                "model_version": t.result.model_version,
                "response_id": t.result.response_id,
                **({"interaction_id": t.interaction_id} if t.interaction_id else {}),
            }
            for t in state.turns
        ],
    }
    if any(t.interaction_id for t in state.turns):
        from .._core.interactions import STORED_FOR

        doc["api"] = "interactions"
        doc["interactions_kept_for"] = (
            f"the API keeps stored interactions {STORED_FOR}; after that this session "
            "cannot continue from them"
        )
    atomic_write(target, json.dumps(doc, indent=1).encode())
    return target


class _Reader:
    """Reads one session file, naming the file and the place of anything wrong."""

    def __init__(self, source: Path, allow_outside: bool) -> None:
        self.source, self.allow_outside = source, allow_outside
        self.root = source.parent.resolve()
        self.total = 0
        """Bytes of images read so far: bounded as a whole, not only file by file."""
        self.files: dict[Path, bytes] = {}
        """Each image file read once, however many turns name it."""

    def budget(self, size: int, where: str) -> None:
        self.total += size
        if self.total > _MAX_SESSION_IMAGE_BYTES:
            raise self.fail(
                f"{where}: its images come to over {_MAX_SESSION_IMAGE_BYTES:,} bytes in all, "
                "more than a session holds"
            )

    def fail(self, what: str) -> InvalidRequestError:
        return InvalidRequestError(f"{self.source}: not a valid saved session: {what}")

    def get(self, doc: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
        if not isinstance(doc, dict) or key not in doc:
            raise self.fail(f"{where} has no {key!r}")
        value = doc[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int,))):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(f"{where}.{key} must be {names}, not {type(value).__name__}")
        return value

    def image(self, ref: Any, where: str) -> tuple[bytes, str]:
        digest = self.get(ref, "sha256", str, where)
        mime = self.get(ref, "mime_type", str, where)
        if "data" in ref:
            text = self.get(ref, "data", str, where)
            self.budget(len(text) * 3 // 4, where)
            try:
                data = base64.b64decode(text, validate=True)
            except ValueError as exc:
                raise self.fail(f"{where}.data is not base64") from exc
        else:
            data = self.read(self.get(ref, "path", str, where), where)
        if _digest(data) != digest:
            raise InvalidRequestError(
                f"{self.source}: image {ref.get('path', '(inline)')} has changed since it was saved"
            )
        return data, mime

    def read(self, relative: str, where: str) -> bytes:
        try:
            file = (self.source.parent / relative).resolve()
        except (OSError, ValueError, RuntimeError) as exc:  # a NUL, a symlink loop
            raise self.fail(f"{where}.path {relative!r} is not a usable path ({exc})") from None
        if file in self.files:
            return self.files[file]
        if not self.allow_outside and not file.is_relative_to(self.root):
            raise self.fail(
                f"{where}.path {relative!r} points outside the session's folder {self.root} "
                "(pass allow_outside=True to Session.load if you trust this file)"
            )
        try:
            info = file.stat()
            if not file.is_file():
                raise self.fail(f"{where}.path {relative!r} is not a regular file")
            if info.st_size > MAX_REFERENCE_FILE_BYTES:
                raise self.fail(f"{where}.path {relative!r} is {info.st_size:,} bytes, too large")
            self.budget(info.st_size, where)
            data = self.files[file] = file.read_bytes()
            return data
        except (OSError, ValueError) as exc:
            raise InvalidRequestError(
                f"{self.source}: image {file} is missing ({getattr(exc, 'strerror', None) or exc})"
            ) from exc

    def signature(self, part: dict[str, Any], where: str) -> bytes | None:
        text = part.get("thought_signature")
        if text is None:
            return None
        if not isinstance(text, str):
            raise self.fail(f"{where}.thought_signature must be base64 text")
        self.budget(len(text) * 3 // 4, where)
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:  # binascii.Error included
            raise self.fail(f"{where}.thought_signature is not base64") from None

    def turn(self, t: Any, n: int) -> Turn:
        where = f"turns[{n}]"
        prompt = self.get(t, "prompt", str, where)
        refs, kinds = [], []
        for i, r in enumerate(self.get(t, "references", list, where)):
            data, mime = self.image(r, f"{where}.references[{i}]")
            kind = self.get(r, "kind", str, f"{where}.references[{i}]")
            refs.append(ImageBytes(data, mime, label=str(r.get("path", "reference"))))
            kinds.append(kind)
        parts: list[FinalPart] = []
        for i, p in enumerate(self.get(t, "model_parts", list, where)):
            at = f"{where}.model_parts[{i}]"
            if isinstance(p, dict) and "image" in p:
                data, mime = self.image(p["image"], f"{at}.image")
                parts.append(GeneratedImage(data, mime, self.signature(p, at)))
            else:
                parts.append(TextPart(self.get(p, "text", str, at), self.signature(p, at)))
        result = Result(
            images=tuple(p for p in parts if isinstance(p, GeneratedImage)),
            text="".join(p.text for p in parts if isinstance(p, TextPart)),
            parts=tuple(parts),
            finish_reason=_opt_str(t.get("finish_reason")),
            model_version=_opt_str(t.get("model_version")),
            response_id=_opt_str(t.get("response_id")),
        )
        return Turn(prompt, tuple(refs), tuple(kinds), result, _opt_str(t.get("interaction_id")))


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def load(path: str | os.PathLike[str], *, allow_outside: bool = False) -> SessionState:
    """Reads a session written by `dump`, checking everything in it.

    Raises:
        InvalidRequestError: Not a session file, a key missing or of the wrong type, an image
            outside the session's folder, missing, too large, or changed since it was saved.
    """
    source = Path(path)
    reader = _Reader(source, allow_outside)
    try:
        if source.stat().st_size > _MAX_SESSION_FILE_BYTES:
            raise reader.fail(f"the file is over {_MAX_SESSION_FILE_BYTES:,} bytes")
        doc = json.loads(source.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"{source}: not a saved session ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise InvalidRequestError(f"{source}: not a saved session of format {SESSION_FORMAT}")
    turns: Sequence[Any] = reader.get(doc, "turns", list, "the file")
    include = doc.get("include_thoughts", False)
    return SessionState(
        model=_opt_str(doc.get("model")),
        aspect_ratio=_opt_str(doc.get("aspect_ratio")),
        size=_opt_str(doc.get("size")),
        include_thoughts=include if isinstance(include, bool) else False,
        turns=tuple(reader.turn(t, n) for n, t in enumerate(turns)),
    )
