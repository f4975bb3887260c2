"""Every model of the family as data: ids, capabilities, limits, prices, latencies, sources.

One table (`MODELS`) is the only place these facts live; validation, cost, docs/models.md and
`nanobanana models` read it. Figures marked ``(3p)`` come from third parties citing Google and
``(estimate)`` ones are ours: each `ModelInfo.sources` says where its facts came from, so one
edit updates them. Unknown ids pass through unchanged (a new model needs no release); known
retired ids map to their replacement with a `DeprecationWarning`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from .._errors import UnknownModelWarning, user_stacklevel

__all__ = [
    "ALL_ASPECT_RATIOS",
    "ALL_IMAGE_SIZES",
    "ALL_THINKING_LEVELS",
    "BACKENDS",
    "BATCH_LIMITS",
    "INPUT_IMAGE_TOKENS",
    "MODELS",
    "RETIRED_MODELS",
    "RETIRED_SHUTDOWN",
    "BatchLimits",
    "Lifecycle",
    "ModelInfo",
    "Pricing",
    "Quota",
    "ReferenceLimits",
    "resolve_model",
    "shutdown_of",
    "typical_latency",
    "typical_quota",
]

DEFAULT_MODEL = "gemini-3-pro-image"

#: The Gemini API takes about 7 MB per inline image and about 20 MB per request (FACTS).
#: Both are measured here on the base64 text that goes on the wire, with headroom for the JSON
#: around it, so that a request we build is never the one the API rejects for its size.
MAX_INLINE_IMAGE_BYTES = 7 * 1000 * 1000

MAX_REQUEST_BYTES = 20 * 1000 * 1000

REQUEST_HEADROOM_BYTES = 256 * 1000

#: About 4 characters make a token: a prompt longer than its model's input tokens x 4 cannot
#: fit, whatever else is sent.
CHARS_PER_TOKEN = 4

#: Input tokens one image counts, by media resolution: the one table (cost estimates, caps and
#: the long side references are fitted to all read it). FACTS: on Gemini 3 measured counts
#: stay at 1,065-1,101 at the default (high) whatever the pixels, and about twice at
#: ultra_high; 1,120 / 2,240 are the upper bounds to cap with. Low and medium follow Google's
#: media resolution page (280 and 560).
INPUT_IMAGE_TOKENS: Mapping[str, int] = {
    "low": 280, "medium": 560, "high": 1120, "ultra_high": 2240,
}  # fmt: skip

#: The backends a model is served on: ``gemini`` (the Gemini API) and ``vertex`` (Vertex AI).
BACKENDS = ("gemini", "vertex")

_RATIOS_10 = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
_RATIOS_14 = (*_RATIOS_10, "1:4", "4:1", "1:8", "8:1")


@dataclass(frozen=True)
class ReferenceLimits:
    """How many reference images a model takes, by kind.

    Objects beyond ``objects``, humans beyond ``humans`` and (unless ``style_is_object``) every
    style reference each take one of the ``flex`` slots; ``None`` means no limit of that kind.
    """

    total: int | None = 14
    objects: int | None = None
    humans: int | None = None
    flex: int = 0
    style_is_object: bool = False
    """Nano Banana 2 counts a style reference as an object."""
    advised: int | None = None
    """Above this a warning, never a refusal (2.5 Flash Image's "about 3")."""

    def describe(self) -> str:
        """The rule in words, for errors and docs."""
        if self.total is None:
            return f"any number; about {self.advised} recommended"
        if self.objects is None or self.humans is None:
            return f"up to {self.total} of any kind"
        kinds = f"up to {self.objects} object and {self.humans} human references"
        if self.style_is_object:
            return f"{kinds} (style references count as objects), {self.total} in all"
        return (
            f"{kinds}, plus {self.flex} flexible slots for style references and extra objects "
            f"or humans ({self.total} in all)"
        )


@dataclass(frozen=True)
class Pricing:
    """USD per million tokens, tokens per output image by size, and per-query search price."""

    input_per_mtok: float
    """Text and image input."""
    text_output_per_mtok: float
    """Text output and thinking (billed even when thoughts are not returned)."""
    image_output_per_mtok: float
    """Image output."""
    image_output_tokens: Mapping[str, int]
    """Tokens one output image counts for, by size."""
    search_per_query: float = 14.00 / 1000
    """Google Search grounding beyond the free monthly allowance (FACTS: $14 per 1,000)."""
    max_search_queries: int = 3
    """The most search queries one grounded call may bill, which a cap must assume: three web
    queries were seen billed on one call (issue 22: $3.36 spent under a $3.26 cap priced at
    one). Empty queries (FACTS: one was seen live) are not counted."""
    batch_discount: float = 0.5
    """The Batch API charges this fraction of every token rate (FACTS)."""


@dataclass(frozen=True)
class Quota:
    """A typical paid-tier quota, to start pacing from before any 429 says otherwise."""

    rpm: int
    """Requests per minute."""
    ipm: int
    """Images per minute."""
    estimate: bool = True
    """True when the figure is ours, not Google's: runs adapt on the first 429."""


@dataclass(frozen=True)
class Lifecycle:
    """When a model came and goes, per backend, and what to use after."""

    released: date | None = None
    """General availability (``None``: not recorded)."""
    shutdown: Mapping[str, date] = field(default_factory=dict)
    """Backend (``"gemini"``, ``"vertex"``) -> the date it was shut down there. A backend
    missing here has no known date: nothing is warned there."""
    replacement: str | None = None
    """The model to use instead once shut down (suggested where Google names none)."""
    source: str = ""

    def shut_down_on(self, backend: str, today: date) -> date | None:
        """The shutdown date when it has passed on ``backend`` by ``today``; else ``None``."""
        when = self.shutdown.get(backend)
        return when if when is not None and today >= when else None

    def describe(self) -> str:
        """In words, for ``nanobanana models`` and docs."""
        bits = [f"GA {self.released.isoformat()}"] if self.released else []
        names = {"gemini": "the Gemini API", "vertex": "Vertex AI"}
        bits += [f"shut down on {names[b]} {d.isoformat()}" for b, d in self.shutdown.items()]
        if self.shutdown and self.replacement:
            bits.append(f"use {self.replacement}")
        return "; ".join(bits) or "current"


@dataclass(frozen=True)
class ModelInfo:
    """What one model accepts, returns and costs, and where each fact came from."""

    id: str
    name: str
    aspect_ratios: tuple[str, ...]
    image_sizes: tuple[str, ...]
    """Sizes as sent on the wire: ``"512"``, ``"1K"``, ``"2K"``, ``"4K"``."""
    output_mime: str
    references: ReferenceLimits
    thinking: str
    """How thinking works, in words."""
    thinking_levels: tuple[str, ...] = ()
    """Values of ``thinkingConfig.thinkingLevel`` it takes (lowercase); empty: none."""
    search: tuple[str, ...] = ()
    """Google Search grounding modes: ``"web"``, ``"image"``; empty: no grounding."""
    part_media_resolution: bool = True
    """Takes a media resolution per reference (Gemini 3 only), and ``ultra_high``."""
    pricing: Pricing | None = field(default=None, repr=False)
    latency: Mapping[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    """Seconds for one image, (low, high), by size."""
    quota: Quota = field(default=Quota(20, 20), repr=False)
    pixels: Mapping[tuple[str, str], tuple[int, int]] | None = field(default=None, repr=False)
    """(ratio, size) -> (width, height) where known."""
    no_ratio_pixels: tuple[int, int] | None = None
    """(width, height) at 1K when no aspect ratio is given (the model chooses)."""
    thinks: bool = True
    """Thinking is on: thinking tokens are billed, thought parts come when asked for."""
    accepts_thinking_config: bool = True
    """Takes a ``thinkingConfig`` at all (2.5 Flash Image answers 400 to any)."""
    signed_parts: bool = True
    """Answer parts carry thought signatures, which a later turn must send back unchanged."""
    lifecycle: Lifecycle = field(default=Lifecycle(), repr=False)
    input_tokens: int = 65_536
    """Input token limit (``models.list``' ``inputTokenLimit``): the prompt must fit in it."""
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)


def _pixel_table(text: str) -> dict[tuple[str, str], tuple[int, int]]:
    table = {}
    for line in text.strip().splitlines():
        ratio, *dims = line.split()
        for size, dim in zip(("1K", "2K", "4K"), dims, strict=True):
            w, h = dim.split("x")
            table[(ratio, size)] = (int(w), int(h))
    return table


# FACTS, "Output pixel sizes" (Nano Banana Pro).
_PRO_PIXELS = _pixel_table("""
1:1 1024x1024 2048x2048 4096x4096
2:3 848x1264 1696x2528 3392x5056
3:2 1264x848 2528x1696 5056x3392
3:4 896x1200 1792x2400 3584x4800
4:3 1200x896 2400x1792 4800x3584
4:5 928x1152 1856x2304 3712x4608
5:4 1152x928 2304x1856 4608x3712
9:16 768x1376 1536x2752 3072x5504
16:9 1376x768 2752x1536 5504x3072
21:9 1584x672 3168x1344 6336x2688
""")

# FACTS 2026-12-04, Gemini 2.5 Flash Image's own table (1K only).
_FLASH_25_PIXELS = {
    (ratio, "1K"): (int(w), int(h))
    for ratio, w, h in (
        line.replace("x", " ").split()
        for line in """
1:1 1024x1024
2:3 832x1248
3:2 1248x832
3:4 864x1184
4:3 1184x864
4:5 896x1152
5:4 1152x896
9:16 768x1344
16:9 1344x768
21:9 1536x672
""".strip().splitlines()
    )
}

_FACTS = "FACTS.md (Google's Gemini API docs, live cassettes)"
_LIFECYCLE = "FACTS.md 2026-12-04 (Google's Gemini API deprecations page)"
_FAMILY = "FACTS.md 'the model family' (2026-11-25)"
_ESTIMATE = "estimate (ours, 2026-11-25): adapt to measured values"

MODELS: dict[str, ModelInfo] = {
    info.id: info
    for info in (
        ModelInfo(
            "gemini-3-pro-image",
            "Nano Banana Pro",
            aspect_ratios=_RATIOS_10,
            image_sizes=("1K", "2K", "4K"),
            output_mime="image/jpeg",
            references=ReferenceLimits(total=14, objects=6, humans=5, flex=3),
            thinking="always on, no level to set",
            search=("web",),
            pricing=Pricing(
                input_per_mtok=2.00,
                text_output_per_mtok=12.00,
                image_output_per_mtok=120.00,
                image_output_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
            ),
            latency={"1K": (17, 29), "2K": (20, 40), "4K": (50, 120)},
            quota=Quota(rpm=20, ipm=20),
            pixels=_PRO_PIXELS,
            no_ratio_pixels=(1408, 768),
            lifecycle=Lifecycle(released=date(2026, 5, 28), source=_FACTS),
            sources={
                "capabilities, references, prices, 1K/4K latency, pixel sizes": _FACTS,
                "1408x768 without a ratio, GA date": _FACTS,
                "candidatesTokensDetails lists IMAGE only": "FACTS.md 2026-12-04",
                "2K latency, quota": _ESTIMATE,
                "size of an edit without a ratio (the input's ratio?), thought image sizes "
                "(the emulator: half the 1K size of the ratio)": "unconfirmed: a live run "
                "should confirm",
            },
        ),
        ModelInfo(
            "gemini-3.1-flash-image",
            "Nano Banana 2",
            aspect_ratios=_RATIOS_14,
            image_sizes=("512", "1K", "2K", "4K"),
            output_mime="image/jpeg",
            references=ReferenceLimits(total=14, objects=10, humans=4, style_is_object=True),
            thinking="levels: minimal, high",
            thinking_levels=("minimal", "high"),
            search=("web", "image"),
            pricing=Pricing(
                # (3p) input and text rates: third-party pricing pages citing Google's
                # (e.g. pricepertoken.com, 2026-11); image rate: FACTS (3p).
                input_per_mtok=0.50,
                text_output_per_mtok=3.00,
                image_output_per_mtok=60.00,
                # Google's Vertex model card (FACTS 2026-12-04); the (3p) per-image prices
                # $0.045 / $0.067 / $0.101 / $0.151 at $60/M agree.
                image_output_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
                max_search_queries=4,  # the web's three, and an image search query (FACTS)
            ),
            latency={"512": (6, 15), "1K": (8, 20), "2K": (12, 30), "4K": (25, 60)},
            quota=Quota(rpm=60, ipm=60),
            no_ratio_pixels=(1408, 768),
            sources={
                "ratios, sizes, thinking, search, image price": _FAMILY,
                "tokens per size": "FACTS.md 2026-12-04 (Google's Vertex model card)",
                "reference split (10 object + 4 human)": f"{_FAMILY}, (3p)",
                "input and text rates": "(3p) third-party pricing pages citing Google, 2026-11",
                "output format (JPEG, as Pro), pixel sizes (Pro's table; 512 half of 1K), "
                "1408x768 without a ratio, thought image sizes, latency, quota": f"{_ESTIMATE}; "
                "a live run should confirm",
                "preview id shut down on the Gemini API 2026-06-25 (Vertex: unknown)": _LIFECYCLE,
            },
        ),
        ModelInfo(
            "gemini-3.1-flash-lite-image",
            "Nano Banana 2 Lite",
            aspect_ratios=_RATIOS_14,
            image_sizes=("1K",),
            output_mime="image/jpeg",
            references=ReferenceLimits(total=14),
            thinking="on, no level to set (unconfirmed)",
            pricing=Pricing(
                # (3p) input and text rates, third-party pricing pages, 2026-11.
                input_per_mtok=0.25,
                text_output_per_mtok=1.50,
                image_output_per_mtok=30.00,
                image_output_tokens={"1K": 1120},  # estimate: Gemini 3's 1K figure
            ),
            latency={"1K": (4, 12)},
            quota=Quota(rpm=100, ipm=100),
            no_ratio_pixels=(1408, 768),
            sources={
                "name (3p), ratios, sizes, references, search, image price": _FAMILY,
                "input and text rates": "(3p) third-party pricing pages citing Google, 2026-11",
                "tokens per image, output format, latency, quota, 1408x768 without a ratio": (
                    _ESTIMATE
                ),
                "whether it thinks (FACTS gives '—'; assumed on, as Gemini 3)": "unconfirmed: "
                "a live run should confirm",
            },
        ),
        ModelInfo(
            "gemini-2.5-flash-image",
            "Nano Banana",
            input_tokens=32_768,
            aspect_ratios=_RATIOS_10,
            image_sizes=("1K",),
            output_mime="image/png",
            references=ReferenceLimits(total=None, advised=3),
            thinking="none (a thinking config is refused)",
            part_media_resolution=False,
            pricing=Pricing(
                # (3p) Google's pricing page as cited by third parties, 2025-2026: $0.30/M in,
                # $2.50/M text out, 1,290 tokens ($0.039) per image.
                input_per_mtok=0.30,
                text_output_per_mtok=2.50,
                image_output_per_mtok=30.00,
                image_output_tokens={"1K": 1290},
            ),
            latency={"1K": (5.6, 6.0)},
            quota=Quota(rpm=100, ipm=100),
            pixels=_FLASH_25_PIXELS,
            no_ratio_pixels=(1024, 1024),
            thinks=False,
            accepts_thinking_config=False,
            signed_parts=False,
            lifecycle=Lifecycle(
                released=date(2025, 10, 2),
                shutdown={"gemini": date(2026, 10, 2)},
                replacement="gemini-3.1-flash-image",
                source=f"{_LIFECYCLE}: no replacement named there; Nano Banana 2 is the "
                "natural one. GA date: Google's announcement, 2025-10-02 (unconfirmed here). "
                "Vertex: no date known",
            ),
            sources={
                "ratios, sizes, PNG output, references, image price": _FAMILY,
                "input and text rates, tokens per image": "(3p) pricing pages citing Google",
                "pixel sizes, 1024x1024 without a ratio, 1,290 tokens, no signatures, "
                "5.6-6.0 s": "FACTS.md 2026-12-04 (public recordings)",
                "thinking config refused (400)": "FACTS.md 2026-12-04, (3p)",
                "shutdown 2026-10-02 on the Gemini API": _LIFECYCLE,
                "quota": _ESTIMATE,
            },
        ),
    )
}

#: Retired id -> its GA twin (the same model). Users copy examples that still name them.
RETIRED_MODELS: dict[str, str] = {
    "gemini-3-pro-image-preview": "gemini-3-pro-image",
    "gemini-3.1-flash-image-preview": "gemini-3.1-flash-image",
    "gemini-2.5-flash-image-preview": "gemini-2.5-flash-image",
}

#: When each retired id was shut down, per backend, where known (FACTS: deprecations page).
RETIRED_SHUTDOWN: dict[str, Mapping[str, date]] = {
    "gemini-3-pro-image-preview": {"gemini": date(2026, 6, 25), "vertex": date(2026, 7, 17)},
    "gemini-3.1-flash-image-preview": {"gemini": date(2026, 6, 25)},
    "gemini-2.5-flash-image-preview": {},
}


def _union(values: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for group in values for v in group))


