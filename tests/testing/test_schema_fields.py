"""The schema is derived from google-genai's types: every field they can put on the wire is
accepted, except those google-genai itself refuses on the Gemini API (Vertex-only)."""

from __future__ import annotations

import pytest
from google.genai import types

from nanobanana.testing import _schema

#: google-genai's _to_mldev converters raise ValueError for these: Vertex AI only.
VERTEX_ONLY = {
    "GenerationConfig": {"routingConfig", "modelSelectionConfig", "audioTimestamp"},
    "ImageConfig": {
        "personGeneration", "prominentPeople", "outputMimeType", "outputCompressionQuality",
        "imageOutputOptions",
    },
    "Tool": {"retrieval", "enterpriseWebSearch", "parallelAiSearch", "exaAiSearch"},
    "GoogleSearch": {"blockingConfidence", "excludeDomains"},
}  # fmt: skip
TYPES = {
    "GenerationConfig": types.GenerationConfig, "ImageConfig": types.ImageConfig,
    "ThinkingConfig": types.ThinkingConfig, "Part": types.Part, "Blob": types.Blob,
    "FileData": types.FileData, "Tool": types.Tool, "GoogleSearch": types.GoogleSearch,
    "SearchTypes": types.SearchTypes, "Content": types.Content,
}  # fmt: skip


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


@pytest.mark.parametrize("name", list(TYPES))
def test_gemini_accepts_every_field_google_genai_sends(name: str) -> None:
    fields = {camel(f) for f in TYPES[name].model_fields}
    expected = fields - VERTEX_ONLY.get(name, set())
    assert expected <= set(_schema._GEMINI[name]), expected - set(_schema._GEMINI[name])
    assert not VERTEX_ONLY.get(name, set()) & set(_schema._GEMINI[name])


@pytest.mark.parametrize("name", list(TYPES))
def test_vertex_accepts_every_field(name: str) -> None:
    fields = {camel(f) for f in TYPES[name].model_fields}
    assert fields <= set(_schema._VERTEX[name]), fields - set(_schema._VERTEX[name])


def test_request_level_fields_of_the_config() -> None:
    """GenerateContentConfig fields that google-genai moves to the request's top level."""
    for field in ("systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent"):
        assert field in _schema._GEMINI["GenerateContentRequest"]
