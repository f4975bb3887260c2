from __future__ import annotations

import io
import os
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from nanobanana import GenerationRequest, InvalidReferenceError, InvalidRequestError, Reference
from nanobanana._images.fit import (
    RefSource,
    check_image,
    fit_to_budget,
    load_image,
    prepare_images,
    reference_long_side,
    wire_size,
)
from nanobanana._images.sniff import sniff
from nanobanana._models.registry import MAX_INLINE_IMAGE_BYTES, MAX_REQUEST_BYTES
from tests.conftest import photo


def _png(w: int = 64, h: int = 48, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), (10, 200, 30, 128)[: len(mode)]).save(buf, "PNG")
    return buf.getvalue()


def _encoded(fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "mime", "size"),
    [
        (photo(320, 240), "image/jpeg", (320, 240)),
        (_png(64, 48), "image/png", (64, 48)),
        (_encoded("WEBP", quality=80), "image/webp", (40, 30)),
        (_encoded("WEBP", lossless=True), "image/webp", (40, 30)),
    ],
)
def test_sniff_reads_type_and_size_from_headers(
    data: bytes, mime: str, size: tuple[int, int]
) -> None:
    info = sniff(data)
    assert info is not None
    assert (info.mime_type, info.width, info.height, info.complete) == (mime, *size, True)


def test_progressive_jpeg_size() -> None:
    info = sniff(_encoded("JPEG", progressive=True))
    assert info is not None and (info.width, info.height) == (40, 30)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_types_the_api_does_not_take_are_named(fmt: str) -> None:
    with pytest.raises(
        InvalidReferenceError, match=f"is {fmt}, which the Gemini API does not accept"
    ):
        check_image(_encoded(fmt), "pic")


def test_the_type_comes_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    misnamed = tmp_path / "really-a-png.jpg"
    misnamed.write_bytes(_png())
    assert load_image(misnamed, "x").mime_type == "image/png"
    text = tmp_path / "notes.jpg"
    text.write_text("hello, I am a text file")
    with pytest.raises(InvalidReferenceError, match=r"notes\.jpg: is not an image"):
        load_image(text, "x")


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_jpeg_is_rejected_with_its_name(tmp_path: Path, cut: float) -> None:
    data = photo(640, 480)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(InvalidReferenceError, match=r"cut\.jpg: is a truncated image/jpeg"):
        load_image(path, "x")


def test_truncated_jpeg_with_exif_thumbnail_is_still_caught() -> None:
    # An EXIF thumbnail carries its own end-of-image marker near the start of the file.
    big = Image.open(io.BytesIO(photo(640, 480)))
    thumb = io.BytesIO()
    big.resize((64, 48)).save(thumb, "JPEG")
    exif = Image.Exif()
    exif[0x0112] = 1
    buf = io.BytesIO()
    big.save(buf, "JPEG", exif=exif.tobytes() + b"\xff\xd8" + thumb.getvalue())
    data = buf.getvalue()
    assert sniff(data).complete  # type: ignore[union-attr]
    assert not sniff(data[: len(data) // 2]).complete  # type: ignore[union-attr]


def test_truncated_png_is_rejected() -> None:
    with pytest.raises(InvalidReferenceError, match="truncated image/png"):
        check_image(_png()[:-20], "shot.png")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "empty.jpg", "empty.jpg: is empty"),
        (lambda p: p, "is a directory"),
        (lambda p: p / "missing.jpg", "missing.jpg: no such file"),
    ],
)
def test_bad_paths_are_named(tmp_path: Path, make, message: str) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InvalidReferenceError, match=message):
        load_image(make(tmp_path), "x")


def test_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 does not stop root (CI runs as root): fail the read at the filesystem boundary.
    path = tmp_path / "secret.jpg"
    path.write_bytes(photo(32, 32))

    real_open = os.open

    def denied(name: str, flags: int, *args: int) -> int:
        if str(name) == str(path):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(
        InvalidReferenceError, match="secret.jpg: cannot be read .Permission denied"
    ):
        load_image(path, "x")


def test_text_mode_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(photo(32, 32))
    with (
        open(path, encoding="latin-1") as handle,
        pytest.raises(InvalidReferenceError, match="binary mode"),
    ):
        load_image(handle, "x")


