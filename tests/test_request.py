from __future__ import annotations

import io
import pickle
import re
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanobanana import (
    AspectRatio,
    GenerationRequest,
    ImageSize,
    InvalidReferenceError,
    InvalidRequestError,
    NanoBananaError,
    Reference,
    UnknownModelWarning,
)
from nanobanana._core.wire import build, generation_config
from nanobanana._images.fit import prepare_references
from nanobanana._request.options import Search
from nanobanana._request.reference import check_reference_counts
from tests.conftest import photo

ALL_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
NB2_RATIOS = ["1:4", "4:1", "1:8", "8:1"]


@pytest.mark.parametrize("ratio", ALL_RATIOS)
def test_every_documented_ratio_is_accepted(ratio: str) -> None:
    assert AspectRatio(ratio).value == ratio
    assert GenerationRequest("a fox", aspect_ratio=ratio).aspect_ratio == AspectRatio(ratio)


def test_ratio_enum_is_exactly_the_documented_set() -> None:
    assert [r.value for r in AspectRatio] == ALL_RATIOS + NB2_RATIOS


@pytest.mark.parametrize("bad", ["7:3", "1:2", "16x9x", "", "square"])
def test_unknown_ratio_lists_the_allowed_ones(bad: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        GenerationRequest("a fox", aspect_ratio=bad)
    assert isinstance(info.value, ValueError)
    assert "16:9" in str(info.value) and "21:9" in str(info.value)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("1k", "1K"),
        ("2k", "2K"),
        ("4K", "4K"),
        (" 2k ", "2K"),
        (ImageSize.K2, "2K"),
        (512, "512"),
        ("512", "512"),
        ("512px", "512"),
        ("512PX", "512"),
        ("0.5k", "512"),
        ("0.5K", "512"),
        (ImageSize.PX512, "512"),
    ],
)
def test_sizes_are_accepted_in_any_case_and_sent_uppercase(given: object, sent: str) -> None:
    model = "gemini-3.1-flash-image"  # the one model with every size
    request = GenerationRequest("a fox", size=given, model=model)
    assert request.size is not None and request.size.value == sent
    config = request.to_genai().config
    assert config.image_config is not None and config.image_config.image_size == sent


@pytest.mark.parametrize("bad", ["3K", "8k", "1024", "large", 2, True, 512.0, "256"])
def test_unknown_size_lists_the_chosen_models_own_sizes(bad: object) -> None:
    with pytest.raises(
        InvalidRequestError, match=r"Nano Banana Pro\) takes no size .*allowed: 1K, 2K, 4K$"
    ):
        GenerationRequest("a fox", size=bad)
    with pytest.raises(InvalidRequestError, match=r"allowed: 512, 1K, 2K, 4K$"):
        GenerationRequest("a fox", size=bad, model="gemini-3.1-flash-image")


@pytest.mark.parametrize(
    ("bad", "near"), [("16x9", "16:9"), ("16 X 9", "16:9"), ("7:3", "21:9"), ("2.35:1", "21:9")]
)
def test_a_ratio_no_model_takes_suggests_the_nearest(bad: str, near: str) -> None:
    with pytest.raises(
        InvalidRequestError, match=rf"\(did you mean {near}\?\); allowed: 1:1,"
    ) as caught:
        GenerationRequest("a fox", aspect_ratio=bad)
    assert "1:4" not in str(caught.value)  # Pro is not told of Nano Banana 2's ratios


@pytest.mark.parametrize(
    ("objects", "humans", "styles", "ok"),
    [
        (6, 5, 3, True),  # 14: every slot
        (9, 5, 0, True),  # 3 extra objects fill the flex slots
        (7, 7, 0, True),  # 1 + 2 flex
        (0, 0, 3, True),
        (14, 0, 0, False),
        (10, 0, 0, False),  # 4 flex
        (8, 3, 2, False),  # 2 + 2 = 4 flex
        (0, 0, 4, False),  # 4 style
        (6, 5, 4, False),  # 15 in all
        (0, 8, 1, False),  # 3 extra humans + 1 style
    ],
)
def test_the_fourteen_reference_rule(objects: int, humans: int, styles: int, ok: bool) -> None:
    kinds = ["object"] * objects + ["human"] * humans + ["style"] * styles
    if ok:
        check_reference_counts(kinds)
    else:
        with pytest.raises(InvalidRequestError, match="too many reference images"):
            check_reference_counts(kinds)


