"""Artwork rules, checked on real image bytes."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from tapeworks.errors import PayloadTooLarge, ValidationFailed
from tapeworks.shows.artwork import MAX_ARTWORK_BYTES, validate_artwork

from .factories import image_bytes, png_claiming


def _rule(data: bytes, filename: str | None = None) -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as info:
        validate_artwork(data, filename)
    return info.value.details["rule"], info.value.message


def test_square_rgb_jpeg_and_png_within_limits_pass() -> None:
    jpeg = validate_artwork(image_bytes(1400, 1400), "cover.jpg")
    assert (jpeg.format, jpeg.ext, jpeg.media_type, jpeg.width) == ("jpeg", "jpg",
                                                                     "image/jpeg", 1400)
    png = validate_artwork(image_bytes(3000, 3000, fmt="PNG"), "cover.png")
    assert (png.format, png.ext, png.media_type, png.height) == ("png", "png", "image/png", 3000)
    assert png.size_bytes > 0


def test_too_small() -> None:
    rule, message = _rule(image_bytes(600, 600))
    assert rule == "too_small"
    assert "at least 1400 x 1400 pixels" in message and "600 x 600" in message


def test_too_large_in_pixels() -> None:
    rule, message = _rule(image_bytes(3001, 3001))
    assert rule == "too_large" and "at most 3000 x 3000" in message


def test_not_square() -> None:
    rule, message = _rule(image_bytes(1600, 1400))
    assert rule == "square" and "square" in message and "1600 x 1400" in message


def test_cmyk_jpeg() -> None:
    rule, message = _rule(image_bytes(1400, 1400, mode="CMYK"))
    assert rule == "colour" and "RGB" in message and "CMYK" in message


@pytest.mark.parametrize(("mode", "words"), [("L", "greyscale"), ("RGBA", "transparency"),
                                             ("P", "palette")])
def test_other_colour_modes(mode: str, words: str) -> None:
    rule, message = _rule(image_bytes(1400, 1400, fmt="PNG", mode=mode))
    assert rule == "colour" and words in message


def test_a_gif_renamed_png_is_a_gif() -> None:
    gif = image_bytes(1400, 1400, fmt="GIF", mode="P")
    rule, message = _rule(gif, "cover.png")
    assert rule == "format"
    assert "GIF" in message and ".png" in message and "JPEG or PNG" in message


def test_webp_is_refused() -> None:
    rule, message = _rule(image_bytes(1400, 1400, fmt="WEBP"), "cover.webp")
    assert rule == "format" and "WebP" in message


def test_not_an_image_at_all() -> None:
    rule, message = _rule(b"%PDF-1.7 definitely not an image" * 10, "cover.jpg")
    assert rule == "format" and "JPEG or PNG" in message


def test_empty_file() -> None:
    assert _rule(b"")[0] == "empty"


def test_a_fifty_megabyte_image_is_refused_before_decoding() -> None:
    buf = BytesIO()
    Image.new("RGB", (4200, 4200), (1, 2, 3)).save(buf, "BMP")  # a real 50 MB image
    data = buf.getvalue()
    assert len(data) > 50_000_000
    with pytest.raises(PayloadTooLarge) as info:
        validate_artwork(data, "cover.bmp")
    assert info.value.status_code == 413
    assert "at most" in info.value.message and "MB" in info.value.message
    assert info.value.details["limit"] == MAX_ARTWORK_BYTES


@pytest.mark.parametrize("side", [5000, 100_000])
def test_decompression_bombs_are_refused_from_the_header(side: int) -> None:
    bomb = png_claiming(side, side)
    assert len(bomb) < 1000
    rule, message = _rule(bomb, "cover.png")
    assert rule == "too_large"
    assert "3000 x 3000" in message


def test_a_truncated_image_is_damaged() -> None:
    noisy = Image.effect_noise((1400, 1400), 60).convert("RGB")
    buf = BytesIO()
    noisy.save(buf, "PNG")
    data = buf.getvalue()
    rule, message = _rule(data[: len(data) // 2], "cover.png")
    assert rule == "damaged" and "damaged" in message


def test_messages_never_name_the_library() -> None:
    for data in (image_bytes(600, 600), b"junk", png_claiming(100_000, 100_000)):
        with pytest.raises(ValidationFailed) as info:
            validate_artwork(data)
        assert "PIL" not in info.value.message and "Pillow" not in info.value.message
