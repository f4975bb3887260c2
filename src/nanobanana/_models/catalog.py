"""The model family for people: ``models.list`` merged with the registry, and docs/models.md.

The page is generated from the registry, so that it cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .registry import MODELS, RETIRED_MODELS, RETIRED_SHUTDOWN, Lifecycle, ModelInfo

__all__ = ["ModelSummary", "merge_models", "models_markdown"]


@dataclass(frozen=True)
class ModelSummary:
    """One model the key can use, with what nanobanana knows of it.

    Attributes:
        id: The model id (``gemini-3-pro-image``), without ``models/``.
        display_name: The API's name for it.
        methods: ``supportedGenerationMethods`` (``generateContent``, ...).
        input_token_limit: As the API reports it.
        output_token_limit: As the API reports it.
        info: The registry's entry (capabilities, prices); ``None`` for a model it does not
            know, which still works (ratios and sizes get syntax checks only).
        replacement: For a retired id, the id to use instead.
    """

    id: str
    display_name: str | None = None
    methods: tuple[str, ...] = ()
    input_token_limit: int | None = None
    output_token_limit: int | None = None
    info: ModelInfo | None = None
    replacement: str | None = None

    @property
    def retired(self) -> bool:
        return self.replacement is not None

    @property
    def lifecycle(self) -> Lifecycle:
        """When it was released and shut down, per backend, and what to use after."""
        if self.replacement is not None:
            return Lifecycle(
                shutdown=RETIRED_SHUTDOWN.get(self.id, {}), replacement=self.replacement
            )
        return self.info.lifecycle if self.info is not None else Lifecycle()

    @property
    def price_per_image(self) -> float | None:
        """USD of one 1K image's output tokens (thinking and input extra); ``None``: unknown."""
        pricing = self.info.pricing if self.info else None
        if pricing is None or "1K" not in pricing.image_output_tokens:
            return None
        return pricing.image_output_tokens["1K"] * pricing.image_output_per_mtok / 1e6


def _field(item: Any, *names: str) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def merge_models(listed: Iterable[Any]) -> list[ModelSummary]:
    """The image models in a ``models.list`` answer, each merged with the registry.

    Args:
        listed: The REST ``models`` entries (``name``, ``displayName``,
            ``supportedGenerationMethods``, ...) or `google-genai`'s ``types.Model`` objects.

    Returns:
        Models the registry knows (current or retired), and any other id with ``-image`` in
        it, registry models first in table order, then by id.
    """
    found: dict[str, ModelSummary] = {}
    for item in listed:
        name = _field(item, "name")
        if not isinstance(name, str) or not name.strip():
            continue
        model_id = name.strip().removeprefix("models/")
        if model_id not in MODELS and model_id not in RETIRED_MODELS and "-image" not in model_id:
            continue
        methods = _field(item, "supportedGenerationMethods", "supported_generation_methods",
                         "supported_actions")  # fmt: skip
        display = _field(item, "displayName", "display_name")
        found[model_id] = ModelSummary(
            id=model_id,
            display_name=display if isinstance(display, str) else None,
            methods=tuple(m for m in methods if isinstance(m, str))
            if isinstance(methods, list | tuple)
            else (),
            input_token_limit=_int(_field(item, "inputTokenLimit", "input_token_limit")),
            output_token_limit=_int(_field(item, "outputTokenLimit", "output_token_limit")),
            info=MODELS.get(model_id),
            replacement=RETIRED_MODELS.get(model_id),
        )
    order = {model_id: i for i, model_id in enumerate(MODELS)}
    return sorted(found.values(), key=lambda s: (order.get(s.id, len(order)), s.id))


def _money(value: float, places: int = 2) -> str:
    return f"${value:,.{places}f}"


