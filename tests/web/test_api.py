"""The HTTP contract: statuses, headers, bodies."""

import io
import struct
import uuid

import pytest
from PIL import Image

from helpers import answered_reference, decode, make_image, upload

# A reference nothing is stored under, the same in every test process (pytest-xdist
# requires the same test ids in every worker).
UNKNOWN = "3f1c2b7e-9d4a-4c1e-8b2f-6a5d7e8f9012"


def test_put_answers_reference_as_plain_text(client):
    """PUT stores the image and answers a UUID4 with a Location header."""
    answered_reference(upload(client, make_image("PNG")))


def test_post_works_like_put(client):
    """HTML forms cannot PUT, so POST stores too."""
    data = make_image("JPEG")
    response = upload(client, data, method="POST")
    assert response.status_code == 200
    with client.get(f"/storage/{response.get_data(as_text=True)}") as stored:
        assert stored.data == data


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_storage_without_the_slash_stores_too(client, method):
    """/storage answers as /storage/ does, not a redirect with an HTML body that
    uuid=$(curl ...) would capture."""
    data = make_image("PNG")
    ref = answered_reference(upload(client, data, method=method, path="/storage"))
    with client.get(f"/storage/{ref}") as stored:
        assert stored.data == data


@pytest.mark.parametrize("fmt, mime", [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"),
    ("BMP", "image/bmp"), ("TIFF", "image/tiff"), ("WEBP", "image/webp"),
])
def test_original_is_byte_exact_with_detected_type(client, fmt, mime):
    """GET <ref> answers the uploaded bytes unchanged, typed by the detected format."""
    original = make_image(fmt)
    ref = upload(client, original, name="misleading.txt").get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
        assert response.mimetype == mime
        assert response.data == original


@pytest.mark.parametrize("ext, fmt, mime", [
    ("png", "PNG", "image/png"), ("JPG", "JPEG", "image/jpeg"),
    ("jpeg", "JPEG", "image/jpeg"), ("webp", "WEBP", "image/webp"),
    ("bmp", "BMP", "image/bmp"), ("Tiff", "TIFF", "image/tiff"),
    ("gif", "GIF", "image/gif"), ("pdf", "PDF", "application/pdf"),
])
def test_extension_converts(client, ext, fmt, mime):
    """GET <ref>.<ext> answers the image in that format, any letter case."""
    ref = upload(client, make_image("PNG", size=(40, 30))).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.{ext}")
    assert response.status_code == 200
    assert response.mimetype == mime
    if fmt != "PDF":
        image = decode(response.data)
        assert (image.format, image.size) == (fmt, (40, 30))
    else:
        assert response.data.startswith(b"%PDF")


