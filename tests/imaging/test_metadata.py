"""Metadata and deletion: GET /storage/<ref>/info and DELETE /storage/<ref>."""

import io
import struct
from datetime import datetime

import pytest

from PIL import Image

from helpers import corpus_image, decode, make_image, upload, with_orientation
from progimage.storage import ImageRecord

# A reference nothing is stored under, the same in every test process (pytest-xdist
# requires the same test ids in every worker).
UNKNOWN = "3f1c2b7e-9d4a-4c1e-8b2f-6a5d7e8f9012"

INFO_KEYS = {
    "format", "mime", "width", "height", "mode", "frames", "animated", "bytes",
    "sha256", "orientation", "has_alpha", "created", "blurhash", "colour",
    "placeholder",
}


def test_info_describes_the_original(client):
    """Info answers JSON with exactly the documented keys and the upload's facts."""
    data = make_image("PNG", size=(40, 30))
    ref = upload(client, data).get_data(as_text=True)
    response = client.get(f"/storage/{ref}/info")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == INFO_KEYS
    unchecked = {"sha256": None, "created": None, "blurhash": None, "colour": None}
    assert body | unchecked == {
        "format": "PNG", "mime": "image/png", "width": 40, "height": 30,
        "mode": "RGB", "frames": 1, "animated": False, "bytes": len(data),
        "sha256": None, "orientation": 1, "has_alpha": False, "created": None,
        "blurhash": None, "colour": None,
        "placeholder": f"/storage/{ref}/placeholder",
    }
    assert len(body["sha256"]) == 64
    assert datetime.fromisoformat(body["created"]).tzinfo is not None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_info_reports_exif_orientation(client, orientation):
    """The EXIF orientation tag is reported as stored, for all eight values."""
    data = make_image("JPEG", exif=with_orientation(orientation))
    ref = upload(client, data).get_data(as_text=True)
    assert client.get(f"/storage/{ref}/info").get_json()["orientation"] == orientation


def test_truncated_exif_keeps_what_it_holds(client):
    """An EXIF block that ends inside its first directory (found by the fuzz test)
    is stored with the orientation it does hold, and converts upright, instead of
    answering 500."""
    directory = struct.pack(">HHHII", 5, 0x0112, 3, 1, 6 << 16)  # 5 entries, 1 there
    exif = b"Exif\0\0MM\0*" + struct.pack(">I", 8) + directory
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(buffer, "JPEG", exif=exif, dpi=(72, 72))
    response = upload(client, buffer.getvalue())
    assert response.status_code == 200
    ref = response.get_data(as_text=True)
    assert client.get(f"/storage/{ref}/info").get_json()["orientation"] == 6
    converted = client.get(f"/storage/{ref}.png")
    assert converted.status_code == 200
    assert decode(converted.data).size == (6, 8)


@pytest.mark.parametrize("name, has_alpha, frames", [
    ("transparent.png", True, 1), ("hopper.jpg", False, 1),
    ("chi.gif", True, 31), ("transparent.webp", True, 1), ("delay.png", True, 5),
])
def test_info_on_corpus_images(client, name, has_alpha, frames):
    """Alpha and frame counts of real images are reported; several frames animate."""
    ref = upload(client, corpus_image(name)).get_data(as_text=True)
    body = client.get(f"/storage/{ref}/info").get_json()
    assert (body["has_alpha"], body["frames"]) == (has_alpha, frames)
    assert body["animated"] is (frames > 1)


def test_info_of_phone_photo_orientation(client):
    """A real photo taken sideways reports orientation 6."""
    ref = upload(client, corpus_image("hopper_orientation_6.jpg")).get_data(
        as_text=True
    )
    assert client.get(f"/storage/{ref}/info").get_json()["orientation"] == 6


def test_records_without_new_fields_still_load():
    """Records written before orientation, alpha and source URLs were kept load
    with defaults."""
    old = (
        b'{"created": "2026-01-01T00:00:00+00:00", "format": "PNG", "frames": 1,'
        b' "height": 1, "mime": "image/png", "mode": "RGB", "sha256": "00",'
        b' "size": 3, "width": 1}'
    )
    record = ImageRecord.from_json(old)
    assert (record.orientation, record.has_alpha, record.source_url) == (1, False, "")


@pytest.mark.parametrize("suffix", ["", ".png", ".jpg?w=10", "?w=5", "/info"])
def test_delete_then_everything_is_gone(client, suffix):
    """DELETE answers 204; then the original and every derived result answer 404."""
    ref = upload(client, make_image()).get_data(as_text=True)
    with client.get(f"/storage/{ref}{suffix}") as response:
        assert response.status_code == 200
    response = client.delete(f"/storage/{ref}")
    assert response.status_code == 204
    assert response.data == b""
    with client.get(f"/storage/{ref}{suffix}") as response:
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_delete_twice_is_404(client):
    """A second DELETE finds nothing to remove."""
    ref = upload(client, make_image()).get_data(as_text=True)
    assert client.delete(f"/storage/{ref}").status_code == 204
    assert client.delete(f"/storage/{ref}").status_code == 404


@pytest.mark.parametrize("path", [
    UNKNOWN, "not-a-uuid", f"{UNKNOWN}.png",
])
def test_delete_or_info_of_unknown_is_404(client, path):
    """Unknown or malformed references answer 404 to DELETE and to info."""
    assert client.delete(f"/storage/{path}").status_code == 404
    assert client.get(f"/storage/{path}/info").status_code == 404


def test_delete_leaves_other_images(client):
    """Deleting one image keeps the others."""
    kept = make_image(size=(30, 20))
    keep = upload(client, kept).get_data(as_text=True)
    gone = upload(client, make_image()).get_data(as_text=True)
    assert client.delete(f"/storage/{gone}").status_code == 204
    with client.get(f"/storage/{keep}") as response:
        assert (response.status_code, response.data) == (200, kept)
    assert client.get(f"/storage/{gone}").status_code == 404
