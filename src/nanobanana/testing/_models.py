"""The models the emulator serves, each as the real one is.

Sizes, tokens, signatures, thinking, latency and lifecycle, from FACTS ("the model family"
and "Added 2026-12-04").

Kept apart from the SDK's registry on purpose: a fake that shared the client's tables would
agree with its mistakes. ``tests/testing/test_models.py`` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "ALIASES",
    "MODELS",
    "RETIRED",
    "SHUTDOWN",
    "TEXT_MODELS",
    "ModelSpec",
    "input_image_tokens",
    "shut_down",
]

_TEN = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
_EXTREME = ("1:4", "4:1", "1:8", "8:1")


def _table(
    text: str, sizes: tuple[str, ...] = ("1K", "2K", "4K")
) -> dict[tuple[str, str], tuple[int, int]]:
    table: dict[tuple[str, str], tuple[int, int]] = {}
    for line in text.strip().splitlines():
        ratio, *dims = line.split()
        for size, dim in zip(sizes, dims, strict=True):
            w, h = dim.split("x")
            table[(ratio, size)] = (int(w), int(h))
    return table


#: Gemini 3 (FACTS, "Output pixel sizes"). Nano Banana 2's extreme ratios keep 1K's area and
#: its ``512`` is half of 1K: no live figure for either (a live run should confirm them).
_GEMINI_3 = _table("""
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
_EXTREME_TABLE = _table("""
1:4 512x2048 1024x4096 2048x8192
4:1 2048x512 4096x1024 8192x2048
1:8 352x2816 704x5632 1408x11264
8:1 2816x352 5632x704 11264x1408
""")
_FLASH_3 = {**_GEMINI_3, **_EXTREME_TABLE}
_FLASH_3.update(
    {(r, "512"): (w // 2, h // 2) for (r, s), (w, h) in list(_FLASH_3.items()) if s == "1K"}
)

#: Gemini 2.5 Flash Image (FACTS 2026-12-04): 1K only, its own table.
_FLASH_25 = _table("""
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
""", ("1K",))  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """What one image model accepts and answers."""

    id: str
    name: str
    ratios: tuple[str, ...]
    sizes: tuple[str, ...]
    max_references: int
    max_object_references: int | None
    max_human_references: int | None
    output_mime: str
    thinking_levels: tuple[str, ...] | None
    """``None``: a level is not settled by FACTS, so any is accepted."""
    search: tuple[str, ...]
    """Search types served: ``("web",)``, ``("web", "image")`` or ``()`` for none."""
    input_token_limit: int
    output_token_limit: int
    pixels: dict[tuple[str, str], tuple[int, int]] = field(repr=False)
    """(ratio, size) -> (width, height)."""
    no_ratio: tuple[int, int]
    """Pixels at 1K when no aspectRatio is given (scaled for other sizes)."""
    image_tokens: dict[str, int]
    """Output tokens of one image, by size."""
    latency: dict[str, tuple[float, float]] = field(repr=False)
    """Live seconds for one image, (low, high), by size: what realistic mode waits."""
    thinks: bool = True
    """Whether thinking is on (thought parts, thinking tokens)."""
    thinking_config: bool = True
    """Whether a ``thinkingConfig`` is accepted at all (2.5 Flash Image refuses one)."""
    signed: bool = True
    """Whether answer parts carry thought signatures, and later turns must send them back."""
    text_in_details: bool = True
    """Whether ``candidatesTokensDetails`` lists TEXT when text came back (Pro lists IMAGE
    only)."""
    input_image_tokens: tuple[int, int] | None = (1065, 1101)
    """Tokens one input image counts at the default media resolution (low, high), whatever
    its pixels (FACTS: 1,065-1,101 on Gemini 3); ``None``: by 768x768 tiles (Gemini 2.x)."""
    released: date | None = None
    shutdown: dict[str, date] = field(default_factory=dict)
    """Backend (``"gemini"``, ``"vertex"``) -> the date the model was shut down there."""
    replacement: str | None = None


MODELS: dict[str, ModelSpec] = {
    m.id: m
    for m in (
        ModelSpec(
            "gemini-3-pro-image", "Nano Banana Pro", _TEN, ("1K", "2K", "4K"),
            14, 6, 5, "image/jpeg", None, ("web",), 65536, 32768,
            pixels=_GEMINI_3, no_ratio=(1408, 768),
            image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
            latency={"1K": (17.0, 29.0), "2K": (20.0, 40.0), "4K": (50.0, 120.0)},
            text_in_details=False, released=date(2026, 5, 28),
        ),
        # Object / human split of Nano Banana 2 from third parties (3p, 2026-11); tokens by
        # size from Google's Vertex model card (FACTS 2026-12-04).
        ModelSpec(
            "gemini-3.1-flash-image", "Nano Banana 2", _TEN + _EXTREME, ("512", "1K", "2K", "4K"),
            14, 10, 4, "image/jpeg", ("MINIMAL", "HIGH"), ("web", "image"), 65536, 32768,
            pixels=_FLASH_3, no_ratio=(1408, 768),
            image_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
            latency={"512": (6.0, 15.0), "1K": (8.0, 20.0), "2K": (12.0, 30.0), "4K": (25.0, 60.0)},
        ),
        # Nano Banana 2 Lite: figures from third parties only (3p, 2026-11); whether it
        # thinks is not recorded (a live run should confirm).
        ModelSpec(
            "gemini-3.1-flash-lite-image", "Nano Banana 2 Lite", _TEN + _EXTREME, ("1K",),
            14, None, None, "image/jpeg", None, (), 65536, 32768,
            pixels={k: v for k, v in _FLASH_3.items() if k[1] == "1K"}, no_ratio=(1408, 768),
            image_tokens={"1K": 1120}, latency={"1K": (4.0, 12.0)},
        ),
        # "About 3 recommended": a recommendation, not a limit the API enforces. FACTS
        # 2026-12-04: its own sizes, 1,290 tokens, no signatures, no thinking config, ~6 s,
        # shut down on the Gemini API on 2026-10-02 (no date known on Vertex).
        ModelSpec(
            "gemini-2.5-flash-image", "Nano Banana", _TEN, ("1K",),
            14, None, None, "image/png", None, (), 32768, 32768,
            pixels=_FLASH_25, no_ratio=(1024, 1024), image_tokens={"1K": 1290},
            latency={"1K": (5.6, 6.0)}, thinks=False, thinking_config=False, signed=False,
            input_image_tokens=None, released=date(2025, 10, 2),
            shutdown={"gemini": date(2026, 10, 2)}, replacement="gemini-3.1-flash-image",
        ),
    )
}  # fmt: skip

#: Retired preview ids -> their GA twin (the same model); their shutdown dates are in SHUTDOWN.
ALIASES: dict[str, str] = {
    "gemini-3-pro-image-preview": "gemini-3-pro-image",
    "gemini-3.1-flash-image-preview": "gemini-3.1-flash-image",
    "gemini-2.5-flash-image-preview": "gemini-2.5-flash-image",
}
#: Retired ids: a request with one is answered with the real 404 (unless ``serve_retired``).
RETIRED = frozenset(ALIASES)

#: Model id -> backend -> the date it was shut down there (FACTS: deprecations page).
SHUTDOWN: dict[str, dict[str, date]] = {
    "gemini-3-pro-image-preview": {"gemini": date(2026, 6, 25), "vertex": date(2026, 7, 17)},
    "gemini-3.1-flash-image-preview": {"gemini": date(2026, 6, 25)},
    "gemini-2.5-flash-image-preview": {},  # shut down; the date is not recorded here
    **{m.id: m.shutdown for m in MODELS.values() if m.shutdown},
}


def shut_down(model: str, backend: str, today: date) -> bool:
    """Whether ``model`` was shut down on ``backend`` (``"gemini"``/``"vertex"``) by ``today``."""
    when = SHUTDOWN.get(model, {}).get(backend)
    return when is not None and today >= when


#: Text-only models that ``models.list`` also returns (clients must filter): their
#: supportedGenerationMethods make no images. (name, display name, methods, in, out).
TEXT_MODELS: tuple[tuple[str, str, tuple[str, ...], int, int], ...] = (
    ("gemini-2.5-flash", "Gemini 2.5 Flash",
     ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent"),
     1048576, 65536),
    ("gemini-2.5-pro", "Gemini 2.5 Pro",
     ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent"),
     1048576, 65536),
    ("gemini-embedding-001", "Gemini Embedding 001",
     ("embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"), 2048, 1),
)  # fmt: skip


#: Media resolution -> multiple of the default's tokens (Google's table: 280 / 560 / 1,120 /
#: 2,240 for low / medium / high / ultra high).
_RESOLUTION = {"LOW": 0.25, "MEDIUM": 0.5, "HIGH": 1.0, "ULTRA_HIGH": 2.0}


def input_image_tokens(
    spec: ModelSpec, seed: int, width: int | None, height: int | None, resolution: str | None
) -> int:
    """Tokens one input image counts.

    Gemini 3: a fixed figure near 1,090 at the default resolution whatever the pixels, about
    twice that at ultra high. Gemini 2.x: 258 per 768x768 tile (258 up to 384 px), capped.
    """
    if spec.input_image_tokens is None:
        if not width or not height:
            return 258
        if max(width, height) <= 384:
            return 258
        return min(1290, 258 * -(-width // 768) * -(-height // 768))
    low, high = spec.input_image_tokens
    tokens = low + seed % (high - low + 1)
    level = str(resolution or "").upper().removeprefix("MEDIA_RESOLUTION_")
    return round(tokens * _RESOLUTION.get(level, 1.0))


def pixels(spec: ModelSpec, ratio: str | None, size: str) -> tuple[int, int]:
    """The output size for a ratio (``None``: not given) and an image size."""
    if ratio is None:
        w, h = spec.no_ratio
        scale = {"512": 0.5, "1K": 1, "2K": 2, "4K": 4}[size]
        return int(w * scale), int(h * scale)
    return spec.pixels[(ratio, size)]
