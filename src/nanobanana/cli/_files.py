"""Where the CLI writes images: readable names, the right extension, never over a file.

``-o`` names a folder, or an image file (``out/fox.jpg``). Nothing that exists is ever
overwritten: a taken name gets the next free one (``fox-2.jpg``), and the extension always
follows the bytes (``fox.png`` when PNG came back), whatever the server declared.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InvalidRequestError
from .._imageinfo import sniff

__all__ = ["Target", "free_stem", "readable_stem", "resolve_target", "save_new", "slug"]

IMAGE_EXTENSIONS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                    ".webp": "image/webp"}  # fmt: skip
_EXTENSION_OF = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
                 "image/heic": ".heic", "image/heif": ".heif", "image/gif": ".gif"}  # fmt: skip
_ARTICLES = {"a", "an", "the"}


@dataclass(frozen=True)
class Target:
    """Where ``-o`` says to write: a folder, and maybe a file name in it."""

    folder: Path
    stem: str | None = None
    """The file name asked for, without its extension (None: name it from the prompt)."""
    suffix: str | None = None
    """Its extension as given (``.jpeg``); used when the bytes are of that type."""


def resolve_target(out: str | os.PathLike[str]) -> Target:
    """Reads ``-o``: an existing folder, an image file name, or a folder to create.

    Raises:
        InvalidRequestError: ``out`` is an existing file that is not an image (or not a
            regular file), so writing there would destroy something.
    """
    path = Path(out)
    image_name = path.suffix.lower() in IMAGE_EXTENSIONS
    if path.is_dir():
        return Target(path)
    exists = path.exists() or path.is_symlink()
    if exists and (not image_name or not path.is_file()):
        raise InvalidRequestError(
            f"-o {path}: an existing file that is not an image; give a folder, or an image "
            "file name (.jpg, .png, .webp): existing images are kept and a free name is used"
        )
    if image_name:
        return Target(path.parent, path.stem, path.suffix)
    return Target(path)


def slug(text: str, limit: int = 40) -> str:
    """``A red fox, asleep`` -> ``red-fox-asleep``: whole words only, at most ``limit`` long."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    while len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    return out or (words[0][:limit] if words else "image")


def readable_stem(prompt: Any) -> str:
    """A file-name stem from what the user wrote, not from the rendered prompt.

    A template (`CharacterSheet`, `ProductShot`, ...) is named by its own first text field
    (``character``, ``product``, ...): ``red-mug``, not ``a-high-resolution-commercial-...``.
    """
    fields = getattr(type(prompt), "model_fields", None)
    if fields:
        for name in fields:
            value = getattr(prompt, name, None)
            if isinstance(value, str) and value.strip():
                return slug(value)
    return slug(str(prompt))


def extension_of(data: bytes, preferred: str | None = None) -> str:
    """The extension the bytes call for (never the declared MIME type: it can be wrong).

    ``preferred`` (``.jpeg``) is kept when it names the bytes' type.
    """
    info = sniff(data)
    mime = info.mime_type if info else None
    if preferred and IMAGE_EXTENSIONS.get(preferred.lower()) == mime:
        return preferred
    return _EXTENSION_OF.get(mime or "", ".bin")


def free_stem(folder: Path, stem: str, count: int) -> str:
    """``stem``, or ``stem-2``...: the first under which ``-1`` to ``-count`` are all free."""
    for n in range(1, 10_000):
        candidate = stem if n == 1 else f"{stem}-{n}"
        pattern = glob.escape(candidate)
        if not any(any(folder.glob(f"{pattern}-{k}.*")) for k in range(1, count + 1)):
            return candidate
    raise InvalidRequestError(f"{folder}: no free name left for {stem}")


def save_new(data: bytes, folder: Path, stem: str, preferred: str | None = None) -> Path:
    """Writes ``data`` as ``folder/stem.<ext>``, or ``stem-2.<ext>``... if that is taken.

    Atomic and never over an existing file: the bytes go to a temporary file that is then
    hard-linked to the first free name (a link fails if the name exists, even if another
    process took it a moment ago).
    """
    folder.mkdir(parents=True, exist_ok=True)
    ext = extension_of(data, preferred)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        for n in range(1, 10_000):
            target = folder / f"{stem}{ext}" if n == 1 else folder / f"{stem}-{n}{ext}"
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links: exclusive create instead
                try:
                    with open(target, "xb") as handle:
                        handle.write(data)
                    return target
                except FileExistsError:
                    continue
        raise InvalidRequestError(f"{folder}: no free name left for {stem}{ext}")
    finally:
        os.unlink(tmp)
