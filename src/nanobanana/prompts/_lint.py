"""`lint()`: catch the prompt habits that make Nano Banana Pro do worse, before you pay."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .._errors import InvalidRequestError
from .._request.types import PromptLike

__all__ = ["LintIssue", "lint"]

_SIZE_IN_TEXT = re.compile(r"\b(\d{1,2})\s?k\b(?!\w)")
_BOOSTERS = re.compile(
    r"\b(masterpiece|best quality|high quality|ultra[- ]?detailed|trending on artstation|"
    r"8k|uhd|hdr|highly detailed|award[- ]winning)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LintIssue:
    """One finding: a code, what is wrong, and what to do instead."""

    code: str
    message: str
    suggestion: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message} {self.suggestion}"


def lint(prompt: PromptLike, *, references: Iterable[object] = ()) -> list[LintIssue]:
    """Checks a prompt (a string or a template) and its references.

    Returns a list of issues, empty when there is nothing to say. Nothing is sent.

    Example:
        >>> for issue in lint("cat, hat, red, cute, 4k, masterpiece"):
        ...     print(issue.code)
        keyword-list
        size-in-text
        quality-keywords
    """
    text = prompt if isinstance(prompt, str) else prompt.render()
    issues: list[LintIssue] = []
    fragments = [f.strip() for f in re.split(r"[,;|\n]", text) if f.strip()]
    short = [f for f in fragments if len(f.split()) <= 3]
    sentences = len(re.findall(r"[.!?](\s|$)", text))
    if len(fragments) >= 4 and len(short) / len(fragments) >= 0.6 and sentences <= 1:
        issues.append(
            LintIssue(
                "keyword-list",
                f"the prompt reads as a list of {len(fragments)} keywords.",
                "Describe the scene in sentences: the subject, what it is doing, where, the "
                "light and the framing (nanobanana.Prompt writes that paragraph for you).",
            )
        )
    sizes = [m.group(0) for m in _SIZE_IN_TEXT.finditer(text) if m.group(0).endswith("k")]
    if sizes:
        issues.append(
            LintIssue(
                "size-in-text",
                f"{', '.join(repr(s) for s in sizes)} in the prompt text does not set the output "
                "size.",
                'Remove it and pass size="1K", "2K" or "4K" (the API takes only uppercase).',
            )
        )
    boosters = sorted({m.group(0).lower() for m in _BOOSTERS.finditer(text)})
    if boosters:
        issues.append(
            LintIssue(
                "quality-keywords",
                f"tag-style quality words ({', '.join(boosters)}) add nothing for this model.",
                "Say what should look good instead: the material, the light, the level of detail "
                "in a named part.",
            )
        )
    refs = list(references)
    if refs:
        from .._request.request import Reference, check_reference_counts

        kinds = [r.kind if isinstance(r, Reference) else "object" for r in refs]
        try:
            check_reference_counts(kinds)
        except InvalidRequestError as exc:
            issues.append(
                LintIssue(
                    "too-many-references",
                    str(exc) + ".",
                    "Drop references, or merge several product shots into one image.",
                )
            )
    return issues
