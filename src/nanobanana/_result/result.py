"""What a generation gave back: final images, text, thoughts, usage and cost.

One parser (`Result.from_body`) reads the response body exactly as the API sent it; the
`google-genai` response (`Result.raw`) is built from it only when asked for. Image bytes are
decoded from base64 once and never decoded as pictures or re-encoded unless you ask
(`to_pil()`, or `save()` to a name of another format).
"""

from __future__ import annotations

import dataclasses
import functools
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import InvalidResponseError, NoImageError
from .._images.generated import GeneratedImage, image_mime, img_tag
from .._images.linked import LinkedImage
from .._models.checks import size_mismatch
from .._models.cost import usage_cost
from .grounding import Grounding, parse_grounding
from .usage import Usage

if TYPE_CHECKING:
    from google.genai import types

    from .._request.request import GenerationRequest

__all__ = ["FinalPart", "GeneratedImage", "Result", "TextPart", "Usage"]


Thought = str | GeneratedImage


@dataclass(frozen=True)
class TextPart:
    """A final text part, with the thought signature that must go back on the next turn."""

    text: str
    thought_signature: bytes | None = field(default=None, repr=False)


#: A final part of the model's answer, in order: what a multi-turn session sends back.
FinalPart = TextPart | GeneratedImage


@dataclass(frozen=True, eq=False)
class Result:
    """One response, parsed.

    Attributes:
        images: Final images, in order.
        text: Final text parts, joined.
        thoughts: Interim thought text and thought images, in order.
        finish_reason: ``STOP``, ``IMAGE_SAFETY``, ``NO_IMAGE``, ...; ``None`` for a
            blocked prompt, whose reason is in ``block_reason``.
        finish_message: The API's explanation (which `google-genai` drops).
        usage: Token counts.
        model_version: The model that answered.
        response_id: The API's id of this response.
        request: What was asked, when known.
        batch: True when it came through the Batch API (half price).
    """

    images: tuple[GeneratedImage, ...] = ()
    text: str = ""
    thoughts: tuple[Thought, ...] = ()
    finish_reason: str | None = None
    finish_message: str | None = None
    block_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model_version: str | None = None
    response_id: str | None = None
    request: GenerationRequest | None = field(default=None, repr=False)
    batch: bool = False
    parts: tuple[FinalPart, ...] = field(default=(), repr=False)
    """The final (non-thought) parts in order, with their thought signatures."""
    problems: tuple[str, ...] = ()
    """Parts that could not be read (bad base64, say); everything else is kept."""
    grounding: Grounding | None = None
    """What Google Search found, for a grounded request (``search=True``); else ``None``."""
    size_mismatches: tuple[str, ...] = ()
    """How final images differ in pixel size from what was asked (a gateway or model that
    fell back to a default); each also warned as `SizeMismatchWarning`."""
    _body: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def image(self) -> GeneratedImage:
        """The last final image.

        Raises:
            NoImageError: No final image came back (the result is attached).
        """
        if not self.images:
            raise NoImageError(f"no image in this result ({self.describe_outcome()})", result=self)
        return self.images[-1]

    @property
    def missing(self) -> int:
        """Final images asked for but not received (a `CharacterSheet` of 3 that got 2: 1)."""
        expected = getattr(self.request, "expected_images", 1) if self.images else 0
        return max(0, expected - len(self.images))

    @property
    def thought_images(self) -> tuple[GeneratedImage, ...]:
        return tuple(t for t in self.thoughts if isinstance(t, GeneratedImage))

    @property
    def cost(self) -> float | None:
        """USD from the price table and the usage reported: thinking and search included.

        ``None`` for a model without known prices, or an answer that reported no usage.
        Search queries are priced as if the free monthly allowance were used up, so grounded
        costs are an upper bound. An image whose tokens the answer left out counts at the
        registry's tokens for its model and size.
        """
        asked = self.request.model if self.request is not None else None
        answered = (self.model_version or "").split("/")[-1]
        u = self.usage
        size = self.request.size.value if self.request is not None and self.request.size else None
        for model in dict.fromkeys(m for m in (answered, asked) if m):
            usd = usage_cost(
                model, prompt_tokens=u.reported("prompt_tokens"),
                output_tokens=u.reported("output_tokens"),
                thinking_tokens=u.reported("thinking_tokens"),
                output_image_tokens=u.output_image_tokens,
                images=len(self.images), size=size, batch=self.batch,
                search_queries=self.grounding.search_queries if self.grounding else 0,
            )  # fmt: skip
            if usd is not None:
                return usd
        return None

    @property
    def raw(self) -> types.GenerateContentResponse:
        """The `google-genai` response, built on first access from the parsed body."""
        import copy

        from google.genai import types

        # The SDK's own constructor drops fields it does not know (``serviceTier``) in place:
        # give it a copy (the image bytes inside are shared, not copied).
        return types.GenerateContentResponse._from_response(
            response=copy.deepcopy(self._body), kwargs={}
        )

    def describe_outcome(self) -> str:
        if self.block_reason:
            return f"prompt blocked: {self.block_reason}"
        parts = [f"finish reason {self.finish_reason or 'none'}"]
        if self.finish_message:
            parts.append(self.finish_message)
        if self.text:
            parts.append(f"text: {self.text[:200]!r}")
        return "; ".join(parts)

    @classmethod
    def from_body(
        cls,
        body: Any,
        *,
        request: GenerationRequest | None = None,
        batch: bool = False,
        reference_sha256: tuple[str, ...] = (),
        problems: tuple[str, ...] = (),
    ) -> Result:
        """Parses a response body (camelCase JSON as the API sends it, already loaded).

        Never loses an intact final image: a part that cannot be read is skipped and named in
        ``problems``. ``reference_sha256`` (the digests of the reference bytes sent) goes into
        each image's ``metadata``, for ``save(metadata=True)``.

        Raises:
            InvalidResponseError: ``body`` is not a response at all.
        """
        if not isinstance(body, dict):
            raise InvalidResponseError(f"expected a JSON object, got {type(body).__name__}")
        candidates = body.get("candidates") or []
        candidate = _dict(candidates[0]) if isinstance(candidates, list) and candidates else {}
        content = _dict(candidate.get("content"))
        parts = content.get("parts") if isinstance(content.get("parts"), list) else []
        assert isinstance(parts, list)
        images: list[GeneratedImage] = []
        thoughts: list[Thought] = []
        texts: list[str] = []
        problems_: list[str] = list(problems)
        final: list[FinalPart] = []
        usage = Usage.from_metadata(_dict(body.get("usageMetadata")))
        grounding = parse_grounding(candidate)
        meta = _provenance(request, body, usage, reference_sha256, grounding)
        for i, part in enumerate(parts):
            if not isinstance(part, dict):
                problems_.append(f"part {i}: not an object")
                continue
            thought = part.get("thought") is True
            signature = _decode(part, "thoughtSignature", problems_, i)
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict):
                data = _decode(inline, "data", problems_, i)
                if data is None:
                    continue
                declared = inline.get("mimeType") or inline.get("mime_type")
                mime = image_mime(data, declared if isinstance(declared, str) else None)
                image = GeneratedImage(data, mime, signature, thought, meta)
                (thoughts if thought else images).append(image)
                if not thought:
                    final.append(image)
            elif isinstance(linked := part.get("fileData") or part.get("file_data"), dict):
                # An image by link (the Interactions API's delivery="uri"): fetched when used.
                uri = linked.get("fileUri") or linked.get("file_uri")
                declared = linked.get("mimeType") or linked.get("mime_type") or "image/jpeg"
                if not isinstance(uri, str) or not str(declared).startswith("image/"):
                    problems_.append(f"part {i}: a link that is not an image's")
                    continue
                issued = _str(body.get("createTime"))
                mime = image_mime(b"", str(declared))
                meta_ = {**meta, "uri": uri}
                image = LinkedImage(uri, mime, signature, thought, meta_, issued=issued)
                (thoughts if thought else images).append(image)
                if not thought:
                    final.append(image)
            elif isinstance(part.get("text"), str):
                (thoughts if thought else texts).append(part["text"])
                if not thought and (part["text"] or signature):
                    final.append(TextPart(part["text"], signature))
        feedback = _dict(body.get("promptFeedback"))
        result = cls(
            images=tuple(images),
            parts=tuple(final),
            text="".join(texts),
            thoughts=tuple(t for t in thoughts if t != ""),
            finish_reason=_str(candidate.get("finishReason")),
            finish_message=_str(candidate.get("finishMessage")),
            block_reason=_str(feedback.get("blockReason")),
            usage=usage,
            model_version=_str(body.get("modelVersion")),
            response_id=_str(body.get("responseId")),
            request=request,
            batch=batch,
            problems=tuple(problems_),
            grounding=grounding,
            size_mismatches=_size_mismatches(request, images, meta),
        )
        object.__setattr__(result, "_body", body)
        return result

    @classmethod
    def from_response(
        cls,
        response: types.GenerateContentResponse,
        *,
        request: GenerationRequest | None = None,
        batch: bool = False,
    ) -> Result:
        """Parses any `google-genai` ``GenerateContentResponse``.

        Note that `google-genai` has already dropped ``finishMessage`` from it; responses
        made by `NanoBanana` keep it.
        """
        body = response.model_dump(by_alias=True, exclude_none=True, mode="python")
        return cls.from_body(body, request=request, batch=batch)

    def _repr_html_(self) -> str:
        """Images side by side as thumbnails, then text, usage, cost and any grounding."""
        width = 512 if len(self.images) == 1 else 256
        figures = "".join(
            f'<figure style="margin:0">{img_tag(i, width)}<figcaption><small>{i.width}x'
            f"{i.height}</small></figcaption></figure>"
            for i in self.images
        )
        grid = f'<div style="display:flex;flex-wrap:wrap;gap:8px">{figures}</div>'
        text = f"<p>{html.escape(self.text)}</p>" if self.text else ""
        cost = f"${self.cost:.3f}" if self.cost is not None else "cost unknown"
        u = self.usage
        outcome = (
            f"prompt blocked: {self.block_reason}"
            if self.block_reason
            else f"finish reason {self.finish_reason or 'none'}"
        )
        facts = (
            f"{html.escape(outcome)} · {u.prompt_tokens} in, {u.output_tokens} out, "
            f"{u.thinking_tokens} thinking tokens · {cost}"
        )
        notes = "".join(f"<br>⚠ {html.escape(n)}" for n in (*self.size_mismatches, *self.problems))
        grounded = self.grounding.to_html() if self.grounding is not None else ""
        return f"<div>{grid}{text}<small>{facts}{notes}</small>{grounded}</div>"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    """Text of a field; an enum from a google-genai object gives its value (``STOP``)."""
    return None if value is None else str(getattr(value, "value", value))


