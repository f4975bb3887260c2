"""Phone-like test photos: the sizes and quirks real users upload, made on the spot."""

from __future__ import annotations

import io

__all__ = ["sample_photo"]


def sample_photo(
    width: int = 4032,
    height: int = 3024,
    *,
    seed: int = 0,
    quality: int = 92,
    orientation: int | None = None,
    format: str = "JPEG",
) -> bytes:
    """A photo-like image: a gradient with sensor-like noise.

    It compresses as a real photo does: a 12 MP JPEG comes out at 3-6 MB.

    Args:
        width: Pixel width as stored (before any EXIF rotation).
        height: Pixel height as stored.
        seed: Changes the colours, so that photos differ.
        quality: JPEG quality.
        orientation: An EXIF orientation tag (6 = the phone was held upright), or ``None``.
        format: ``"JPEG"``, ``"PNG"`` or ``"WEBP"``.
    """
    from PIL import Image

    hue = (seed * 47) % 256
    base = Image.linear_gradient("L").resize((width, height))
    channels = []
    for k, offset in enumerate((hue, 255 - hue, (hue * 3) % 256)):
        noise = Image.effect_noise((width, height), 18 + 4 * k)
        tint = Image.new("L", (width, height), offset)
        channels.append(Image.blend(Image.blend(base, tint, 0.5), noise, 0.35))
    image = Image.merge("RGB", channels)
    buf = io.BytesIO()
    options: dict[str, object] = {}
    if format == "JPEG":
        options["quality"] = quality
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif
    image.save(buf, format, **options)
    return buf.getvalue()
