"""`GeneratedImage`: one image as the API sent it, its reprs, and the one atomic writer.

The bytes are kept as received and never decoded as a picture or re-encoded unless asked
(`to_pil()`, or `save()` to a name of another format). Their type is read from the bytes
themselves: a server or proxy may declare ``image/jpg``, ``image/JPEG; q=1`` or even
``image/png`` over JPEG bytes, and a saved file's extension must match what is inside.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from .._errors import InvalidRequestError
from .sniff import sniff

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "GeneratedImage",
    "atomic_write",
    "extension_for",
    "image_mime",
    "img_tag",
    "save_new",
    "temp_file",
]

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
               "image/heic": ".heic", "image/heif": ".heif", "image/avif": ".avif"}  # fmt: skip
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
_MIME_OF_FORMAT = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_MIME_OF_EXTENSION = {ext: mime for mime, ext in _EXTENSIONS.items()} | {".jpeg": "image/jpeg"}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


def extension_for(mime_type: str) -> str:
    """The file extension for a MIME type (``.bin`` for one that is not an image we know)."""
    return _EXTENSIONS.get(mime_type, ".bin")


def image_mime(data: bytes, declared: str | None = None) -> str:
    """The MIME type of image bytes: read from the bytes, else the declared one, normalised."""
    info = sniff(data)
    if info is not None:
        return info.mime_type
    mime = (declared or "").split(";")[0].strip().lower()
    return _ALIASES.get(mime, mime) or "application/octet-stream"


@dataclass(frozen=True, eq=False)
class GeneratedImage:
    """One image as the API sent it.

    Attributes:
        data: The bytes as received (the model sends JPEG; older models PNG).
        mime_type: The MIME type the API gave for them.
        thought_signature: Sent back unchanged on the next turn of an edit.
        thought: True for an interim thought image.
    """

    data: bytes = field(repr=False)
    mime_type: str
    thought_signature: bytes | None = field(default=None, repr=False)
    thought: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """What made it (prompt, model, ratio, size, ...), written by ``save(metadata=True)``."""

    @cached_property
    def _info(self) -> tuple[int | None, int | None]:
        info = sniff(self.data)
        return (info.width, info.height) if info else (None, None)

    @property
    def width(self) -> int | None:
        """Pixel width, read from the header without decoding."""
        return self._info[0]

    @property
    def height(self) -> int | None:
        """Pixel height, read from the header without decoding."""
        return self._info[1]

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes."""
        return hashlib.sha256(self.data).hexdigest()

    def to_pil(self) -> Image.Image:
        """Decodes the image with Pillow."""
        import io

        from PIL import Image

        return Image.open(io.BytesIO(self.data))

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        format: Literal["auto", "original", "jpeg", "png", "webp"] = "auto",
        metadata: bool = False,
    ) -> Path:
        """Writes the image atomically and returns the path written.

        The bytes on disk always match the file's name. When the extension is absent or
        matches the MIME type, the original bytes are written as they are: no decode, no
        re-encode. When the extension names another format (``.png`` for the JPEG that Nano
        Banana Pro sends), the image is converted, or, with ``format="original"``, refused.

        Args:
            path: Where to write; the extension is added from the MIME type when absent.
            format: ``"auto"`` follows the extension; ``"original"`` never converts;
                ``"jpeg"``/``"png"``/``"webp"`` ask for that format.
            metadata: Also write ``<path>.json`` with what made the image.

        Raises:
            InvalidRequestError: The extension and ``format`` disagree, or an unknown
                extension.
        """
        if format not in ("auto", "original", "jpeg", "png", "webp"):
            raise InvalidRequestError(
                f"format={format!r} is not one nanobanana saves: use 'auto' (from the "
                "extension), 'original', 'jpeg', 'png' or 'webp'"
            )
        target = Path(path)
        own_ext = _EXTENSIONS.get(self.mime_type, "")
        wanted = None if format in ("auto", "original") else format.upper()
        ext = target.suffix.lower()
        if not ext:
            target = target.with_name(target.name + (_ext_of(wanted) if wanted else own_ext))
            ext = target.suffix.lower()
        if ext not in _FORMATS:
            raise InvalidRequestError(
                f"cannot save as {ext!r}: use .jpg, .jpeg, .png or .webp (or no extension)"
            )
        fmt = _FORMATS[ext]
        if wanted and wanted != fmt:
            raise InvalidRequestError(f"format={format!r} does not match the extension of {target}")
        if _MIME_OF_FORMAT[fmt] == self.mime_type:
            self._write_as_is(target, fmt)
        elif format == "original":
            raise InvalidRequestError(
                f"{target.name} names {fmt} but the image is {self.mime_type}; use the "
                f"{own_ext} extension, or format='auto' to convert"
            )
        else:
            atomic_write(target, self._convert(fmt))
        if metadata:
            sidecar = {**self.metadata, "mime_type": _MIME_OF_FORMAT[fmt], "sha256": self.sha256,
                       "width": self.width, "height": self.height}  # fmt: skip
            atomic_write(
                target.with_name(target.name + ".json"), json.dumps(sidecar, indent=2).encode()
            )
        return target

    def _write_as_is(self, target: Path, fmt: str) -> None:
        """Writes the bytes as received (a linked image streams them from its link)."""
        atomic_write(target, self.data)

    def _convert(self, fmt: str) -> bytes:
        import io

        image = self.to_pil()
        if fmt == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        buf = io.BytesIO()
        image.save(buf, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
        return buf.getvalue()

    def _stream(self, out: BinaryIO) -> bytes:
        """Writes the bytes to ``out``; returns their head (enough to read the header)."""
        out.write(self.data)
        return self.data

    def _repr_jpeg_(self) -> bytes | None:
        return self.data if self.mime_type == "image/jpeg" else None

    def _repr_png_(self) -> bytes | None:
        return self.data if self.mime_type == "image/png" else None

    def _repr_html_(self) -> str:
        return img_tag(self)

    def __repr__(self) -> str:
        kind = "thought image" if self.thought else "image"
        size = f"{self.width}x{self.height}" if self.width else "size unknown"
        return f"<GeneratedImage {kind} {self.mime_type} {size} {len(self.data) / 1e6:.2f} MB>"


#: Every temporary file nanobanana writes is named ``.nanobanana-tmp-<name>.<random>.part``:
#: a clean-up removes only these, never a user's ``.draft.part``.
TEMP_PREFIX = ".nanobanana-tmp-"
TEMP_SUFFIX = ".part"


def temp_file(directory: Path, name: str) -> tuple[int, str]:
    """A new temporary file in ``directory`` under the SDK's own name pattern."""
    return tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name[:60]}.", suffix=TEMP_SUFFIX, dir=directory)