def test_sources_of_every_kind_load(tmp_path: Path) -> None:
    data = photo(320, 240)
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    for source in (path, str(path), data, bytearray(data), memoryview(data), io.BytesIO(data)):
        assert load_image(source, "x").data == data
    pil = load_image(Image.open(io.BytesIO(data)), "pil")
    assert pil.mime_type == "image/jpeg" and (pil.width, pil.height) == (320, 240)


def test_in_memory_pil_image_is_not_bloated_into_png() -> None:
    image = Image.open(io.BytesIO(photo(2000, 1500))).convert("RGB")
    loaded = load_image(image, "pil")
    assert loaded.mime_type == "image/jpeg"
    png = io.BytesIO()
    image.save(png, "PNG")
    assert len(loaded.data) < len(png.getvalue()) / 2


def test_transparent_pil_image_keeps_alpha() -> None:
    loaded = load_image(Image.new("RGBA", (50, 50), (0, 0, 0, 0)), "sticker")
    assert loaded.mime_type == "image/webp"


def test_images_that_fit_are_sent_untouched() -> None:
    images = [check_image(photo(800, 600, seed=i), f"p{i}") for i in range(5)]
    fitted = fit_to_budget(images)
    assert all(a is b for a, b in zip(images, fitted, strict=True))


def test_fourteen_phone_photos_make_one_valid_request(phone_photo: bytes) -> None:
    assert 3_000_000 < len(phone_photo) < 6_500_000
    refs = (
        [Reference.object(phone_photo)] * 6
        + [Reference.human(phone_photo)] * 5
        + [Reference.style(phone_photo)] * 3
    )
    request = GenerationRequest("Put them all in one scene", references=refs)
    images = request.prepare_references()
    total = sum(wire_size(len(i.data)) for i in images)
    assert total < MAX_REQUEST_BYTES - len(request.prompt)
    assert all(len(i.data) <= MAX_INLINE_IMAGE_BYTES for i in images)
    # Orientation 6 means the photo was held upright: the result must be portrait.
    assert all(i.height > i.width for i in images)  # type: ignore[operator]
    assert all(i.mime_type == "image/jpeg" for i in images)
    decoded = Image.open(io.BytesIO(images[0].data))
    assert decoded.size == (images[0].width, images[0].height)


def test_no_more_pixels_than_the_model_reads_even_when_they_would_fit() -> None:
    photos = [check_image(photo(2000, 1500, seed=i), f"p{i}") for i in range(4)]
    assert sum(wire_size(len(p.data)) for p in photos) < 8_000_000  # they would fit as they are
    fitted = fit_to_budget(photos)
    assert {(f.width, f.height) for f in fitted} == {(1280, 960)}
    (ultra,) = fit_to_budget([replace(photos[0], media_resolution="ultra_high")])
    assert (ultra.width, ultra.height) == (1810, 1358)  # twice the tokens, twice the pixels
    (low,) = fit_to_budget([replace(photos[0], media_resolution="low")])
    assert (low.width, low.height) == (640, 480)
    small = check_image(photo(1280, 720, seed=9), "small")
    assert fit_to_budget([small])[0] is small  # already that small: untouched


def test_small_images_keep_their_bytes_when_a_big_one_must_shrink(phone_photo: bytes) -> None:
    small = check_image(photo(400, 300), "small")
    big = check_image(phone_photo, "big")
    fitted = fit_to_budget([big] * 13 + [small])
    assert fitted[-1] is small
    assert all(f.data != big.data for f in fitted[:-1])


def test_an_oversized_single_image_is_shrunk_to_what_the_model_uses() -> None:
    huge = photo(6000, 4500, seed=3, quality=100)
    assert len(huge) > MAX_INLINE_IMAGE_BYTES
    (fitted,) = fit_to_budget([check_image(huge, "huge")])
    assert len(fitted.data) <= MAX_INLINE_IMAGE_BYTES
    # The default media resolution reads a 1,280 px long side: no more pixels are sent.
    assert (fitted.width, fitted.height) == (1280, 960)


# --- prepare_images: one read, one size, refusals before reading -----------------------------


def test_reference_long_side() -> None:
    assert reference_long_side() == reference_long_side("high") == 1280
    assert reference_long_side("MEDIA_RESOLUTION_ULTRA_HIGH") > 1280
    assert reference_long_side("low") < reference_long_side("medium") < 1280
    from google.genai import types

    assert reference_long_side(types.MediaResolution.MEDIA_RESOLUTION_LOW) == 640  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="allowed: low, medium, high, ultra_high"):
        reference_long_side("extreme")


