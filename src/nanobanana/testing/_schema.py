"""The request schema, checked as strictly as the real API checks it, and no more.

Field sets follow what `google-genai` 3.x puts on the wire (its ``_to_mldev`` and
``_to_vertex`` converters) and the REST reference: every field either sends is accepted, in
camelCase or snake_case (proto JSON takes both). Sub-messages this emulator does not use
(function declarations, schemas, safety settings, ...) are accepted whole. Errors use the
API's wording and snake_case field paths, e.g.
``Invalid JSON payload received. Unknown name "aspectRatio" at 'generation_config': Cannot find
field.``; several are joined by newlines, with a ``BadRequest`` detail listing each.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import _wire as wire

__all__ = ["validate", "validate_contents"]

# A field's type: a scalar kind, "any" (not checked), ("msg", Name), ("enum", Name), or a
# list of one of them (repeated).
_Type = Any

_ANY = "any"
_REQUEST = {
    "model": "string", "contents": [("msg", "Content")],
    "systemInstruction": ("msg", "Content"), "tools": [("msg", "Tool")], "toolConfig": _ANY,
    "safetySettings": [_ANY], "generationConfig": ("msg", "GenerationConfig"),
    "cachedContent": "string", "serviceTier": _ANY, "store": "bool",
}  # fmt: skip
_GENERATION_CONFIG = {
    "stopSequences": ["string"], "responseMimeType": "string", "responseSchema": _ANY,
    "responseJsonSchema": _ANY, "_responseJsonSchema": _ANY, "candidateCount": "int",
    "maxOutputTokens": "int", "temperature": "number", "topP": "number", "topK": "number",
    "seed": "int", "presencePenalty": "number", "frequencyPenalty": "number",
    "responseLogprobs": "bool", "logprobs": "int", "enableEnhancedCivicAnswers": "bool",
    "speechConfig": _ANY, "thinkingConfig": ("msg", "ThinkingConfig"),
    "imageConfig": ("msg", "ImageConfig"), "mediaResolution": ("enum", "MediaResolution"),
    "responseModalities": [("enum", "Modality")],
    "audioTranscriptionConfig": _ANY,
    "enableAffectiveDialog": "bool",
    "responseFormat": _ANY,
    "translationConfig": _ANY,
}  # fmt: skip
_PART = {
    "text": "string", "inlineData": ("msg", "Blob"), "fileData": ("msg", "FileData"),
    "functionCall": _ANY, "functionResponse": _ANY, "executableCode": _ANY,
    "codeExecutionResult": _ANY, "thought": "bool", "thoughtSignature": "bytes",
    "videoMetadata": _ANY, "mediaResolution": _ANY, "partMetadata": _ANY, "toolCall": _ANY,
    "toolResponse": _ANY,
    "audioTranscription": _ANY,
    "audioMetadata": _ANY,
    "speechMetadata": _ANY,
    "documentMetadata": _ANY,
    "spreadsheetMetadata": _ANY,
    "mediaProcessing": _ANY,
}  # fmt: skip
_TOOL = {
    "functionDeclarations": _ANY, "googleSearchRetrieval": _ANY, "codeExecution": _ANY,
    "googleSearch": ("msg", "GoogleSearch"), "urlContext": _ANY, "computerUse": _ANY,
    "fileSearch": _ANY, "googleMaps": _ANY, "mcpServers": _ANY,
}  # fmt: skip
_GEMINI: dict[str, dict[str, _Type]] = {
    "GenerateContentRequest": _REQUEST,
    "GenerationConfig": _GENERATION_CONFIG,
    "ThinkingConfig": {
        "includeThoughts": "bool",
        "thinkingBudget": "int",
        "thinkingLevel": ("enum", "ThinkingLevel"),
    },
    "ImageConfig": {"aspectRatio": "string", "imageSize": "string"},
    "Content": {"role": "string", "parts": [("msg", "Part")]},
    "Part": _PART,
    "Blob": {"mimeType": "string", "data": "bytes", "displayName": "string"},
    "FileData": {"mimeType": "string", "fileUri": "string", "displayName": "string"},
    "Tool": _TOOL,
    "GoogleSearch": {"searchTypes": ("msg", "SearchTypes"), "timeRangeFilter": _ANY},
    "SearchTypes": {"webSearch": _ANY, "imageSearch": _ANY},
}
#: Vertex AI takes more: output format and people settings, routing, labels, more tools.
_VERTEX: dict[str, dict[str, _Type]] = {
    **_GEMINI,
    "GenerateContentRequest": {**_REQUEST, "labels": _ANY, "modelArmorConfig": _ANY},
    "GenerationConfig": {
        **_GENERATION_CONFIG,
        "routingConfig": _ANY,
        "audioTimestamp": "bool",
        "modelSelectionConfig": _ANY,
        "enableAffectiveDialog": "bool",
    },
    "ImageConfig": {
        "aspectRatio": "string",
        "imageSize": "string",
        "outputMimeType": "string",
        "outputCompressionQuality": "int",
        "personGeneration": "string",
        "prominentPeople": _ANY,
        "imageOutputOptions": _ANY,
    },
    "Part": {**_PART, "audioMetadata": _ANY, "speechMetadata": _ANY},
    "Tool": {
        **_TOOL,
        "retrieval": _ANY,
        "enterpriseWebSearch": _ANY,
        "exaAiSearch": _ANY,
        "parallelAiSearch": _ANY,
    },
    "GoogleSearch": {
        "searchTypes": ("msg", "SearchTypes"),
        "timeRangeFilter": _ANY,
        "excludeDomains": ["string"],
        "blockingConfidence": _ANY,
    },
}
_ENUMS = {
    "Modality": {"MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO", "VIDEO"},
    "MediaResolution": {
        "MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW",
        "MEDIA_RESOLUTION_MEDIUM",
        "MEDIA_RESOLUTION_HIGH",
        "MEDIA_RESOLUTION_ULTRA_HIGH",
    },
    "ThinkingLevel": {"THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"},
}
_SCALAR_TYPE = {
    "string": "TYPE_STRING", "bool": "TYPE_BOOL", "int": "TYPE_INT32",
    "number": "TYPE_FLOAT", "bytes": "TYPE_BYTES",
}  # fmt: skip


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _Checker:
    def __init__(self, vertex: bool, version: str) -> None:
        self.schema = _VERTEX if vertex else _GEMINI
        package = "google.cloud.aiplatform" if vertex else "google.ai.generativelanguage"
        self.prefix = f"type.googleapis.com/{package}.{version}."
        self.errors: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def message(self, value: Any, name: str, path: str) -> None:
        fields = self.schema[name]
        for key, item in value.items():
            kind = fields.get(_camel(key)) if isinstance(key, str) else None
            if kind is None:
                where = f" at '{path}'" if path else ""
                self.fail(
                    path,
                    f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                    "Cannot find field.",
                )
                continue
            self.value(item, kind, _join(path, _snake(_camel(key))), key, path)

    def value(self, item: Any, kind: _Type, path: str, key: str, parent: str) -> None:
        if item is None or kind == _ANY:
            return
        if isinstance(kind, list):
            # Proto JSON takes a single value where a list is expected.
            items = item if isinstance(item, list) else [item]
            for i, one in enumerate(items):
                self.value(one, kind[0], f"{path}[{i}]", key, parent)
            return
        if isinstance(item, list):
            where = f" at '{parent}'" if parent else ""
            self.fail(
                path,
                f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                "Proto field is not repeating, cannot start list.",
            )
            return
        if isinstance(kind, tuple) and kind[0] == "msg":
            if isinstance(item, dict):
                self.message(item, kind[1], path)
            else:
                self.invalid(path, self.prefix + kind[1], item)
        elif isinstance(kind, tuple):  # enum
            if not (isinstance(item, str) and item.upper() in _ENUMS[kind[1]]):
                self.invalid(path, f"{self.prefix}{kind[1]}", item)
        elif not _scalar_ok(kind, item):
            self.invalid(path, _SCALAR_TYPE[kind], item)
        elif kind == "bytes":
            try:
                wire.b64decode(item)
            except (ValueError, TypeError):
                self.fail(path, wire.bad_base64(path, item).message)

    def invalid(self, path: str, type_name: str, item: Any) -> None:
        self.fail(path, f"Invalid value at '{path}' ({type_name}), {_short(item)}")

    def raise_any(self) -> None:
        if not self.errors:
            return
        # A top-level unknown name has no ``field`` key live (FACTS 2026-12-04).
        violations = [
            {"field": f, "description": m} if f else {"description": m} for f, m in self.errors
        ]
        raise wire.ApiError(
            400,
            "INVALID_ARGUMENT",
            "\n".join(m for _, m in self.errors),
            [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}],
        )


def _scalar_ok(kind: str, item: Any) -> bool:
    if kind in ("string", "bytes"):
        return isinstance(item, str)
    if kind == "bool":
        return isinstance(item, bool) or item in ("true", "false")
    if isinstance(item, bool | dict):
        return False
    if isinstance(item, int | float):
        return kind == "number" or float(item).is_integer()
    if isinstance(item, str):  # proto JSON takes numbers as strings
        try:
            float(item) if kind == "number" else int(item)
        except ValueError:
            return False
        return True
    return False


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _short(item: Any) -> str:
    text = json.dumps(item)
    return text if len(text) <= 80 else text[:77] + "..."


def validate(body: Any, *, vertex: bool = False, version: str = "v1beta") -> None:
    """Checks a generateContent body against the schema.

    Raises:
        ApiError: 400 INVALID_ARGUMENT naming every unknown field and mistyped value.
    """
    checker = _Checker(vertex, version)
    if not isinstance(body, dict):
        raise wire.invalid_argument(
            f"Invalid JSON payload received. Expected an object, got {_short(body)}."
        )
    checker.message(body, "GenerateContentRequest", "")
    checker.raise_any()


def validate_contents(body: Any, *, vertex: bool = False, version: str = "v1beta") -> None:
    """Checks a countTokens body: ``contents`` or a whole ``generateContentRequest``."""
    if not isinstance(body, dict):
        raise wire.invalid_argument("Invalid JSON payload received. Expected an object.")
    checker = _Checker(vertex, version)
    for key, item in body.items():
        camel = _camel(key)
        if camel == "contents":
            checker.value(item, [("msg", "Content")], "contents", key, "")
        elif camel == "generateContentRequest" and isinstance(item, dict):
            checker.message(item, "GenerateContentRequest", "generate_content_request")
        elif camel not in ("model", "generateContentRequest"):
            checker.fail(
                "", f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    checker.raise_any()
