from __future__ import annotations

import io
import pickle
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
)
from nanobanana._request import check_reference_counts
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
def test_unknown_size_lists_the_allowed_ones(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match=r"allowed: 512, 1K, 2K, 4K"):
        GenerationRequest("a fox", size=bad)


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
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            GenerationRequest("a fox", model="gemini-9-ultra-image").model == "gemini-9-ultra-image"
        )
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
