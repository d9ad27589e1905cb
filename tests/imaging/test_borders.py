"""fit=pad, pad= and trim= through HTTP: sizes and the pixels of the borders."""

import pytest
from PIL import Image

from helpers import app_client, encode, fetch, make_image, upload
from progimage.config import Settings

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


@pytest.mark.parametrize("query, top, middle", [
    ("w=50&h=50&fit=pad", WHITE, RED),
    ("w=50&h=50&fit=pad&bg=00f", BLUE, RED),
])
def test_fit_pad_letterboxes_to_the_exact_box(client, store, query, top, middle):
    """fit=pad is contain, centred on a w x h canvas of bg (white by default)."""
    ref = store(encode(Image.new("RGB", (64, 32), RED)))
    image = fetch(client, f"/storage/{ref}.png?{query}").convert("RGB")
    assert image.size == (50, 50)
    # contain makes it 50x25, centred: rows 12-36 are the image.
    assert image.getpixel((25, 5)) == image.getpixel((25, 44)) == top
    assert image.getpixel((25, 13)) == image.getpixel((25, 36)) == middle
    assert image.getpixel((25, 25)) == middle


def test_fit_contain_still_keeps_the_aspect(client, store):
    """fit=contain does not letterbox: the result is smaller than the box."""
    ref = store(encode(Image.new("RGB", (64, 32), RED)))
    assert fetch(client, f"/storage/{ref}.png?w=50&h=50&fit=contain").size == (50, 25)


def test_pad_adds_each_side(client, store):
    """pad=top,right,bottom,left adds that many bg pixels on each side."""
    ref = store(encode(Image.new("RGB", (10, 10), RED)))
    image = fetch(client, f"/storage/{ref}.png?pad=2,4,6,8&bg=0f0").convert("RGB")
    assert image.size == (10 + 4 + 8, 10 + 2 + 6)
    assert image.getpixel((7, 2)) == GREEN  # left of the image
    assert image.getpixel((8, 1)) == GREEN  # above it
    assert image.getpixel((8, 2)) == image.getpixel((17, 11)) == RED
    assert image.getpixel((18, 11)) == GREEN  # right of it
    assert image.getpixel((17, 12)) == GREEN  # below it


def test_pad_of_an_image_with_alpha_is_transparent(client, store):
    """Without bg, the padding of a transparent image is transparent."""
    ref = store(encode(Image.new("RGBA", (10, 10), (*RED, 255))))
    image = fetch(client, f"/storage/{ref}.png?pad=3,3,3,3")
    assert (image.mode, image.size) == ("RGBA", (16, 16))
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((8, 8)) == (*RED, 255)


def bordered(border: tuple[int, int, int]) -> Image.Image:
    """A 30x20 image: a white edge 1 px wide, ``border`` inside it, and a red
    block at 10-19 x 5-14."""
    image = Image.new("RGB", (30, 20), WHITE)
    image.paste(border, (1, 1, 29, 19))
    image.paste(RED, (10, 5, 20, 15))
    return image


@pytest.mark.parametrize("border, query, size", [
    (WHITE, "trim=0", (10, 10)),
    ((250, 252, 255), "trim=10", (10, 10)),
    ((250, 252, 255), "trim=4", (28, 18)),  # 5 from white: kept, inside the edge
])
def test_trim_cuts_uniform_borders(client, store, border, query, size):
    """trim cuts the rows and columns within the threshold of the corner colour."""
    ref = store(encode(bordered(border)))
    image = fetch(client, f"/storage/{ref}.png?{query}").convert("RGB")
    assert image.size == size
    if size == (10, 10):
        assert image.getpixel((0, 0)) == image.getpixel((9, 9)) == RED


def test_trim_of_one_colour_keeps_the_image(client, store):
    """An image that is all border stays as it is."""
    ref = store(encode(Image.new("RGB", (12, 7), BLUE)))
    assert fetch(client, f"/storage/{ref}.png?trim=0").size == (12, 7)


@pytest.mark.parametrize("query", ["pad=0,100,0,0", "w=100&h=400&fit=pad"])
def test_padding_above_the_pixel_limit_is_422(tmp_path, query):
    """The padded canvas counts against PROGIMAGE_MAX_PIXELS before it is made."""
    with app_client(Settings(storage=str(tmp_path), max_pixels=10_000)) as client:
        ref = upload(client, make_image(size=(90, 90))).get_data(as_text=True)
        response = client.get(f"/storage/{ref}.png?{query}")
    assert response.status_code == 422
    assert "limit of 10,000 pixels" in response.get_json()["detail"]