def test_reference_error_names_the_overflowing_kind_and_counts() -> None:
    refs = [Reference.object(b"x")] * 8 + [Reference.human(b"x")] * 3 + [Reference.style(b"x")] * 2
    with pytest.raises(InvalidRequestError) as info:
        GenerationRequest("a fox", references=refs)
    message = str(info.value)
    assert "8 object, 3 human, 2 style" in message
    assert "2 object(s) beyond 6" in message and "2 style" in message
    assert "need 4 flexible slots" in message


def test_four_style_references_name_style() -> None:
    with pytest.raises(InvalidRequestError, match=r"4 style reference\(s\)"):
        GenerationRequest("a fox", references=[Reference.style(b"x")] * 4)


@given(st.integers(0, 16), st.integers(0, 16), st.integers(0, 6))
def test_reference_rule_matches_its_definition(objects: int, humans: int, styles: int) -> None:
    flex = max(0, objects - 6) + max(0, humans - 5) + styles
    valid = flex <= 3 and objects + humans + styles <= 14
    kinds = ["object"] * objects + ["human"] * humans + ["style"] * styles
    try:
        check_reference_counts(kinds)
    except InvalidRequestError:
        assert not valid
    else:
        assert valid


def test_reference_kinds_and_default() -> None:
    assert Reference(b"x").kind == "object"
    assert Reference.object(b"x").kind == "object"
    assert Reference.human(b"x").kind == "human"
    assert Reference.style(b"x").kind == "style"
    plain = GenerationRequest("a fox", references=[b"x", Reference.human(b"y")])
    assert [r.kind for r in plain.references] == ["object", "human"]


@pytest.mark.parametrize("bad", [3, 1.5, None.__class__, {"a": 1}, ["x"]])
def test_reference_source_of_wrong_type_is_a_typed_error(bad: object) -> None:
    with pytest.raises(
        InvalidRequestError,
        match="path, bytes, a binary file object, a PIL.Image or a GeneratedImage",
    ):
        Reference(bad)


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt_is_rejected(prompt: str) -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        GenerationRequest(prompt)


def test_prompt_of_wrong_type_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="not int"):
        GenerationRequest(42)


def test_a_template_is_rendered() -> None:
    class Template:
        def render(self) -> str:
            return "A red fox in fresh snow."

    assert GenerationRequest(Template()).prompt == "A red fox in fresh snow."


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(InvalidRequestError) as info:
        GenerationRequest(42, size="9k", aspect_ratio="7:3")
    message = str(info.value)
    assert "prompt" in message and "9k" in message and "7:3" in message


def test_default_model_and_retired_id_migration() -> None:
    assert GenerationRequest("a fox").model == "gemini-3-pro-image"
    with pytest.warns(DeprecationWarning, match="gemini-3-pro-image-preview") as record:
        request = GenerationRequest("a fox", model="gemini-3-pro-image-preview")
    assert request.model == "gemini-3-pro-image"
    assert record[0].filename == __file__  # the warning points at the caller


def test_unknown_model_passes_through_unchanged() -> None:
    with pytest.warns(UnknownModelWarning, match="sent as it is") as caught:
        assert (
            GenerationRequest("a fox", model="gemini-9-ultra-image").model == "gemini-9-ultra-image"
        )
        GenerationRequest("an owl", model="gemini-9-ultra-image")
    assert len(caught) == 1  # once per id
    with pytest.warns(UnknownModelWarning, match="did you mean 'gemini-3-pro-image'"):
        GenerationRequest("a fox", model="gemini-3-pro-imgae")
    assert (
        GenerationRequest("a fox", model="models/gemini-3-pro-image").model == "gemini-3-pro-image"
    )


def test_to_genai_is_the_exact_call() -> None:
    jpeg = photo(320, 240)
    request = GenerationRequest(
        "A red fox",
        references=[Reference.human(jpeg)],
        aspect_ratio="16:9",
        size="4k",
        include_thoughts=True,
    )
    call = request.to_genai()
    assert call.model == "gemini-3-pro-image"
    (content,) = call.contents
    assert content.role == "user"
    assert content.parts[0].text == "A red fox"
    assert content.parts[1].inline_data.data is jpeg or content.parts[1].inline_data.data == jpeg
    assert content.parts[1].inline_data.mime_type == "image/jpeg"
    assert call.config.response_modalities == ["TEXT", "IMAGE"]
    assert call.config.image_config.aspect_ratio == "16:9"
    assert call.config.image_config.image_size == "4K"
    assert call.config.thinking_config.include_thoughts is True


def test_no_image_config_when_nothing_is_set() -> None:
    config = GenerationRequest("a fox").to_genai().config
    assert config.image_config is None and config.thinking_config is None


