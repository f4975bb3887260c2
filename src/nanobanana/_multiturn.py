"""Multi-turn edit sessions that keep thought signatures, stay under the size limit, and resume.

Gemini 3 answers 400 "Image part is missing a thought_signature" when earlier model parts come
back without their signatures. A session keeps every final model part (text and images) with
its signature byte for byte and sends them back; thought parts are never re-sent (they only
bloat the request). A failed turn raises and leaves the history exactly as it was.

`SessionCore` decides everything (contents, sizes, what to move to the Files API, JSON); the
twins `Session` and `AsyncSession` only send, upload and await.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from ._constants import MAX_REQUEST_BYTES, REQUEST_HEADROOM_BYTES
from ._errors import InvalidRequestError
from ._references import ImageBytes, fit_to_budget, wire_size
from ._request import AspectRatio, GenaiCall, GenerationRequest, ImageSize, check_reference_counts
from ._result import GeneratedImage, Result, TextPart, _atomic_write

if TYPE_CHECKING:
    from google.genai import types

    from ._client import AsyncNanoBanana, NanoBanana

__all__ = ["AsyncSession", "Session", "SessionTooLargeError", "Turn"]

SESSION_FORMAT = 1
#: Files API uploads expire after 48 h; re-upload a little before.
_UPLOAD_LIFETIME = 46 * 3600
_PART_OVERHEAD = 64  # JSON around each part


class SessionTooLargeError(InvalidRequestError):
    """The next turn would exceed the request size limit even with references offloaded."""


@dataclass(frozen=True)
class Turn:
    """One exchange: what was asked, with which references, and what came back."""

    prompt: str
    references: tuple[ImageBytes, ...]
    """The reference bytes as sent (after fitting)."""
    kinds: tuple[str, ...]
    result: Result


@dataclass
class _Upload:
    uri: str
    mime_type: str
    at: float


class SessionCore:
    """State and decisions shared by `Session` and `AsyncSession`."""

    def __init__(
        self,
        client: Any,
        *,
        model: str | None = None,
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
        include_thoughts: bool = False,
    ) -> None:
        self._client = client
        self.model = model
        self.aspect_ratio = aspect_ratio
        self.size = size
        self.include_thoughts = include_thoughts
        self.turns: list[Turn] = []
        self._uploads: dict[str, _Upload] = {}

    def __repr__(self) -> str:
        model = self.model or self._client.model
        return f"<{type(self).__name__} {len(self.turns)} turns, model={model!r}>"

    def branch(self) -> Self:
        """An independent copy: try another direction without losing this one."""
        twin = copy.copy(self)
        twin.turns = list(self.turns)
        twin._uploads = dict(self._uploads)
        return twin

    @classmethod
    def load(cls, path: str | os.PathLike[str], client: Any) -> Self:
        """Resumes a session saved with `save`, in this or another process."""
        session = cls(client)
        session._load_state(path)
        return session

    @property
    def history(self) -> tuple[Turn, ...]:
        """The turns so far, oldest first."""
        return tuple(self.turns)

    @property
    def last(self) -> Result:
        """The latest result.

        Raises:
            InvalidRequestError: Nothing has been sent yet.
        """
        if not self.turns:
            raise InvalidRequestError("this session has no turns yet: call send() first")
        return self.turns[-1].result

    def undo(self) -> Turn:
        """Drops the last turn and returns it; the next send continues from the one before.

        Raises:
            InvalidRequestError: There is no turn to drop.
        """
        if not self.turns:
            raise InvalidRequestError("nothing to undo: this session has no turns")
        return self.turns.pop()

    def drop_oldest(self, n: int = 1) -> None:
        """Forgets the ``n`` oldest turns, to make room in a long session."""
        if not 0 < n <= len(self.turns):
            raise InvalidRequestError(f"n must be between 1 and {len(self.turns)}, got {n}")
        del self.turns[:n]

    # -- building a turn (sans-IO but for reading reference files) -----------------------

    def _request(
        self, prompt: Any, references: Iterable[Any], aspect_ratio: Any, size: Any
    ) -> GenerationRequest:
        """The turn's request, built by the client; the session's settings fill the gaps."""
        request: GenerationRequest = self._client._request(
            prompt,
            references,
            aspect_ratio if aspect_ratio is not None else self.aspect_ratio,
            size if size is not None else self.size,
            self.model,
            self.include_thoughts,
        )
        return request

    def _history_bytes(self) -> int:
        return sum(_turn_wire_size(t, self._uploads) for t in self.turns)

    def _prepare(self, request: GenerationRequest) -> tuple[list[ImageBytes], list[str]]:
        """Fits this turn's references into what the history leaves of the request budget."""
        kinds = [k for t in self.turns for k in t.kinds] + [r.kind for r in request.references]
        try:
            check_reference_counts(kinds)
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                f"{exc} (counting the references of earlier turns, which are sent again; "
                "drop them with session.drop_oldest())"
            ) from None
        loaded = [ref.load(i) for i, ref in enumerate(request.references)]
        reserved = self._history_bytes() + len(request.prompt.encode())
        try:
            images = fit_to_budget(loaded, text_bytes=reserved)
        except InvalidRequestError:
            images = loaded  # the history alone is too large: _offload_plan says what to do
        return images, [r.kind for r in request.references]

    def _offload_plan(self, new_images: Sequence[ImageBytes], prompt: str) -> list[ImageBytes]:
        """Reference images to move to the Files API, oldest first, so the request fits.

        Raises:
            SessionTooLargeError: Even with every reference offloaded it would not fit.
        """
        budget = MAX_REQUEST_BYTES - REQUEST_HEADROOM_BYTES
        total = (
            self._history_bytes() + _images_size(new_images, self._uploads) + len(prompt.encode())
        )
        plan: list[ImageBytes] = []
        now = time.time()
        for image in [r for t in self.turns for r in t.references] + list(new_images):
            if total <= budget:
                break
            digest = _digest(image.data)
            upload = self._uploads.get(digest)
            if upload is not None and now - upload.at < _UPLOAD_LIFETIME:
                continue
            plan.append(image)
            total -= wire_size(len(image.data)) - _PART_OVERHEAD * 4
        if total > budget:
            model_bytes = sum(_parts_size(t.result.parts) for t in self.turns)
            raise SessionTooLargeError(
                f"the next turn would send about {total / 1e6:.1f} MB, over the "
                f"{MAX_REQUEST_BYTES / 1e6:.0f} MB request limit: the model's earlier answers "
                f"alone take {model_bytes / 1e6:.1f} MB (each image carries a thought signature "
                f"of up to 3 MB). Drop older turns with session.drop_oldest(n), or start a new "
                f"session from the latest image: nb.edit(session.last.image, ...)"
            )
        return plan

    def _remember_upload(self, image: ImageBytes, uri: str) -> None:
        self._uploads[_digest(image.data)] = _Upload(uri, image.mime_type, time.time())

    def _call(self, request: GenerationRequest, images: Sequence[ImageBytes]) -> GenaiCall:
        """The full request: every earlier turn, then this one."""
        from google.genai import types

        contents: list[types.Content] = []
        for turn in self.turns:
            contents.append(self._user_content(turn.prompt, turn.references))
            contents.append(
                types.Content(role="model", parts=[_model_part(p) for p in turn.result.parts])
            )
        contents.append(self._user_content(request.prompt, images))
        config = request.generation_config().model_copy(
            update={"should_return_http_response": True}
        )
        digests = tuple(_digest(i.data) for i in images)
        return GenaiCall(request.model, contents, config, digests)

    def _user_content(self, prompt: str, images: Sequence[ImageBytes]) -> types.Content:
        from google.genai import types

        parts = [types.Part(text=prompt)]
        for image in images:
            upload = self._uploads.get(_digest(image.data))
            if upload is not None:
                parts.append(
                    types.Part(
                        file_data=types.FileData(file_uri=upload.uri, mime_type=upload.mime_type)
                    )
                )
            else:
                parts.append(
                    types.Part(inline_data=types.Blob(data=image.data, mime_type=image.mime_type))
                )
        return types.Content(role="user", parts=parts)

    def _commit(
        self,
        request: GenerationRequest,
        images: Sequence[ImageBytes],
        kinds: list[str],
        result: Result,
    ) -> None:
        self.turns.append(Turn(request.prompt, tuple(images), tuple(kinds), result))

    # -- JSON --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, inline_images: bool = False) -> Path:
        """Writes the session to JSON; images go beside it by hash, unless ``inline_images``.

        Returns the path written. Resume with ``Session.load(path, client)``.
        """
        target = Path(path)
        folder = target.with_name(target.stem + ".images")

        def image_ref(data: bytes, mime: str) -> dict[str, Any]:
            digest = _digest(data)
            if inline_images:
                return {
                    "sha256": digest,
                    "mime_type": mime,
                    "data": base64.b64encode(data).decode(),
                }
            ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(
                mime, ".bin"
            )
            file = folder / f"{digest[:32]}{ext}"
            if not file.exists():
                _atomic_write(file, data)
            return {
                "sha256": digest,
                "mime_type": mime,
                "path": str(file.relative_to(target.parent)),
            }

        def part(p: Any) -> dict[str, Any]:
            sig = base64.b64encode(p.thought_signature).decode() if p.thought_signature else None
            if isinstance(p, TextPart):
                return {"text": p.text, "thought_signature": sig}
            return {"image": image_ref(p.data, p.mime_type), "thought_signature": sig}

        doc = {
            "format": SESSION_FORMAT,
            "model": self.model,
            "aspect_ratio": _value(self.aspect_ratio),
            "size": _value(self.size),
            "include_thoughts": self.include_thoughts,
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
                }
                for t in self.turns
            ],
        }
        _atomic_write(target, json.dumps(doc, indent=1).encode())
        return target

    def _load_state(self, path: str | os.PathLike[str]) -> None:
        source = Path(path)
        try:
            doc = json.loads(source.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidRequestError(f"{source}: not a saved session ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
            raise InvalidRequestError(f"{source}: not a saved session of format {SESSION_FORMAT}")

        def image(ref: dict[str, Any]) -> tuple[bytes, str]:
            if "data" in ref:
                data = base64.b64decode(ref["data"])
            else:
                file = source.parent / ref["path"]
                try:
                    data = file.read_bytes()
                except OSError as exc:
                    raise InvalidRequestError(
                        f"{source}: image {file} is missing ({exc.strerror})"
                    ) from exc
            if _digest(data) != ref["sha256"]:
                raise InvalidRequestError(
                    f"{source}: image {ref.get('path', '(inline)')} has changed since it was saved"
                )
            return data, ref["mime_type"]

        def sig(text: str | None) -> bytes | None:
            return base64.b64decode(text) if text else None

        self.model = doc.get("model")
        self.aspect_ratio = doc.get("aspect_ratio")
        self.size = doc.get("size")
        self.include_thoughts = bool(doc.get("include_thoughts"))
        self.turns = []
        for t in doc["turns"]:
            refs = tuple(
                ImageBytes(*image(r), label=r.get("path", "reference")) for r in t["references"]
            )
            parts: list[Any] = []
            for p in t["model_parts"]:
                if "image" in p:
                    data, mime = image(p["image"])
                    parts.append(GeneratedImage(data, mime, sig(p["thought_signature"])))
                else:
                    parts.append(TextPart(p["text"], sig(p["thought_signature"])))
            result = Result(
                images=tuple(p for p in parts if isinstance(p, GeneratedImage)),
                text="".join(p.text for p in parts if isinstance(p, TextPart)),
                parts=tuple(parts),
                finish_reason=t.get("finish_reason"),
                model_version=t.get("model_version"),
                response_id=t.get("response_id"),
            )
            self.turns.append(
                Turn(t["prompt"], refs, tuple(r["kind"] for r in t["references"]), result)
            )


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _model_part(p: TextPart | GeneratedImage) -> types.Part:
    from google.genai import types

    if isinstance(p, TextPart):
        return types.Part(text=p.text, thought_signature=p.thought_signature)
    return types.Part(
        inline_data=types.Blob(data=p.data, mime_type=p.mime_type),
        thought_signature=p.thought_signature,
    )


def _parts_size(parts: Iterable[TextPart | GeneratedImage]) -> int:
    size = 0
    for p in parts:
        size += _PART_OVERHEAD + wire_size(len(p.thought_signature or b""))
        size += len(p.text.encode()) if isinstance(p, TextPart) else wire_size(len(p.data))
    return size


def _images_size(images: Iterable[ImageBytes], uploads: dict[str, _Upload]) -> int:
    return sum(
        _PART_OVERHEAD
        + (
            len(uploads[_digest(i.data)].uri)
            if _digest(i.data) in uploads
            else wire_size(len(i.data))
        )
        for i in images
    )


def _turn_wire_size(turn: Turn, uploads: dict[str, _Upload]) -> int:
    return (
        len(turn.prompt.encode())
        + _images_size(turn.references, uploads)
        + _parts_size(turn.result.parts)
    )


class Session(SessionCore):
    """A multi-turn edit: each `send` continues from the images before it.

    Example:
        >>> session = nb.session(aspect_ratio="1:1")
        >>> session.send("A red fox wearing a green hat", references=["fox.jpg"])
        >>> session.send("Now make the hat red").image.save("fox-red-hat")
        >>> session.save("fox.session.json")  # resume later: Session.load(path, nb)
    """

    _client: NanoBanana

    def send(
        self,
        prompt: Any,
        *,
        references: Iterable[Any] = (),
        aspect_ratio: Any = None,
        size: Any = None,
    ) -> Result:
        """Sends the next turn; on any error the history is left exactly as it was.

        Raises:
            SessionTooLargeError: The history no longer fits one request.
            GenerationError: No final image (the turn is not kept).
            APIError: The API refused, after any retries.
        """
        request = self._request(prompt, references, aspect_ratio, size)
        images, kinds = self._prepare(request)
        for image in self._offload_plan(images, request.prompt):
            self._remember_upload(image, self._client._upload(image))
        result = self._client._generate_call(self._call(request, images), request)
        self._commit(request, images, kinds, result)
        return result


class AsyncSession(SessionCore):
    """The async twin of `Session`.

    Example:
        >>> session = nb.session()
        >>> await session.send("A red fox wearing a green hat")
    """

    _client: AsyncNanoBanana

    async def send(
        self,
        prompt: Any,
        *,
        references: Iterable[Any] = (),
        aspect_ratio: Any = None,
        size: Any = None,
    ) -> Result:
        """Sends the next turn; see `Session.send`."""
        import asyncio

        request = self._request(prompt, references, aspect_ratio, size)
        images, kinds = await asyncio.to_thread(self._prepare, request)
        for image in self._offload_plan(images, request.prompt):
            self._remember_upload(image, await self._client._upload(image))
        result = await self._client._generate_call(self._call(request, images), request)
        self._commit(request, images, kinds, result)
        return result

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None
