"""The library's prompt templates (`CharacterSheet`, `ProductShot`, ...) as MCP prompts.

An MCP prompt's arguments are strings: a list field takes its items separated by ``;`` (or
new lines), a yes/no field ``true`` or ``false``. The prompt renders the template (the
library's own `render`) and tells the agent which generate_image arguments fit it.
"""

from __future__ import annotations

import typing
from typing import Any

from .. import prompts as templates

__all__ = ["TEMPLATES", "add_prompts", "render"]

TEMPLATES: tuple[type[templates.Template], ...] = (
    templates.Prompt,
    templates.CharacterSheet,
    templates.CharacterFromPhoto,
    templates.ProductShot,
    templates.StickerSet,
    templates.Storyboard,
    templates.StyleTransfer,
)


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def render(template: type[templates.Template], arguments: dict[str, str]) -> str:
    """The template filled from string arguments, rendered, with the call that fits it.

    Raises:
        ValueError: An unknown argument, or a value the template refuses (pydantic's message).
    """
    fields = template.model_fields
    unknown = sorted(set(arguments) - set(fields))
    if unknown:
        raise ValueError(f"{template.__name__} has no argument {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, raw in arguments.items():
        if raw is None or raw == "":
            continue
        if _is_list(fields[name].annotation):
            values[name] = [p.strip() for p in raw.replace("\n", ";").split(";") if p.strip()]
        else:
            values[name] = raw
    filled = template(**values)
    defaults = filled.defaults
    hints = []
    if defaults.aspect_ratio is not None:
        hints.append(f'aspect_ratio="{defaults.aspect_ratio.value}"')
    if defaults.size is not None:
        hints.append(f'size="{defaults.size.value}"')
    count = filled.expected_images
    advice = (
        f"It asks for {count} images in one answer: call generate_image once with this prompt"
        if count > 1
        else "Call generate_image with this prompt"
    )
    advice += f" ({', '.join(hints)})." if hints else "."
    return f"{filled.render()}\n\n{advice}"


def add_prompts(server: Any, prompt_type: Any, argument_type: Any, message_type: Any) -> None:
    """Registers each template as an MCP prompt named after it."""
    for template in TEMPLATES:
        arguments = [
            argument_type(
                name=name,
                description=(field.description or name.replace("_", " "))
                + ("; several separated by ';'" if _is_list(field.annotation) else ""),
                required=field.is_required(),
            )
            for name, field in template.model_fields.items()
        ]

        def make(template: type[templates.Template] = template) -> Any:
            def fn(**given: str) -> list[Any]:
                return [message_type(render(template, given))]

            return fn

        doc = (template.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        server.add_prompt(
            prompt_type(
                name=template.__name__,
                title=template.__name__,
                description=doc,
                arguments=arguments,
                fn=make(),
            )
        )
