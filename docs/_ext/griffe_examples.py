"""A Griffe extension for the API pages: ``Example:`` sections render as code.

Google style (and the codebase) writes ``Example:``; Griffe treats only the plural
``Examples:`` as an examples section, where ``>>>`` lines become a ``pycon`` code block. Under
the singular title they went through Markdown as text, where ``>>>`` opens three nested
blockquotes and the lines run together. This renames the title when the docs are built; the
docstrings themselves stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExamplesAsCode(griffe.Extension):
    """Reads every ``Example:`` section as Griffe's ``Examples:`` section."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: D102
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