#: What an unknown model may be sent: anything some known model accepts (syntax checks only).
ALL_ASPECT_RATIOS = _union(m.aspect_ratios for m in MODELS.values())
ALL_IMAGE_SIZES = tuple(s for s in ("512", "1K", "2K", "4K") if s in _union(
    m.image_sizes for m in MODELS.values()))  # fmt: skip
#: `thinkingLevel` values of the API (google-genai's ThinkingLevel): allowed on unknown models.
ALL_THINKING_LEVELS = ("minimal", "low", "medium", "high")


_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}", re.IGNORECASE)


def resolve_model(model: str | None) -> tuple[str, ModelInfo | None]:
    """Returns the id to send and what is known of it (``None`` for an unknown id).

    Args:
        model: A model id, with or without the ``models/`` prefix; ``None`` for the default.

    Raises:
        InvalidRequestError: The id is empty.
    """
    from .._errors import InvalidRequestError

    if model is None:
        model = DEFAULT_MODEL
    model_id = model.strip().removeprefix("models/")
    if not _MODEL_ID.fullmatch(model_id):
        # Unknown ids pass through (new models need no release); malformed ones never would.
        raise InvalidRequestError(
            f"model must be a model id such as {DEFAULT_MODEL!r} (letters, digits, '.', '-', "
            f"'_'), got {model!r}"
        )
    if model_id in RETIRED_MODELS:
        replacement = RETIRED_MODELS[model_id]
        warnings.warn(
            f"{model_id!r} was shut down (a request naming it fails); using {replacement!r}. "
            f"Pass model={replacement!r} to silence this warning.",
            DeprecationWarning,
            stacklevel=user_stacklevel(),
        )
        model_id = replacement
    info = MODELS.get(model_id)
    if info is None and model_id not in _WARNED:
        _WARNED.add(model_id)
        import difflib

        close = difflib.get_close_matches(model_id, list(MODELS), n=1, cutoff=0.88)
        hint = f"did you mean {close[0]!r}? " if close else ""
        warnings.warn(
            f"{model_id!r} is not a model nanobanana knows: {hint}it is sent as it is, with "
            "syntax checks only (`nanobanana models` lists the known ones; a newer release "
            "may know it)",
            UnknownModelWarning,
            stacklevel=user_stacklevel(),
        )
    return model_id, info


