"""?preset=<name>: named option sets, explicit options winning, and the
PROGIMAGE_ONLY_PRESETS lock."""

import dataclasses

import pytest
from helpers import app_client, decode, make_image, upload

PRESETS = "thumb=w:32,h:32,fit:cover;small=w:16,q:50"


def get(client, path: str):
    """A GET whose body is read (and its file closed) before it is returned."""
    with client.get(path) as response:
        response.get_data()
    return response


@pytest.fixture(name="preset_client")
def _preset_client(settings):
    with app_client(dataclasses.replace(settings, presets=PRESETS)) as client:
        yield client


@pytest.fixture(name="ref")
def _ref(preset_client) -> str:
    """A stored 64x48 PNG."""
    return upload(preset_client, make_image("PNG")).get_data(as_text=True)


def test_a_preset_applies_its_options(preset_client, ref):
    """thumb: a 32x32 square cut around the centre."""
    response = get(preset_client, f"/storage/{ref}.webp?preset=thumb")
    assert response.status_code == 200
    assert decode(response.data).size == (32, 32)


def test_a_preset_and_its_options_written_out_are_one_variant(preset_client, ref):
    """The key is the expanded options: same ETag, same bytes."""
    by_name = get(preset_client, f"/storage/{ref}.webp?preset=thumb")
    written = get(preset_client, f"/storage/{ref}.webp?fit=cover&h=32&w=32")
    assert by_name.headers["ETag"] == written.headers["ETag"]
    assert by_name.data == written.data


def test_explicit_options_win_over_the_preset(preset_client, ref):
    """thumb with h=16: 32x16; more options add to the preset's."""
    response = get(preset_client, f"/storage/{ref}.png?preset=thumb&h=16&grayscale")
    image = decode(response.data)
    assert image.size == (32, 16)
    assert image.mode == "L"


@pytest.mark.parametrize("query, detail", [
    ("preset=huge", "parameter 'preset': unknown preset; presets: thumb, small"),
    ("preset=thumb&preset=small", "parameter 'preset' is given more than once"),
])
def test_unknown_or_repeated_preset_is_400(preset_client, ref, query, detail):
    response = get(preset_client, f"/storage/{ref}.webp?{query}")
    assert response.status_code == 400
    assert response.json["detail"] == detail


def test_only_presets_refuses_other_options(settings, ref):
    """PROGIMAGE_ONLY_PRESETS=1: a preset, or no option at all; else 400 naming the
    presets."""
    locked = dataclasses.replace(settings, presets=PRESETS, only_presets=True)
    with app_client(locked) as client:
        response = get(client, f"/storage/{ref}.webp?preset=thumb&w=300")
        assert response.status_code == 400
        assert response.json["detail"] == (
            "only presets are allowed (?preset=<name>; presets: thumb, small), not w"
        )
        assert get(client, f"/storage/{ref}.webp?w=300").status_code == 400
        assert decode(get(client, f"/storage/{ref}.webp?preset=small").data).size == (
            16, 12
        )
        assert get(client, f"/storage/{ref}.webp").status_code == 200
