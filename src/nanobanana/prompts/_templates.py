"""The narrative `Prompt` builder and the ready templates.

Google's guidance for Nano Banana Pro: "describe the scene, don't just list keywords" — a
paragraph that says what the subject is, where it is, how it is lit and framed does better
than a comma list of tags. Each template writes such a paragraph from typed fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .._request.request import AspectRatio, ImageSize
from ._base import RequestDefaults, Template, join_words

__all__ = [
    "CharacterFromPhoto",
    "CharacterSheet",
    "ProductShot",
    "Prompt",
    "StickerSet",
    "Storyboard",
    "StyleTransfer",
]


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _paragraph(*sentences: str) -> str:
    return " ".join(s for s in (_sentence(x) for x in sentences) if s)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _no_blanks(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    return value


class Prompt(Template):
    """A narrative prompt, composed from parts and written as flowing sentences.

    Every field is optional but ``subject``. ``str(prompt)`` is its rendering; ``but()``
    returns a copy with some parts changed, so prompts compose.

    Example:
        >>> fox = Prompt(
        ...     subject="a red fox",
        ...     features=["a white-tipped tail", "amber eyes"],
        ...     pose="curled up asleep",
        ...     scene="a snowy forest clearing at dawn",
        ...     lighting="soft golden light",
        ...     style="watercolour illustration",
        ... )
        >>> print(fox)
        A watercolour illustration of a red fox, curled up asleep. It has a white-tipped tail
        and amber eyes. The scene is a snowy forest clearing at dawn. The lighting is soft
        golden light.
    """

    subject: str
    """What the image is of: "a red fox", "the woman in the reference photo"."""
    features: list[str] = Field(default_factory=list)
    """Physical features to show or keep."""
    personality: str | None = None
    """A character's temperament, shown through expression and posture."""
    style: str | None = None
    """Medium or art style: "watercolour illustration", "studio photograph"."""
    pose: str | None = None
    """What the subject is doing, or how it stands."""
    scene: str | None = None
    """Where it is: the setting or background."""
    lighting: str | None = None
    camera: str | None = None
    """Framing, angle, lens: "a low-angle close-up with an 85 mm lens"."""
    text: str | None = None
    """Words to render in the image, exactly as given."""
    text_style: str | None = None
    """How the rendered words look, and where they go."""
    constraints: list[str] = Field(default_factory=list)
    """Things that must (not) happen: "no other animals", "keep the logo unchanged"."""

    _check = field_validator("subject")(_no_blanks)

    def render(self) -> str:
        opening = (
            f"{_article(self.style)} {self.style} of {self.subject}" if self.style else self.subject
        )
        if self.pose:
            opening += f", {self.pose}"
        features = f"it has {join_words(self.features)}" if self.features else ""
        personality = (
            f"its expression and posture show that it is {self.personality}"
            if self.personality
            else ""
        )
        scene = f"the scene is {self.scene}" if self.scene else ""
        lighting = f"the lighting is {self.lighting}" if self.lighting else ""
        camera = f"the shot is framed as {self.camera}" if self.camera else ""
        words = ""
        if self.text:
            words = f'render the text "{self.text}" exactly as written'
            if self.text_style:
                words += f", {self.text_style}"
        constraints = " ".join(_sentence(c) for c in self.constraints)
        return _paragraph(
            opening, features, personality, scene, lighting, camera, words, constraints
        )

    def but(self, **changes: Any) -> Prompt:
        """A copy with some parts changed (validated like a new prompt)."""
        return Prompt(**{**self.model_dump(), **changes})


class CharacterFromPhoto(Template):
    """A stylised character made from reference photos of a real subject (a pet, a person).

    Keeps the listed physical features and distinctive markings, so the character is
    recognisably the subject; references passed as plain sources count as human (character
    consistency) slots.

    Example:
        >>> cat = CharacterFromPhoto(subject="my cat", markings=["a white blaze on the nose"])
        >>> nb.generate(cat, references=["cat1.jpg", "cat2.jpg"])
    """

    defaults = RequestDefaults(aspect_ratio=AspectRatio.R3_4, reference_kind="human")

    subject: str
    """Who or what is in the reference photos: "my cat", "the man"."""
    style: str = "anime"
    features: list[str] = Field(default_factory=list)
    """Physical features to keep: "a grey tabby coat", "green eyes"."""
    markings: list[str] = Field(default_factory=list)
    """Distinctive markings to keep exactly: "a white blaze on the nose"."""
    personality: str | None = None
    pose: str = "standing in a relaxed, friendly pose"
    background: str = "a simple, softly coloured background"

    _check = field_validator("subject", "style")(_no_blanks)

    def render(self) -> str:
        keep = ""
        if self.features:
            keep = f"keep the physical features of the photo: {join_words(self.features)}"
        marks = ""
        if self.markings:
            marks = f"reproduce its distinctive markings exactly: {join_words(self.markings)}"
        personality = (
            f"its personality is {self.personality}, and this shows in its expression and posture"
            if self.personality
            else ""
        )
        return _paragraph(
            f"turn {self.subject} from the reference photos into "
            f"{_article(self.style)} {self.style} character",
            keep,
            marks,
            personality,
            f"show the character {self.pose}, against {self.background}",
            f"draw it in a polished {self.style} style with clean lines suitable for animation",
        )


DEFAULT_VIEWS = (
    "a full-body view in a three-quarter standing pose",
    "a close-up portrait of the face",
    "an expression sheet with four expressions: happy, surprised, angry and sleepy",
)