#: Unknown ids already warned of: one warning per id per process.
_WARNED: set[str] = set()


def shutdown_of(model: str, backend: str, today: date) -> tuple[date, str | None] | None:
    """``(date, replacement)`` when ``model`` was shut down on ``backend`` by ``today``.

    ``None`` for a model still served there, or whose date on that backend is unknown.
    """
    info = MODELS.get(model)
    if info is None:
        return None
    when = info.lifecycle.shut_down_on(backend, today)
    return None if when is None else (when, info.lifecycle.replacement)


def typical_latency(model: str, size: str | None) -> float:
    """Typical seconds for one image (the middle of the table's range).

    Unknown models and sizes take the default model's 1K figure.
    """
    info = MODELS.get(model) or MODELS[DEFAULT_MODEL]
    low, high = info.latency.get(size or "1K") or MODELS[DEFAULT_MODEL].latency["1K"]
    return (low + high) / 2


def typical_quota(model: str) -> Quota:
    """A typical quota to start pacing from (the default model's for unknown ids)."""
    return (MODELS.get(model) or MODELS[DEFAULT_MODEL]).quota


#: The longest prompt any model takes; a longer one is refused before anything else is done.
MAX_PROMPT_CHARS = max(m.input_tokens for m in MODELS.values()) * CHARS_PER_TOKEN


