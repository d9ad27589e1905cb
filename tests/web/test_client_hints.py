"""w=auto and dpr=auto: sizes from Sec-CH-Width and Sec-CH-DPR, varying on them."""

import pytest
from helpers import decode, make_image, upload


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


def test_huge_hinted_width_is_clamped_not_refused(client, ref):
    """Sec-CH-Width beyond the largest side asks for the largest side (16383), which
    the pixel limit then judges; a header never makes a 400 by itself."""
    response = get(client, f"/storage/{ref}.png?w=auto&h=8&fit=fill",
                   **{"Sec-CH-Width": "99999"})
    assert response.status_code == 200
    assert decode(response.data).size == (16383, 8)
