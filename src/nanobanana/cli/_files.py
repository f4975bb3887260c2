"""Where the CLI writes images: readable names, the right extension, never over a file.

``-o`` names a folder, or an image file (``out/fox.jpg``). Nothing that exists is ever
overwritten: a taken name gets the next free one (``fox-2.jpg``), and the extension always
follows the bytes (``fox.png`` when PNG came back), whatever the server declared.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InvalidRequestError
from .._runs.manifest import slug

__all__ = ["Target", "free_stem", "readable_stem", "resolve_target", "slug"]


IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})


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


def free_stem(folder: Path, stem: str, count: int) -> str:
    """``stem``, or ``stem-2``...: the first under which ``-1`` to ``-count`` are all free."""
    for n in range(1, 10_000):
        candidate = stem if n == 1 else f"{stem}-{n}"
        pattern = glob.escape(candidate)
        if not any(any(folder.glob(f"{pattern}-{k}.*")) for k in range(1, count + 1)):
            return candidate
    raise InvalidRequestError(f"{folder}: no free name left for {stem}")
