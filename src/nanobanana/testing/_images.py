"""Deterministic, pleasant, visibly fake images at the exact pixel sizes of the real model.

A picture is painted small (soft gradient, blurred light, a banana) and scaled up, then its
label is drawn at full size, so a 4K image takes a fraction of a second rather than seconds.
"""

from __future__ import annotations

import colorsys
import functools
import io
import math
import random
import struct
import zlib

from PIL import Image, ImageDraw, ImageFilter, ImageFont

_SMALL_WIDTH = 360


@functools.lru_cache(maxsize=24)
def render(seed: int, width: int, height: int, caption: str, mime_type: str) -> bytes:
    """Encodes one emulator picture; the same arguments give the same bytes."""
    rng = random.Random(seed)
    small = _paint(rng, _SMALL_WIDTH, max(1, round(_SMALL_WIDTH * height / width)))
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    _label(image, caption)
    buf = io.BytesIO()
    if mime_type == "image/png":
        image.save(buf, "PNG", compress_level=1)
    else:
        image.save(buf, "JPEG", quality=85, comment=b"nanobanana emulator output")
    return buf.getvalue()


def _color(hue: float, light: float, sat: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, light, sat)
    return round(r * 255), round(g * 255), round(b * 255)


def _paint(rng: random.Random, w: int, h: int) -> Image.Image:
    hue = rng.random()
    top, bottom = _color(hue, 0.78, 0.55), _color(hue + 0.12 + rng.random() * 0.2, 0.42, 0.5)
    gradient = Image.linear_gradient("L").resize((w, h))
    image = Image.composite(
        Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), gradient
    )
    glow = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(glow)
    for _ in range(rng.randint(4, 7)):
        r = rng.uniform(0.08, 0.3) * min(w, h) * 2
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        fill = (*_color(hue + rng.uniform(-0.15, 0.45), rng.uniform(0.55, 0.85), 0.6), 110)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    glow = glow.filter(ImageFilter.GaussianBlur(min(w, h) / 14))
    image.paste(glow, (0, 0), glow)
    image = image.filter(ImageFilter.SMOOTH)
    _banana(image, rng)
    return image


def _banana(image: Image.Image, rng: random.Random) -> None:
    """A tapered crescent with a stem, drawn 4x larger and scaled down to smooth its edges."""
    w, h = image.size
    k = 4
    layer = Image.new("RGBA", (w * k, h * k), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    radius = min(w, h) * rng.uniform(0.3, 0.4) * k
    cx, cy = w * k * rng.uniform(0.4, 0.6), h * k * rng.uniform(0.3, 0.45)
    a0 = math.radians(rng.uniform(15, 35))
    a1 = a0 + math.radians(120)
    steps = 48
    outer, inner = [], []
    for i in range(steps + 1):
        a = a0 + (a1 - a0) * i / steps
        thick = radius * 0.32 * math.sin(math.pi * i / steps) ** 0.7
        outer.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
        inner.append((cx + (radius - thick) * math.cos(a), cy + (radius - thick) * math.sin(a)))
    draw.polygon(outer + inner[::-1], fill=(250, 214, 72, 255), outline=(150, 110, 25, 255),
                 width=max(2, k * 2))  # fmt: skip
    sx, sy = outer[0]
    stem = radius * 0.07
    draw.ellipse((sx - stem, sy - stem, sx + stem, sy + stem), fill=(95, 70, 20, 255))
    layer = layer.reduce(k)  # a box filter: as smooth here, and 5x faster than LANCZOS
    image.paste(layer, (0, 0), layer)


def _label(image: Image.Image, caption: str) -> None:
    w, h = image.size
    font = ImageFont.load_default(size=max(12, min(w, h) // 26))
    small = ImageFont.load_default(size=max(10, min(w, h) // 40))
    draw = ImageDraw.Draw(image)
    pad = max(6, min(w, h) // 60)
    badge = "nanobanana emulator"
    left, top, right, bottom = draw.textbbox((pad * 2, pad * 2), badge, font=font)
    draw.rounded_rectangle(
        (left - pad, top - pad, right + pad, bottom + pad), radius=pad, fill=(20, 20, 28)
    )
    draw.text((pad * 2, pad * 2), badge, font=font, fill=(250, 214, 72))
    draw.text((pad * 2, h - pad * 2), caption, font=small, fill=(255, 255, 255), anchor="ls",
              stroke_width=max(1, pad // 4), stroke_fill=(20, 20, 28))  # fmt: skip


_FILLER = random.Random(0).randbytes(65_000)


def pad(data: bytes, size: int) -> bytes:
    """Pads an encoded image to about ``size`` bytes, as a C2PA manifest pads real ones.

    JPEG gets APP11 (JUMBF) segments after its SOI marker, PNG a ``caBX`` chunk before IEND;
    decoders skip both, so the pixels are unchanged. Nothing is encoded: it costs a copy.
    """
    missing = size - len(data)
    if missing <= 0:
        return data
    if data[:2] == b"\xff\xd8":
        segments = []
        while missing > 0:
            payload = b"JP\x00\x01" + _FILLER[: min(missing, 65_000)]
            segments.append(b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload)
            missing -= len(payload) + 4
        return data[:2] + b"".join(segments) + data[2:]
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[-12:-8] == b"\x00\x00\x00\x00":
        n = max(0, missing - 12)
        filler = (_FILLER * (n // len(_FILLER) + 1))[:n]
        chunk = struct.pack(">I", n) + b"caBX" + filler
        chunk += struct.pack(">I", zlib.crc32(chunk[4:]))
        return data[:-12] + chunk + data[-12:]
    return data
