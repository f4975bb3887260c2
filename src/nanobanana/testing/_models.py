"""The models the emulator serves, each with what the real one accepts (FACTS' family table).

Kept apart from the SDK's registry on purpose: a fake that shared the client's tables would
agree with its mistakes. ``tests/testing/test_models.py`` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MODELS", "PIXELS", "RETIRED", "ModelSpec", "pixels"]

_TEN = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
_EXTREME = ("1:4", "4:1", "1:8", "8:1")


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
    thinks: bool = True
    """Whether thinking is on (thought parts, thinking tokens)."""


MODELS: dict[str, ModelSpec] = {
    m.id: m
    for m in (
        ModelSpec(
            "gemini-3-pro-image", "Nano Banana Pro", _TEN, ("1K", "2K", "4K"),
            14, 6, 5, "image/jpeg", None, ("web",), 65536, 32768,
        ),
        # Object / human split of Nano Banana 2 from third parties (3p, 2026-11).
        ModelSpec(
            "gemini-3.1-flash-image", "Nano Banana 2", _TEN + _EXTREME, ("512", "1K", "2K", "4K"),
            14, 10, 4, "image/jpeg", ("MINIMAL", "HIGH"), ("web", "image"), 65536, 32768,
        ),
        # Nano Banana 2 Lite: figures from third parties only (3p, 2026-11).
        ModelSpec(
            "gemini-3.1-flash-lite-image", "Nano Banana 2 Lite", _TEN + _EXTREME, ("1K",),
            14, None, None, "image/jpeg", None, (), 65536, 32768,
        ),
        # "About 3 recommended": a recommendation, not a limit the API enforces.
        ModelSpec(
            "gemini-2.5-flash-image", "Nano Banana", _TEN, ("1K",),
            14, None, None, "image/png", None, (), 32768, 32768, thinks=False,
        ),
    )
}  # fmt: skip

#: Retired ids: a request with one is answered with the real 404.
RETIRED = frozenset(
    {
        "gemini-3-pro-image-preview",
        "gemini-3.1-flash-image-preview",
        "gemini-2.5-flash-image-preview",
    }
)

#: (ratio, size) -> (width, height). The 10 ratios at 1K/2K/4K are FACTS' table; ``512`` is
#: half of 1K, and the extreme ratios of Nano Banana 2 keep 1K's area (no live figure).
PIXELS: dict[tuple[str, str], tuple[int, int]] = {}
_TABLE = """
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
1:4 512x2048 1024x4096 2048x8192
4:1 2048x512 4096x1024 8192x2048
1:8 352x2816 704x5632 1408x11264
8:1 2816x352 5632x704 11264x1408
"""
for _line in _TABLE.strip().splitlines():
    _ratio, *_dims = _line.split()
    for _size, _dim in zip(("1K", "2K", "4K"), _dims, strict=True):
        _w, _h = _dim.split("x")
        PIXELS[(_ratio, _size)] = (int(_w), int(_h))
    _w1, _h1 = PIXELS[(_ratio, "1K")]
    PIXELS[(_ratio, "512")] = (_w1 // 2, _h1 // 2)

#: Without an aspectRatio, live Pro calls returned 1408x768 at 1K, a size in no table.
UNSPECIFIED_RATIO_1K = (1408, 768)
_SCALE = {"512": 0.5, "1K": 1, "2K": 2, "4K": 4}


def pixels(ratio: str | None, size: str) -> tuple[int, int]:
    """The output size for a ratio (``None``: not given) and an image size."""
    if ratio is None:
        w, h = UNSPECIFIED_RATIO_1K
        return int(w * _SCALE[size]), int(h * _SCALE[size])
    return PIXELS[(ratio, size)]