def max_prompt_chars(model: str) -> int:
    """The longest prompt ``model`` takes, in characters (an unknown id: the longest known)."""
    info = MODELS.get(model)
    return info.input_tokens * CHARS_PER_TOKEN if info else MAX_PROMPT_CHARS


@dataclass(frozen=True)
class BatchLimits:
    """What the Batch API allows one project at once (FACTS, "batch limits", 2026-12-04).

    Large runs are cut into file-based jobs (shards) that keep within all of these together.
    """

    concurrent_jobs: int = 100
    """Batch jobs running or pending at once, per project."""
    input_file_bytes: int = 2 * 1000**3
    """One JSONL input file."""
    storage_bytes: int = 20 * 1000**3
    """Batch storage of the project (input files kept while their jobs run)."""
    enqueued_tokens: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    """Tokens enqueued at once per model, by usage tier (1, 2, 3)."""
    source: str = "FACTS.md 'batch limits' (Google's rate-limits page, 2026-12-04)"

    def enqueued_token_limit(self, model: str, tier: int) -> int:
        """Tokens this model may have enqueued at ``tier``; unknown models get the lowest known."""
        by_tier = self.enqueued_tokens.get(model)
        if by_tier is None:
            return min(t[tier] for t in self.enqueued_tokens.values() if tier in t)
        return by_tier[tier]


BATCH_LIMITS = BatchLimits(
    enqueued_tokens={
        "gemini-3.1-flash-image": {1: 1_000_000, 2: 250_000_000, 3: 750_000_000},
        "gemini-3-pro-image": {1: 2_000_000, 2: 270_000_000, 3: 1_000_000_000},
    }
)
