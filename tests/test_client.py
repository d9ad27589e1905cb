"""The Python client against a real gunicorn: put, get, info, delete and errors."""

import functools
import io
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import decode, make_image
from progimage.client import Client, ProgImageError


@pytest.fixture(name="images")
def _images(live_server) -> Client:
    """A client of the live server."""
    with Client(live_server + "/") as client:
        yield client


def test_put_path_and_get_original(images, tmp_path):
    """An image uploaded from a path comes back byte for byte."""
    original = make_image("PNG", size=(30, 20))
    path = tmp_path / "gradient.png"
    path.write_bytes(original)
    ref = images.put(path)
    assert images.get(ref) == original


def test_put_reports_progress_up_to_the_whole_body(images):
    """The progress callback climbs to the full body length, which the server got."""
    seen = []
    data = make_image("BMP", size=(400, 300))
    ref = images.put(io.BytesIO(data), lambda done, total: seen.append((done, total)))
    done, total = seen[-1]
    assert done == total > len(data)
    assert [step[0] for step in seen] == sorted(step[0] for step in seen)
    assert images.info(ref)["bytes"] == len(data)


@pytest.mark.parametrize("extension, fmt", [("webp", "WEBP"), ("jpg", "JPEG"),
                                            ("png", "PNG")])
def test_get_converts(images, extension, fmt):
    """``get(ref, ext)`` answers the image encoded in that format."""
    ref = images.put(io.BytesIO(make_image("PNG", size=(24, 16))))
    image = decode(images.get(ref, extension))
    assert (image.format, image.size) == (fmt, (24, 16))


def test_download_streams_with_progress_and_type(images):
    """``download`` writes the body to a file, reports progress and the MIME type."""
    ref = images.put(io.BytesIO(make_image("PNG", size=(64, 64))))
    target, seen = io.BytesIO(), []
    mime = images.download(target, ref, "bmp",
                           lambda done, total: seen.append((done, total)))
    assert mime == "image/bmp"
    assert seen[-1] == (len(target.getvalue()), len(target.getvalue()))
    assert decode(target.getvalue()).size == (64, 64)


def test_info_describes_the_image(images):
    """``info`` answers the server's JSON about the image."""
    ref = images.put(io.BytesIO(make_image("GIF", size=(12, 10))))
    details = images.info(ref)
    assert (details["format"], details["width"], details["height"]) == ("GIF", 12, 10)


def test_delete_then_not_found(images):
    """After ``delete`` the image is gone, and the server says so."""
    ref = images.put(io.BytesIO(make_image("PNG")))
    images.delete(ref)
    with pytest.raises(ProgImageError) as raised:
        images.get(ref)
    assert raised.value.status == 404
    assert ref in raised.value.detail


@pytest.mark.parametrize("call, status, message", [
    (lambda c: c.put(io.BytesIO(b"plain text, no pixels")), 400, "not an image"),
    (lambda c: c.get("0d4f06b6-5c41-4a5e-9d39-2f4bb0b0e0a1"), 404, "no image"),
    (lambda c: c.info("not-a-reference"), 404, "not an image reference"),
    (lambda c: c.delete("0d4f06b6-5c41-4a5e-9d39-2f4bb0b0e0a1"), 404, "no image"),
], ids=["put-text", "get-missing", "info-bad-ref", "delete-missing"])
def test_errors_carry_the_servers_detail(images, call, status, message):
    """A refused request raises ProgImageError with the status and the detail."""
    with pytest.raises(ProgImageError) as raised:
        call(images)
    assert raised.value.status == status
    assert message in raised.value.detail
    assert str(raised.value).startswith(f"{status}: ")


def test_error_from_another_server_uses_the_reason(tmp_path):
    """Pointed at a server that is not ProgImage, the error carries the HTTP reason."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=tmp_path)
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as other:
        thread = threading.Thread(target=other.serve_forever)
        thread.start()
        try:
            with (Client(f"http://127.0.0.1:{other.server_port}") as client,
                  pytest.raises(ProgImageError) as raised):
                client.info("0d4f06b6-5c41-4a5e-9d39-2f4bb0b0e0a1")
        finally:
            other.shutdown()
            thread.join()
    assert (raised.value.status, raised.value.detail) == (404, "File not found")
