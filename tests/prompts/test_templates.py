from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanobanana import (
    CharacterFromPhoto,
    CharacterSheet,
    GenerationRequest,
    InvalidRequestError,
    MissingImagesWarning,
    NanoBanana,
    ProductShot,
    Prompt,
    Reference,
    StickerSet,
    Storyboard,
    StyleTransfer,
    Template,
    lint,
)
from nanobanana.testing import FakeGemini, Fault
from tests.conftest import photo

SNAPSHOTS = Path(__file__).parent / "snapshots"

EXAMPLES = {
    "prompt": Prompt(
        subject="a red fox",
        features=["a white-tipped tail", "amber eyes"],
        personality="curious and playful",
        style="watercolour illustration",
        pose="curled up asleep",
        scene="a snowy forest clearing at dawn",
        lighting="soft golden light",
        camera="a low-angle close-up with an 85 mm lens",
        text="GOOD MORNING",
        text_style="in hand-lettered type across the top",
        constraints=["no other animals", "keep the snow untouched"],
    ),
    "prompt_minimal": Prompt(subject="a lighthouse on a cliff"),
    "character_from_photo": CharacterFromPhoto(
        subject="my cat Miso",
        features=["a grey tabby coat", "green eyes", "a round face"],
        markings=["a white blaze on the nose", "a black tip on the left ear"],
        personality="curious and a little grumpy",
    ),
    "character_sheet": CharacterSheet(
        character="a small robot gardener", features=["a copper watering can", "one blue eye"]
    ),
    "product_shot": ProductShot(
        product="a matte black ceramic coffee mug", mood="calm, early-morning"
    ),
    "sticker_set": StickerSet(subject="a cheerful otter"),
    "storyboard": Storyboard(
        panels=["a girl finds a glowing seed", "she plants it at night", "a tree of light grows"],
        characters="a girl of ten in a yellow raincoat",
    ),
    "style_transfer": StyleTransfer(),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rendered_text_matches_snapshot(name: str) -> None:
    text = EXAMPLES[name].render()
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text + "\n")
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text + "\n" == path.read_text()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_templates_write_prose_not_keyword_lists(name: str) -> None:
    assert [i.code for i in lint(EXAMPLES[name])] == []
    assert str(EXAMPLES[name]) == EXAMPLES[name].render()


words = st.text(alphabet=string.ascii_letters + " -'", min_size=1, max_size=30).filter(
    lambda s: s.strip() and s == s.strip()
)
word_lists = st.lists(words, min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    subject=words,
    features=word_lists,
    style=words,
    pose=words,
    scene=words,
    lighting=words,
    camera=words,
)
def test_any_prompt_renders_every_part(
    subject, features, style, pose, scene, lighting, camera
) -> None:
    text = Prompt(
        subject=subject,
        features=features,
        style=style,
        pose=pose,
        scene=scene,
        lighting=lighting,
        camera=camera,
    ).render()
    for value in [subject, style, pose, scene, lighting, camera, *features]:
        assert value in text


@settings(max_examples=40, deadline=None)
@given(subject=words, features=word_lists, markings=word_lists, personality=words, style=words)
def test_any_character_from_photo_renders_every_field(
    subject, features, markings, personality, style
) -> None:
    text = CharacterFromPhoto(
        subject=subject, features=features, markings=markings, personality=personality, style=style
    ).render()
    for value in [subject, personality, style, *features, *markings]:
        assert value in text
    assert "clean lines suitable for animation" in text


@settings(max_examples=40, deadline=None)
@given(character=words, views=st.lists(words, min_size=1, max_size=10), features=word_lists)
def test_any_character_sheet_numbers_every_view(character, views, features) -> None:
    sheet = CharacterSheet(character=character, views=views, features=features)
    text = sheet.render()
    assert sheet.expected_images == len(views)
    assert f"as {len(views)} separate images" in text
    for i in range(1, len(views) + 1):
        assert f"View {i}:" in text
    for value in [character, *features]:
        assert value in text


@settings(max_examples=30, deadline=None)
@given(
    subject=words,
    expressions=st.lists(words, min_size=1, max_size=10),
    panels=st.lists(words, min_size=1, max_size=10),
)
def test_sets_and_storyboards_know_their_image_count(subject, expressions, panels) -> None:
    assert StickerSet(subject=subject, expressions=expressions).expected_images == len(expressions)
    assert Storyboard(panels=panels).expected_images == len(panels)
    assert ProductShot(product=subject).render().count(subject) >= 1


