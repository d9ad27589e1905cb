"""Phone and modern web formats: HEIF/HEIC through pillow-heif, AVIF through Pillow."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from helpers import corpus_image, decode, upload

HOPPER = "hopper.png"


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Average absolute difference per channel, 0-255."""
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    values = difference.tobytes()
    return sum(values) / len(values)


@pytest.mark.parametrize("name, fmt, mime", [
    ("hopper.heif", "HEIF", "image/heif"), ("hopper.avif", "AVIF", "image/avif"),
])
def test_upload_and_read_back(client, name, fmt, mime):
    """Real HEIF and AVIF files are accepted and served byte for byte."""
    data = corpus_image(name)
    ref = upload(client, data).get_data(as_text=True)
    info = client.get(f"/storage/{ref}/info").get_json()
    assert (info["format"], info["mime"], info["width"], info["height"]) == (
        fmt, mime, 128, 128
    )
    with client.get(f"/storage/{ref}") as response:
        assert (response.mimetype, response.data) == (mime, data)


@pytest.mark.parametrize("name", ["hopper.heif", "hopper.avif"])
@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_convert_to_web_formats(client, name, ext):
    """HEIF and AVIF decode to the same picture as the PNG original."""
    ref = upload(client, corpus_image(name)).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.{ext}")
    assert response.status_code == 200
    image = decode(response.data)
    assert image.size == (128, 128)
    assert mean_difference(image, decode(corpus_image(HOPPER))) < 12


@pytest.mark.parametrize("ext, fmt, mime", [
    ("heic", "HEIF", "image/heif"), ("heif", "HEIF", "image/heif"),
    ("avif", "AVIF", "image/avif"),
])
def test_write_heif_and_avif(client, ext, fmt, mime):
    """A PNG converts to HEIC/HEIF and AVIF that decode close to the original."""
    ref = upload(client, corpus_image(HOPPER)).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.{ext}?w=64")
    assert response.status_code == 200
    assert response.mimetype == mime
    image = decode(response.data)
    assert (image.format, image.size) == (fmt, (64, 64))


def test_heif_quality_and_lossless(client):
    """q and lossless reach the HEIF encoder: lower quality, smaller file."""
    ref = upload(client, corpus_image(HOPPER)).get_data(as_text=True)
    low = client.get(f"/storage/{ref}.heic?q=5").data
    high = client.get(f"/storage/{ref}.heic?q=90").data
    lossless = client.get(f"/storage/{ref}.heic?lossless").data
    assert len(low) < len(high) < len(lossless)
    original = decode(corpus_image(HOPPER))
    assert mean_difference(decode(lossless), original) < mean_difference(
        decode(low), original
    )


def test_animated_avif_keeps_its_frames(client):
    """The AVIF sequence star.avifs is animated; operations keep every frame."""
    data = corpus_image("star.avifs")
    ref = upload(client, data).get_data(as_text=True)
    info = client.get(f"/storage/{ref}/info").get_json()
    assert (info["format"], info["frames"], info["animated"]) == ("AVIF", 5, True)
    response = client.get(f"/storage/{ref}.webp?w=80&flip=h")
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.data)) as result:
        assert (result.format, result.size, result.n_frames) == ("WEBP", (80, 80), 5)


def test_heif_with_mask_keeps_alpha(client):
    """A circle mask written as HEIF keeps its transparent corners."""
    ref = upload(client, corpus_image("hopper.heif")).get_data(as_text=True)
    image = decode(client.get(f"/storage/{ref}.heic?mask=circle").data)
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((64, 64))[3] == 255


def test_registry_built_first_still_has_heif():
    """However a process builds the format registry first, HEIF is in it."""
    code = (
        "from progimage.imaging.formats import FormatRegistry\n"
        "print(FormatRegistry.from_pillow().for_extension('heic').name)\n"
    )
    source = Path(__file__).resolve().parents[2] / "src"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(source)},
    )
    assert result.stdout.strip() == "HEIF"
