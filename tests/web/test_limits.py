"""Limits checked before work is spent: body size, pixels (bombs), conversion time."""

import io
import struct
import zlib

import pytest
import requests
from PIL import Image

from helpers import (
    CORPUS, SLOW_CONVERSION, SLOW_ENCODER, corpus_required, decode, hold_converter,
    make_image, slow_png, upload,
)
from live_servers import Gunicorn
from progimage import create_app
from progimage.config import Settings

needs_corpus = pytest.mark.skipif(
    not (CORPUS / "images").is_dir() and not corpus_required(),
    reason="the shared corpus is not on this machine",
)


def many_frames_gif(frames: int, size: tuple[int, int] = (1000, 1000)) -> bytes:
    """A small GIF declaring ``frames`` frames of ``size`` (each draws one pixel)."""
    palette = b"\0\0\0\xff\xff\xff"
    screen = b"GIF89a" + struct.pack("<HHBBB", *size, 0x80, 0, 0) + palette
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame * frames + b";"


def growing_gif(width: int, height: int) -> bytes:
    """A 10x10 GIF whose second frame declares ``width`` x ``height`` pixels."""
    palette = b"\0\0\0\xff\xff\xff"
    screen = b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0x80, 0, 0) + palette
    pixels = b"\x02\x02\x44\x01\x00"
    small = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + pixels
    large = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + pixels
    return screen + small + large + b";"


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels."""
    data = make_image("PNG", size=(1, 1))
    fields = struct.pack(">II", width, height) + data[24:29]
    ihdr = b"IHDR" + fields
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


@pytest.fixture(name="strict_app")
def _strict_app(tmp_path):
    """An app with a 1,000 byte body limit and a 10,000 pixel limit."""
    settings = Settings(
        storage=str(tmp_path / "data"), max_upload_bytes=1000, max_pixels=10_000
    )
    app = create_app(settings)
    yield app
    app.extensions["progimage"].close()


@pytest.fixture(name="pixel_app")
def _pixel_app(tmp_path):
    """An app with a 10,000 pixel limit."""
    app = create_app(Settings(storage=str(tmp_path / "data"), max_pixels=10_000))
    yield app
    app.extensions["progimage"].close()


def test_content_length_over_limit_is_413_naming_the_limit(strict_app):
    """A body declared larger than the limit answers 413 with the limit in bytes."""
    response = upload(strict_app.test_client(), make_image("BMP", size=(100, 100)))
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert "1,000 bytes" in response.get_json()["detail"]


def test_batch_over_limit_is_413(strict_app):
    """Several data fields that together pass the body limit answer 413."""
    response = strict_app.test_client().put(
        "/storage/", content_type="multipart/form-data",
        data={"data": [(io.BytesIO(make_image("PNG")), f"{n}.png") for n in range(4)]
              + [(io.BytesIO(make_image("BMP", size=(20, 20))), "big.bmp")]},
    )
    assert response.status_code == 413
    assert "1,000 bytes" in response.get_json()["detail"]


@pytest.mark.system
@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x",
                                          "image/png"])
def test_streamed_body_over_limit_is_413(tmp_path, content_type):
    """A chunked upload with no Content-Length is cut off at the limit with 413,
    as a form or as the raw image."""
    multipart = content_type.startswith("multipart")

    def body():
        if multipart:
            yield b'--x\r\nContent-Disposition: form-data; name="data"; filename="a"'
            yield b"\r\n\r\n"
        for _ in range(64):
            yield b"\0" * 65536
        if multipart:
            yield b"\r\n--x--\r\n"

    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
           "PROGIMAGE_MAX_UPLOAD_BYTES": "100000"}
    with Gunicorn(tmp_path, env) as server:
        response = requests.put(
            f"{server.url}/storage/", data=body(),
            headers={"Content-Type": content_type}, timeout=30,
        )
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert response.status_code == 413
        assert "100,000 bytes" in response.json()["detail"]


def multipart(fields: list[tuple[str, bytes]]) -> bytes:
    """A multipart/form-data body (boundary ``x``) of text fields."""
    parts = [
        b'--x\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (name.encode(), value) for name, value in fields
    ]
    return b"".join(parts) + b"--x--\r\n"


@pytest.mark.parametrize("fields, reason", [
    ([(f"f{n}", b"v" * 100) for n in range(1001)],
     "the multipart body has more than 1,000 parts (fields and files)"),
    ([("note", b"v" * 500_001)],
     "a multipart field that is not a file is larger than 500,000 bytes"),
], ids=["1001-parts", "large-text-field"])
def test_form_limits_are_413_with_their_own_reason(client, fields, reason):
    """Werkzeug's multipart limits answer 413 naming that limit, not the body
    size, which they are far below."""
    body = multipart(fields)
    assert len(body) < 1_000_000
    response = client.put(
        "/storage/", data=body, content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 413
    assert response.get_json()["detail"] == reason


@pytest.mark.parametrize("data", [
    pytest.param(huge_png_header(100_000, 100_000), id="png-100k-by-100k"),
    pytest.param(huge_png_header(101, 100), id="png-just-over"),
    pytest.param(many_frames_gif(5000), id="gif-5000-frames"),
    pytest.param(many_frames_gif(11, size=(31, 31)), id="gif-frames-sum-over"),
])
def test_pixel_limit_is_422_naming_the_limit(pixel_app, data):
    """Images above the limit (frames summed) answer 422 before any decode."""
    response = upload(pixel_app.test_client(), data)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "10,000 pixels" in response.get_json()["detail"]


@pytest.mark.parametrize("ext, status", [("gif", 422), ("webp", 422), ("jpg", 200)])
@pytest.mark.parametrize("side", [500, 60_000], ids=["over-our-limit", "over-pillows"])
def test_gif_frame_larger_than_the_screen_is_counted_at_conversion(
    pixel_app, side, ext, status
):
    """GIF frames may grow the canvas; the header check counts frames at screen size,
    so the frames are counted again as they are decoded. All frames (GIF, WebP) go
    over the limit, the first frame alone (JPEG) does not. (Found by atheris: a
    frame over Pillow's own bomb limit used to answer 500.)"""
    client = pixel_app.test_client()
    ref = upload(client, growing_gif(side, side)).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.{ext}")
    assert response.status_code == status
    if status == 200:
        # Only the first frame, at the logical screen's size.
        assert decode(response.data).size == (10, 10)


def test_frames_within_limit_are_stored(client):
    """A GIF whose frames sum to less than the limit is accepted."""
    data = many_frames_gif(40, size=(30, 30))
    response = upload(client, data)
    assert response.status_code == 200
    info = client.get(f"/storage/{response.get_data(as_text=True)}/info").get_json()
    assert (info["width"], info["height"], info["frames"]) == (30, 30, 40)


@needs_corpus
@pytest.mark.parametrize("name, detail", [
    ("decompression_bomb.gif", "50,000,000 pixels"),
    ("png_decompression_dos.png", "metadata decompresses beyond the safety limit"),
    ("l2rgb_read.bmp", "50,000,000 pixels"),
])
def test_corpus_bombs_are_422(client, name, detail):
    """Pillow's decompression-bomb samples answer 422 and are not stored."""
    response = upload(client, (CORPUS / "images" / name).read_bytes())
    assert response.status_code == 422
    assert detail in response.get_json()["detail"]


def test_pixel_limit_is_checked_again_at_conversion(tmp_path):
    """An image stored under a larger limit is refused (422) when converted above it."""
    storage = str(tmp_path / "data")
    ref = upload(
        create_app(Settings(storage=storage)).test_client(),
        make_image("PNG", size=(200, 100)),
    ).get_data(as_text=True)
    strict = create_app(Settings(storage=storage, max_pixels=10_000))
    response = strict.test_client().get(f"/storage/{ref}.webp")
    strict.extensions["progimage"].close()
    assert response.status_code == 422
    assert "10,000 pixels" in response.get_json()["detail"]


@pytest.fixture(name="hasty_app")
def _hasty_app(tmp_path):
    """An app whose conversions may run 0.5 s, with one converter process of its
    own (a converter killed on timeout takes its coverage data with it)."""
    app = create_app(Settings(
        storage=str(tmp_path / "data"), convert_timeout=0.5, convert_workers=1
    ))
    yield app
    app.extensions["progimage"].close()


def test_slow_conversion_is_503_and_the_next_one_works(hasty_app):
    """A conversion past the time limit answers 503 + Retry-After; the app goes on.
    The converter is a stand-in that never answers, so no machine is fast enough to
    convert in time; the next request gets a real one again."""
    client = hasty_app.test_client()
    slow = upload(client, make_image("PNG")).get_data(as_text=True)
    quick = upload(client, make_image("PNG")).get_data(as_text=True)
    held = hold_converter(hasty_app.extensions["progimage"].converters, hold=False)
    response = client.get(f"/storage/{slow}.avif")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "30"
    assert "0.5 s" in response.get_json()["detail"]
    assert held.stopped
    after = client.get(f"/storage/{quick}.webp")
    assert after.status_code == 200
    assert Image.open(io.BytesIO(after.data)).format == "WEBP"


@pytest.mark.system
def test_slow_conversion_leaves_gunicorn_workers_alive(tmp_path):
    """Under gunicorn, a timed-out conversion answers 503 and no worker restarts."""
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
           "PROGIMAGE_CONVERT_TIMEOUT": "0.5", **SLOW_ENCODER}
    with Gunicorn(tmp_path, env) as server:
        store = f"{server.url}/storage/"
        slow_ref, quick_ref = (
            requests.put(store, files={"data": image}, timeout=30).text
            for image in (slow_png(), make_image("PNG"))
        )
        slow = requests.get(f"{server.url}/storage/{slow_ref}.{SLOW_CONVERSION}",
                            timeout=30)
        again = requests.get(f"{server.url}/storage/{quick_ref}.webp", timeout=30)
        log = server.output()
    assert slow.status_code == 503 and "Retry-After" in slow.headers
    assert again.status_code == 200
    assert log.count("Booting worker") == 2, log