#: Writes an image's bytes to an open file, chunk by chunk (a linked image, from its link).
Writer = Callable[[BinaryIO], object]


def atomic_write(target: Path, data: bytes | Writer) -> None:
    """Writes to a temporary file beside the target, then renames: never a partial file.

    ``data`` is the bytes, or a function that writes them to the open file as they come.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(target.parent, target.name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a saved image is an ordinary file
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                data(handle)
        # The rename is atomic: a killed process leaves the old file or the new one, never half
        # of one. (No fsync: it would make every save 5x slower for power-loss safety only.)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_new(
    data: bytes | GeneratedImage, directory: Path, stem: str, preferred: str | None = None
) -> Path:
    """Writes ``data`` as ``directory/stem.<ext>``, or ``stem-2.<ext>``...: never over a file.

    The extension follows the bytes, whatever MIME type a server declared (``preferred``,
    such as ``.jpeg``, is kept when it names the same type). Atomic: the bytes go to a
    temporary file that is then hard-linked to the first free name (a link fails if the name
    exists, even if another process took it a moment ago). Without hard links, the complete
    temporary file is renamed onto a name claimed first by exclusive create: a file appears
    under its final name only complete, and never replaces another. An image given as such
    is written by its own ``_stream`` (a linked image fetches its link chunk by chunk).
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(directory, stem)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
                head = data
            else:
                head = data._stream(handle)
        mime = image_mime(head)
        ext = extension_for(mime)
        if preferred and _MIME_OF_EXTENSION.get(preferred.lower()) == mime:
            ext = preferred
        for n in range(1, 10_000):
            target = directory / f"{stem}{'' if n == 1 else f'-{n}'}{ext}"
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links
                if _claim_and_rename(tmp, target):
                    return target
        raise FileExistsError(f"no free name for {stem}{ext} in {directory}")
    finally:
        Path(tmp).unlink(missing_ok=True)  # linked (or renamed) by now, or never to be


def _claim_and_rename(tmp: str, target: Path) -> bool:
    """Moves the complete ``tmp`` to ``target`` if the name is free; False if it is taken.

    Windows' rename never replaces a file. Elsewhere the name is claimed by exclusive create
    (an empty file, ours), then the rename replaces only that claim.
    """
    if os.name == "nt":
        try:
            os.rename(tmp, target)
        except FileExistsError:
            return False
        return True
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        return False
    try:
        os.rename(tmp, target)
    except BaseException:
        target.unlink(missing_ok=True)  # our empty claim, never someone's file
        raise
    return True


@functools.cache
def _umask() -> int:
    # os.umask can only be read by setting it; do it once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def img_tag(image: GeneratedImage, width: int = 512) -> str:
    """An ``<img>`` with the bytes inline; every value from the server escaped."""
    data = base64.b64encode(image.data).decode("ascii")
    mime = html.escape(image.mime_type, quote=True)
    return (
        f'<img src="data:{mime};base64,{data}" style="max-width:{int(width)}px;height:auto" '
        f'alt="{image.width}x{image.height} {mime}"/>'
    )


def _ext_of(fmt: str) -> str:
    return {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[fmt]
