"""The prompt template DSL: narrative prompts, ready templates, your own, and a linter."""

from ._base import RequestDefaults, Template
from ._lint import LintIssue, lint
from ._templates import (
    CharacterFromPhoto,
    CharacterSheet,
    ProductShot,
    Prompt,
    StickerSet,
    Storyboard,
    StyleTransfer,
)

__all__ = [
    "CharacterFromPhoto",
    "CharacterSheet",
    "LintIssue",
    "ProductShot",
    "Prompt",
    "RequestDefaults",
    "StickerSet",
    "Storyboard",
    "StyleTransfer",
    "Template",
    "lint",
]
