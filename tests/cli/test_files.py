"""Output names: readable, the right extension, never over an existing file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nanobanana import CharacterSheet, InvalidRequestError, ProductShot
from nanobanana._images.generated import save_new
from nanobanana.cli._files import (
    Target,
    free_stem,
    readable_stem,
    resolve_target,
    slug,
)
from tests.conftest import photo

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def test_slugs_cut_at_whole_words() -> None:
    assert slug("A red fox, asleep in the snow!") == "red-fox-asleep-in-the-snow"
    long = "a high-resolution commercial product photograph of a red mug"
    assert slug(long) == "high-resolution-commercial-product"
    assert slug("!!!") == "image" and slug("x" * 80) == "x" * 40


def test_templates_are_named_by_their_own_fields() -> None:
    assert readable_stem(ProductShot(product="red mug")) == "red-mug"
    assert readable_stem(CharacterSheet(character="a small robot gardener")) == (
        "small-robot-gardener"
    )
    assert readable_stem("A red fox") == "red-fox"


def test_save_never_overwrites_and_follows_the_bytes(tmp_path: Path) -> None:
    jpeg = photo(32, 32)
    assert save_new(jpeg, tmp_path, "a").name == "a.jpg"
    assert save_new(jpeg, tmp_path, "a").name == "a-2.jpg"
    assert (tmp_path / "a.jpg").read_bytes() == jpeg
    assert save_new(PNG, tmp_path, "b", ".jpg").name == "b.png"  # the bytes decide
    assert save_new(jpeg, tmp_path, "c", ".jpeg").name == "c.jpeg"  # kept when it fits
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_o_names_a_folder_or_an_image_file(tmp_path: Path) -> None:
    assert resolve_target(tmp_path) == Target(tmp_path)
    assert resolve_target(tmp_path / "new") == Target(tmp_path / "new")
    assert resolve_target(tmp_path / "out" / "a.jpg") == Target(tmp_path / "out", "a", ".jpg")
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidRequestError, match="not an image"):
        resolve_target(tmp_path / "notes.txt")


def test_a_set_of_views_keeps_together(tmp_path: Path) -> None:
    assert free_stem(tmp_path, "robot", 3) == "robot"
    (tmp_path / "robot-2.png").write_bytes(PNG)
    assert free_stem(tmp_path, "robot", 3) == "robot-2"
    assert free_stem(tmp_path, "robot", 1) == "robot"  # only robot-1.* matters for one view
    (tmp_path / "[x]-1.jpg").write_bytes(PNG)
    assert free_stem(tmp_path, "[x]", 1) == "[x]-2"  # glob characters are names, not patterns
