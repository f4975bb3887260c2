"""Read a generateContent body as the real API does: schema first, then per-model rules.

Pure: no HTTP, no clock. `plan()` raises `ApiError` where the API would answer 4xx and
otherwise says what the answer must hold.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _schema
from . import _wire as wire
from ._models import ALIASES, MODELS, ModelSpec, input_image_tokens, pixels

__all__ = ["Plan", "get", "plan"]

FileLookup = Callable[[str], "tuple[bytes, str] | None"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def get(obj: Any, key: str, default: Any = None) -> Any:
    """Reads a camelCase key, or its snake_case spelling (google-genai sends both)."""
    if not isinstance(obj, Mapping):
        return default
    if key in obj:
        return obj[key]
    return obj.get(_snake(key), default)


@dataclass
class Plan:
    """What a valid request asks for."""

    model: str
    prompt: str
    n_images: int
    ratio: str | None
    size: str
    with_image: bool
    with_text: bool
    include_thoughts: bool
    seed: int
    prompt_text_tokens: int
    prompt_image_tokens: int
    input_images: int
    output_mime: str = "image/jpeg"
    thinks: bool = True
    web_search: bool = False
    image_search: bool = False
    spec: ModelSpec | None = None

    @property
    def model_spec(self) -> ModelSpec:
        return self.spec or MODELS[ALIASES.get(self.model, self.model)]

    @property
    def pixels(self) -> tuple[int, int]:
        return pixels(self.model_spec, self.ratio, self.size)


def plan(
    body: Any, model: str, files: FileLookup, *, vertex: bool = False, version: str = "v1beta"
) -> Plan:
    """Validates a generateContent body the way the real API does.

    Raises:
        ApiError: 400 for an invalid body, 403 for a file that does not exist.
    """
    _schema.validate(body, vertex=vertex, version=version)
    spec = MODELS[ALIASES.get(model, model)]
    contents = get(body, "contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not contents:
        raise wire.invalid_argument(
            "* GenerateContentRequest.contents: contents is not specified\n"
        )
    config = get(body, "generationConfig") or {}
    modalities = [str(m).upper() for m in (get(config, "responseModalities") or ["TEXT", "IMAGE"])]
    image_config = get(config, "imageConfig") or {}
    ratio, size = _image_config(image_config, spec)
    output_mime = spec.output_mime
    # google-genai sends imageOutputOptions.mimeType; the REST reference names outputMimeType.
    asked = get(get(image_config, "imageOutputOptions"), "mimeType") or get(
        image_config, "outputMimeType"
    )
    if vertex and asked:
        output_mime = str(asked)
        if output_mime not in ("image/png", "image/jpeg"):
            raise wire.invalid_argument(f"Unsupported output mime type: {output_mime}.")
    thinking = _thinking(config, spec, model)
    web, image_search = _search(body, spec)

    digest = hashlib.sha256(f"{model}|{ratio}|{size}".encode())
    user_images = 0
    image_tokens = 0
    texts: list[str] = []
    last_user_text = ""
    resolution = get(config, "mediaResolution")
    for ci, content in enumerate(contents):
        role = get(content, "role") or "user"
        if role not in ("user", "model"):
            raise wire.invalid_argument(
                f"Please use a valid role: user, model. Got {role!r} at contents[{ci}]."
            )
        turn_texts = []
        answered = False  # a final (non-thought) part of this turn seen yet
        parts = get(content, "parts") or []
        for pi, part in enumerate(parts if isinstance(parts, list) else [parts]):
            data, mime = _part_image(part, ci, pi, files)
            if data is not None:
                digest.update(hashlib.sha256(data).digest())
                if role == "user":
                    user_images += 1
                w, h = _dimensions(data, mime, ci, pi)
                own = get(part, "mediaResolution")
                level = get(own, "level") if isinstance(own, Mapping) else own
                image_tokens += input_image_tokens(
                    spec,
                    int.from_bytes(hashlib.sha256(data).digest()[:4], "big"),
                    w,
                    h,
                    level or resolution,
                )
            text = get(part, "text")
            if isinstance(text, str) and not get(part, "thought"):
                turn_texts.append(text)
                digest.update(text.encode())
            if role == "model" and spec.signed:
                _check_signature(part, data, text, ci, pi, first=not answered)
                answered = answered or not get(part, "thought")
        texts.extend(turn_texts)
        if role == "user" and turn_texts:
            last_user_text = " ".join(turn_texts)
    if user_images > spec.max_references:
        raise wire.invalid_argument(
            f"Too many images in the request: {user_images}. The maximum number of images "
            f"per request is {spec.max_references} for models/{model}."
        )
    seed = int.from_bytes(digest.digest()[:8], "big")
    by_prompt = int.from_bytes(hashlib.sha256(last_user_text.encode()).digest()[:4], "big")
    with_image = "IMAGE" in modalities
    return Plan(
        model=model,
        prompt=last_user_text,
        n_images=wire.images_asked_for(last_user_text),
        ratio=ratio,
        size=size or "1K",
        with_image=with_image,
        # Live: with TEXT and IMAGE, sometimes a text part, often the image alone.
        with_text="TEXT" in modalities and (not with_image or by_prompt % 3 == 0),
        include_thoughts=spec.thinks and bool(get(thinking, "includeThoughts", False)),
        seed=seed,
        prompt_text_tokens=wire.text_tokens(" ".join(texts)),
        prompt_image_tokens=image_tokens,
        input_images=user_images,
        output_mime=output_mime,
        thinks=spec.thinks,
        web_search=web,
        image_search=image_search,
        spec=spec,
    )


def _thinking(config: Any, spec: ModelSpec, model: str) -> Any:
    """The thinking config, after the API's checks of ``candidateCount`` and thinking."""
    candidates = get(config, "candidateCount")
    if candidates is not None and int(candidates) > 1:
        raise wire.invalid_argument(f"Multiple candidates is not enabled for models/{model}")
    thinking = get(config, "thinkingConfig")
    if thinking is not None and not spec.thinking_config:
        raise wire.invalid_argument("Thinking is not enabled for this model")
    thinking = thinking or {}
    level = get(thinking, "thinkingLevel")
    if (
        level
        and spec.thinking_levels is not None
        and str(level).upper() not in ((*spec.thinking_levels, "THINKING_LEVEL_UNSPECIFIED"))
    ):
        raise wire.invalid_argument(
            f"Thinking level {level} is not supported for models/{model}. Supported levels: "
            + ", ".join(spec.thinking_levels)
            + "."
        )
    return thinking


