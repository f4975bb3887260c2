from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from nanobanana import GenerationRequest, InvalidReferenceError, Reference
from nanobanana._constants import MAX_INLINE_IMAGE_BYTES, MAX_REQUEST_BYTES
from nanobanana._imageinfo import sniff
from nanobanana._references import check_image, fit_to_budget, load_image, wire_size
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

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
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


def test_small_images_keep_their_bytes_when_a_big_one_must_shrink(phone_photo: bytes) -> None:
    small = check_image(photo(400, 300), "small")
    big = check_image(phone_photo, "big")
    fitted = fit_to_budget([big] * 13 + [small])
    assert fitted[-1] is small
    assert all(f.data != big.data for f in fitted[:-1])


def test_an_oversized_single_image_is_shrunk_under_the_inline_limit() -> None:
    huge = photo(6000, 4500, seed=3, quality=100)
    assert len(huge) > MAX_INLINE_IMAGE_BYTES
    (fitted,) = fit_to_budget([check_image(huge, "huge")])
    assert len(fitted.data) <= MAX_INLINE_IMAGE_BYTES
    assert fitted.width is not None and fitted.width >= 2000  # shrunk only as far as needed