@pytest.mark.parametrize("fields, message", [
    ({}, "missing the multipart file field 'data'"),
    ({"other": (io.BytesIO(b"x"), "x.png")}, "missing the multipart file field 'data'"),
    ({"data": (io.BytesIO(b""), "empty.png")}, "is empty"),
    ({"data": (io.BytesIO(b"hello, world"), "x.png")}, "not an image"),
])
def test_bad_upload_is_400_with_reason(client, fields, message):
    """Missing field, empty file and non-images answer 400 saying which."""
    response = client.put(
        "/storage/", data=fields, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400
    assert message in body["detail"]


def test_truncated_image_is_refused(client):
    """A file whose header is fine but whose pixels are cut off is not stored."""
    data = make_image("PNG", size=(200, 200))
    response = upload(client, data[: len(data) // 2])
    assert response.status_code == 400
    assert "cannot be decoded" in response.get_json()["detail"]


@pytest.mark.parametrize("ext, message", [
    ("psd", "PSD ('.psd') can be read but not written"),
    ("xyz", "'.xyz' is not an image format extension"),
    ("h5", "'.h5'"),
    ("", "'.' is not an image format extension"),
    ("?w=8", "'.' is not an image format extension"),
])
def test_unwritable_extension_is_400_listing_formats(client, ext, message):
    """Read-only formats and unknown extensions name the problem and the choices."""
    ref = upload(client, make_image()).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.{ext}")
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert message in detail
    assert "writable extensions: " in detail and "webp" in detail


@pytest.mark.parametrize("path", [
    UNKNOWN, f"{UNKNOWN}.png", "not-a-uuid", "..", "%2e%2e%2fetc",
    UNKNOWN.upper(), "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    "00000000-0000-0000-0000-000000000000",
])
def test_unknown_or_malformed_reference_is_404(client, path):
    """References that are unknown or not a canonical UUID4 answer 404."""
    response = client.get(f"/storage/{path}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_errors_show_no_traceback(client):
    """Error bodies are short problem documents without internals."""
    response = upload(client, b"GIF89a" + b"\x00" * 20)
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Traceback" not in text and "0x" not in text and len(text) < 300


def test_unexpected_error_is_a_generic_500(app, client, monkeypatch):
    """A bug answers 500 with a generic problem document, not a traceback."""
    def broken(*args):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(app.extensions["progimage"].storage, "record", broken)
    response = client.get(f"/storage/{uuid.uuid4()}")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)


def test_upload_over_limit_is_413(tmp_path):
    """A body above PROGIMAGE_MAX_UPLOAD_BYTES answers 413."""
    from progimage import create_app
    from progimage.config import Settings

    app = create_app(Settings(storage=str(tmp_path), max_upload_bytes=1000))
    response = upload(app.test_client(), make_image("BMP", size=(100, 100)))
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_responses_forbid_sniffing(client):
    """Browsers must not second-guess the Content-Type."""
    ref = upload(client, make_image()).get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_rgba_to_jpeg_flattens_onto_white(client):
    """Transparent pixels become white, not black, in formats without alpha."""
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    ref = upload(client, buffer.getvalue()).get_data(as_text=True)
    result = decode(client.get(f"/storage/{ref}.jpg").data)
    assert result.mode == "RGB"
    assert all(channel > 245 for channel in result.getpixel((5, 5)))


def test_jpeg_info_has_the_full_size(client):
    """A JPEG is checked by a fast 1/8-scale decode, yet its info has its real size."""
    ref = upload(client, make_image("JPEG", size=(128, 96))).get_data(as_text=True)
    info = client.get(f"/storage/{ref}/info").get_json()
    assert (info["width"], info["height"]) == (128, 96)


@pytest.mark.parametrize("ext, mode, mime, magic", [
    ("pbm", "1", "image/x-portable-bitmap", b"P4"),
    ("pgm", "L", "image/x-portable-graymap", b"P5"),
    ("ppm", "RGB", "image/x-portable-pixmap", b"P6"),
    ("pfm", "F", "image/x-portable-anymap", b"Pf"),
])
def test_netpbm_extension_picks_the_subtype(client, ext, mode, mime, magic):
    """.pbm, .pgm, .ppm and .pfm each answer their own Netpbm subtype."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.{ext}")
    assert response.status_code == 200
    assert response.mimetype == mime
    assert response.data.startswith(magic)
    assert decode(response.data).mode == mode


@pytest.mark.parametrize("suffix", ["", ".png"])
def test_byte_ranges_with_length(client, suffix):
    """Originals and conversions carry Content-Length and answer byte ranges."""
    ref = upload(client, make_image("BMP")).get_data(as_text=True)
    with client.get(f"/storage/{ref}{suffix}") as whole:
        body = whole.data
        assert whole.content_length == len(body)
        assert whole.headers["Accept-Ranges"] == "bytes"
    with client.get(
        f"/storage/{ref}{suffix}", headers={"Range": "bytes=10-19"}
    ) as part:
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
        assert part.data == body[10:20]


def test_unsatisfiable_range_is_416(client):
    """A range past the end answers 416 with the real length."""
    original = make_image("PNG")
    ref = upload(client, original).get_data(as_text=True)
    response = client.get(f"/storage/{ref}", headers={"Range": "bytes=99999-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(original)}"


def test_psd_with_damaged_layer_records_resizes(client):
    """A PSD whose layer records run past the end of the file (only the composite
    image is read) resizes like any other: asking for a width made the converter
    read the layers to count frames, a 500 (found by ``make fuzz``)."""
    width = height = 8
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    layers = struct.pack(">Ih", 2000, 100) + bytes(10)  # 100 layers in 2,000 bytes
    sections = struct.pack(">III", 0, 0, len(layers)) + layers
    pixels = struct.pack(">H", 0) + bytes(range(3 * width * height))  # raw planes
    ref = upload(client, header + sections + pixels).get_data(as_text=True)
    with client.get(f"/storage/{ref}.png?w=4") as response:
        assert response.status_code == 200
        assert decode(response.data).size == (4, 4)


@pytest.mark.parametrize("size", [(65_536, 1), (1, 65_536)], ids=["wide", "tall"])
@pytest.mark.parametrize("target", ["gif", "tga", "pcx", "msp", "palm"])
def test_side_a_format_cannot_store_is_422(client, target, size):
    """Formats with 16-bit sides refuse a longer one with 422 naming the size, not
    500 (their writers overflow a header field)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, "PNG")
    ref = upload(client, buffer.getvalue()).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.{target}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert f"{size[0]} x {size[1]} pixels" in response.get_json()["detail"]


def test_large_blp_is_written_in_linear_time(client):
    """A 4-megapixel BLP (Pillow's own encoder is quadratic) converts, pixels intact."""
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((2000, 2000)).convert("P").save(buffer, "PNG")
    ref = upload(client, buffer.getvalue()).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.blp")
    assert response.status_code == 200
    with client.get(f"/storage/{ref}") as original:
        expected = decode(original.data).convert("RGB")
    assert decode(response.data).convert("RGB").tobytes() == expected.tobytes()
