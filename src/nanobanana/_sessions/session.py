"""Multi-turn edit sessions that keep thought signatures, stay under the size limit, and resume.

Gemini 3 answers 400 "Image part is missing a thought_signature" when earlier model parts come
back without their signatures. A session keeps every final model part (text and images) with
its signature byte for byte and sends them back; thought parts are never re-sent (they only
bloat the request). A failed turn raises and leaves the history exactly as it was.

`SessionCore` decides everything (contents, sizes, what to move to the Files API, JSON); the
twins `Session` and `AsyncSession` only send, upload and await.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from typing_extensions import Self, Unpack

from .._core.flows import generate_flow, upload_flow
from .._core.interactions import build_interaction, interaction_flow
from .._core.steps import Flow
from .._core.wire import Upload, build, model_content, user_content
from .._errors import (
    BadRequestError,
    InvalidReferenceError,
    InvalidRequestError,
    SessionTooLargeError,
)
from .._images.bytes import ImageBytes
from .._images.fit import prepare_references, wire_size
from .._models.registry import MAX_REQUEST_BYTES, REQUEST_HEADROOM_BYTES
from .._request.options import RequestOptions, with_options_help
from .._request.reference import ReferenceLike
from .._request.request import GenerationRequest
from .._request.types import PromptLike
from .._result.result import FinalPart, Result
from .._transport import AsyncTransport, SyncTransport
from . import file as _session_file
from .file import Turn

if TYPE_CHECKING:
    from google.genai import types


__all__ = ["AsyncSession", "Session", "SessionTooLargeError", "Turn"]

#: Files API uploads expire after 48 h; re-upload a little before.
_UPLOAD_LIFETIME = 46 * 3600
_PART_OVERHEAD = 64  # JSON around each part
_T = TypeVar("_T", SyncTransport, AsyncTransport)


_TOO_MANY_IMAGES = re.compile(r"too many images|number of images", re.IGNORECASE)


def _explain_history(error: BadRequestError, turns: Sequence[Turn]) -> BadRequestError:
    """The API's 400 for too many images, saying that earlier turns' references count."""
    earlier = sum(len(t.references) for t in turns)
    if not earlier or not _TOO_MANY_IMAGES.search(error.message):
        return error
    return BadRequestError(
        f"{error.message} [this session sends the {earlier} reference image(s) of its earlier "
        "turns again with every turn, and the API counted them: drop older turns with "
        "session.drop_oldest(n), or start a new session from the latest image with "
        "nb.edit(session.last.image, ...)]",
        code=error.code,
        status=error.status,
        details=error.details,
    )


@dataclass
class _Upload:
    uri: str
    mime_type: str
    at: float


class SessionCore(Generic[_T]):
    """State and decisions shared by `Session` and `AsyncSession`; the twins only send."""

    def __init__(
        self, transport: _T, default_model: str, /, **options: Unpack[RequestOptions]
    ) -> None:
        self._transport: _T = transport
        self._options = options
        self.model = options.get("model") or default_model
        self.aspect_ratio = options.get("aspect_ratio")
        self.size = options.get("size")
        self.include_thoughts = options.get("include_thoughts", False)
        self.turns: list[Turn] = []
        self._uploads: dict[str, _Upload] = {}
        self.now: Callable[[], float] = time.time
        """The wall clock that dates Files API uploads (they expire after 48 h): a test's
        fake clock goes here. The flows read it only through this attribute."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self.turns)} turns, model={self.model!r}>"

    def branch(self) -> Self:
        """An independent copy: try another direction without losing this one."""
        twin = copy.copy(self)
        twin.turns = list(self.turns)
        twin._uploads = dict(self._uploads)
        return twin

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], client: _Client, *, allow_outside: bool = False
    ) -> Self:
        """Resumes a session saved with `save`, in this or another process.

        A session file is untrusted input: its images must lie in its own folder unless
        ``allow_outside`` is true, and each must match the hash it was saved with.
        """
        state = _session_file.load(path, allow_outside=allow_outside)
        session = client.session(
            model=state.model, aspect_ratio=state.aspect_ratio, size=state.size,
            include_thoughts=state.include_thoughts,
        )  # fmt: skip
        if not isinstance(session, cls):
            raise InvalidRequestError(
                f"{cls.__name__}.load needs a client that makes {cls.__name__}s, got "
                f"{type(client).__name__}"
            )
        session.turns = list(state.turns)
        return session

    def save(self, path: str | os.PathLike[str], *, inline_images: bool = False) -> Path:
        """Writes the session to JSON; images go beside it by hash, unless ``inline_images``.

        Returns the path written. Resume with ``Session.load(path, client)``.
        """
        state = _session_file.SessionState(
            self.model, _value(self.aspect_ratio), _value(self.size), self.include_thoughts,
            tuple(self.turns),
        )  # fmt: skip
        return _session_file.dump(state, path, inline_images=inline_images)

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

    # -- deciding a turn --------------------------------------------------------------------

    def next_request(
        self,
        prompt: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> GenerationRequest:
        """The request `send` would make of this turn, without sending it.

        Checked as `send` checks it (a bad option raises here), for a quote before paying
        (``estimated_cost()``: this turn's prompt and references; the history it carries is
        billed on top) or a record of what is about to go out.
        """
        return self._request(prompt, references, options)

    def _request(
        self,
        prompt: PromptLike,
        references: Iterable[ReferenceLike] | ReferenceLike | None,
        options: RequestOptions,
    ) -> GenerationRequest:
        """The turn's request: this turn's options, then the session's, fill it."""
        merged = self._options.copy()
        merged.update(options)
        merged["model"] = self.model
        for name in ("aspect_ratio", "size"):
            if merged.get(name) is None:
                merged[name] = getattr(self, name)  # type: ignore[literal-required]
        return GenerationRequest(prompt, references=references, **merged)

    def _history_bytes(self) -> int:
        return sum(_turn_wire_size(t, self._uploads) for t in self.turns)

    def _prepare(self, request: GenerationRequest) -> list[ImageBytes]:
        """Reads this turn's references and fits them into what the history leaves.

        The one disk and CPU step of a turn: the async twin runs it in a worker thread.
        """
        # The per-kind slots apply to the turn being sent (GenerationRequest checked them):
        # the documented limits describe one request's references, and nothing recorded says
        # the API counts earlier turns' against them. The API's own 400 speaks for the
        # history (explained by _explain_history).
        if self._transport.api.interactions:  # earlier turns stay on the server
            return prepare_references(request)
        try:
            return prepare_references(request, reserved_bytes=self._history_bytes())
        except (SessionTooLargeError, InvalidReferenceError):
            raise
        except InvalidRequestError:
            # The history alone is too large: _offload_plan moves references to the Files API.
            return prepare_references(request)

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
        now = self.now()
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

    def _turn_flow(self, request: GenerationRequest, images: list[ImageBytes]) -> Flow:
        """Uploads what must go through the Files API, then sends every earlier turn and this one.

        The turn is kept only when it succeeded, so a failure leaves the history as it was.
        """
        policy = self._transport.policy
        if self._transport.api.interactions:
            return (yield from self._interaction_turn(request, images))
        if any(t.interaction_id for t in self.turns):
            raise InvalidRequestError(
                "this session's turns are stored interactions (made with api='interactions'); "
                "continue it with a client made with api='interactions'"
            )
        plan = self._offload_plan(images, request.prompt)
        if plan and self._transport.vertex:
            raise SessionTooLargeError(
                f"the next turn would be over the {MAX_REQUEST_BYTES / 1e6:.0f} MB request limit, "
                "and Vertex AI has no Files API to move references to. Drop older turns with "
                "session.drop_oldest(n), or start a new session from the latest image"
            )
        for image in plan:
            uri = yield from upload_flow(image, policy)
            self._uploads[_digest(image.data)] = _Upload(uri, image.mime_type, self.now())
        uploads = {d: Upload(u.uri, u.mime_type) for d, u in self._uploads.items()}
        history: list[types.Content] = []
        for turn in self.turns:
            history.append(user_content(turn.prompt, turn.references, uploads))
            history.append(model_content(turn.result.parts))
        call = build(
            request, images, vertex=self._transport.vertex, history=history, uploads=uploads
        )
        try:
            result: Result = yield from generate_flow(call, policy)
        except BadRequestError as error:
            raise _explain_history(error, self.turns) from error
        kinds = tuple(r.kind for r in request.references)
        self.turns.append(Turn(request.prompt, tuple(images), kinds, result))
        return result

    def _interaction_turn(self, request: GenerationRequest, images: list[ImageBytes]) -> Flow:
        """On the Interactions API: this turn alone, continuing the last turn's interaction.

        The server holds the conversation (``store``), so a turn sends only its own prompt
        and references, whatever came before; undo and branch continue from an earlier id.
        """
        if self.turns and not self.turns[-1].interaction_id:
            raise InvalidRequestError(
                "this session's earlier turns were made with generateContent, so the server "
                "holds none of them; continue it with a client made with "
                "api='generate_content'"
            )
        api = self._transport.api
        call = build_interaction(
            request, images, store=True, background=api.background, delivery=api.delivery,
            webhook=api.webhook,
            previous_id=self.turns[-1].interaction_id if self.turns else None,
        )  # fmt: skip
        result: Result = yield from interaction_flow(call, self._transport.policy)
        kinds = tuple(r.kind for r in request.references)
        self.turns.append(Turn(request.prompt, tuple(images), kinds, result, result.response_id))
        return result


class _Client(Protocol):
    """What `Session.load` needs of a client: a way to start a session."""

    def session(
        self,
        *,
        aspect_ratio: Any = ...,
        size: Any = ...,
        model: Any = ...,
        include_thoughts: bool = ...,
    ) -> Any: ...


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parts_size(parts: Iterable[FinalPart]) -> int:
    size = 0
    for p in parts:
        size += _PART_OVERHEAD + wire_size(len(p.thought_signature or b""))
        size += wire_size(len(p.data)) if hasattr(p, "data") else len(p.text.encode())
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


class Session(SessionCore[SyncTransport]):
    """A multi-turn edit: each `send` continues from the images before it.

    Example:
        >>> session = nb.session(aspect_ratio="1:1")
        >>> session.send("A red fox wearing a green hat", references=["fox.jpg"])
        >>> session.send("Now make the hat red").image.save("fox-red-hat")
        >>> session.save("fox.session.json")  # resume later: Session.load(path, nb)
    """

    @with_options_help
    def send(
        self,
        prompt: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> Result:
        """Sends the next turn; on any error the history is left exactly as it was.

        ``options`` (`RequestOptions`: ``aspect_ratio``, ``size``, ``search``...) apply to
        this turn, over the session's own.

        Raises:
            SessionTooLargeError: The history no longer fits one request.
            GenerationError: No final image (the turn is not kept).
            APIError: The API refused, after any retries.
        """
        request = self._request(prompt, references, options)
        images = self._transport.offload(self._prepare, request)
        result: Result = self._transport.run(self._turn_flow(request, images))
        return result

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class AsyncSession(SessionCore[AsyncTransport]):
    """The async twin of `Session`.

    Example:
        >>> session = nb.session()
        >>> await session.send("A red fox wearing a green hat")
    """

    @with_options_help
    async def send(
        self,
        prompt: PromptLike,
        *,
        references: Iterable[ReferenceLike] | ReferenceLike | None = (),
        **options: Unpack[RequestOptions],
    ) -> Result:
        """Sends the next turn; see `Session.send`."""
        request = self._request(prompt, references, options)
        images = await self._transport.offload(self._prepare, request)
        result: Result = await self._transport.run(self._turn_flow(request, images))
        return result

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None