def test_invalid_reference_is_caught_before_sending() -> None:
    request = GenerationRequest("a fox", references=[io.BytesIO(b"not an image at all")])
    with pytest.raises(InvalidReferenceError, match="is not an image"):
        request.to_genai()


def test_errors_are_nanobanana_errors_and_pickle() -> None:
    with pytest.raises(NanoBananaError) as info:
        GenerationRequest("a fox", size="9k")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is type(info.value) and str(copy) == str(info.value)


def test_requests_are_frozen() -> None:
    request = GenerationRequest("a fox")
    with pytest.raises(ValueError, match="frozen"):
        request.prompt = "a cat"  # type: ignore[misc]


# -- options: wire forms, as google-genai sends them to the emulator --------------------------

FLASH = "gemini-3.1-flash-image"


def sent_body(fake_gemini, genai_client, request: GenerationRequest) -> tuple[str, dict]:
    """Sends the request with the real google-genai client; returns the path and body sent."""
    call = request.to_genai()
    genai_client.models.generate_content(
        model=call.model, contents=call.contents, config=call.config
    )
    recorded = fake_gemini.generate_requests[-1]
    return recorded.path, recorded.body


def test_search_is_an_empty_google_search_tool(fake_gemini, genai_client) -> None:
    _, body = sent_body(fake_gemini, genai_client, GenerationRequest("news", search=True))
    assert body["tools"] == [{"googleSearch": {}}]
    assert "tools" not in body["generationConfig"]


def test_image_search_sends_search_types(fake_gemini, genai_client) -> None:
    request = GenerationRequest("a poster", model=FLASH, search=Search(images=True))
    _, body = sent_body(fake_gemini, genai_client, request)
    # google-genai passes searchTypes through as it dumps it: nested keys in snake_case.
    (tool,) = body["tools"]
    types_ = tool["googleSearch"]["searchTypes"]
    assert set(types_) == {"web_search", "image_search"} or set(types_) == {
        "webSearch",
        "imageSearch",
    }
    only_images = GenerationRequest("x", model=FLASH, search=Search(web=False, images=True))
    search_types = generation_config(only_images).tools[0].google_search.search_types
    assert search_types.image_search is not None and search_types.web_search is None


@pytest.mark.parametrize(
    ("given", "wire"), [("minimal", "MINIMAL"), ("HIGH", "HIGH"), (" High ", "HIGH")]
)
def test_thinking_level_wire_form(fake_gemini, genai_client, given: str, wire: str) -> None:
    request = GenerationRequest("a fox", model=FLASH, thinking_level=given, include_thoughts=True)
    _, body = sent_body(fake_gemini, genai_client, request)
    thinking = body["generationConfig"]["thinkingConfig"]
    assert thinking.get("thinkingLevel", thinking.get("thinking_level")) == wire
    assert thinking.get("includeThoughts", thinking.get("include_thoughts")) is True


def test_image_only_and_pass_through_options(fake_gemini, genai_client) -> None:
    request = GenerationRequest(
        "a fox",
        image_only=True,
        system_instruction="Always draw in ink.",
        temperature=0.4,
        seed=7,
    )
    _, body = sent_body(fake_gemini, genai_client, request)
    config = body["generationConfig"]
    assert config["responseModalities"] == ["IMAGE"]
    assert config["temperature"] == 0.4 and config["seed"] == 7
    assert body["systemInstruction"]["parts"] == [{"text": "Always draw in ink."}]


def test_global_media_resolution(fake_gemini, genai_client) -> None:
    request = GenerationRequest("a fox", references=[photo(64, 48)], media_resolution="Low")
    path, body = sent_body(fake_gemini, genai_client, request)
    assert body["generationConfig"]["mediaResolution"] == "MEDIA_RESOLUTION_LOW"
    assert "mediaResolution" not in body["contents"][0]["parts"][1]
    assert "/v1/" in path  # no per-part field: the client's own version


def test_per_reference_media_resolution_goes_on_its_part_over_v1beta(
    fake_gemini, genai_client
) -> None:
    refs = [Reference.object(photo(64, 48), detail="ultra-high"), Reference.human(photo(64, 48))]
    request = GenerationRequest("a fox", references=refs, media_resolution="medium")
    path, body = sent_body(fake_gemini, genai_client, request)
    first, second = body["contents"][0]["parts"][1:]
    assert first["mediaResolution"] == {"level": "MEDIA_RESOLUTION_ULTRA_HIGH"}
    assert "mediaResolution" not in second  # the request-wide level covers it
    assert body["generationConfig"]["mediaResolution"] == "MEDIA_RESOLUTION_MEDIUM"
    assert "/v1beta/" in path  # per-part resolution is a v1beta field


