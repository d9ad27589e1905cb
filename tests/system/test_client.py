"""The Python client against a real gunicorn: put, get, info, delete and errors."""

import functools
import io
import json
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from PIL import ImageStat

from helpers import (API_KEY, KEYED_SERVER_MAX_UPLOAD, SIGNING_KEY, decode,
                     make_image, wait_until)
from loopback import answer, read_body, serve
from progimage.client import Client, ProgImageError

REF = "0d4f06b6-5c41-4a5e-9d39-2f4bb0b0e0a1"


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


def test_info_and_placeholder_show_the_average_colour(images):
    """``info`` has the BlurHash and the average colour; ``placeholder`` is the tiny
    PNG, of the image's shape and colour."""
    ref = images.put(io.BytesIO(make_image("JPEG", size=(64, 32), mode="L")))
    details = images.info(ref)
    # make_image's grey mean is 125; JPEG and the BlurHash each move it a little.
    red, green, blue = (int(details["colour"][i:i + 2], 16) for i in (1, 3, 5))
    assert red == green == blue and abs(red - 125) <= 6
    assert len(details["blurhash"]) == 28
    shown = decode(images.placeholder(ref))
    assert shown.size == (32, 16)
    mean = ImageStat.Stat(shown.convert("RGB")).mean
    assert all(abs(value - 125) <= 12 for value in mean), mean


def test_srcset_lists_served_widths(images):
    """``srcset`` answers the server's srcset: 16w and 32w, then the original's 64w
    for the 128 asked of a 64-pixel-wide image."""
    ref = images.put(io.BytesIO(make_image("PNG", size=(64, 48))))
    answer = images.srcset(ref, "webp", widths=[16, 32, 128], q=70)
    assert answer["widths"] == [16, 32, 64]
    assert answer["srcset"].endswith(f"/storage/{ref}.webp?q=70&w=64 64w")


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


def test_put_accepts_bytes(images):
    """``put(b"...")`` uploads the bytes, as requests users expect."""
    original = make_image("PNG", size=(6, 4))
    assert images.get(images.put(original)) == original


def test_put_sends_a_content_length_not_chunks():
    """The upload announces its length, so a server can refuse it before it is sent;
    the body received is as long as announced."""
    seen = {}

    def record(request):
        seen.update(request.headers, received=len(read_body(request)))
        answer(request, 201, REF.encode(), "text/plain")

    data = make_image("BMP", size=(300, 200))
    with serve(record) as url, Client(url) as client:
        assert client.put(io.BytesIO(data)) == REF
    assert "Transfer-Encoding" not in seen
    assert int(seen["Content-Length"]) == seen["received"] > len(data)


def test_put_of_a_file_name_with_cr_lf_is_stored(images, tmp_path):
    """A file name with CR and LF (legal on Linux) cannot break the multipart head:
    the upload is stored, not refused for a missing field."""
    path = tmp_path / 'a\r\nX-Part: 1\r\n\r\n"b\\.png'
    path.write_bytes(make_image("PNG", size=(5, 5)))
    assert images.info(images.put(path))["format"] == "PNG"


def test_oversized_upload_is_refused_before_it_is_sent(keyed_server):
    """Over the server's limit, the client learns of the 413 (cleanly, as the
    server's detail) before it has sent as much as the limit."""
    sent = []
    data = bytes(KEYED_SERVER_MAX_UPLOAD + KEYED_SERVER_MAX_UPLOAD // 2)
    with (Client(keyed_server, api_key=API_KEY) as client,
          pytest.raises(ProgImageError) as raised):
        client.put(io.BytesIO(data), lambda done, total: sent.append(done))
    assert raised.value.status == 413
    assert "larger than the limit" in raised.value.detail
    assert sent[-1] < KEYED_SERVER_MAX_UPLOAD


def test_the_key_opens_a_keyed_server(keyed_server):
    """With its key, a client of a keyed server uploads, reads, inspects, deletes."""
    original = make_image("PNG", size=(7, 5))
    with Client(keyed_server, api_key=API_KEY) as client:
        ref = client.put(original)
        assert client.get(ref) == original
        assert client.info(ref)["width"] == 7
        client.delete(ref)
        with pytest.raises(ProgImageError) as raised:
            client.info(ref)
    assert raised.value.status == 404


@pytest.mark.parametrize("key, status", [(None, 401), ("wrong", 403)])
def test_a_keyed_server_refuses_a_client_without_its_key(keyed_server, key, status):
    """Without the key, or with another, the upload is refused."""
    with Client(keyed_server, api_key=key) as client, \
            pytest.raises(ProgImageError) as raised:
        client.put(make_image("PNG"))
    assert raised.value.status == status


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"],
                         ids=["other-port", "other-host"])
