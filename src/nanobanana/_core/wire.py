"""The one wire builder: every call's arguments, whatever path sends it.

A plain call, a stream, a session turn, a batch line and a JSONL line are all `build` (or
`generation_config` / `user_content` for the pieces): so an option set once reaches the wire
on every path. Each prepared image carries the media resolution to send with it
(`ImageBytes.media_resolution`, set when it was read), so an edit, a session turn and a batch
line send the same part a plain call does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .._errors import InvalidRequestError
from .._request.options import global_media_resolution, part_media_resolution, search_tool
from .._request.request import GenaiCall, GenerationRequest
from .._result.result import FinalPart, TextPart

if TYPE_CHECKING:
    from google.genai import types

    from .._images.bytes import ImageBytes

__all__ = [
    "Call",
    "Upload",
    "build",
    "generation_config",
    "image_config",
    "model_content",
    "to_genai",
    "user_content",
]


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
        # One turn goes as the `Content` itself: the same wire, and google-genai checks a
        # lone Content in ~6 µs where it revalidates a list of them in ~240 µs.
        contents = self.contents[0] if len(self.contents) == 1 else self.contents
        return {"model": self.model, "contents": contents, "config": config}


class Upload(NamedTuple):
    """A reference already in the Files API: sent by URI instead of inline."""

    uri: str
    mime_type: str


def image_part(image: ImageBytes, upload: Upload | None = None) -> types.Part:
    """One reference as a part: inline, or by Files API URI, with its media resolution."""
    from google.genai import types

    resolution = part_media_resolution(image.media_resolution)  # type: ignore[arg-type]
    if upload is not None:
        ref = types.FileData(file_uri=upload.uri, mime_type=upload.mime_type)
        return types.Part(file_data=ref, media_resolution=resolution)
    blob = types.Blob(data=image.data, mime_type=image.mime_type)
    return types.Part(inline_data=blob, media_resolution=resolution)


def user_content(
    prompt: str, images: Sequence[ImageBytes], uploads: Mapping[str, Upload] | None = None
) -> types.Content:
    """A user turn: the prompt, then each reference (by URI where ``uploads`` has its digest)."""
    from google.genai import types

    uploads = uploads or {}
    parts = [types.Part(text=prompt)]
    for image in images:
        parts.append(image_part(image, uploads.get(hashlib.sha256(image.data).hexdigest())))
    return types.Content(role="user", parts=parts)


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


def image_config(request: GenerationRequest, *, vertex: bool = False) -> types.ImageConfig | None:
    """The ``imageConfig`` to send, sizes spelled as the API wants; ``None`` when unset.

    Raises:
        InvalidRequestError: ``output_format`` or ``quality`` without Vertex AI.
    """
    from google.genai import types

    vertex_only = {"output_format": request.output_format, "quality": request.quality}
    asked = [name for name, value in vertex_only.items() if value is not None]
    if asked and not vertex:
        raise InvalidRequestError(
            f"{' and '.join(asked)} work on Vertex AI only: the Gemini API refuses "
            "imageConfig.outputMimeType and outputCompressionQuality (400). Use "
            "NanoBanana(vertexai=True, ...), or convert the image after: "
            "result.image.save('out.png')"
        )
    if request.aspect_ratio is None and request.size is None and not asked:
        return None
    return types.ImageConfig(
        aspect_ratio=request.aspect_ratio.value if request.aspect_ratio else None,
        image_size=request.size.value if request.size else None,
        output_mime_type=f"image/{request.output_format}" if request.output_format else None,
        output_compression_quality=request.quality,
    )


def generation_config(
    request: GenerationRequest, *, vertex: bool = False
) -> types.GenerateContentConfig:
    """The ``GenerateContentConfig`` for the Gemini API or (``vertex=True``) Vertex AI.

    Modalities, image config, thinking, tools, media resolution, system instruction and
    sampling. Per-reference media resolution is a ``v1beta`` field of the Gemini API: when one
    is set the call asks for that version.

    Raises:
        InvalidRequestError: A Vertex-only option without ``vertex=True``.
    """
    from google.genai import types

    thinking = None
    if request.include_thoughts or request.thinking_level:
        thinking = types.ThinkingConfig(
            include_thoughts=True if request.include_thoughts else None,
            thinking_level=(
                types.ThinkingLevel(request.thinking_level.upper())
                if request.thinking_level
                else None
            ),
        )
    per_part = any(detail is not None for detail in request.part_details())
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"] if request.image_only else ["TEXT", "IMAGE"],
        image_config=image_config(request, vertex=vertex),
        thinking_config=thinking,
        media_resolution=global_media_resolution(request.media_resolution),
        tools=[search_tool(request.search)] if request.search else None,
        system_instruction=request.system_instruction,
        temperature=request.temperature,
        seed=request.seed,
        http_options=types.HttpOptions(api_version="v1beta") if per_part and not vertex else None,
    )


def build(
    request: GenerationRequest,
    images: Sequence[ImageBytes],
    *,
    vertex: bool = False,
    history: Sequence[types.Content] = (),
    uploads: Mapping[str, Upload] | None = None,
) -> Call:
    """The call for a request whose references are prepared: plain, or a session's next turn.

    Args:
        request: What to ask.
        images: Its references, read and fitted (`nanobanana._images.fit.prepare_references`),
            each carrying the media resolution to send it with.
        vertex: Whether the call goes to Vertex AI (which alone takes ``output_format``).
        history: Earlier turns (`user_content` / `model_content`), oldest first.
        uploads: References already in the Files API, by SHA-256 of their bytes (a session's).
    """
    user = user_content(request.prompt, images, uploads)
    digests = tuple(hashlib.sha256(image.data).hexdigest() for image in images)
    config = generation_config(request, vertex=vertex)
    earlier = (p for content in history for p in content.parts or ())
    if not vertex and config.http_options is None and any(p.media_resolution for p in earlier):
        # An earlier turn's reference carries a per-part resolution: a v1beta field too.
        from google.genai import types

        config = config.model_copy(update={"http_options": types.HttpOptions(api_version="v1beta")})
    return Call(request, request.model, [*history, user], config, digests)


def to_genai(request: GenerationRequest, images: Sequence[ImageBytes]) -> GenaiCall:
    """The exact `google-genai` call for a request whose references are prepared."""
    call = build(request, images)
    return GenaiCall(call.model, call.contents, call.config, call.reference_sha256)
