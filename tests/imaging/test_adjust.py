"""brightness, contrast, saturation and gamma through HTTP: decoded pixel values."""

import pytest
from PIL import Image

from helpers import encode, fetch

MID = (100, 150, 200)


@pytest.mark.parametrize("query, expected", [
    ("brightness=0", (0, 0, 0)),
    ("brightness=0.5", (50, 75, 100)),
    ("brightness=2", (200, 255, 255)),  # clipped at 255
    # Contrast blends with the image's mean grey: 0.299*100+0.587*150+0.114*200 = 141.
    ("contrast=0", (141, 141, 141)),
    ("contrast=2", (59, 159, 255)),
    # Saturation blends with the pixel's own grey (141 here).
    ("saturation=0", (141, 141, 141)),
    ("saturation=2", (59, 159, 255)),
    # 255 * (level / 255) ** (1 / gamma)
    ("gamma=2", (160, 196, 226)),
    ("gamma=0.5", (39, 88, 157)),
    ("brightness=0.5&gamma=2", (113, 138, 160)),  # brightness first: (50, 75, 100)
])
def test_colour_factors_change_the_pixels(client, store, query, expected):
    """Each factor moves the colour of a flat image as its formula says."""
    ref = store(encode(Image.new("RGB", (8, 8), MID)))
    image = fetch(client, f"/storage/{ref}.png?{query}")
    assert image.convert("RGB").getpixel((4, 4)) == expected


@pytest.mark.parametrize("query", [
    "brightness=0", "contrast=0", "saturation=0", "gamma=3",
])
def test_colour_factors_keep_alpha(client, store, query):
    """Alpha is not a colour: a half transparent pixel stays half transparent."""
    ref = store(encode(Image.new("RGBA", (8, 8), (*MID, 128))))
    image = fetch(client, f"/storage/{ref}.png?{query}")
    assert image.mode == "RGBA"
    assert image.getpixel((4, 4))[3] == 128


def test_colour_factors_of_a_grey_image_stay_grey(client, store):
    """A greyscale image stays one channel (saturation changes nothing there)."""
    ref = store(encode(Image.new("L", (8, 8), 100)))
    image = fetch(client, f"/storage/{ref}.png?saturation=3&brightness=0.5")
    assert (image.mode, image.getpixel((4, 4))) == ("L", 50)


def test_pixelate_averages_square_blocks(client, store):
    """pixelate=4 fills each 4x4 block (and the narrower ones at the edges) with
    its mean colour; the size stays."""
    image = Image.new("L", (10, 4), 0)
    image.paste(200, (0, 0, 2, 4))  # half of the first block: its mean is 100
    image.paste(60, (8, 0, 10, 4))  # the whole 2 px wide block at the right edge
    ref = store(encode(image))
    result = fetch(client, f"/storage/{ref}.png?pixelate=4")
    assert result.size == (10, 4)
    row = [result.getpixel((x, 2)) for x in range(10)]
    assert row == [100] * 4 + [0] * 4 + [60] * 2
