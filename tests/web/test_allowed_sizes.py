"""PROGIMAGE_ALLOWED_WIDTHS / _HEIGHTS / _DPR: sizes off the lists are refused, or
with PROGIMAGE_SNAP_SIZES snapped to the nearest allowed one."""

from dataclasses import replace

import pytest

from helpers import decode, make_image, upload
from progimage.config import Settings, SettingsError

ALLOWED = {"allowed_widths": "16, 32,64", "allowed_heights": "12",
           "allowed_dpr": "1,2"}


@pytest.fixture(name="sized")
def _sized(app_factory, settings):
    """A client of an app with allowed sizes, snapping them or not, and a stored
    64x48 image's reference."""
    def build(snap: bool):
        app = app_factory(replace(settings, snap_sizes=snap, **ALLOWED))
        client = app.test_client()
        ref = upload(client, make_image("PNG", size=(64, 48))).get_data(as_text=True)
        return client, ref
    return build


@pytest.mark.parametrize("query, size", [
    ("w=32", (32, 24)), ("w=16&dpr=2", (32, 24)), ("h=12", (16, 12)),
    ("", (64, 48)),
])
def test_allowed_sizes_are_served(sized, query, size):
    client, ref = sized(snap=False)
    response = client.get(f"/storage/{ref}.png?{query}")
    assert response.status_code == 200
    assert decode(response.data).size == size


@pytest.mark.parametrize("query, detail", [
    ("w=33", "parameter 'w': 33 is not an allowed width; allowed: 16, 32, 64"),
    ("h=13", "parameter 'h': 13 is not an allowed height; allowed: 12"),
    ("w=16&dpr=1.5", "parameter 'dpr': 1.5 is not an allowed pixel ratio (dpr); "
                     "allowed: 1, 2"),
])
def test_other_sizes_are_refused(sized, query, detail):
    client, ref = sized(snap=False)
    response = client.get(f"/storage/{ref}.png?{query}")
    assert response.status_code == 400
    assert response.get_json()["detail"] == detail


@pytest.mark.parametrize("query, size", [
    ("w=30", (32, 24)), ("w=24", (32, 24)), ("w=1000", (64, 48)),
    ("w=16&dpr=1.4", (16, 12)), ("h=40", (16, 12)),
])
def test_other_sizes_snap_to_the_nearest_allowed(sized, query, size):
    """Halfway (24 between 16 and 32) goes to the larger."""
    client, ref = sized(snap=True)
    response = client.get(f"/storage/{ref}.png?{query}")
    assert response.status_code == 200
    assert decode(response.data).size == size


def test_snapped_requests_share_the_allowed_variant(sized):
    client, ref = sized(snap=True)
    with client.get(f"/storage/{ref}.png?w=30") as near:
        etag = near.headers["ETag"]
    with client.get(f"/storage/{ref}.png?w=32") as exact:
        assert exact.headers["ETag"] == etag


@pytest.mark.parametrize("value", ["a,b", "0", "-16", "16,,x"])
def test_allowed_lists_must_be_positive_numbers(value):
    with pytest.raises(SettingsError, match="PROGIMAGE_ALLOWED_WIDTHS"):
        Settings(allowed_widths=value)