def _decode(holder: dict[str, Any], key: str, problems: list[str], index: int) -> bytes | None:
    """Base64 text (standard or URL-safe) -> bytes, in place.

    The body and the images then share one copy. Bytes (from a `google-genai` object) pass.
    """
    value = holder.get(key)
    if value is None:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
        value = holder.get(snake)
    if value is None or isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        problems.append(f"part {index}: {key} is not base64 text")
        return None
    try:
        data: bytes = _base64_bytes().validate_python(value)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        problems.append(f"part {index}: {key} is not valid base64 ({str(exc).splitlines()[-1]})")
        return None
    holder[key] = data
    return data


@functools.cache
def _base64_bytes() -> Any:
    """A base64 decoder in Rust (pydantic-core): standard or URL-safe, padded or not.

    About twice as fast as ``binascii`` on megabytes of image data; `google-genai` decodes
    the same way.
    """
    from pydantic import ConfigDict, TypeAdapter

    return TypeAdapter(bytes, config=ConfigDict(val_json_bytes="base64"))


def _provenance(
    request: GenerationRequest | None,
    body: dict[str, Any],
    usage: Usage,
    references: tuple[str, ...],
    grounding: Grounding | None,
) -> dict[str, Any]:
    """What made an image, so a saved file can be traced back (never the API key)."""
    return {
        "grounding": grounding.to_json() if grounding is not None else None,
        "prompt": getattr(request, "prompt", None),
        "model": getattr(request, "model", None),
        "model_version": _str(body.get("modelVersion")),
        "aspect_ratio": getattr(getattr(request, "aspect_ratio", None), "value", None),
        "size": getattr(getattr(request, "size", None), "value", None),
        "reference_sha256": list(references),
        "response_id": _str(body.get("responseId")),
        "usage": dataclasses.asdict(usage),
    }


def _size_mismatches(
    request: GenerationRequest | None, images: list[GeneratedImage], meta: dict[str, Any]
) -> tuple[str, ...]:
    """How final images differ from the ratio and size asked; noted in their sidecars too."""
    if request is None or (request.aspect_ratio is None and request.size is None):
        return ()
    found = tuple(
        text
        for image in images
        if not isinstance(image, LinkedImage)  # its size is known once fetched, not before
        and (
            text := size_mismatch(
                request.model, request.aspect_ratio, request.size, image.width, image.height
            )
        )
    )
    if found:
        meta["size_mismatches"] = list(found)
    return found