class TestCustomTemplates:
    def test_from_string(self) -> None:
        Pet = Template.from_string(
            "A {animal} wearing a {hat}, {style}.", name="Pet", style="oil painting"
        )
        assert (
            Pet(animal="cat", hat="red beret").render()
            == "A cat wearing a red beret, oil painting."
        )
        assert list(Pet.model_fields) == ["animal", "hat", "style"]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"animal": "cat"}, "missing field 'hat'"),
            ({"animal": "cat", "hat": "beret", "colour": "red"}, "unknown field 'colour'"),
            ({}, "missing field 'animal'; missing field 'hat'"),
        ],
    )
    def test_missing_or_unknown_fields_are_named(self, kwargs, message) -> None:
        Pet = Template.from_string("A {animal} wearing a {hat}.", name="Pet")
        with pytest.raises(InvalidRequestError, match=message) as info:
            Pet(**kwargs)
        assert "fields: animal, hat" in str(info.value)

    def test_bad_template_text(self) -> None:
        with pytest.raises(InvalidRequestError, match="without a name"):
            Template.from_string("A {} hat")
        with pytest.raises(InvalidRequestError, match="not a valid format string"):
            Template.from_string("A {animal hat")
        with pytest.raises(InvalidRequestError, match="defaults given for colour"):
            Template.from_string("A {animal}", colour="red")

    def test_subclass(self) -> None:
        class Pet(Template):
            template = "A portrait of {name}, a {animal}, wearing a tiny {hat}."
            name: str
            animal: str
            hat: str = "party hat"

        assert (
            Pet(name="Miso", animal="cat").render()
            == "A portrait of Miso, a cat, wearing a tiny party hat."
        )
        with pytest.raises(InvalidRequestError, match="missing field 'animal'"):
            Pet(name="Miso")

    def test_subclass_with_undeclared_placeholder(self) -> None:
        with pytest.raises(InvalidRequestError, match=r"uses \{colour\}"):

            class Broken(Template):
                template = "A {colour} {animal}"
                animal: str

    def test_typed_fields_are_checked(self) -> None:
        with pytest.raises(InvalidRequestError, match="views"):
            CharacterSheet(character="a robot", views=[])
        with pytest.raises(InvalidRequestError, match="subject"):
            Prompt(subject="   ")


class TestRequestDefaults:
    def test_template_defaults_fill_the_request(self) -> None:
        request = GenerationRequest(ProductShot(product="a mug"))
        assert (request.aspect_ratio.value, request.size.value) == ("1:1", "2K")

    def test_the_call_wins(self) -> None:
        request = GenerationRequest(ProductShot(product="a mug"), aspect_ratio="4:5", size="4k")
        assert (request.aspect_ratio.value, request.size.value) == ("4:5", "4K")

    def test_plain_references_take_the_template_kind(self) -> None:
        request = GenerationRequest(
            CharacterFromPhoto(subject="my cat"), references=[b"a", Reference.style(b"b")]
        )
        assert [r.kind for r in request.references] == ["human", "style"]
        assert [r.kind for r in GenerationRequest("x", references=[b"a"]).references] == ["object"]

    def test_custom_template_defaults(self) -> None:
        Poster = Template.from_string("A poster of {thing}", aspect_ratio="2:3", size="4k")
        request = GenerationRequest(Poster(thing="a banana"))
        assert (request.aspect_ratio.value, request.size.value) == ("2:3", "4K")


class TestAgainstTheEmulator:
    def test_character_sheet_gets_its_three_images(self, fake_gemini: FakeGemini) -> None:
        with NanoBanana(api_key="t", base_url=fake_gemini.url) as nb:
            result = nb.generate(CharacterSheet(character="a small robot gardener"))
        assert len(result.images) == 3 and result.missing == 0
        assert (
            fake_gemini.generate_requests[0].body["generationConfig"]["imageConfig"]["aspectRatio"]
            == "3:4"
        )

    def test_fewer_images_than_asked_warns_and_keeps_all(self, fake_gemini: FakeGemini) -> None:
        fake_gemini.push(Fault.images(2))
        with (
            NanoBanana(api_key="t", base_url=fake_gemini.url) as nb,
            pytest.warns(MissingImagesWarning, match="asked for 3 images but 2 came back"),
        ):
            result = nb.generate(CharacterSheet(character="a small robot gardener"))
        assert len(result.images) == 2 and result.missing == 1

    def test_character_from_a_pet_photo(self, fake_gemini: FakeGemini) -> None:
        with NanoBanana(api_key="t", base_url=fake_gemini.url) as nb:
            result = nb.generate(
                CharacterFromPhoto(subject="my cat", markings=["a white blaze"]),
                references=[photo(800, 600)],
            )
        assert result.image.width == 896  # 3:4 at 1K
        sent = fake_gemini.generate_requests[0].body["contents"][0]["parts"]
        assert "white blaze" in sent[0]["text"] and "inlineData" in sent[1]


class TestLint:
    def test_keyword_list(self) -> None:
        issues = lint("cat, wizard hat, purple, stars, cute, fantasy")
        assert [i.code for i in issues] == ["keyword-list"]
        assert "sentences" in issues[0].suggestion

    @pytest.mark.parametrize("text", ["A fox in 4k", "fox, 8k, sharp", "render at 2k please."])
    def test_size_in_text(self, text: str) -> None:
        assert "size-in-text" in [i.code for i in lint(text)]

    def test_too_many_references(self) -> None:
        issues = lint("A group photo of everyone.", references=[Reference.style(b"x")] * 4)
        assert [i.code for i in issues] == ["too-many-references"]
        assert "4 style" in issues[0].message

    def test_a_good_prompt_passes(self) -> None:
        assert (
            lint("A watercolour of a red fox asleep in the snow, lit by the first light of dawn.")
            == []
        )
