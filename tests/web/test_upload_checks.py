"""Upload validation in bounded memory: header facts, plus a cheap check of the data."""

import io
import os
import time

import pytest
from helpers import hold_converter, make_image, upload
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from progimage import create_app
from progimage.config import Settings


def _corrupt_png_crc(data: bytes) -> bytes:
    """Flip one byte inside the first IDAT chunk's data (its CRC no longer matches)."""
    at = data.index(b"IDAT") + 4 + 10
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _upload_large(client, data: bytes):
    """Upload from memory: Flask's test client leaves its temporary file for bodies
    over 500 KB open, which ``filterwarnings = error`` turns into a failure."""
    boundary, body = encode_multipart({"data": FileStorage(io.BytesIO(data), "big")})
    return client.put(
        "/storage/", data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def _record(app, ref: str):
    return app.extensions["progimage"].storage.record(ref)


@pytest.mark.parametrize("fmt, size", [
    ("JPEG", (800, 600)), ("PNG", (640, 480)), ("WEBP", (300, 200)), ("BMP", (99, 77)),
])
def test_record_holds_the_full_size(app, fmt, size):
    """The stored width and height are the image's, not those of a reduced decode."""
    response = upload(app.test_client(), make_image(fmt, size=size))
    record = _record(app, response.get_data(as_text=True))
    assert (record.width, record.height, record.format) == (*size, fmt)


@pytest.mark.parametrize("name, damage", [
    ("png cut in half", lambda data: data[: len(data) // 2]),
    ("png without IEND", lambda data: data[:-12]),
    ("png with bad IDAT checksum", _corrupt_png_crc),
])
def test_damaged_png_is_refused(client, name, damage):
    """PNG chunks are read through and checked: damage answers 400."""
    data = make_image("PNG", size=(300, 300))
    response = upload(client, damage(data))
    assert response.status_code == 400, name
    assert "cannot be decoded" in response.get_json()["detail"]


def test_gif_with_a_frame_header_after_its_end_is_refused(client):
    """A GIF with a frame's header after its trailer (';') is the one frame before
    it, as decoders read it; counting its frames twice read past the end the second
    time (a 500, found by ``make fuzz``)."""
    descriptor = b"," + bytes(4) + (8).to_bytes(2, "little") * 2 + b"\x00"
    response = upload(client, make_image("GIF", size=(8, 8), mode="P") + descriptor)
    assert response.status_code == 200
    info = client.get(f"/storage/{response.get_data(as_text=True)}/info").get_json()
    assert (info["format"], info["frames"]) == ("GIF", 1)


@pytest.mark.parametrize("size", [(16, 16), (2000, 1500)])
def test_palette_png_without_its_palette_is_refused(client, size):
    """A palette PNG without its PLTE chunk is refused as damaged (Pillow asserts
    that a palette image has a palette; found by ``make fuzz``), small or large."""
    data = make_image("PNG", size=size, mode="P")
    start = data.index(b"PLTE") - 4
    length = int.from_bytes(data[start:start + 4], "big")
    response = upload(client, data[:start] + data[start + 12 + length:])
    assert response.status_code == 400
    assert "damaged" in response.get_json()["detail"]


@pytest.mark.parametrize("size", [(400, 300), (1200, 900)])
def test_truncated_jpeg_is_refused(client, size):
    """A JPEG cut off mid-scan is refused: a small one by its decode at 1/8 scale,
    a large one by its markers (no end-of-image marker)."""
    data = make_image("JPEG", size=size, quality=95)
    response = upload(client, data[: len(data) * 2 // 3])
    assert response.status_code == 400
    assert "cannot be decoded" in response.get_json()["detail"]
    assert "truncated" in response.get_json()["detail"]


def test_large_jpeg_with_a_malformed_huffman_table_is_refused(client):
    """The markers are read as libjpeg reads them: a DC table holding a value above
    15 (libjpeg: "Bogus Huffman table definition") answers 400 at upload."""
    data = make_image("JPEG", size=(1200, 900))
    at = data.index(b"\xff\xc4") + 4 + 17  # the first table's first value
    response = upload(client, data[:at] + b"\x10" + data[at + 1:])
    assert response.status_code == 400
    assert "Huffman" in response.get_json()["detail"]


def test_small_truncated_bmp_is_refused(client):
    """Other formats are decoded at upload when their first frame is small."""
    data = make_image("BMP", size=(400, 300))
    response = upload(client, data[: len(data) // 2])
    assert response.status_code == 400


def test_large_damaged_bmp_is_stored_and_refused_at_conversion(client):
    """Above 2 megapixels only the header is checked at upload; a damaged body then
    answers 400 when converted, never 500."""
    data = make_image("BMP", size=(1600, 1300))
    response = _upload_large(client, data[: len(data) - 1_000_000])
    assert response.status_code == 200
    ref = response.get_data(as_text=True)
    with client.get(f"/storage/{ref}.png") as converted:
        assert converted.status_code == 400
        assert "cannot be decoded" in converted.get_json()["detail"]


def test_png_check_passes_valid_multichunk_file(app):
    """A 2 MB PNG of noise, in many IDAT chunks, is accepted byte for byte."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (900, 700), os.urandom(900 * 700 * 3)).save(
        buffer, "PNG", compress_level=0
    )
    data = buffer.getvalue()
    assert data.count(b"IDAT") > 10
    client = app.test_client()
    ref = _upload_large(client, data).get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert response.get_data() == data


def _progressive_jpeg(size: tuple[int, int]) -> bytes:
    """A progressive JPEG of one colour: its scans are tiny, their decoding is not."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 140, 200)).save(buffer, "JPEG", progressive=True)
    return buffer.getvalue()


def scan_bomb(size: tuple[int, int], scans: int) -> bytes:
    """A progressive JPEG whose last scan is repeated until it has ``scans`` scans
    (libjpeg decodes each one over the whole image)."""
    data = _progressive_jpeg(size)
    last = data.rindex(b"\xff\xda")  # the last start-of-scan marker
    repeats = scans - data.count(b"\xff\xda") + 1
    return data[:last] + data[last:-2] * repeats + data[-2:]


@pytest.fixture(name="hasty_client")
def _hasty_client(tmp_path):
    """A client of an app whose jobs may run 0.5 s, on a converter of its own."""
    app = create_app(Settings(
        storage=str(tmp_path / "data"), convert_timeout=0.5, convert_workers=1
    ))
    yield app.test_client()
    app.extensions["progimage"].close()


def test_progressive_jpeg_with_normal_scans_is_stored(client):
    """An ordinary progressive JPEG (10 scans) uploads."""
    response = upload(client, _progressive_jpeg((640, 480)))
    assert response.status_code == 200
    info = client.get(f"/storage/{response.get_data(as_text=True)}/info").get_json()
    assert (info["format"], info["width"], info["height"]) == ("JPEG", 640, 480)


def test_scan_marker_bytes_in_metadata_are_not_counted(client):
    """Bytes that look like 200 scan markers inside a comment do not make a JPEG a
    scan bomb: only real segments count."""
    data = make_image("JPEG", comment=b"\xff\xda" * 200)
    response = upload(client, data)
    assert response.status_code == 200
    with client.get(f"/storage/{response.get_data(as_text=True)}") as stored:
        assert stored.data == data


@pytest.mark.serial
def test_scan_bomb_is_422_at_once(hasty_client):
    """A JPEG repeating its last scan 1,000 times is refused from its markers,
    before any decoding, well within the time limit."""
    upload(hasty_client, make_image())  # the converter is up: its start is not timed
    started = time.monotonic()
    response = upload(hasty_client, scan_bomb((1024, 768), scans=1000))
    assert time.monotonic() - started < 0.5
    assert response.status_code == 422
    assert "more than 100 scans" in response.get_json()["detail"]


def test_upload_check_past_the_limit_is_422(hasty_client):
    """An upload whose check outlasts the time limit is refused as too costly, not
    stored, not 503. The converter is a stand-in that never answers: how long a real
    decode takes depends on the machine, and this must not."""
    pool = hasty_client.application.extensions["progimage"].converters
    stuck = hold_converter(pool, hold=False)
    started = time.monotonic()
    response = upload(hasty_client, scan_bomb((300, 200), scans=10))
    assert time.monotonic() - started < 0.5 + 1.0
    assert response.status_code == 422
    assert "too costly to decode" in response.get_json()["detail"]
    assert stuck.stopped
