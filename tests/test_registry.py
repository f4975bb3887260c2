"""The model registry: every model's limits as a table, sizes checked after, costs, listing."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from google.genai import types

from nanobanana import GenerationRequest, InvalidRequestError, Reference, UnknownModelWarning
from nanobanana._core.wire import generation_config
from nanobanana._errors import ReferenceCountWarning, SizeMismatchWarning
from nanobanana._models.catalog import merge_models, models_markdown
from nanobanana._models.checks import size_mismatch
from nanobanana._models.cost import estimate_cost, usage_cost
from nanobanana._models.registry import (
    ALL_ASPECT_RATIOS,
    ALL_IMAGE_SIZES,
    MODELS,
    typical_latency,
    typical_quota,
)

PRO, NB2, LITE, NB1 = (
    "gemini-3-pro-image",
    "gemini-3.1-flash-image",
    "gemini-3.1-flash-lite-image",
    "gemini-2.5-flash-image",
)
TEN = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
TALL_WIDE = ["1:4", "4:1", "1:8", "8:1"]

# model, ratios it takes, sizes it takes, search modes, thinking levels
TABLE = [
    (PRO, TEN, ["1K", "2K", "4K"], ["web"], []),
    (NB2, TEN + TALL_WIDE, ["512", "1K", "2K", "4K"], ["web", "image"], ["minimal", "high"]),
    (LITE, TEN + TALL_WIDE, ["1K"], [], []),
    (NB1, TEN, ["1K"], [], []),
]


def test_the_table_covers_the_family() -> None:
    assert list(MODELS) == [row[0] for row in TABLE]
    assert list(ALL_ASPECT_RATIOS) == TEN + TALL_WIDE
    assert list(ALL_IMAGE_SIZES) == ["512", "1K", "2K", "4K"]
    for info in MODELS.values():
        assert info.pricing is not None, f"{info.id} has no price: max_cost could not hold"
        assert set(info.latency) == set(info.image_sizes)
        assert info.sources, f"{info.id} does not say where its facts came from"


@pytest.mark.parametrize(("model", "ratios", "sizes", "search", "levels"), TABLE)
def test_each_model_takes_exactly_its_ratios(model, ratios, sizes, search, levels) -> None:
    for ratio in ALL_ASPECT_RATIOS:
        if ratio in ratios:
            assert (
                GenerationRequest("a", model=model, aspect_ratio=ratio).aspect_ratio.value == ratio
            )
        else:
            with pytest.raises(InvalidRequestError) as info:
                GenerationRequest("a", model=model, aspect_ratio=ratio)
            message = str(info.value)
            assert model in message and f"aspect ratio {ratio}" in message
            assert f"allowed: {', '.join(ratios)}" in message


@pytest.mark.parametrize(("model", "ratios", "sizes", "search", "levels"), TABLE)
def test_each_model_takes_exactly_its_sizes(model, ratios, sizes, search, levels) -> None:
    for size in ALL_IMAGE_SIZES:
        if size in sizes:
            request = GenerationRequest("a", model=model, size=size.lower())
            assert generation_config(request).image_config.image_size == size
        else:
            with pytest.raises(InvalidRequestError, match=rf"{model} .*does not take size {size}; "
                               rf"allowed: {', '.join(sizes)}$"):  # fmt: skip
                GenerationRequest("a", model=model, size=size)


@pytest.mark.parametrize(("model", "ratios", "sizes", "search", "levels"), TABLE)
def test_each_model_search_and_thinking(model, ratios, sizes, search, levels) -> None:
    for modes, ask in ((["web"], True), (["web", "image"], {"images": True})):
        if set(modes) <= set(search):
            assert GenerationRequest("a", model=model, search=ask).search is not None
        else:
            with pytest.raises(InvalidRequestError, match=re.escape(model)):
                GenerationRequest("a", model=model, search=ask)
    for level in ("minimal", "low", "medium", "high"):
        if level in levels:
            assert GenerationRequest("a", model=model, thinking_level=level).thinking_level == level
        else:
            with pytest.raises(InvalidRequestError, match=re.escape(model)):
                GenerationRequest("a", model=model, thinking_level=level)


def refs(objects: int = 0, humans: int = 0, styles: int = 0) -> list[Reference]:
    return (
        [Reference.object(b"x")] * objects
        + [Reference.human(b"x")] * humans
        + [Reference.style(b"x")] * styles
    )


@pytest.mark.parametrize(
    ("model", "objects", "humans", "styles", "refused"),
    [
        (PRO, 6, 5, 3, None),
        (PRO, 9, 5, 0, None),
        (PRO, 6, 5, 4, "15"),
        (PRO, 0, 0, 4, "4 style reference(s)"),
        (NB2, 10, 4, 0, None),
        (NB2, 9, 4, 1, None),  # a style counts as an object
        (NB2, 11, 0, 0, "1 object(s) beyond 10"),
        (NB2, 10, 0, 1, "1 object(s) beyond 10"),
        (NB2, 0, 5, 0, "1 human(s) beyond 4"),
        (NB2, 10, 4, 1, "15"),
        (LITE, 14, 0, 0, None),
        (LITE, 0, 7, 7, None),
        (LITE, 5, 5, 5, "15"),
        (NB1, 3, 0, 0, None),
    ],
)
def test_reference_limits_per_model(model, objects, humans, styles, refused) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if refused is None:
            GenerationRequest("a", model=model, references=refs(objects, humans, styles))
            return
        with pytest.raises(InvalidRequestError) as info:
            GenerationRequest("a", model=model, references=refs(objects, humans, styles))
    message = str(info.value)
    assert model in message and refused in message
    assert f"{objects} object, {humans} human, {styles} style" in message


@pytest.mark.parametrize("count", [4, 14, 20])
def test_nano_banana_warns_above_three_references_and_never_refuses(count: int) -> None:
    with pytest.warns(ReferenceCountWarning, match=f"about 3 reference images; got {count}") as w:
        GenerationRequest("a", model=NB1, references=refs(count))
    assert w[0].filename == __file__


def test_unknown_models_get_syntax_checks_only() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request = GenerationRequest(
            "a", model="gemini-4-image", aspect_ratio="8:1", size="512px", references=refs(30)
        )
    assert [w.category for w in caught] == [UnknownModelWarning]  # one warning, once per id
    assert request.model == "gemini-4-image" and len(request.references) == 30
    with pytest.raises(InvalidRequestError, match="allowed: 1:1"):
        GenerationRequest("a", model="gemini-4-image", aspect_ratio="7:3")


def test_retired_ids_map_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="gemini-3.1-flash-image-preview"):
        request = GenerationRequest("a", model="gemini-3.1-flash-image-preview", size="512")
    assert request.model == NB2


# -- pixel sizes, checked after the call -----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "ratio", "size", "width", "height", "words"),
    [
        (PRO, "16:9", "2K", 2752, 1536, None),
        (PRO, "21:9", None, 1584, 672, None),  # no size: the API's 1K
        (PRO, "16:9", "2K", 1376, 768, "(2752x1536) but got 1376x768"),  # fell back to 1K
        (PRO, "16:9", "1K", 1024, 1024, "ratio 1.000 instead of 1.778"),  # fell back to 1:1
        (PRO, None, "1K", 1408, 768, None),  # no ratio asked: the model chooses
        (NB2, "1:4", "1K", 512, 2048, None),  # no pixel table: ratio only
        (NB2, "1:4", "1K", 1024, 1024, "aspect ratio 1:4"),
        (NB2, "8:1", "512", 1024, 128, None),
        ("gemini-4-image", "3:2", "2K", 3000, 2000, None),
        ("gemini-4-image", "3:2", "2K", 3000, 2200, "instead of 1.500"),
        (PRO, "4:5", "4K", 3712, 4608, None),
        (PRO, "1:1", "1K", None, None, None),  # size unknown: nothing to compare
    ],
)
def test_size_mismatch(model, ratio, size, width, height, words) -> None:
    message = size_mismatch(model, ratio, size, width, height)
    if words is None:
        assert message is None
    else:
        assert message is not None and words in message and model in message


def test_size_mismatch_reads_enums_and_every_pro_cell_matches() -> None:
    from nanobanana import AspectRatio, ImageSize

    pro = MODELS[PRO]
    assert pro.pixels is not None and len(pro.pixels) == 30
    for (ratio, size), (w, h) in pro.pixels.items():
        assert size_mismatch(PRO, AspectRatio(ratio), ImageSize(size), w, h) is None
        assert size_mismatch(PRO, ratio, size, w + 16, h) is not None
    assert issubclass(SizeMismatchWarning, UserWarning)


# -- latency and quota -----------------------------------------------------------------------


def test_typical_latency_and_quota() -> None:
    assert typical_latency(PRO, "1K") == 23.0  # FACTS: 17-29 s
    assert typical_latency(PRO, "4K") == 85.0  # FACTS: 50-120 s
    assert typical_latency(NB2, "512") < typical_latency(NB2, "4K")
    assert typical_latency("gemini-4-image", None) == typical_latency(PRO, "1K")
    assert typical_quota(PRO).rpm > 0 and typical_quota(PRO).estimate
    assert typical_quota("gemini-4-image") == typical_quota(PRO)


# -- cost --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size", "image_usd"),
    [
        (PRO, "1K", 0.1344),
        (PRO, "4K", 0.24),
        (NB2, "512", 0.045),
        (NB2, "1K", 0.067),
        (NB2, "2K", 0.101),
        (NB2, "4K", 0.151),
        (LITE, "1K", 0.0336),
        (NB1, "1K", 0.0387),
    ],
)
def test_every_model_is_priced_per_image(model: str, size: str, image_usd: float) -> None:
    only_image = usage_cost(
        model, prompt_tokens=0, output_tokens=0, thinking_tokens=0, images=1, size=size
    )
    assert only_image == pytest.approx(image_usd, abs=0.0006)


def test_estimate_is_conservative_and_none_when_unpriced() -> None:
    pro = MODELS[PRO].pricing
    assert pro is not None
    usd = estimate_cost(PRO, prompt_chars=400, input_image_tokens=2 * 1120, size="4K", images=2,
                        search_queries=1)  # fmt: skip
    tokens = (100 + 2240) * 2.00 + 2 * 2000 * 120.00 + 900 * 12.00
    search = pro.max_search_queries * 0.014  # a grounded call priced at its worst case
    assert usd == pytest.approx(tokens / 1e6 + search)
    batch = estimate_cost(PRO, prompt_chars=400, batch=True, search_queries=1)
    full = estimate_cost(PRO, prompt_chars=400, search_queries=1)
    assert batch is not None and full is not None
    assert batch == pytest.approx((full - search) / 2 + search)  # search is not discounted
    assert estimate_cost("gemini-4-image", prompt_chars=10) is None
    assert estimate_cost(NB1, prompt_chars=10, size="4K") is None  # no price at that size


def test_usage_cost_reads_image_and_text_tokens_apart() -> None:
    usd = usage_cost(
        "models/gemini-3-pro-image",
        prompt_tokens=1000,
        output_tokens=1120 + 50,
        output_image_tokens=1120,
        thinking_tokens=800,
        search_queries=3,
        images=1,
    )
    expected = (1000 * 2.00 + 1120 * 120.00 + 850 * 12.00) / 1e6 + 3 * 0.014
    assert usd == pytest.approx(expected)
    assert usage_cost("gemini-4-image", prompt_tokens=1, output_tokens=1, thinking_tokens=1) is None


@pytest.mark.parametrize("model", [PRO, NB2, LITE, NB1])
def test_counts_left_out_never_raise_nor_price_an_image_at_zero(model: str) -> None:
    """No-image answers have no candidatesTokenCount; an image whose tokens were left out
    counts at the table's tokens for its model and size."""
    pricing = MODELS[model].pricing
    assert pricing is not None
    nothing = usage_cost(model, prompt_tokens=12, output_tokens=None, thinking_tokens=None)
    assert nothing == pytest.approx(12 * pricing.input_per_mtok / 1e6)
    for size, tokens in pricing.image_output_tokens.items():
        usd = usage_cost(
            model, prompt_tokens=0, output_tokens=None, thinking_tokens=None, images=1, size=size
        )
        assert usd == pytest.approx(tokens * pricing.image_output_per_mtok / 1e6)
    assert usage_cost(model, prompt_tokens=None, output_tokens=1120, thinking_tokens=0) is None


