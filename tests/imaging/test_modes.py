"""Mode adaptation: alpha flattened on white, depth scaled, never clipped."""

import pytest
from PIL import Image

from progimage.imaging.formats import FormatRegistry
from progimage.imaging.modes import adapt, to_mode


def _format(name):
    return FormatRegistry.from_pillow().for_name(name)


def test_kept_mode_is_untouched():
    """An image already in a mode the format stores is returned as it is."""
    image = Image.new("RGB", (4, 4), (1, 2, 3))
    assert adapt(image, _format("PNG")) is image


@pytest.mark.parametrize("mode, value, expected", [
    ("I;16", 65535, 255), ("I;16", 32896, 128), ("I", 65535, 255),
    ("I", 200, 200), ("F", 1.0, 255), ("F", 0.5, 128),
])
def test_deep_samples_are_scaled_not_clipped(mode, value, expected):
    """16-bit, 32-bit and float samples are scaled into 0-255 by their range."""
    image = Image.new(mode, (2, 1), 0)
    image.putpixel((0, 0), value)
    result = adapt(image, _format("JPEG"))
    assert result.mode == "L"
    assert abs(result.getpixel((0, 0)) - expected) <= 1
    assert result.getpixel((1, 0)) == 0


def test_alpha_is_flattened_on_white():
    """Half-transparent red over white is pink in formats without alpha."""
    image = Image.new("RGBA", (1, 1), (255, 0, 0, 128))
    assert adapt(image, _format("BMP")).getpixel((0, 0)) == (255, 127, 127)


def test_palette_transparency_becomes_alpha():
    """A palette image with a transparent index keeps it as alpha in WebP."""
    image = Image.new("P", (2, 1), 0)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 0
    result = adapt(image, _format("WEBP"))
    assert result.mode == "RGBA"
    assert result.getpixel((0, 0))[3] == 0


@pytest.mark.parametrize("transparency", [0, b"\x00\xff"], ids=["index", "per-entry"])
def test_transparent_palette_is_flattened_on_white(transparency):
    """A palette's transparent entry is white in RGB, not the colour hidden under
    it, whether one index is transparent or each entry has an alpha (bytes)."""
    image = Image.new("P", (2, 1), 0)
    image.putpalette([0, 0, 0, 10, 200, 30])
    image.putpixel((1, 0), 1)
    image.info["transparency"] = transparency
    result = to_mode(image, "RGB")
    assert result.mode == "RGB"
    assert result.getpixel((0, 0)) == (255, 255, 255)
    assert result.getpixel((1, 0)) == (10, 200, 30)


@pytest.mark.parametrize("name, source, expected", [
    ("XBM", "RGBA", "1"), ("MSP", "L", "1"), ("QOI", "L", "RGB"),
    ("QOI", "RGBA", "RGBA"), ("PALM", "RGB", "P"), ("EPS", "LA", "L"),
    ("BLP", "RGB", "P"), ("JPEG", "P", "RGB"), ("SGI", "1", "L"),
])
def test_restricted_formats_get_a_mode_they_store(name, source, expected):
    """Bi-level, palette and RGB-only formats get the closest mode they store."""
    image = Image.new("RGB", (8, 8), (10, 200, 30)).convert(source)
    assert adapt(image, _format(name)).mode == expected


def test_cmyk_to_png_is_rgb():
    """CMYK, which PNG cannot store, becomes RGB."""
    image = Image.new("CMYK", (2, 2), (0, 255, 255, 0))
    result = adapt(image, _format("PNG"))
    assert result.mode == "RGB"
    assert result.getpixel((0, 0)) == (255, 0, 0)


def test_int_to_16_bit_keeps_range():
    """32-bit integer samples in 0-255 are spread over the 16-bit range."""
    image = Image.new("I", (1, 1), 255)
    assert to_mode(image, "I;16").getpixel((0, 0)) == 65535
