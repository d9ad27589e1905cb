"""w=auto and dpr=auto: sizes from Sec-CH-Width and Sec-CH-DPR, varying on them."""

from dataclasses import replace

import pytest
from helpers import decode, make_image, upload, with_orientation


@pytest.fixture(name="ref")
def _ref(client) -> str:
    """A stored 64x48 PNG."""
    return upload(client, make_image("PNG")).get_data(as_text=True)


def get(client, path: str, **headers: str):
    """A GET whose body is read (and its file closed) before it is returned."""
    with client.get(path, headers=headers) as response:
        response.get_data()
    return response


@pytest.mark.parametrize("query, headers, size, vary", [
    ("w=auto", {"Sec-CH-Width": "32"}, (32, 24), {"Sec-CH-Width"}),
    ("w=auto", {}, (64, 48), {"Sec-CH-Width"}),
    ("w=auto", {"Sec-CH-Width": "wide"}, (64, 48), {"Sec-CH-Width"}),
    ("w=auto&dpr=auto", {"Sec-CH-Width": "40", "Sec-CH-DPR": "2"}, (40, 30),
     {"Sec-CH-Width", "Sec-CH-DPR"}),
    ("w=16&dpr=auto", {"Sec-CH-DPR": "2.5"}, (40, 30), {"Sec-CH-DPR"}),
    ("w=16&dpr=auto", {"Sec-CH-DPR": "9"}, (64, 48), {"Sec-CH-DPR"}),
    ("w=16&dpr=auto", {}, (16, 12), {"Sec-CH-DPR"}),
    ("w=16", {"Sec-CH-Width": "32"}, (16, 12), set()),
], ids=["width", "no hint", "bad hint", "width is device pixels", "dpr",
        "dpr clamped to 4", "no dpr", "hints unused"])
def test_auto_sizes_come_from_client_hints(client, ref, query, headers, size, vary):
    """The image has the hinted size; the answer varies on the hints it used."""
    response = get(client, f"/storage/{ref}.png?{query}", **headers)
    assert response.status_code == 200
    assert decode(response.data).size == size
    assert set(response.vary) == vary


def test_a_hinted_width_is_at_most_the_originals(client, ref):
    """Sec-CH-Width beyond the original's width (64) gets the original's width, not
    an enlargement, and a header never makes a 400 by itself."""
    response = get(client, f"/storage/{ref}.png?w=auto&h=8&fit=fill",
                   **{"Sec-CH-Width": "99999"})
    assert response.status_code == 200
    assert decode(response.data).size == (64, 8)


def test_the_upright_width_bounds_a_turned_image(client):
    """A 64x48 image held sideways (orientation 6) is shown 48 wide: the bound."""
    data = make_image("JPEG", exif=with_orientation(6))
    ref = upload(client, data).get_data(as_text=True)
    response = get(client, f"/storage/{ref}.png?w=auto", **{"Sec-CH-Width": "500"})
    assert decode(response.data).size == (48, 64)


@pytest.mark.parametrize("hint, width", [
    ("20", 24), ("24", 24), ("30", 48), ("60", 48), ("8", 16),
], ids=["covering", "exact", "next up", "beyond: largest within", "small"])
def test_a_hinted_width_takes_an_allowed_one(app_factory, settings, hint, width):
    """With PROGIMAGE_ALLOWED_WIDTHS a hint is never refused: it takes the smallest
    allowed width that covers it, within the original's (64; 96 is not)."""
    client = app_factory(replace(settings, allowed_widths="16,24,48,96")).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    response = get(client, f"/storage/{ref}.png?w=auto", **{"Sec-CH-Width": hint})
    assert response.status_code == 200
    assert decode(response.data).width == width
    assert get(client, f"/storage/{ref}.png?w=30").status_code == 400


def test_a_hinted_ratio_takes_an_allowed_one(app_factory, settings):
    """Sec-CH-DPR 1.5 with ratios 1, 2 and 3 allowed is 2."""
    client = app_factory(replace(settings, allowed_dpr="1,2,3")).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    response = get(client, f"/storage/{ref}.png?w=16&dpr=auto",
                   **{"Sec-CH-DPR": "1.5"})
    assert decode(response.data).width == 32


@pytest.mark.parametrize("path", ["/", "/storage/{ref}", "/storage/{ref}.webp"])
def test_pages_and_images_ask_for_the_hints(client, ref, path):
    """Accept-CH on the upload page and on every image answer: a page's <img> then
    sends Sec-CH-Width and Sec-CH-DPR."""
    response = get(client, path.format(ref=ref), Accept="text/html")
    assert response.status_code == 200
    assert response.headers["Accept-CH"] == "Sec-CH-Width, Sec-CH-DPR"
