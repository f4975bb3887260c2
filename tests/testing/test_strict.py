"""The emulator refuses what the real API refuses, in its words, and accepts what it accepts."""

from __future__ import annotations

import base64

import pytest

from nanobanana.testing import FakeGemini, sample_photo
from tests.testing.helpers import GENERATE, PRO, call, text_body

UNKNOWN = "Invalid JSON payload received. Unknown name \"{}\" at '{}': Cannot find field."


def error(server: FakeGemini, body: object, path: str = GENERATE) -> tuple[int, str]:
    status, answer = call(server, path, body)
    assert status != 200, answer
    return status, answer["error"]["message"]


def ok(server: FakeGemini, body: object, path: str = GENERATE) -> dict:
    status, answer = call(server, path, body)
    assert status == 200, answer
    return answer


def test_misplaced_aspect_ratio_is_the_real_400(fake_gemini: FakeGemini) -> None:
    status, answer = call(fake_gemini, GENERATE, text_body(aspectRatio="16:9"))
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    expected = UNKNOWN.format("aspectRatio", "generation_config")
    assert answer["error"]["message"] == expected
    (detail,) = answer["error"]["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert detail["fieldViolations"] == [{"field": "generation_config", "description": expected}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**text_body(), "foo": 1}, 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'),
        (text_body(imageConfig={"aspect_ratio": "1:1", "size": "1K"}),
         UNKNOWN.format("size", "generation_config.image_config")),
        ({"contents": [{"parts": [{"text": "a", "bold": True}]}]}, UNKNOWN.format("bold", "contents[0].parts[0]")),
        ({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "", "x": 1}}]}]},
         UNKNOWN.format("x", "contents[0].parts[0].inline_data")),
        (text_body(thinkingConfig={"includeThoughts": True, "budget": 3}),
         UNKNOWN.format("budget", "generation_config.thinking_config")),
        ({**text_body(), "tools": [{"google_search": {"mode": "x"}}]}, UNKNOWN.format("mode", "tools[0].google_search")),
    ],
)  # fmt: skip
def test_unknown_fields_anywhere(fake_gemini: FakeGemini, body: dict, message: str) -> None:
    assert error(fake_gemini, body) == (400, message)


def test_several_unknown_fields_are_all_named(fake_gemini: FakeGemini) -> None:
    _, message = error(fake_gemini, {**text_body(aspectRatio="1:1"), "foo": 1})
    assert message.splitlines() == [
        UNKNOWN.format("aspectRatio", "generation_config"),
        'Invalid JSON payload received. Unknown name "foo": Cannot find field.',
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**text_body(), "generationConfig": []},
         'Invalid JSON payload received. Unknown name "generationConfig": Proto field is not '
         "repeating, cannot start list."),
        ({"contents": [{"parts": [{"inlineData": "abc"}]}]},
         "Invalid value at 'contents[0].parts[0].inline_data' "
         '(type.googleapis.com/google.ai.generativelanguage.v1beta.Blob), "abc"'),
        ({"contents": [{"parts": [{"text": 5}]}]},
         "Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 5"),
        ({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "!!not base64!!"}}]}]},
         "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), "
         'Base64 decoding failed for "!!not base64!!"'),
        (text_body(responseModalities=["PICTURE"]),
         "Invalid value at 'generation_config.response_modalities[0]' "
         '(type.googleapis.com/google.ai.generativelanguage.v1beta.Modality), "PICTURE"'),
        (text_body(temperature="hot"), "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""),
    ],
)  # fmt: skip
def test_malformed_shapes_are_400_not_a_crash(
    fake_gemini: FakeGemini, body: dict, message: str
) -> None:
    assert error(fake_gemini, body) == (400, message)
    assert ok(fake_gemini, text_body())  # the emulator still serves


def test_deep_json_and_broken_json_are_400(fake_gemini: FakeGemini) -> None:
    deep = b'{"contents": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, answer = call(fake_gemini, GENERATE, raw=deep)
    assert status == 400 and "Invalid JSON payload received" in answer["error"]["message"]
    status, answer = call(fake_gemini, GENERATE, raw=b'{"contents": [')
    assert status == 400 and answer["error"]["message"].startswith("Invalid JSON payload received.")
    status, answer = call(fake_gemini, GENERATE, raw=b"\xff\xfe")
    assert status == 400


def test_everything_google_genai_sends_is_accepted(fake_gemini: FakeGemini) -> None:
    """camelCase and snake_case, URL-safe base64, and the fields the REST schema has."""
    photo = sample_photo(64, 64)
    body = {
        "contents": [{"role": "user", "parts": [
            {"text": "make it blue", "media_resolution": {"level": "MEDIA_RESOLUTION_HIGH"}},
            {"inline_data": {"mime_type": "image/jpeg",
                             "data": base64.urlsafe_b64encode(photo).decode().rstrip("=")}},
        ]}],
        "systemInstruction": {"parts": [{"text": "You draw bananas."}]},
        "tools": [{"googleSearch": {}}],
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generation_config": {
            "temperature": 1.0, "seed": 7, "topP": 0.9, "top_k": 40, "candidateCount": 1,
            "maxOutputTokens": "32768", "stop_sequences": ["END"],
            "mediaResolution": "MEDIA_RESOLUTION_HIGH",
            "responseModalities": ["TEXT", "IMAGE"],
            "thinking_config": {"include_thoughts": True, "thinkingLevel": "HIGH"},
            "image_config": {"aspect_ratio": "16:9", "imageSize": "2K"},
        },
    }  # fmt: skip
    answer = ok(fake_gemini, body)
    assert answer["candidates"][0]["finishReason"] == "STOP"


def test_vertex_only_image_options(fake_gemini: FakeGemini) -> None:
    body = text_body(imageConfig={"outputMimeType": "image/png", "outputCompressionQuality": 80})
    assert error(fake_gemini, body)[1].startswith(
        UNKNOWN.format("outputMimeType", "generation_config.image_config")
    )
    vertex = (
        f"/v1beta1/projects/p/locations/us-central1/publishers/google/models/{PRO}:generateContent"
    )
    status, answer = call(
        fake_gemini, vertex, body, key=None, headers={"authorization": "Bearer t"}
    )
    assert status == 200
    parts = answer["candidates"][0]["content"]["parts"]
    assert [p["inlineData"]["mimeType"] for p in parts if "inlineData" in p] == ["image/png"]


def test_vertex_needs_a_bearer_token(fake_gemini: FakeGemini) -> None:
    path = f"/v1beta1/projects/p/locations/l/publishers/google/models/{PRO}:generateContent"
    status, answer = call(fake_gemini, path, text_body(), key="k")
    assert status == 401 and answer["error"]["status"] == "UNAUTHENTICATED"


def test_vertex_batch_jobs_are_a_clear_501(fake_gemini: FakeGemini) -> None:
    path = "/v1beta1/projects/p/locations/l/batchPredictionJobs"
    status, answer = call(fake_gemini, path, {}, headers={"authorization": "Bearer t"})
    assert status == 501 and "Cloud Storage" in answer["error"]["message"]