@pytest.mark.parametrize("call, status", [
    (lambda client: client.info(REF), 302),
    (lambda client: client.put(make_image("PNG")), 307),
], ids=["info-302", "put-307"])
def test_the_key_never_follows_a_redirect_elsewhere(host, call, status):
    """A server that redirects to another port or host gets the key; the other
    one gets the request (and the whole body, on a 307), never the key."""
    given, elsewhere = [], []

    def other(request):
        elsewhere.append((request.headers.get("Authorization"), read_body(request)))
        if request.command == "POST":
            answer(request, 201, REF.encode(), "text/plain")
        else:
            answer(request, 200, b'{"format": "PNG"}', "application/json")

    with serve(other, host) as other_url:
        def redirect(request):
            given.append(request.headers.get("Authorization"))
            answer(request, status, Location=other_url + request.path)

        with serve(redirect) as url, Client(url, api_key=API_KEY) as client:
            call(client)
    assert given == [f"Bearer {API_KEY}"]
    [(authorization, body)] = elsewhere
    assert authorization is None
    assert status == 302 or b"\x89PNG" in body


def test_bulk_streams_a_zip_with_a_manifest(images):
    """Many reads in one request: each entry in the ZIP, failures in the manifest."""
    refs = [images.put(make_image("PNG", (40 + n, 30))) for n in range(2)]
    buffer = io.BytesIO()
    images.bulk(buffer, [{"ref": refs[0], "ext": "webp", "options": {"w": 20}},
                         {"ref": refs[1], "ext": "jpeg"},
                         {"ref": REF, "ext": "png"}])
    with zipfile.ZipFile(buffer) as archive:
        assert decode(archive.read(f"{refs[0]}.webp")).size == (20, 15)
        assert decode(archive.read(f"{refs[1]}.jpeg")).size == (41, 30)
        manifest = json.loads(archive.read("manifest.json"))
    assert [entry["status"] for entry in manifest] == [200, 200, 404]


def test_process_over_http_converts_and_keeps_nothing(live_server):
    """POST /process.auto through gunicorn: the negotiated format, nothing stored."""
    response = requests.post(f"{live_server}/process.auto?w=16",
                             data=make_image("PNG", (64, 48)),
                             headers={"Accept": "image/webp,*/*;q=0.5"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["Cache-Control"] == "no-store"
    assert decode(response.content).size == (16, 12)


def test_process_converts_bytes_files_and_paths(images, tmp_path):
    """``process`` answers the body converted as asked, whatever it was given."""
    path = tmp_path / "photo.png"
    path.write_bytes(make_image("PNG", (64, 48)))
    with open(path, "rb") as opened:
        from_file = decode(images.process(opened, "png", h=12))
    from_bytes = decode(images.process(path.read_bytes(), "webp", w=16))
    from_path = decode(images.process(path, "auto", accept="image/webp", w=32))
    assert (from_bytes.format, from_bytes.size) == ("WEBP", (16, 12))
    assert (from_file.format, from_file.size) == ("PNG", (16, 12))
    assert (from_path.format, from_path.size) == ("WEBP", (32, 24))


def test_process_errors_carry_the_servers_detail(images):
    with pytest.raises(ProgImageError) as refused:
        images.process(make_image("PNG", (8, 8)), "nope")
    assert refused.value.status == 400
    assert "'.nope' is not an image format extension" in refused.value.detail


def test_process_is_signed_with_the_clients_key(signed_server):
    """Under signed reads the client's signature of /process.<ext> lets it in; a
    client without the key is refused."""
    image = make_image("PNG", (64, 48))
    with Client(signed_server, signing_key=SIGNING_KEY) as signer:
        converted = decode(signer.process(image, "png", w=16, grayscale=True))
        preset = decode(signer.process(image, "png", preset="thumb"))
    assert (converted.format, converted.size) == ("PNG", (16, 12))
    red, green, blue = converted.convert("RGB").getpixel((15, 0))
    assert red == green == blue  # the signed options were all applied
    assert preset.size == (32, 32)
    with Client(signed_server) as stranger, pytest.raises(ProgImageError) as refused:
        stranger.process(image, "webp", w=16)
    assert refused.value.status == 403


def test_put_with_eager_variants_has_them_made(signed_server):
    """``put(eager=...)`` asks the server to convert those presets at once; /info
    shows them ready."""
    with Client(signed_server, signing_key=SIGNING_KEY) as images:
        ref = images.put(make_image("PNG", (96, 64)), eager=("thumb.webp", "hero"))
        wait_until(lambda: images.info(ref).get("eager") == {"thumb.webp": True,
                                                             "hero": True},
                   "both eager variants")
        assert decode(images.get(ref, "webp", preset="thumb")).size == (32, 32)


def test_put_with_an_unknown_eager_preset_is_refused(signed_server):
    with Client(signed_server) as images, pytest.raises(ProgImageError) as refused:
        images.put(make_image("PNG", (8, 8)), eager="thumb,nope")
    assert refused.value.status == 400
    assert "'nope' names no preset (presets: thumb, hero)" in refused.value.detail
