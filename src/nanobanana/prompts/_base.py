"""Templates: typed prompt models that render to narrative text and carry request defaults.

A template is a pydantic model. Subclass `Template` and write `render()`, or set ``template`` to a
string with ``{placeholders}`` that name its fields; or make one in a line with
`Template.from_string`. A missing or unknown field is an `InvalidRequestError` naming it,
raised when the template is made, long before any request.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from .._errors import InvalidRequestError
from .._request.options import Search
from .._request.request import AspectRatio, ImageSize, ReferenceKind

__all__ = ["RequestDefaults", "Template", "join_words"]


class RequestDefaults(BaseModel):
    """What a template suggests for its request; anything the call passes wins."""

    model_config = ConfigDict(frozen=True)

    aspect_ratio: AspectRatio | None = None
    size: ImageSize | None = None
    reference_kind: ReferenceKind = "object"
    """The kind given to references passed as plain sources (paths, bytes, images)."""
    search: bool | Search | None = None
    """Ground the image in Google Search (a template about current events, say)."""
    thinking_level: str | None = None
    image_only: bool | None = None


def join_words(items: Iterable[str], conjunction: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``: lists read as prose, not as tags."""
    words = [w.strip() for w in items if w and w.strip()]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


class Template(BaseModel):
    """Base class of every prompt template.

    Example:
        >>> class Pet(Template):
        ...     template = "A portrait of {name}, a {animal}, wearing a tiny {hat}."
        ...     name: str
        ...     animal: str
        ...     hat: str = "party hat"
        >>> Pet(name="Miso", animal="cat").render()
        'A portrait of Miso, a cat, wearing a tiny party hat.'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: ClassVar[str | None] = None
    """A format string over the fields; used by the default `render`."""
    defaults: ClassVar[RequestDefaults] = RequestDefaults()
    """Request defaults (aspect ratio, size, reference kind)."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidRequestError(_explain(type(self), exc)) from None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.template is not None:
            unknown = set(placeholders(cls.template)) - set(cls.model_fields)
            if unknown:
                raise InvalidRequestError(
                    f"template {cls.__name__} uses {{{', '.join(sorted(unknown))}}} in its text "
                    f"but declares no such field; fields: {', '.join(cls.model_fields) or 'none'}"
                )

    def render(self) -> str:
        """The prompt text."""
        if self.template is None:
            raise NotImplementedError(f"{type(self).__name__} must define render() or template")
        return self.template.format(**{n: getattr(self, n) for n in type(self).model_fields})

    @property
    def expected_images(self) -> int:
        """How many images this prompt asks for."""
        return 1

    def request_defaults(self) -> RequestDefaults:
        """Defaults this template suggests for its request."""
        return self.defaults

    def __str__(self) -> str:
        return self.render()

    @classmethod
    def from_string(
        cls,
        text: str,
        *,
        name: str = "CustomTemplate",
        aspect_ratio: AspectRatio | str | None = None,
        size: ImageSize | str | None = None,
        reference_kind: ReferenceKind = "object",
        **field_defaults: str,
    ) -> type[Template]:
        """A template class whose fields are the ``{placeholders}`` of ``text`` (all strings).

        Example:
            >>> Sticker = Template.from_string("A {animal} sticker, {style}", style="kawaii")
            >>> Sticker(animal="otter").render()
            'A otter sticker, kawaii'
        """
        names = placeholders(text)
        stray = set(field_defaults) - set(names)
        if stray:
            raise InvalidRequestError(
                f"defaults given for {', '.join(sorted(stray))}, which {text!r} does not use; "
                f"its fields: {', '.join(names) or 'none'}"
            )
        fields: dict[str, Any] = {n: (str, field_defaults.get(n, ...)) for n in names}
        model: type[Template] = create_model(name, __base__=cls, **fields)
        model.template = text
        model.defaults = RequestDefaults(
            aspect_ratio=AspectRatio(aspect_ratio) if aspect_ratio is not None else None,
            size=ImageSize(size) if size is not None else None,
            reference_kind=reference_kind,
        )
        return model


def placeholders(text: str) -> list[str]:
    """The field names a format string uses, in order, once each.

    Raises:
        InvalidRequestError: A placeholder is positional (``{}``) or the braces do not pair.
    """
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidRequestError(
            f"template text {text!r} is not a valid format string: {exc}"
        ) from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        field = name.split(".")[0].split("[")[0]
        if not field.isidentifier():
            raise InvalidRequestError(
                f"template text {text!r} has a placeholder without a name ({{{name}}}); "
                "name every field, e.g. {animal}"
            )
        if field not in names:
            names.append(field)
    return names


def _explain(cls: type[BaseModel], exc: ValidationError) -> str:
    fields = ", ".join(cls.model_fields) or "none"
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        if error["type"] == "missing":
            problems.append(f"missing field {where!r}")
        elif error["type"] == "extra_forbidden":
            problems.append(f"unknown field {where!r}")
        else:
            problems.append(f"{where}: {error['msg']}")
    return f"{cls.__name__}: {'; '.join(problems)} (fields: {fields})"