class CharacterSheet(Template):
    """Several views of one character, each a separate image, all in one consistent style.

    Example:
        >>> sheet = CharacterSheet(character="a small robot gardener with a copper watering can")
        >>> sheet.expected_images
        3
    """

    defaults = RequestDefaults(aspect_ratio=AspectRatio.R3_4, reference_kind="human")

    character: str
    """Who the sheet is of; with reference photos, "the person in the reference photos"."""
    features: list[str] = Field(default_factory=list)
    """Distinctive features every view must keep."""
    style: str = "clean digital illustration"
    views: list[str] = Field(
        default_factory=lambda: list(DEFAULT_VIEWS), min_length=1, max_length=10
    )
    """One image per view, in order."""
    background: str = "a plain light grey background"

    _check = field_validator("character", "style")(_no_blanks)

    @property
    def expected_images(self) -> int:
        return len(self.views)

    def render(self) -> str:
        n = len(self.views)
        numbered = " ".join(f"View {i}: {_sentence(v)}" for i, v in enumerate(self.views, 1))
        keep = (
            f"every view shows the same character with the same distinctive features: "
            f"{join_words(self.features)}"
            if self.features
            else "every view shows exactly the same character"
        )
        return _paragraph(
            f"create a character sheet of {self.character} as {n} separate images, one for each "
            f"of these {n} views",
            numbered,
            keep,
            f"use one consistent {self.style} style, palette and proportions across all views, "
            f"each on {self.background}",
        )


class ProductShot(Template):
    """A commercial product photograph, the most common image job in e-commerce.

    References passed as plain sources are objects (high-fidelity slots): the product itself.
    """

    defaults = RequestDefaults(
        aspect_ratio=AspectRatio.R1_1, size=ImageSize.K2, reference_kind="object"
    )

    product: str
    """The product, as a shopper would name it; with a reference photo, "the product in the
    reference photo"."""
    surface: str = "a clean white seamless backdrop"
    lighting: str = "soft, diffused studio lighting with a gentle shadow"
    angle: str = "a three-quarter view at eye level"
    mood: str | None = None
    keep_label: bool = True
    """Keep logos and label text exactly as on the product."""

    _check = field_validator("product")(_no_blanks)

    def render(self) -> str:
        return _paragraph(
            f"a high-resolution commercial product photograph of {self.product}, placed on "
            f"{self.surface}",
            f"the lighting is {self.lighting}",
            f"the camera shows {self.angle}, with the product in sharp focus",
            f"the mood is {self.mood}" if self.mood else "",
            "keep every logo, label and printed text on the product exactly as it is"
            if self.keep_label
            else "",
        )


class StickerSet(Template):
    """A set of die-cut stickers of one subject, one image per sticker."""

    defaults = RequestDefaults(aspect_ratio=AspectRatio.R1_1, reference_kind="object")

    subject: str
    expressions: list[str] = Field(
        default_factory=lambda: ["waving hello", "laughing", "sleeping", "holding a heart"],
        min_length=1,
        max_length=10,
    )
    """One sticker each."""
    style: str = "cute kawaii"
    """The drawing style: "cute kawaii", "retro pixel art", "vintage travel-label"."""

    _check = field_validator("subject", "style")(_no_blanks)

    @property
    def expected_images(self) -> int:
        return len(self.expressions)

    def render(self) -> str:
        n = len(self.expressions)
        listed = " ".join(
            f"Sticker {i}: {_sentence(f'{self.subject} {e}')}"
            for i, e in enumerate(self.expressions, 1)
        )
        return _paragraph(
            f"create {n} separate images, each a single die-cut sticker of {self.subject}, drawn "
            f"in a {self.style} style with bold outlines and flat colours",
            listed,
            "each sticker has a thick white border and sits on a plain white background, and "
            "the character looks the same in every sticker",
        )


class Storyboard(Template):
    """Storyboard panels for a short sequence, one image per panel, same characters throughout."""

    defaults = RequestDefaults(aspect_ratio=AspectRatio.R16_9, reference_kind="human")

    panels: list[str] = Field(min_length=1, max_length=10)
    """What happens in each panel, in order."""
    characters: str | None = None
    """Who appears, described once so that every panel keeps them consistent."""
    style: str = "cinematic pencil-and-ink"
    """The drawing style of the panels."""

    @property
    def expected_images(self) -> int:
        return len(self.panels)

    def render(self) -> str:
        n = len(self.panels)
        listed = " ".join(f"Panel {i}: {_sentence(p)}" for i, p in enumerate(self.panels, 1))
        cast = (
            f"the characters are {self.characters}, and they look the same in every panel"
            if self.characters
            else ""
        )
        return _paragraph(
            f"create {n} storyboard panels as {n} separate images, drawn in a {self.style} "
            "style with muted colour",
            cast,
            listed,
            "keep the framing cinematic and the lighting consistent from panel to panel",
        )


class StyleTransfer(Template):
    """Redraw a content image in the style of another (pass it as ``Reference.style``)."""

    defaults = RequestDefaults(reference_kind="object")

    content: str = "the first reference image"
    """What to redraw."""
    style: str = "the style reference image"
    """The style to follow: a description, or the style reference."""
    keep: list[str] = Field(
        default_factory=lambda: ["the composition", "the pose", "the proportions"]
    )
    """What must not change."""

    def render(self) -> str:
        return _paragraph(
            f"redraw {self.content} in the style of {self.style}: its palette, brushwork, "
            "texture and mood",
            f"keep {join_words(self.keep)} exactly as they are" if self.keep else "",
            "change only the rendering style, not the content",
        )