def test_estimates_think_only_for_models_that_think() -> None:
    flash = MODELS[NB1].pricing
    assert flash is not None
    assert estimate_cost(NB1, prompt_chars=0) == pytest.approx(1290 * 30.00 / 1e6)
    assert estimate_cost(NB2, prompt_chars=0, size="4K") == pytest.approx(
        (2520 * 60.00 + 900 * 3.00) / 1e6
    )


def test_one_input_token_table() -> None:
    from nanobanana._images import fit
    from nanobanana._models import cost, registry

    assert cost.INPUT_IMAGE_TOKENS is registry.INPUT_IMAGE_TOKENS is fit._TOKENS


# -- listing the models a key can use --------------------------------------------------------


def test_merge_models_keeps_image_models_merged_with_the_registry() -> None:
    listed = [
        {"name": "models/gemini-3-pro-image", "displayName": "Nano Banana Pro",
         "supportedGenerationMethods": ["generateContent", "countTokens"],
         "inputTokenLimit": 65536, "outputTokenLimit": 32768},
        {"name": "models/gemini-3-pro-image-preview", "displayName": "old"},
        {"name": "models/gemini-2.5-pro", "displayName": "a text model"},
        {"name": "models/gemini-9-image", "supportedGenerationMethods": "bad"},
        {"name": None}, "junk", {"displayName": "no name"},
    ]  # fmt: skip
    pro, retired, unknown = merge_models(listed)
    assert (pro.id, pro.display_name, pro.input_token_limit) == (PRO, "Nano Banana Pro", 65536)
    assert pro.methods == ("generateContent", "countTokens") and pro.info is MODELS[PRO]
    assert not pro.retired and pro.price_per_image == pytest.approx(0.1344)
    assert retired.retired and retired.replacement == PRO and retired.info is None
    assert unknown.id == "gemini-9-image" and unknown.info is None and unknown.methods == ()


def test_merge_models_from_the_api(fake_gemini, genai_client) -> None:
    listed = list(genai_client.models.list())
    assert all(isinstance(m, types.Model) for m in listed)
    summaries = merge_models(listed)
    assert [s.id for s in summaries] == [m for m in MODELS if m in {s.id for s in summaries}]
    assert summaries and all(s.info is not None and s.methods for s in summaries)


def test_models_page_is_current() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "models.md"
    assert page.read_text() == models_markdown(), (
        "docs/models.md is stale: run `python -m nanobanana._models.catalog > docs/models.md`"
    )


def test_a_prompt_is_held_to_its_own_models_input_limit() -> None:
    prompt = "a fox " * 30_000  # 180,000 characters: about 45,000 tokens
    assert GenerationRequest(prompt).model == "gemini-3-pro-image"  # Pro takes 65,536 tokens
    with pytest.raises(InvalidRequestError, match=r"gemini-2.5-flash-image takes about 131,072"):
        GenerationRequest(prompt, model="gemini-2.5-flash-image")  # 32,768 tokens
