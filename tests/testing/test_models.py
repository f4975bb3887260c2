"""Every model of the family, with its own limits; retired ids get the real 404."""

from __future__ import annotations

import io
from dataclasses import fields

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from nanobanana._models import registry as _registry
from nanobanana.testing import FakeGemini, sample_photo
from nanobanana.testing._models import MODELS, RETIRED, ModelSpec
from tests.testing.helpers import call, text_body


def image_part(response: types.GenerateContentResponse) -> types.Part:
    return next(p for p in response.parts or [] if p.inline_data and not p.thought)


@pytest.mark.parametrize("model", list(MODELS))
def test_every_family_model_is_served(genai_client: genai.Client, model: str) -> None:
    spec = MODELS[model]
    response = genai_client.models.generate_content(
        model=model, contents="a fox", config=types.GenerateContentConfig(
            response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1"))
    )  # fmt: skip
    part = image_part(response)
    assert part.inline_data.mime_type == spec.output_mime
    with Image.open(io.BytesIO(part.inline_data.data)) as image:
        assert image.format == spec.output_mime.split("/")[1].upper()
        assert image.size == (1024, 1024)


def test_nano_banana_serves_png_and_1k_only(fake_gemini: FakeGemini) -> None:
    path = "/v1beta/models/gemini-2.5-flash-image:generateContent"
    status, answer = call(fake_gemini, path, text_body(imageConfig={"imageSize": "4K"}))
    assert (
        status == 400 and "1K" in answer["error"]["message"] and "4K" in answer["error"]["message"]
    )


def test_nano_banana_2_serves_512_and_extreme_ratios(fake_gemini: FakeGemini) -> None:
    path = "/v1beta/models/gemini-3.1-flash-image:generateContent"
    body = text_body(
        responseModalities=["IMAGE"], imageConfig={"aspectRatio": "1:4", "imageSize": "512"}
    )
    status, answer = call(fake_gemini, path, body)
    assert status == 200
    pro = call(fake_gemini, "/v1beta/models/gemini-3-pro-image:generateContent", body)
    assert pro[0] == 400 and "1:4" in pro[1]["error"]["message"]


def test_nano_banana_2_thinking_levels(fake_gemini: FakeGemini) -> None:
    path = "/v1beta/models/gemini-3.1-flash-image:generateContent"
    assert call(fake_gemini, path, text_body(thinkingConfig={"thinkingLevel": "MINIMAL"}))[0] == 200
    status, answer = call(fake_gemini, path, text_body(thinkingConfig={"thinkingLevel": "LOW"}))
    assert status == 400 and "MINIMAL, HIGH" in answer["error"]["message"]


def test_too_many_references(fake_gemini: FakeGemini) -> None:
    photo = sample_photo(32, 32)
    import base64

    data = base64.b64encode(photo).decode()
    parts = [{"inlineData": {"mimeType": "image/jpeg", "data": data}} for _ in range(15)]
    body = {"contents": [{"parts": [{"text": "combine"}, *parts]}]}
    status, answer = call(fake_gemini, "/v1beta/models/gemini-3-pro-image:generateContent", body)
    assert status == 400 and "maximum number of images" in answer["error"]["message"]


@pytest.mark.parametrize("version", ["v1", "v1beta"])
@pytest.mark.parametrize("model", [*sorted(RETIRED), "gemini-9-ultra-image"])
def test_retired_and_unknown_ids_get_the_real_404(
    fake_gemini: FakeGemini, version: str, model: str
) -> None:
    client = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=fake_gemini.url, api_version=version))  # fmt: skip
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=model, contents="a fox")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert info.value.message == (
        f"models/{model} is not found for API version {version}, or is not supported for "
        "generateContent. Call ModelService.ListModels to see the list of available models "
        "and their supported methods."
    )


def test_models_list_has_token_limits(genai_client: genai.Client) -> None:
    listed = {m.name: m for m in genai_client.models.list()}
    assert set(listed) == {f"models/{m}" for m in MODELS}
    for model, spec in MODELS.items():
        entry = listed[f"models/{model}"]
        assert entry.input_token_limit == spec.input_token_limit > 0
        assert entry.output_token_limit == spec.output_token_limit > 0
        assert "generateContent" in entry.supported_actions


def test_count_tokens(genai_client: genai.Client) -> None:
    short = genai_client.models.count_tokens(model="gemini-3-pro-image", contents="a fox")
    long = genai_client.models.count_tokens(model="gemini-3-pro-image", contents="a fox " * 100)
    assert 0 < short.total_tokens < long.total_tokens


_SHARED = sorted(set(MODELS) & set(_registry.MODELS))


def test_the_two_tables_share_models() -> None:
    assert {"gemini-3-pro-image", "gemini-3.1-flash-image"} <= set(_SHARED)


@pytest.mark.parametrize("model", _SHARED)
def test_the_emulator_table_agrees_with_the_sdk_registry(model: str) -> None:
    """Two tables kept apart on purpose (a fake sharing the SDK's table shares its bugs)."""
    ours = {f.name for f in fields(ModelSpec)}
    pairs = {  # SDK field -> emulator field, where the names differ
        "aspect_ratios": "ratios", "image_sizes": "sizes", "max_references": "max_references",
        "max_object_references": "max_object_references",
        "max_human_references": "max_human_references", "name": "name",
    }  # fmt: skip
    compared = 0
    sdk, spec = _registry.MODELS[model], MODELS[model]
    sdk_fields = {f.name for f in fields(sdk)}
    for theirs, mine in pairs.items():
        if theirs not in sdk_fields or mine not in ours:
            continue
        value, expected = getattr(sdk, theirs), getattr(spec, mine)
        if value is None or expected is None:
            continue  # "every value" / "not settled": nothing to compare
        if isinstance(value, frozenset | set | tuple | list):
            value, expected = set(value), set(expected)
        assert value == expected, f"{model}.{theirs}: SDK {value!r}, emulator {expected!r}"
        compared += 1
    assert compared


def test_retired_ids_agree() -> None:
    for retired, replacement in _registry.RETIRED_MODELS.items():
        assert retired in RETIRED, retired
        assert replacement in MODELS, replacement