def test_request_wide_ultra_high_goes_on_every_part() -> None:
    refs = [photo(64, 48), Reference.style(photo(64, 48), detail="low")]
    request = GenerationRequest("a fox", references=refs, media_resolution="ULTRA_HIGH")
    parts = build(request, prepare_references(request)).contents[-1].parts
    levels = [p.media_resolution.level.value for p in parts[1:]]
    assert levels == ["MEDIA_RESOLUTION_ULTRA_HIGH", "MEDIA_RESOLUTION_LOW"]
    assert generation_config(request).media_resolution is None  # no global ULTRA_HIGH
    assert generation_config(request, vertex=True).http_options is None


@pytest.mark.parametrize("bad", ["max", "4k", 3])
def test_unknown_media_resolution_lists_the_levels(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="low, medium, high, ultra_high"):
        GenerationRequest("a fox", media_resolution=bad)
    with pytest.raises(InvalidRequestError, match="low, medium, high, ultra_high"):
        Reference.object(b"x", detail=bad)


def test_per_reference_detail_refused_on_a_model_without_it() -> None:
    with pytest.raises(InvalidRequestError, match="gemini-2.5-flash-image.*per-reference"):
        GenerationRequest(
            "a", model="gemini-2.5-flash-image", references=[Reference.human(b"x", detail="high")]
        )
    with pytest.raises(InvalidRequestError, match="no 'ultra_high'"):
        GenerationRequest("a", model="gemini-2.5-flash-image", media_resolution="ultra_high")
    ok = GenerationRequest("a", model="gemini-2.5-flash-image", media_resolution="high")
    assert generation_config(ok).media_resolution.value == "MEDIA_RESOLUTION_HIGH"


def test_output_format_and_quality_only_on_vertex() -> None:
    request = GenerationRequest("a fox", output_format="JPG", quality=80)
    with pytest.raises(InvalidRequestError, match="output_format and quality work on Vertex AI"):
        generation_config(request)
    with pytest.raises(InvalidRequestError, match="Vertex AI only"):
        request.to_genai()
    image = generation_config(request, vertex=True).image_config
    assert image.output_mime_type == "image/jpeg" and image.output_compression_quality == 80
    assert GenerationRequest("a", output_format="image/png").output_format == "png"
    with pytest.raises(InvalidRequestError, match="allowed: png, jpeg"):
        GenerationRequest("a", output_format="gif")
    with pytest.raises(InvalidRequestError, match="JPEG"):
        GenerationRequest("a", output_format="png", quality=80)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"thinking_level": "high"}, "gemini-3-pro-image (Nano Banana Pro) has no thinking levels"),
        ({"thinking_level": "low", "model": FLASH}, "allowed: minimal, high"),
        ({"thinking_level": "enormous", "model": "gemini-9-image"}, "minimal, low, medium, high"),
        ({"thinking_level": 3}, "must be a string"),
        ({"search": True, "model": "gemini-3.1-flash-lite-image"}, "has no Google Search"),
        ({"search": True, "model": "gemini-2.5-flash-image"}, "gemini-3-pro-image, " + FLASH),
        ({"search": Search(images=True)}, "searches the web only"),
        ({"search": "yes"}, "search must be True, False or Search"),
        ({"search": {"image": True}}, "takes the keys web and images"),
    ],
)
@pytest.mark.filterwarnings("ignore::nanobanana.UnknownModelWarning")
def test_options_a_model_lacks_are_refused_naming_it(kwargs: dict, words: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(words)):
        GenerationRequest("a fox", **kwargs)


def test_search_spellings() -> None:
    assert GenerationRequest("a", search=True).search == Search()
    assert GenerationRequest("a", search=False).search is None
    assert GenerationRequest("a", model=FLASH, search={"images": True}).search == Search(
        images=True
    )
    with pytest.raises(InvalidRequestError, match="search=False"):
        Search(web=False)


@pytest.mark.filterwarnings("ignore::nanobanana.UnknownModelWarning")
def test_unknown_models_take_any_known_option() -> None:
    request = GenerationRequest(
        "a", model="gemini-9-image", aspect_ratio="1:8", size="0.5k", thinking_level="low",
        search=Search(images=True), references=[Reference.object(b"x", detail="ultra_high")] * 20,
    )  # fmt: skip
    assert request.size == ImageSize.PX512 and request.thinking_level == "low"


