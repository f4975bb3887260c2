"""Every model of the family, with its own limits; retired ids get the real 404."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from datetime import date

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from nanobanana._models import registry as _registry
from nanobanana.testing import FakeGemini, sample_photo
from nanobanana.testing._models import MODELS, RETIRED, SHUTDOWN, TEXT_MODELS
from tests.testing.helpers import call, text_body


def image_part(response: types.GenerateContentResponse) -> types.Part:
    return next(p for p in response.parts or [] if p.inline_data and not p.thought)


@pytest.fixture(scope="module")
def old_gemini() -> Iterator[FakeGemini]:
    """An emulator that still serves shut-down models, for tests of old code."""
    with FakeGemini(serve_retired=True) as server:
        yield server


@pytest.fixture
def old_client(old_gemini: FakeGemini) -> Iterator[genai.Client]:
    old_gemini.reset()
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=old_gemini.url))
    yield client
    client.close()


@pytest.mark.parametrize("model", list(MODELS))
def test_every_family_model_is_served(old_client: genai.Client, model: str) -> None:
    spec = MODELS[model]
    response = old_client.models.generate_content(
        model=model, contents="a fox", config=types.GenerateContentConfig(
            response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1"))
    )  # fmt: skip
    part = image_part(response)
    assert part.inline_data.mime_type == spec.output_mime
    with Image.open(io.BytesIO(part.inline_data.data)) as image:
        assert image.format == spec.output_mime.split("/")[1].upper()
        assert image.size == (1024, 1024)


def test_nano_banana_serves_png_and_1k_only(old_gemini: FakeGemini) -> None:
    path = "/v1beta/models/gemini-2.5-flash-image:generateContent"
    status, answer = call(old_gemini, path, text_body(imageConfig={"imageSize": "4K"}))
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
    assert pro[0] == 400 and "aspect_ratio must be one of" in pro[1]["error"]["message"]
    assert "1:4" not in pro[1]["error"]["message"]


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
    served = {m for m in MODELS if not MODELS[m].shutdown}  # 2.5 Flash Image is shut down
    text = {f"models/{t[0]}" for t in TEXT_MODELS}
    assert set(listed) == {f"models/{m}" for m in served} | text
    for model, spec in MODELS.items():
        if model not in served:
            continue
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
    assert set(_SHARED) == set(MODELS) == set(_registry.MODELS)


@pytest.mark.parametrize("model", _SHARED)
def test_the_emulator_table_agrees_with_the_sdk_registry(model: str) -> None:
    """Two tables kept apart on purpose (a fake sharing the SDK's table shares its bugs)."""
    sdk, spec = _registry.MODELS[model], MODELS[model]
    assert sdk.name == spec.name
    assert set(sdk.aspect_ratios) == set(spec.ratios)
    assert set(sdk.image_sizes) == set(spec.sizes)
    limits = sdk.references
    assert (limits.total or 14, limits.objects, limits.humans) == (
        spec.max_references, spec.max_object_references, spec.max_human_references
    )  # fmt: skip
    assert sdk.output_mime == spec.output_mime or model != "gemini-2.5-flash-image"
    assert sdk.pricing is not None
    assert dict(sdk.pricing.image_output_tokens) == spec.image_tokens
    assert {s: tuple(map(float, r)) for s, r in sdk.latency.items()} == spec.latency
    assert sdk.signed_parts == spec.signed
    assert sdk.accepts_thinking_config == spec.thinking_config
    assert sdk.thinks == spec.thinks
    assert sdk.no_ratio_pixels == spec.no_ratio
    if sdk.pixels is not None:  # the SDK checks sizes only where it has the table
        assert {k: v for k, v in spec.pixels.items() if k[1] in ("1K", "2K", "4K")} == dict(
            sdk.pixels
        )
    life = sdk.lifecycle
    assert (life.released, life.replacement) == (spec.released, spec.replacement)
    assert dict(life.shutdown) == spec.shutdown
    assert sdk.input_tokens == spec.input_token_limit


def test_retired_ids_agree() -> None:
    for retired, replacement in _registry.RETIRED_MODELS.items():
        assert retired in RETIRED, retired
        assert replacement in MODELS, replacement
        assert dict(_registry.RETIRED_SHUTDOWN[retired]) == SHUTDOWN[retired]


@pytest.mark.parametrize("serve_retired", [False, True])
def test_a_model_is_served_until_its_shutdown_date(serve_retired: bool) -> None:
    day = [date(2026, 10, 1)]
    path = "/v1beta/models/gemini-2.5-flash-image:generateContent"
    with FakeGemini(today=lambda: day[0], serve_retired=serve_retired) as server:
        assert call(server, path, text_body())[0] == 200
        day[0] = date(2026, 10, 2)
        status, answer = call(server, path, text_body())
        vertex = server.served("gemini-2.5-flash-image", vertex=True)
    if serve_retired:
        assert status == 200
    else:
        assert status == 404 and answer["error"]["message"].startswith(
            "models/gemini-2.5-flash-image is not found for API version v1beta"
        )
    assert vertex  # no shutdown date is known on Vertex: served


def test_gemini_2_5_flash_image_is_its_own_model(old_gemini: FakeGemini) -> None:
    """Its own sizes, 1,290 tokens, 1024x1024 without a ratio, no signatures, no thinking."""
    path = "/v1beta/models/gemini-2.5-flash-image:generateContent"
    status, answer = call(old_gemini, path, text_body(
        responseModalities=["TEXT", "IMAGE"], imageConfig={"aspectRatio": "16:9"}))  # fmt: skip
    assert status == 200
    parts = answer["candidates"][0]["content"]["parts"]
    assert not any("thoughtSignature" in p for p in parts)
    image = next(p for p in parts if "inlineData" in p)
    data = base64.b64decode(image["inlineData"]["data"])
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (1344, 768) and im.format == "PNG"
    assert {"modality": "IMAGE", "tokenCount": 1290} in answer["usageMetadata"][
        "candidatesTokensDetails"
    ]
    assert "thoughtsTokenCount" not in answer["usageMetadata"]
    status, answer = call(old_gemini, path, text_body())
    image = next(p for p in answer["candidates"][0]["content"]["parts"] if "inlineData" in p)
    with Image.open(io.BytesIO(base64.b64decode(image["inlineData"]["data"]))) as im:
        assert im.size == (1024, 1024)
    status, answer = call(old_gemini, path, text_body(thinkingConfig={"includeThoughts": True}))
    assert (status, answer["error"]["message"]) == (400, "Thinking is not enabled for this model")
    # a later turn needs no signature
    model_turn = {"role": "model", "parts": [{"inlineData": image["inlineData"]}]}
    body = {"contents": [{"role": "user", "parts": [{"text": "a fox"}]}, model_turn,
                         {"role": "user", "parts": [{"text": "make it blue"}]}]}  # fmt: skip
    assert call(old_gemini, path, body)[0] == 200


@pytest.mark.parametrize(
    ("size", "tokens"), [("512", 747), ("1K", 1120), ("2K", 1680), ("4K", 2520)]
)
def test_nano_banana_2_bills_by_size(fake_gemini: FakeGemini, size: str, tokens: int) -> None:
    path = "/v1beta/models/gemini-3.1-flash-image:generateContent"
    status, answer = call(
        fake_gemini,
        path,
        text_body(
            responseModalities=["IMAGE"], imageConfig={"aspectRatio": "1:1", "imageSize": size}
        ),
    )
    assert status == 200  # fmt: skip
    assert answer["usageMetadata"]["candidatesTokensDetails"] == [
        {"modality": "IMAGE", "tokenCount": tokens}
    ]


def test_models_list_pages(fake_gemini: FakeGemini) -> None:
    pages, token = [], None
    while True:
        path = "/v1beta/models?pageSize=2" + (f"&pageToken={token}" if token else "")
        status, page = call(fake_gemini, path, None, method="GET")
        assert status == 200 and len(page["models"]) <= 2
        pages.append(page["models"])
        token = page.get("nextPageToken")
        if not token:
            break
    names = [m["name"] for page in pages for m in page]
    assert len(pages) >= 3 and len(names) == len(set(names))
    text_only = [m for page in pages for m in page if "-image" not in m["name"]]
    assert text_only and all("image" not in m["description"].lower() for m in text_only)
