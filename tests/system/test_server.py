"""The README's session against a real gunicorn, with real curl and file."""

import concurrent.futures
import subprocess
import urllib.request

import pytest

from helpers import make_image
from live_servers import Gunicorn
from system_programs import require


@pytest.fixture(scope="module", name="server")
def _server(tmp_path_factory):
    """gunicorn with two workers, storing in a temporary folder."""
    folder = tmp_path_factory.mktemp("live")
    server = Gunicorn(folder, {"PROGIMAGE_STORAGE": str(folder / "data")}).start()
    yield server
    server.stop()


@pytest.fixture(name="jpeg")
def _jpeg(tmp_path):
    """A JPEG file on disk."""
    path = tmp_path / "image.jpg"
    path.write_bytes(make_image("JPEG", size=(120, 80)))
    return path


@pytest.fixture(name="curl_and_file")
def _curl_and_file() -> None:
    """curl and file, which the README's commands use."""
    require("curl")
    require("file")


def _shell(command: str, **environ: str) -> bytes:
    return subprocess.run(
        ["bash", "-c", command], env=environ, check=True, capture_output=True,
        timeout=60,
    ).stdout


def _mime(server, path: str) -> str:
    command = f'curl -sf "$host{path}" | file --brief --mime-type -'
    return _shell(command, host=server.url).decode().strip()


@pytest.mark.usefixtures("curl_and_file")
def test_readme_session(server, jpeg):
    """uuid=$(curl -X PUT ... -F data=@image.jpg); the original and a BMP come back."""
    uuid = _shell(
        'curl -sf -X PUT "$host/storage/" -F "data=@$file"',
        host=server.url, file=str(jpeg),
    ).decode()
    assert len(uuid) == 36
    assert _mime(server, f"/storage/{uuid}") == "image/jpeg"
    assert _mime(server, f"/storage/{uuid}.bmp") == "image/bmp"
    assert _mime(server, f"/storage/{uuid}.png") == "image/png"
    original = _shell(f'curl -sf "$host/storage/{uuid}"', host=server.url)
    assert original == jpeg.read_bytes()


@pytest.mark.usefixtures("curl_and_file")
@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_curl_upload_without_the_slash(server, jpeg, method):
    """uuid=$(curl -X PUT $host/storage ...) captures the reference, not a redirect."""
    uuid = _shell(
        f'curl -sS -X {method} "$host/storage" -F "data=@$file"',
        host=server.url, file=str(jpeg),
    ).decode()
    original = _shell(f'curl -sf "$host/storage/{uuid}"', host=server.url)
    assert original == jpeg.read_bytes()


@pytest.mark.usefixtures("curl_and_file")
def test_curl_uploads_the_raw_image(server, jpeg):
    """The second form: curl --data-binary with Content-Type image/jpeg, no form."""
    uuid = _shell(
        'curl -sf -X PUT "$host/storage/" -H "Content-Type: image/jpeg" '
        '--data-binary "@$file"', host=server.url, file=str(jpeg),
    ).decode()
    assert len(uuid) == 36
    assert _mime(server, f"/storage/{uuid}.png") == "image/png"
    original = _shell(f'curl -sf "$host/storage/{uuid}"', host=server.url)
    assert original == jpeg.read_bytes()


@pytest.mark.usefixtures("curl_and_file")
def test_curl_sees_status_codes(server):
    """Unknown references are 404 and non-images 400, as curl reports them."""
    code = _shell(
        'curl -s -o /dev/null -w "%{http_code}" "$host/storage/nothing-here"',
        host=server.url,
    )
    assert code == b"404"
    code = _shell(
        'echo hello | curl -s -o /dev/null -w "%{http_code}" -F "data=@-" '
        '"$host/storage/"',
        host=server.url,
    )
    assert code == b"400"


def _round_trip(server, index: int) -> bool:
    data = make_image("PNG", size=(32 + index % 7, 24), mode="RGB")
    boundary = "progimage-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; "
        f"filename=\"{index}.png\"\r\nContent-Type: image/png\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{server.url}/storage/", data=body, method="PUT",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        ref = response.read().decode()
    with urllib.request.urlopen(f"{server.url}/storage/{ref}", timeout=30) as response:
        return response.read() == data


def test_parallel_uploads_round_trip(server):
    """64 uploads from 16 threads each come back byte for byte."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: _round_trip(server, i), range(64)))
    assert results == [True] * 64
