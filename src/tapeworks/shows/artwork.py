"""Show artwork checked on the real bytes (Pillow), against Apple Podcasts' rules.

Apple's rules: JPEG or PNG, square, from 1400 x 1400 to 3000 x 3000 pixels, RGB colour
space. What the file is called never counts: a GIF renamed ``.png`` is a GIF. Each broken
rule gives its own message in the user's words, and ``details["rule"]`` names it
(``size_bytes``, ``empty``, ``format``, ``damaged``, ``square``, ``too_small``, ``too_large``,
``colour``).

Safety: the byte size is checked before Pillow sees the data, and the pixel dimensions
(read from the header, nothing decoded yet) before the image is decoded, so neither a
50 MB upload nor a decompression bomb (a tiny file that claims 100,000 x 100,000 pixels)
costs more than reading its header. The largest image ever decoded is 3000 x 3000 RGB.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO
from typing import Final

from PIL import Image, UnidentifiedImageError

from tapeworks.errors import PayloadTooLarge, ValidationFailed

MIN_PIXELS: Final = 1400
MAX_PIXELS: Final = 3000
MAX_ARTWORK_BYTES: Final = 10 * 1024 * 1024

_FORMATS: Final = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}
_FORMAT_WORDS: Final = {
    "GIF": "a GIF image",
    "WEBP": "a WebP image",
    "BMP": "a BMP image",
    "TIFF": "a TIFF image",
    "ICO": "an icon file",
    "HEIF": "a HEIC/HEIF image",
    "AVIF": "an AVIF image",
    "JPEG2000": "a JPEG 2000 image",
    "PPM": "a PPM image",
}
_EXTENSIONS: Final = {
    "jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP",
    "bmp": "BMP", "tif": "TIFF", "tiff": "TIFF", "heic": "HEIF", "avif": "AVIF",
}
_MODE_WORDS: Final = {
    "CMYK": "CMYK (print) colours",
    "L": "greyscale",
    "LA": "greyscale with transparency",
    "1": "black and white only",
    "P": "an indexed colour palette",
    "PA": "an indexed colour palette with transparency",
    "RGBA": "transparency (an alpha channel)",
    "I": "16-bit greyscale",
    "I;16": "16-bit greyscale",
    "LAB": "Lab colours",
    "YCbCr": "YCbCr colours",
}


@dataclass(frozen=True)
class ArtworkInfo:
    format: str  # "jpeg" or "png"
    ext: str  # "jpg" or "png": the extension of the served file
    media_type: str
    width: int
    height: int
    size_bytes: int


def _fail(message: str, rule: str, **details: object) -> ValidationFailed:
    return ValidationFailed(message, details={"field": "file", "rule": rule, **details})


def validate_artwork(data: bytes, filename: str | None = None) -> ArtworkInfo:
    """Check ``data`` against every artwork rule; `ArtworkInfo` when it passes.

    Raises `PayloadTooLarge` (413) for a file over `MAX_ARTWORK_BYTES` and
    `ValidationFailed` (422) naming the first broken rule otherwise.
    """
    size = len(data)
    if size > MAX_ARTWORK_BYTES:
        raise PayloadTooLarge(
            f"the artwork file is {size / 1_000_000:.1f} MB; it can be at most "
            f"{MAX_ARTWORK_BYTES // (1024 * 1024)} MB (a 3000 x 3000 JPEG is usually under 2 MB)",
            details={"field": "file", "rule": "size_bytes", "limit": MAX_ARTWORK_BYTES},
        )
    if size == 0:
        raise _fail("the artwork file is empty", "empty")
    named = _named_format(filename)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _fail(
            f"the artwork claims far more pixels than allowed; artwork must be square, from "
            f"{MIN_PIXELS} x {MIN_PIXELS} to {MAX_PIXELS} x {MAX_PIXELS} pixels",
            "too_large",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _fail(
            "the artwork is not an image we can read; upload a JPEG or PNG file", "format",
        ) from None
    with image:
        fmt = image.format or ""
        if fmt not in _FORMATS:
            what = _FORMAT_WORDS.get(fmt, f"a {fmt} image" if fmt else "not a JPEG or PNG")
            named_note = ""
            if filename and named and named != fmt:
                named_note = f", although its name ends in .{filename.rsplit('.', 1)[-1]}"
            raise _fail(
                f"the artwork is {what}{named_note}; artwork must be a JPEG or PNG file",
                "format", found=fmt.lower() or None,
            )
        width, height = image.size
        if width != height:
            raise _fail(
                f"artwork must be square; this one is {width} x {height} pixels",
                "square", width=width, height=height,
            )
        if width < MIN_PIXELS:
            raise _fail(
                f"artwork must be at least {MIN_PIXELS} x {MIN_PIXELS} pixels; this one is "
                f"{width} x {height}",
                "too_small", width=width, height=height,
            )
        if width > MAX_PIXELS:
            raise _fail(
                f"artwork must be at most {MAX_PIXELS} x {MAX_PIXELS} pixels; this one is "
                f"{width} x {height}",
                "too_large", width=width, height=height,
            )
        mode = image.mode
        if mode == "P" and "transparency" in image.info:
            mode = "PA"
        if mode != "RGB":
            what = _MODE_WORDS.get(mode, f"the {mode} colour mode")
            raise _fail(
                f"artwork must use RGB colours; this {_FORMATS[fmt][0].upper()} uses {what}. "
                "Export it as an RGB (sRGB) image",
                "colour", mode=mode,
            )
        try:
            image.load()  # decode every pixel: a truncated or corrupt file fails here
        except (OSError, ValueError, SyntaxError):
            raise _fail(
                "the artwork file is damaged or incomplete; export it again", "damaged",
            ) from None
    ext, media_type = _FORMATS[fmt]
    return ArtworkInfo(format=fmt.lower(), ext=ext, media_type=media_type, width=width,
                       height=height, size_bytes=size)


def _named_format(filename: str | None) -> str | None:
    if not filename or "." not in filename:
        return None
    return _EXTENSIONS.get(filename.rsplit(".", 1)[-1].lower())
