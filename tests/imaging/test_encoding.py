"""Encoder settings: the documented defaults and their overrides by settings."""

import dataclasses
import io

import pytest
from helpers import decode, make_image, upload
from PIL import Image

from progimage import create_app
from progimage.config import Settings, SettingsError
from progimage.imaging import encoder_params
from progimage.imaging.converter import convert
from progimage.imaging.formats import FormatRegistry


def _variant(settings: Settings, ext: str) -> bytes:
    """Upload a 256x256 gradient and fetch it as ``ext`` with these settings."""
    client = create_app(settings).test_client()
    ref = upload(client, make_image("PNG", size=(256, 256))).get_data(as_text=True)
    with client.get(f"/storage/{ref}.{ext}") as response:
        assert response.status_code == 200
        return response.get_data()


def test_defaults_favour_speed_at_a_fair_size():
    """The table holds the documented defaults."""
    params = encoder_params(Settings())
    assert params["PNG"] == {"compress_level": 3}
    assert params["WEBP"] == {"quality": 80, "method": 2}
    assert params["JPEG"] == {"quality": 85, "optimize": False, "progressive": False}


@pytest.mark.parametrize("ext, low, high", [
    ("jpg", {"jpeg_quality": 20}, {"jpeg_quality": 95}),
    ("webp", {"webp_quality": 10}, {"webp_quality": 100}),
    ("png", {"png_compress_level": 9}, {"png_compress_level": 0}),
])
def test_settings_change_the_output_size(settings, ext, low, high):
    """Quality and compression settings reach the encoder."""
    small = _variant(dataclasses.replace(settings, **low), ext)
    large = _variant(dataclasses.replace(settings, **high), ext)
    assert len(small) < len(large)
    assert decode(small).size == decode(large).size == (256, 256)


def test_progressive_jpeg_setting(settings):
    """PROGIMAGE_JPEG_PROGRESSIVE=true writes a progressive JPEG."""
    data = _variant(dataclasses.replace(settings, jpeg_progressive=True), "jpg")
    assert decode(data).info.get("progressive") == 1


def test_webp_method_setting_is_used(settings):
    """Every WebP method yields a decodable image of the same size."""
    data = _variant(dataclasses.replace(settings, webp_method=6), "webp")
    assert decode(data).size == (256, 256)


def test_animated_gif_keeps_frames_with_encoder_settings(client):
    """Encoder settings combine with the animation parameters."""
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50)
    ref = upload(client, buffer.getvalue()).get_data(as_text=True)
    with client.get(f"/storage/{ref}.webp") as response:
        assert getattr(decode(response.get_data()), "n_frames", 1) == 2


@pytest.mark.parametrize("variables, message", [
    ({"PROGIMAGE_JPEG_OPTIMIZE": "maybe"}, "must be true or false"),
    ({"PROGIMAGE_PNG_COMPRESS_LEVEL": "10"}, "between 0 and 9"),
    ({"PROGIMAGE_WEBP_METHOD": "-1"}, "between 0 and 6"),
    ({"PROGIMAGE_AVIF_SPEED": "11"}, "between 0 and 10"),
    ({"PROGIMAGE_HEIF_QUALITY": "101"}, "between 0 and 100"),
    ({"PROGIMAGE_HEIF_PRESET": "quick"}, "one of ultrafast, superfast"),
    ({"PROGIMAGE_JPEG_QUALITY": "0"}, "between 1 and 95"),
    ({"PROGIMAGE_CACHE_MAX_BYTES": "-1"}, "PROGIMAGE_CACHE_MAX_BYTES"),
    ({"PROGIMAGE_ACCEL_REDIRECT": "internal"}, "must start with '/'"),
])
def test_bad_settings_fail_at_start(variables, message):
    """Out-of-range or unparseable encoder and cache settings are refused."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(variables)


@pytest.mark.parametrize("raw, value", [
    ("true", True), ("1", True), ("Yes", True), ("false", False), ("0", False),
])
def test_boolean_settings_parse(raw, value):
    """Booleans accept true/false, yes/no and 1/0."""
    assert Settings.from_env({"PROGIMAGE_JPEG_OPTIMIZE": raw}).jpeg_optimize is value


def _save_params(monkeypatch, settings: Settings, fmt: str = "AVIF") -> dict:
    """Convert a PNG to ``fmt`` in this process with the encoder table of
    ``settings``, and return the keyword arguments Pillow's save handler received."""
    registry = FormatRegistry.from_pillow()  # registers pillow-heif's formats
    seen: dict = {}
    save = Image.SAVE[fmt]

    def spy(image, fp, filename):
        seen.update(image.encoderinfo)
        save(image, fp, filename)

    monkeypatch.setitem(Image.SAVE, fmt, spy)
    data = convert(
        io.BytesIO(make_image("PNG", size=(32, 24))), registry.for_name(fmt),
        registry, 10_000, encoder=encoder_params(settings)[fmt],
    )
    assert decode(data).size == (32, 24)
    return seen


def test_avif_is_encoded_at_the_chosen_speed(monkeypatch):
    """AVIF is written at speed 8 and quality 60 (docs/benchmarks.md#encoders), not
    at Pillow's slower default speed 6."""
    params = _save_params(monkeypatch, Settings())
    assert (params["speed"], params["quality"]) == (8, 60)


def test_avif_settings_override_speed_and_quality(monkeypatch):
    """PROGIMAGE_AVIF_SPEED and PROGIMAGE_AVIF_QUALITY reach Pillow's encoder."""
    settings = Settings.from_env(
        {"PROGIMAGE_AVIF_SPEED": "3", "PROGIMAGE_AVIF_QUALITY": "45"}
    )
    params = _save_params(monkeypatch, settings)
    assert (params["speed"], params["quality"]) == (3, 45)


def test_heif_is_encoded_at_the_chosen_quality_and_preset(monkeypatch):
    """HEIF is written at quality 45 with x265's fast preset (docs/benchmarks.md
    #encoders-at-equal-quality), not at libheif's defaults."""
    params = _save_params(monkeypatch, Settings(), "HEIF")
    assert (params["quality"], params["enc_params"]) == (45, {"preset": "fast"})


def test_heif_settings_override_quality_and_preset(monkeypatch):
    """PROGIMAGE_HEIF_QUALITY and PROGIMAGE_HEIF_PRESET reach the HEIF encoder."""
    settings = Settings.from_env(
        {"PROGIMAGE_HEIF_QUALITY": "70", "PROGIMAGE_HEIF_PRESET": "ultrafast"}
    )
    params = _save_params(monkeypatch, settings, "HEIF")
    assert (params["quality"], params["enc_params"]) == (70, {"preset": "ultrafast"})