def _search(body: Any, spec: ModelSpec) -> tuple[bool, bool]:
    """Which searches the tools ask for; 400 when the model does not serve one."""
    web = image = False
    tools = get(body, "tools") or []
    for tool in tools if isinstance(tools, list) else [tools]:
        search = get(tool, "googleSearch")
        if search is None:
            continue
        types = get(search, "searchTypes")
        if types:
            web = web or get(types, "webSearch") is not None
            image = image or get(types, "imageSearch") is not None
        else:
            web = True
    if (web and "web" not in spec.search) or (image and "image" not in spec.search):
        kind = "Image search" if image and "image" not in spec.search else "Search Grounding"
        raise wire.invalid_argument(f"{kind} is not supported for models/{spec.id}.")
    return web, image


def _image_config(image_config: Any, spec: ModelSpec) -> tuple[str | None, str | None]:
    ratio = get(image_config, "aspectRatio")
    if ratio is not None and ratio not in spec.ratios:
        # Live: a field violation (FACTS 2026-12-04).
        field_name = "generation_config.image_config.aspect_ratio"
        *first, last = (f"'{r}'" for r in spec.ratios)
        description = f"aspect_ratio must be one of {', '.join(first)} or {last}."
        raise wire.ApiError(
            400, "INVALID_ARGUMENT",
            f"* GenerateContentRequest.{field_name}: {description}\n",
            [{"@type": "type.googleapis.com/google.rpc.BadRequest",
              "fieldViolations": [{"field": field_name, "description": description}]}],
        )  # fmt: skip
    size = get(image_config, "imageSize")
    if size is not None and size not in spec.sizes:
        raise wire.invalid_argument(
            f"Invalid value for image_size: {size!r} for models/{spec.id}. Supported values "
            "are: " + ", ".join(spec.sizes) + " (uppercase)."
        )
    return ratio, size


def _part_image(part: Any, ci: int, pi: int, files: FileLookup) -> tuple[bytes | None, str | None]:
    inline = get(part, "inlineData")
    if inline is not None:
        field_name = f"contents[{ci}].parts[{pi}].inline_data.data"
        data = wire.b64decode(str(get(inline, "data") or ""))  # the schema checked it
        mime = str(get(inline, "mimeType") or "")
        if mime not in wire.ACCEPTED_INPUT_MIME:
            raise wire.invalid_argument(f"Unsupported MIME type: {mime or '(none)'}")
        if len(data) > wire.MAX_INLINE_BYTES:
            raise wire.invalid_argument(
                f"Inline data at {field_name} is {len(data)} bytes; the limit is "
                f"{wire.MAX_INLINE_BYTES} bytes. Use the File API for larger files."
            )
        return data, mime
    file_data = get(part, "fileData")
    if file_data is not None:
        uri = str(get(file_data, "fileUri") or "")
        name = "files/" + uri.rstrip("/").rsplit("/files/", 1)[-1].split("/")[-1]
        found = files(name)
        if found is None:
            raise wire.ApiError(
                403,
                "PERMISSION_DENIED",
                f"You do not have permission to access the File {name.removeprefix('files/')} "
                "or it may not exist.",
            )
        return found
    return None, None


def _dimensions(data: bytes, mime: str | None, ci: int, pi: int) -> tuple[int | None, int | None]:
    if mime in ("image/heic", "image/heif"):
        return None, None  # Pillow needs a plugin for these; the real API takes them
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            width, height = im.size
            return int(width), int(height)
    except Exception:
        raise wire.invalid_argument(
            f"Unable to process input image at contents[{ci}].parts[{pi}]. Please retry or "
            "report in https://developers.generativeai.google/guide/troubleshooting"
        ) from None


def _check_signature(
    part: dict[str, Any], data: bytes | None, text: Any, ci: int, pi: int, *, first: bool
) -> None:
    """Gemini 3 wants its earlier answers back with their thought signatures, unchanged.

    Google's docs: the first part after the thoughts and every image part are validated.
    """
    raw = get(part, "thoughtSignature")
    if raw is None:
        if get(part, "thought"):
            return
        kind = "Image" if data is not None else "Text" if first and text else None
        if kind is not None:
            raise wire.invalid_argument(
                f"{kind} part is missing a thought_signature in content position {ci + 1}, "
                f"part position {pi + 1}. Please refer to "
                "https://ai.google.dev/gemini-api/docs/thought-signatures#model-behavior for "
                "more details."
            )
        return
    signature = wire.b64decode(str(raw))  # the schema checked it
    payload = data if data is not None else str(text or "").encode()
    if not wire.signature_matches(signature, payload):
        raise wire.invalid_argument("Corrupted thought signature.")
