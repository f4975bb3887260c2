"""The one wire builder: a prepared request becomes the arguments of a google-genai call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._request.request import GenerationRequest
from .._result.result import FinalPart, TextPart

if TYPE_CHECKING:
    from google.genai import types

    from .._images.bytes import ImageBytes


@dataclass(frozen=True)
class Call:
    """A request ready to send: the arguments of ``models.generate_content``."""

    request: GenerationRequest
    model: str
    contents: list[types.Content]
    config: types.GenerateContentConfig
    reference_sha256: tuple[str, ...] = ()
    """Digests of the reference bytes as sent (after any fitting), for provenance."""

    def kwargs(self, *, raw_body: bool = True) -> dict[str, Any]:
        """``model=, contents=, config=``, asking for the raw HTTP body unless told not to.

        google-genai drops ``finishMessage`` (the reason text users need) when it converts a
        response; with ``should_return_http_response`` we parse the body ourselves, once.
        Streams cannot have it (google-genai refuses), so they lose ``finishMessage``.
        """
        config = self.config.model_copy(update={"should_return_http_response": raw_body or None})
        return {"model": self.model, "contents": self.contents, "config": config}


def user_content(prompt: str, parts: Sequence[types.Part]) -> types.Content:
    """A user turn: the prompt, then the reference parts."""
    from google.genai import types

    return types.Content(role="user", parts=[types.Part(text=prompt), *parts])


def inline_parts(images: Sequence[ImageBytes]) -> list[types.Part]:
    """Prepared reference bytes as inline parts."""
    from google.genai import types

    return [
        types.Part(inline_data=types.Blob(data=image.data, mime_type=image.mime_type))
        for image in images
    ]


def model_content(parts: Sequence[FinalPart]) -> types.Content:
    """An earlier answer, sent back with every thought signature byte for byte."""
    from google.genai import types

    out = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append(types.Part(text=p.text, thought_signature=p.thought_signature))
        else:
            blob = types.Blob(data=p.data, mime_type=p.mime_type)
            out.append(types.Part(inline_data=blob, thought_signature=p.thought_signature))
    return types.Content(role="model", parts=out)


def build(
    request: GenerationRequest,
    images: Sequence[ImageBytes],
    *,
    vertex: bool = False,
    history: Sequence[types.Content] = (),
    parts: Sequence[types.Part] | None = None,
) -> Call:
    """The call for a request whose references are prepared: plain, or a session's next turn.

    Args:
        request: What to ask.
        images: Its references, read and fitted (`_references`).
        vertex: Whether the call goes to Vertex AI (which alone takes ``output_format``).
        history: Earlier turns (`user_content` / `model_content`), oldest first.
        parts: The references as parts, when some are Files API uploads (a session's); by
            default every image goes inline with its media resolution.
    """
    import hashlib

    from google.genai import types

    user = (
        types.Content(role="user", parts=request.user_parts(images))
        if parts is None
        else user_content(request.prompt, parts)
    )
    digests = tuple(hashlib.sha256(image.data).hexdigest() for image in images)
    config = request.generation_config(vertex=vertex)
    return Call(request, request.model, [*history, user], config, digests)