def models_markdown() -> str:
    """docs/models.md, from the registry (a test checks that the file is current)."""
    lines = [
        "# Models",
        "",
        "<!-- Generated from src/nanobanana/_models/registry.py by "
        "`python -m nanobanana._models.catalog > docs/models.md`; "
        "edit the registry, not this file. -->",
        "",
        "Every model of the Nano Banana family that nanobanana knows. Other ids pass through "
        "unchanged (ratios and sizes then get syntax checks only); retired ids map to their "
        "replacement with a warning: "
        + ", ".join(f"`{old}` → `{new}`" for old, new in RETIRED_MODELS.items())
        + ".",
        "",
        "| id | name | ratios | sizes | output | references | thinking | search |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in MODELS.values():
        lines.append(
            f"| `{m.id}` | {m.name} | {' '.join(m.aspect_ratios)} | {' '.join(m.image_sizes)} "
            f"| {m.output_mime} | {m.references.describe()} | {m.thinking} "
            f"| {', '.join(m.search) or 'none'} |"
        )
    lines += [
        "",
        "## Prices (USD, Gemini API, standard tier)",
        "",
        "Per million tokens; the Batch API charges half of every token rate. Google Search "
        "grounding is priced per query; the monthly free allowance is not tracked, so grounded "
        "costs are upper bounds.",
        "",
        "| id | input | text and thinking output | image output | tokens per image "
        "| per image | search query |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in MODELS.values():
        p = m.pricing
        if p is None:
            lines.append(f"| `{m.id}` | unknown | | | | | |")
            continue
        tokens = ", ".join(f"{s}: {n:,}" for s, n in p.image_output_tokens.items())
        each = ", ".join(
            f"{s}: {_money(n * p.image_output_per_mtok / 1e6, 3)}"
            for s, n in p.image_output_tokens.items()
        )
        lines.append(
            f"| `{m.id}` | {_money(p.input_per_mtok)} | {_money(p.text_output_per_mtok)} "
            f"| {_money(p.image_output_per_mtok)} | {tokens} | {each} "
            f"| {_money(p.search_per_query, 3)} |"
        )
    lines += [
        "",
        "## Typical latency and quota",
        "",
        "Starting points for pacing runs; runs adapt to what they measure and to 429s.",
        "",
        "| id | seconds per image | requests/min | images/min |",
        "|---|---|---|---|",
    ]
    for m in MODELS.values():
        latency = ", ".join(f"{s}: {lo:g}-{hi:g}" for s, (lo, hi) in m.latency.items())
        mark = " (estimate)" if m.quota.estimate else ""
        lines.append(f"| `{m.id}` | {latency} | {m.quota.rpm}{mark} | {m.quota.ipm}{mark} |")
    lines += [
        "",
        "## Lifecycle",
        "",
        "Before sending to a model shut down on the backend in use (by the client's `today`), "
        "nanobanana warns (`ModelShutDownWarning`) naming the date and a replacement, and "
        "sends; the API's 404 then becomes a `NotFoundError` saying so. No warning where the "
        "date on that backend is unknown.",
        "",
        "| id | lifecycle |",
        "|---|---|",
    ]
    for m in MODELS.values():
        lines.append(f"| `{m.id}` | {m.lifecycle.describe()} |")
    for old, new in RETIRED_MODELS.items():
        life = Lifecycle(shutdown=RETIRED_SHUTDOWN.get(old, {}), replacement=new)
        lines.append(f"| `{old}` | {life.describe()} (its GA twin: sent as `{new}`) |")
    lines += ["", "## Where each fact came from", ""]
    for m in MODELS.values():
        lines.append(f"- `{m.id}`:")
        lines += [f"  - {facts}: {source}" for facts, source in m.sources.items()]
        if m.lifecycle.source:
            lines.append(f"  - lifecycle: {m.lifecycle.source}")
    lines += [
        "",
        "## Output pixel sizes",
        "",
        "Checked after every call: an image of another size or ratio warns "
        "(`SizeMismatchWarning`). Models without a table here are checked on aspect ratio "
        "only (within 3%).",
    ]
    for m in MODELS.values():
        if not m.pixels:
            continue
        sizes = [s for s in m.image_sizes if any(k[1] == s for k in m.pixels)]
        no_ratio = (
            f" Without an aspect ratio: {m.no_ratio_pixels[0]}x{m.no_ratio_pixels[1]} at 1K."
            if m.no_ratio_pixels
            else ""
        )
        lines += [
            "",
            f"### {m.name} (`{m.id}`)",
            "",
            *([no_ratio.strip(), ""] if no_ratio else []),
            "| ratio | " + " | ".join(sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        for ratio in m.aspect_ratios:
            cells = [m.pixels.get((ratio, s)) for s in sizes]
            lines.append(
                f"| {ratio} | " + " | ".join(f"{c[0]}x{c[1]}" if c else "" for c in cells) + " |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(models_markdown(), end="")
