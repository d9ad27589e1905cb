"""watermark=<ref> and the wm_* options, through HTTP: decoded pixels of the results."""

import pytest
from PIL import Image

from helpers import app_client, decode, encode, fetch, make_image, upload
from progimage.config import Settings

BLUE, RED, GREEN = (0, 0, 200), (255, 0, 0), (0, 255, 0)
UNKNOWN = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def red_pixels(image: Image.Image) -> set[tuple[int, int]]:
    """Where the (red) watermark shows: pixels redder than blue."""
    rgb = image.convert("RGB")
    return {
        (x, y)
        for y in range(rgb.height)
        for x in range(rgb.width)
        if rgb.getpixel((x, y))[0] > rgb.getpixel((x, y))[2]
    }


def square(left: int, top: int, width: int, height: int) -> set[tuple[int, int]]:
    return {(x, y) for x in range(left, left + width) for y in range(top, top + height)}


@pytest.fixture
def refs(store):
    """A 40x20 blue image and a 10x6 red watermark, stored."""
    return (
        store(encode(Image.new("RGB", (40, 20), BLUE))),
        store(encode(Image.new("RGB", (10, 6), RED))),
    )


@pytest.mark.parametrize("query, where", [
    ("", square(15, 7, 10, 6)),
    ("&wm_gravity=nw", square(0, 0, 10, 6)),
    ("&wm_gravity=se", square(30, 14, 10, 6)),
    ("&wm_gravity=se&wm_offset=2,3", square(28, 11, 10, 6)),
    ("&wm_gravity=nw&wm_offset=2,3", square(2, 3, 10, 6)),
    ("&wm_gravity=e&wm_offset=1,-2", square(29, 5, 10, 6)),
    ("&wm_gravity=nw&wm_offset=-4,0", square(0, 0, 6, 6)),
])
def test_watermark_lies_where_gravity_and_offset_put_it(client, refs, query, where):
    """The watermark's pixels are exactly where wm_gravity and wm_offset say (the
    centre by default; offsets inward from the named edges), nowhere else."""
    ref, mark = refs
    image = fetch(client, f"/storage/{ref}.png?watermark={mark}{query}")
    assert image.size == (40, 20)
    assert red_pixels(image) == where
    assert image.getpixel((39, 0) if (39, 0) not in where else (0, 19)) == BLUE


def test_opacity_blends_the_watermark(client, refs):
    """wm_opacity=0.5 gives half the watermark over half the image."""
    ref, mark = refs
    image = fetch(client, f"/storage/{ref}.png?watermark={mark}&wm_opacity=0.5")
    red, green, blue = image.getpixel((20, 10))
    assert abs(red - 128) <= 1 and green == 0 and abs(blue - 100) <= 1
    assert image.getpixel((2, 2)) == BLUE


def test_zero_opacity_leaves_the_image(client, refs):
    ref, mark = refs
    image = fetch(client, f"/storage/{ref}.png?watermark={mark}&wm_opacity=0")
    assert red_pixels(image) == set()


def test_watermark_keeps_its_own_transparency(client, store):
    """Transparent pixels of the watermark leave the image as it is."""
    ref = store(encode(Image.new("RGB", (40, 20), BLUE)))
    mark = Image.new("RGBA", (10, 6), (0, 0, 0, 0))
    mark.paste(RED + (255,), (0, 0, 5, 6))
    image = fetch(client, f"/storage/{ref}.png?watermark={store(encode(mark))}")
    assert red_pixels(image) == square(15, 7, 5, 6)


def test_tile_covers_the_image(client, refs):
    """wm_tile=1 repeats the watermark from the top left; wm_offset is the gap."""
    ref, mark = refs
    image = fetch(client, f"/storage/{ref}.png?watermark={mark}&wm_tile=1")
    assert red_pixels(image) == square(0, 0, 40, 20)
    image = fetch(
        client, f"/storage/{ref}.png?watermark={mark}&wm_tile=1&wm_offset=5,4"
    )
    tiles = {(x, y) for x in (0, 15, 30) for y in (0, 10)}
    expected = set().union(*(square(x, y, 10, 6) for x, y in tiles))
    assert red_pixels(image) == {(x, y) for x, y in expected if y < 20}