@pytest.mark.parametrize("name", ["aspect", "sise", "refs", "thinking"])
def test_unknown_fields_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        GenerationRequest("a fox", **{name: "16:9"})
    message = str(info.value)
    assert f"no field {name!r}" in message
    assert "allowed: prompt, references, aspect_ratio, size" in message


def test_unknown_field_suggests_the_close_one() -> None:
    with pytest.raises(InvalidRequestError, match=r"'aspect' \(did you mean 'aspect_ratio'\?\)"):
        GenerationRequest("a fox", aspect="16:9")
    with pytest.raises(InvalidRequestError, match=r"Reference has no field 'kindd'"):
        Reference(b"x", kindd="human")


def test_one_reference_as_a_string_path_or_none(tmp_path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo(64, 48))
    assert len(GenerationRequest("a", references=str(path)).references) == 1
    assert len(GenerationRequest("a", references=path).references) == 1
    assert len(GenerationRequest("a", references=None).references) == 0
    assert len(GenerationRequest("a", references=io.BytesIO(photo(64, 48))).references) == 1
    assert len(GenerationRequest("a", references=(str(path), path)).references) == 2
    with pytest.raises(InvalidRequestError, match="references must be one image source"):
        GenerationRequest("a", references={"a": 1})


@pytest.mark.parametrize("prompt", ["a \ud800 fox", "\udcff", "fox\udfff"])
def test_prompts_with_lone_surrogates_are_refused(prompt: str) -> None:
    with pytest.raises(InvalidRequestError, match="lone surrogate"):
        GenerationRequest(prompt)
    with pytest.raises(InvalidRequestError, match="system_instruction.*lone surrogate"):
        GenerationRequest("a fox", system_instruction=prompt)


@pytest.mark.parametrize("n", [0, -1, 10_001, "many"])
def test_n_is_a_positive_count(n: object) -> None:
    assert GenerationRequest("a").n == 1 and GenerationRequest("a", n=5).n == 5
    with pytest.raises(InvalidRequestError, match="n"):
        GenerationRequest("a", n=n)


def test_temperature_range() -> None:
    with pytest.raises(InvalidRequestError, match="temperature"):
        GenerationRequest("a", temperature=3.5)


def test_estimated_cost_of_a_request() -> None:
    plain = GenerationRequest("x" * 400)  # 100 tokens
    expected = (100 * 2.00 + 1120 * 120.00 + 900 * 12.00) / 1e6
    assert plain.estimated_cost() == pytest.approx(expected)
    grounded = GenerationRequest("x" * 400, search=True, references=[b"a", b"b"])
    extra = 2 * 1120 * 2.00 / 1e6 + 3 * 0.014  # grounded: the most queries one call may bill
    assert grounded.estimated_cost() == pytest.approx(expected + extra)
    assert plain.estimated_cost(batch=True) == pytest.approx(expected / 2)
    assert GenerationRequest("x", model=FLASH, size="512").estimated_cost() is not None
    with pytest.warns(UnknownModelWarning):
        assert GenerationRequest("x", model="gemini-9-image").estimated_cost() is None


def test_options_key_changes_with_every_shaping_option() -> None:
    base = GenerationRequest("a fox")
    keys = {
        base.options_key(),
        GenerationRequest("a fox", search=True).options_key(),
        GenerationRequest("a fox", image_only=True).options_key(),
        GenerationRequest("a fox", seed=1).options_key(),
        GenerationRequest("a fox", references=[Reference(b"x", detail="low")]).options_key(),
    }
    assert len(keys) == 5
    assert GenerationRequest("other", n=3).options_key() == base.options_key()


ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5000), st.floats(allow_nan=True),
    st.text(max_size=6), st.sampled_from(["1:4", "512", "0.5k", "minimal", "ultra_high", "png"]),
    st.lists(st.binary(max_size=4), max_size=3), st.dictionaries(st.text(max_size=3), st.booleans()),
)  # fmt: skip
FIELDS = ["aspect_ratio", "size", "model", "search", "thinking_level", "media_resolution",
          "image_only", "temperature", "seed", "output_format", "quality", "n", "references",
          "system_instruction", "aspekt"]  # fmt: skip


@given(st.dictionaries(st.sampled_from(FIELDS), ODD, max_size=5))
def test_any_options_give_a_request_or_a_typed_error(kwargs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            request = GenerationRequest("a fox", **kwargs)
        except InvalidRequestError:
            return
    try:
        generation_config(request, vertex=True)
        request.options_key()
        request.estimated_cost()
    except InvalidRequestError:
        pass