def test_photos_of_one_size_go_out_at_one_size_whatever_their_bytes() -> None:
    # Same pixels, different detail. Fitting by bytes sent such photos at two sizes.
    heavy = photo(2016, 1512, seed=1, quality=95)
    light = photo(2016, 1512, seed=2, quality=60)
    assert len(heavy) > 1.5 * len(light)
    sources = [RefSource(heavy if i % 2 else light, f"p{i}") for i in range(14)]
    out = prepare_images(sources, text_bytes=10_000_000)  # leaves less room than they take
    assert {(i.width, i.height) for i in out} == {(1280, 960)}
    assert sum(wire_size(len(i.data)) for i in out) <= 8_000_000


def test_each_reference_keeps_its_own_media_resolution(phone_photo: bytes) -> None:
    sources = [RefSource(phone_photo, f"p{i}") for i in range(13)]
    sources.append(RefSource(phone_photo, "detail", media_resolution="ultra_high"))
    out = prepare_images(sources, text_bytes=0)
    assert {(i.width, i.height) for i in out[:-1]} == {(960, 1280)}  # upright: EXIF 6
    assert (out[-1].width, out[-1].height, out[-1].media_resolution) == (1358, 1810, "ultra_high")
    decoded = Image.open(io.BytesIO(out[-1].data))
    assert decoded.size == (1358, 1810) and decoded.getexif().get(0x0112) is None


def test_everything_is_read_once(tmp_path: Path) -> None:
    data = photo(320, 240)

    class Counting(io.BytesIO):
        reads = 0

        def read(self, n: int | None = -1) -> bytes:
            Counting.reads += 1
            assert n is not None and 0 < n <= 50_000_001  # a bounded read
            return super().read(n)

    class Generated:
        mime_type = "image/jpeg"
        gets = 0

        @property
        def data(self) -> bytes:
            Generated.gets += 1
            return data

    out = prepare_images(
        [RefSource(Counting(data), "f"), RefSource(Generated(), "g")], text_bytes=0
    )
    assert [o.data for o in out] == [data, data]
    assert (Counting.reads, Generated.gets) == (1, 1)


def test_untouched_images_come_back_as_they_were_read() -> None:
    data = photo(800, 600)
    (out,) = prepare_images([RefSource(data, "a")], text_bytes=0)
    assert out.data is data or out.data == data
    assert (out.width, out.height, out.mime_type) == (800, 600, "image/jpeg")


def test_a_tight_budget_halves_the_shrunk_images_again() -> None:
    data = photo(2048, 1536, seed=5)
    budget_left = 60_000
    text = MAX_REQUEST_BYTES - 256_000 - budget_left
    out = prepare_images([RefSource(data, "a"), RefSource(data, "b")], text_bytes=text)
    assert sum(wire_size(len(o.data)) for o in out) <= budget_left
    assert out[0].width is not None and out[0].width < 1024
    with pytest.raises(InvalidRequestError, match="cannot be made to fit"):
        prepare_images([RefSource(data, "a")] * 3, text_bytes=MAX_REQUEST_BYTES - 256_000 - 100)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_refused_before_reading(device: str) -> None:
    with pytest.raises(InvalidReferenceError, match=f"{device}: is a device"):
        prepare_images([RefSource(device, "x")], text_bytes=0)
    with (
        open(device, "rb") as handle,
        pytest.raises(InvalidReferenceError, match="is a device"),
    ):
        prepare_images([RefSource(handle, "x")], text_bytes=0)


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(InvalidReferenceError, match=r"pipe\.jpg: is a FIFO"):
        load_image(fifo, "x")