def test_scale_is_a_fraction_of_the_result_width(client, refs):
    """wm_scale=0.5 makes the 10x6 watermark half the 80 px result wide: 40x24,
    after the resize."""
    ref, mark = refs
    image = fetch(
        client, f"/storage/{ref}.png?w=80&watermark={mark}&wm_scale=0.5&wm_gravity=nw"
    )
    assert image.size == (80, 40)
    assert red_pixels(image) == square(0, 0, 40, 24)


def test_watermark_over_transparency_shows(client, store):
    """Where the image is transparent the watermark still shows, opaque."""
    ref = store(encode(Image.new("RGBA", (40, 20), (0, 0, 0, 0))))
    mark = store(encode(Image.new("RGB", (10, 6), RED)))
    image = fetch(client, f"/storage/{ref}.png?watermark={mark}")
    assert image.mode == "RGBA"
    assert image.getpixel((20, 10)) == RED + (255,)
    assert image.getpixel((2, 2))[3] == 0


def test_jpeg_watermark_on_jpeg(client, store):
    """A JPEG watermark (drafted toward its width) on a JPEG result."""
    ref = store(encode(Image.new("RGB", (400, 200), BLUE), "JPEG"))
    mark = store(encode(Image.new("RGB", (800, 400), GREEN), "JPEG"))
    image = fetch(client, f"/storage/{ref}.jpg?watermark={mark}&wm_scale=0.25")
    centre, outside = image.getpixel((200, 100)), image.getpixel((20, 20))
    assert centre[1] > 200 and centre[2] < 60
    assert outside[2] > 150 and outside[1] < 60


@pytest.mark.parametrize("query, detail", [
    (f"watermark={UNKNOWN}", "parameter 'watermark': no image is stored"),
    ("watermark=logo.png", "parameter 'watermark': must be the reference"),
    (f"watermark={UNKNOWN}&wm_gravity=smart", "parameter 'wm_gravity'"),
    (f"watermark={UNKNOWN}&wm_opacity=2", "parameter 'wm_opacity'"),
    (f"watermark={UNKNOWN}&wm_scale=0", "parameter 'wm_scale'"),
    (f"watermark={UNKNOWN}&wm_tile=1&wm_offset=-1,0", "parameter 'wm_offset'"),
])
def test_bad_watermark_is_400(client, store, query, detail):
    """An unknown or malformed watermark, or a bad wm_* value, answers 400."""
    ref = store(make_image())
    response = client.get(f"/storage/{ref}.png?{query}")
    assert response.status_code == 400
    assert detail in response.get_json()["detail"]


def test_watermark_growing_above_the_limit_is_422(tmp_path):
    """A tall, thin watermark scaled to the image's width would pass the pixel
    limit: 422 naming the watermark, nothing allocated."""
    with app_client(Settings(storage=str(tmp_path), max_pixels=100_000)) as client:
        ref = upload(client, encode(Image.new("RGB", (300, 300), BLUE))).data.decode()
        mark = upload(client, encode(Image.new("RGB", (1, 1000), RED))).data.decode()
        response = client.get(f"/storage/{ref}.png?watermark={mark}&wm_scale=1")
    assert response.status_code == 422
    assert "parameter 'watermark'" in response.get_json()["detail"]


def test_each_watermark_has_its_own_variant(client, store):
    """Two watermarks on one image are two variants, not one cached result."""
    ref = store(encode(Image.new("RGB", (40, 20), BLUE)))
    red = store(encode(Image.new("RGB", (10, 6), RED)))
    green = store(encode(Image.new("RGB", (10, 6), GREEN)))
    image = fetch(client, f"/storage/{ref}.png?watermark={red}")
    assert image.getpixel((20, 10)) == RED
    assert fetch(
        client, f"/storage/{ref}.png?watermark={green}"
    ).getpixel((20, 10)) == GREEN


def test_process_takes_a_stored_watermark(client, refs):
    """POST /process lays a stored watermark over the uploaded body."""
    _, mark = refs
    body = encode(Image.new("RGB", (40, 20), BLUE))
    response = client.post(
        f"/process.png?watermark={mark}&wm_gravity=sw", data=body,
        content_type="image/png",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert red_pixels(decode(response.data)) == square(0, 14, 10, 6)
