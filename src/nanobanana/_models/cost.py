"""What a call costs, from the registry's prices: estimated before sending, priced after.

Pure functions over `_registry.Pricing`; `None` always means "no price known for this model",
never $0. Google Search's free monthly allowance is not tracked, so grounded figures are upper
bounds.
"""

from __future__ import annotations

from .registry import INPUT_IMAGE_TOKENS, MODELS, Pricing

__all__ = [
    "CHARS_PER_TOKEN",
    "ESTIMATED_SEARCH_QUERIES",
    "ESTIMATED_THINKING_TOKENS",
    "INPUT_IMAGE_TOKENS",
    "estimate_cost",
    "pricing_of",
    "usage_cost",
]

#: Thinking tokens to assume per call (FACTS: 700-900 seen per Pro image), at the text rate.
ESTIMATED_THINKING_TOKENS = 900
#: Prompt characters per token, for estimates.
CHARS_PER_TOKEN = 4
#: Marks a grounded call to `estimate_cost`: it is priced at the model's worst case,
#: `Pricing.max_search_queries`, before the answer says how many ran.
ESTIMATED_SEARCH_QUERIES = 1


def pricing_of(model: str | None) -> Pricing | None:
    """The model's prices (``models/`` prefix ignored); ``None`` when unknown."""
    info = MODELS.get((model or "").split("/")[-1])
    return info.pricing if info is not None else None


def estimate_cost(
    model: str,
    *,
    prompt_chars: int,
    input_image_tokens: int = 0,
    size: str | None = None,
    images: int = 1,
    search_queries: int = 0,
    batch: bool = False,
) -> float | None:
    """A conservative USD estimate of one call before it is sent.

    Args:
        model: The model id.
        prompt_chars: Characters of prompt and system instruction (about 4 a token).
        input_image_tokens: Tokens of all input images (`INPUT_IMAGE_TOKENS` per image).
        size: The output size asked (``None``: 1K).
        images: Final images the prompt asks for.
        search_queries: Nonzero for a grounded call: priced at no fewer than the model's
            `Pricing.max_search_queries`, the most one call may bill (a cap must hold).
        batch: Through the Batch API (half of every token rate).

    Returns:
        USD, or ``None`` for a model without prices (or a size it has no price for).
    """
    price = pricing_of(model)
    per_image = price.image_output_tokens.get(size or "1K") if price else None
    if price is None or per_image is None:
        return None
    info = MODELS.get(model.split("/")[-1])
    thinking = ESTIMATED_THINKING_TOKENS if info is None or info.thinks else 0
    tokens = (
        (prompt_chars / CHARS_PER_TOKEN + input_image_tokens) * price.input_per_mtok
        + images * per_image * price.image_output_per_mtok
        + thinking * price.text_output_per_mtok
    ) / 1e6
    queries = max(search_queries, price.max_search_queries) if search_queries else 0
    return tokens * (price.batch_discount if batch else 1.0) + queries * price.search_per_query


def usage_cost(
    model: str | None,
    *,
    prompt_tokens: int | None,
    output_tokens: int | None,
    thinking_tokens: int | None,
    output_image_tokens: int = 0,
    images: int = 0,
    size: str | None = None,
    search_queries: int = 0,
    batch: bool = False,
) -> float | None:
    """USD of a finished call from what its ``usageMetadata`` reported.

    Args:
        model: The model that answered (``modelVersion``) or was asked.
        prompt_tokens: ``promptTokenCount``; ``None`` when the answer had none (no price).
        output_tokens: ``candidatesTokenCount`` (text and image output); ``None`` when the
            answer had none (no-image answers live): images received then count at the
            table's tokens, never 0.
        thinking_tokens: ``thoughtsTokenCount``, billed at the text rate; ``None``: none.
        output_image_tokens: The IMAGE entries of ``candidatesTokensDetails``; when the
            answer gave none, each of ``images`` counts at the table's tokens for ``size``.
        images: Final images received.
        size: The size asked (``None``: 1K).
        search_queries: Queries the grounding metadata lists (the free allowance is not
            tracked: an upper bound).
        batch: Came through the Batch API (half of every token rate).

    Returns:
        USD, or ``None`` for a model without prices or an answer without a prompt count.
    """
    price = pricing_of(model)
    if price is None or prompt_tokens is None:
        return None
    thinking_tokens = thinking_tokens or 0
    if output_tokens is None:
        output_tokens = output_image_tokens
    image_tokens = output_image_tokens
    if not image_tokens and images:
        image_tokens = images * price.image_output_tokens.get(
            size or "1K", max(price.image_output_tokens.values())
        )
    text_tokens = max(0, output_tokens - image_tokens) + thinking_tokens
    tokens = (
        prompt_tokens * price.input_per_mtok
        + image_tokens * price.image_output_per_mtok
        + text_tokens * price.text_output_per_mtok
    ) / 1e6
    return tokens * (price.batch_discount if batch else 1.0) + search_queries * (
        price.search_per_query
    )
