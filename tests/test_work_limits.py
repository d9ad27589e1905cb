"""A tiny input cannot make unbounded work: intermediate images and frame counts
are held to the pixel limit before anything is allocated."""

import io
import struct
import zlib

import pytest
from PIL import Image

from helpers import decode, largest_image, make_image, upload
from progimage import create_app
from progimage.config import Settings
from progimage.imaging.converter import convert_image
from progimage.exceptions import ImageTooLarge
from progimage.imaging.formats import FormatRegistry
from progimage.options import parse

MAX_PIXELS = 50_000


@pytest.fixture(name="small_client")
def _small_client(tmp_path):
    """A client of an app whose pixel limit is 50,000."""
    app = create_app(Settings(storage=str(tmp_path / "data"), max_pixels=MAX_PIXELS))
    yield app.test_client()
    app.extensions["progimage"].close()


def chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC."""
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def apng(size: tuple[int, int], declared: int) -> bytes:
    """A one-frame RGB APNG whose acTL chunk declares ``declared`` frames."""
    width, height = size
    pixels = zlib.compress(b"".join(b"\0" + b"\x80" * width * 3 for _ in range(height)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    control = struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 10, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"acTL", struct.pack(">II", declared, 0)) + chunk(b"fcTL", control)
        + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_long_thin_image_to_icns_is_refused(small_client):
    """A 2000x10 image would need a 2000x2000 square for ICNS: 422 before it is made."""
    ref = upload(small_client, make_image("PNG", size=(2000, 10))).get_data(
        as_text=True
    )
    with small_client.get(f"/storage/{ref}.icns") as response:
        assert response.status_code == 422
        assert "2000x2000" in response.json["detail"]


def test_square_canvas_is_never_made():
    """Refused before the square canvas is allocated, not after."""
    image = Image.new("RGB", (2000, 10))
    icns = FormatRegistry.from_pillow().for_extension("icns")
    with largest_image() as largest, pytest.raises(ImageTooLarge):
        convert_image(image, icns, icns, MAX_PIXELS)
    assert largest[0] <= MAX_PIXELS


def test_drawn_mask_stays_within_the_limit():
    """``mask=circle`` on an image near the limit draws on no canvas above it."""
    image = Image.new("RGB", (200, 200), (255, 0, 0))
    png = FormatRegistry.from_pillow().for_extension("png")
    with largest_image() as largest:
        data = convert_image(image, png, png, MAX_PIXELS, parse({"mask": ["circle"]}))
    assert largest[0] <= MAX_PIXELS
    circle = decode(data)
    assert circle.getpixel((100, 100))[3] == 255 and circle.getpixel((0, 0))[3] == 0


def test_apng_lying_about_its_frames_is_refused(client):
    """A 1x1 APNG declaring 40,000,000 frames (within 50 megapixels) but holding
    one is refused at upload, not stored as 40 million frames."""
    response = upload(client, apng((1, 1), declared=40_000_000))
    assert response.status_code == 400
    assert "declares 40,000,000 frames but holds 1" in response.json["detail"]


def test_apng_frames_are_checked_against_the_limit_first(small_client):
    """A declared frame count above the limit is refused as too large."""
    response = upload(small_client, apng((10, 10), declared=40_000_000))
    assert response.status_code == 422


def test_honest_apng_keeps_its_frames(client):
    """An APNG holding the frames it declares is stored with that count."""
    frames = [Image.new("RGB", (4, 3), colour) for colour in ("red", "lime", "blue")]
    animation = io.BytesIO()
    frames[0].save(animation, "PNG", save_all=True, append_images=frames[1:])
    ref = upload(client, animation.getvalue()).get_data(as_text=True)
    with client.get(f"/storage/{ref}/info") as response:
        assert response.json["frames"] == 3
    with client.get(f"/storage/{ref}.gif") as response:
        assert Image.open(io.BytesIO(response.data)).n_frames == 3
