"""GET /storage/<ref>[.<ext>]/srcset: a ready srcset for widths or a preset, bounded
by the original's width, each URL one a browser is then served."""

from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from helpers import decode, make_image, upload
from progimage.signing import signed_query

KEY = "k" * 32


@pytest.fixture(name="ref")
def _ref(client) -> str:
    """A stored 64x48 PNG."""
    return upload(client, make_image("PNG")).get_data(as_text=True)


def served_widths(client, srcset: str) -> list[tuple[int, int]]:
    """(descriptor, width of the decoded image) for each candidate."""
    served = []
    for candidate in srcset.split(", "):
        url, descriptor = candidate.rsplit(" ", 1)
        parts = urlsplit(url)
        response = client.get(f"{parts.path}?{parts.query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        served.append((int(descriptor.removesuffix("w")), decode(response.data).width))
    return served


def test_widths_above_the_original_give_way_to_it(client, ref):
    """widths=16,32,128 of a 64-pixel-wide image: 16, 32 and the original's 64."""
    response = client.get(f"/storage/{ref}.webp/srcset?widths=32,16,128&q=70")
    assert response.status_code == 200
    body = response.get_json()
    base = f"http://localhost/storage/{ref}.webp"
    assert body == {
        "srcset": f"{base}?q=70&w=16 16w, {base}?q=70&w=32 32w, {base}?q=70&w=64 64w",
        "sizes": "(max-width: 64px) 100vw, 64px",
        "src": f"{base}?q=70&w=64",
        "widths": [16, 32, 64],
    }
    assert served_widths(client, body["srcset"]) == [(16, 16), (32, 32), (64, 64)]


def test_a_preset_gives_its_width_and_twice_it(app_factory, settings):
    """preset thumb (w:24) offers 24w and 48w, the preset kept in each URL."""
    client = app_factory(replace(settings, presets="thumb=w:24,q:60")).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    body = client.get(f"/storage/{ref}.auto/srcset?preset=thumb").get_json()
    assert body["widths"] == [24, 48]
    assert "/storage/" + ref + ".auto?preset=thumb&w=24 24w" in body["srcset"]
    assert served_widths(client, body["srcset"]) == [(24, 24), (48, 48)]


def test_without_widths_the_defaults_are_bounded(client, ref):
    """No widths and no preset: the defaults (320 and up), all above 64: just 64."""
    assert client.get(f"/storage/{ref}/srcset").get_json()["widths"] == [64]


def test_signed_reads_need_a_signed_request_and_get_signed_urls(app_factory, settings):
    """With signed conversions, the srcset request itself must be signed (it mints
    signed URLs); every URL it answers is then served."""
    client = app_factory(replace(
        settings, signing_keys=KEY, signed_reads="variants", unsigned_presets=True,
        presets="thumb=w:24",
    )).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    path = f"/storage/{ref}.png/srcset"
    assert client.get(f"{path}?widths=16,32").status_code == 403
    assert client.get(f"{path}?preset=thumb").status_code == 403
    query = signed_query(KEY, path, {"widths": "16,32"})
    body = client.get(f"{path}?{query}").get_json()
    assert "&sig=" in body["src"]
    assert served_widths(client, body["srcset"]) == [(16, 16), (32, 32)]


@pytest.mark.parametrize("query, detail", [
    ("widths=abc", "parameter 'widths' must be given once"),
    ("widths=0,16", "each at least 1"),
    ("widths=1,2,3,4,5,6,7,8,9,10,11,12,13", "from 1 to 12 widths"),
    ("w=16", "give the widths as 'widths'"),
    ("widths=16&fit=sideways", "parameter 'fit'"),
    ("widths=16&preset=none", "unknown preset"),
], ids=["not numbers", "zero", "too many", "w", "bad option", "unknown preset"])
def test_a_bad_request_is_refused(client, ref, query, detail):
    response = client.get(f"/storage/{ref}/srcset?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert detail in response.get_json()["detail"]


def test_an_unknown_format_or_image_is_refused(client, ref):
    assert client.get(f"/storage/{ref}.nope/srcset?widths=16").status_code == 400
    unknown = "3f1c2b7e-9d4a-4c1e-8b2f-6a5d7e8f9012"
    assert client.get(f"/storage/{unknown}/srcset?widths=16").status_code == 404


def test_allowed_widths_are_kept_to(app_factory, settings):
    """With PROGIMAGE_ALLOWED_WIDTHS, a width off the list is refused as in a URL,
    and the original's width stands in only when allowed."""
    client = app_factory(replace(settings, allowed_widths="16,48")).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    assert client.get(f"/storage/{ref}/srcset?widths=16,32").status_code == 400
    body = client.get(f"/storage/{ref}/srcset?widths=16,48,96").get_json()
    assert body["widths"] == [16, 48]
    assert client.get(f"/storage/{ref}/srcset").get_json()["widths"] == [16, 48]