def test_a_file_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    with open(big, "wb") as handle:
        handle.truncate(60_000_000)  # sparse: nothing to read, and nothing is read
    with pytest.raises(InvalidReferenceError, match=r"big\.jpg: is 60 MB; references up to 50"):
        load_image(big, "x")

    class Endless(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            assert n > 0  # never "read everything"
            return b"\xff" * n

    with pytest.raises(InvalidReferenceError, match="holds more than 50 MB"):
        load_image(Endless(), "stream")


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


def test_decompression_bombs_are_refused_from_their_headers() -> None:
    png = _png(8, 8)
    bomb_png = _patched(png, 16, struct.pack(">II", 40_000, 40_000))
    jpeg = photo(64, 48)
    sof = next(i for i in range(2, len(jpeg)) if jpeg[i] == 0xFF and jpeg[i + 1] == 0xC0)
    bomb_jpeg = _patched(jpeg, sof + 5, struct.pack(">HH", 60_000, 60_000))
    for data in (bomb_png, bomb_jpeg):
        with pytest.raises(InvalidReferenceError, match="megapixels are taken"):
            prepare_images([RefSource(data, "bomb")], text_bytes=0)  # warnings are errors here


def _riff(chunk: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # PNG signature, IHDR and IEND but no IDAT: a header that lies.
        (_png(8, 8)[:33] + b"\x00\x00\x00\x00IEND\xaeB`\x82", "no pixel data"),
        # SOI, a frame header, a scan header, and the end marker straight after it.
        (
            b"\xff\xd8\xff\xc0\x00\x0b\x08\x0b\xb8\x0f\xa0\x01\x01\x11\x00"
            b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\xff\xd9",
            "no pixel data",
        ),
        (b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x12\x34\xff\xd9", "no frame header"),
        (_riff(b"VP8 " + struct.pack("<I", 10) + b"\0\0\0\x9d\x01\x2a" + struct.pack("<HH", 40, 30)),
         "no pixel data"),
        (_riff(b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4 + b"\x0f\x0f\x00\x0f\x0f\x00"),
         "no pixel data"),
    ],
)  # fmt: skip
def test_headers_that_lie_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidReferenceError, match=f"lie: is not a usable .*{message}"):
        prepare_images([RefSource(data, "lie")], text_bytes=0)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _heic(*extents: tuple[int, int]) -> bytes:
    ispe = b"".join(_box(b"ispe", b"\0\0\0\0" + struct.pack(">II", w, h)) for w, h in extents)
    meta = _box(b"meta", b"\0\0\0\0" + _box(b"iprp", _box(b"ipco", ispe)))
    return _box(b"ftyp", b"heic\0\0\0\0mif1heic") + meta + _box(b"mdat", b"\x01" * 64)


def test_heic_size_comes_from_its_largest_extent() -> None:
    info = sniff(_heic((512, 512), (4032, 3024), (512, 512)))
    assert info is not None
    assert (info.mime_type, info.width, info.height, info.problem) == (
        "image/heic",
        4032,
        3024,
        None,
    )
    with pytest.raises(InvalidReferenceError, match="no image extent"):
        check_image(_heic(), "x.heic")
    with pytest.raises(InvalidReferenceError, match="megapixels are taken"):
        check_image(_heic((20_000, 20_000)), "x.heic")


@pytest.mark.parametrize(
    ("mode", "fmt", "mime"),
    [
        ("CMYK", "JPEG", "image/jpeg"),
        ("L", "JPEG", "image/jpeg"),
        ("RGB", "WEBP", "image/jpeg"),
        ("RGBA", "PNG", "image/webp"),  # transparency kept
    ],
)
def test_every_format_shrinks_by_the_same_rule(mode: str, fmt: str, mime: str) -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(photo(2600, 1950, seed=9))).convert(mode).save(buf, fmt)
    room = wire_size(len(buf.getvalue())) - 1  # not quite room for it as it is
    (out,) = prepare_images(
        [RefSource(buf.getvalue(), "x")], text_bytes=MAX_REQUEST_BYTES - 256_000 - room
    )
    assert (out.mime_type, out.width, out.height) == (mime, 1280, 960)
    assert Image.open(io.BytesIO(out.data)).size == (1280, 960)


def test_a_small_but_heavy_image_is_reencoded_under_the_inline_limit() -> None:
    # Few pixels, more bytes than one inline image may carry (a private chunk of padding).
    noise = Image.frombytes("RGBA", (1100, 1000), os.urandom(1100 * 1000 * 4))
    buf = io.BytesIO()
    noise.save(buf, "PNG", compress_level=0)
    data = buf.getvalue()
    extra = b"\x00" * (MAX_INLINE_IMAGE_BYTES - len(data) + 10)
    chunk = struct.pack(">I", len(extra)) + b"prVt" + extra + b"\x00" * 4
    heavy = data[:-12] + chunk + data[-12:]  # before IEND
    (out,) = prepare_images([RefSource(heavy, "heavy.png")], text_bytes=0)
    assert len(out.data) <= MAX_INLINE_IMAGE_BYTES
    assert (out.width, out.height, out.mime_type) == (1100, 1000, "image/webp")
