"""The ``progimage`` command, run as a subprocess against a real gunicorn."""

import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import time
import zipfile
from pathlib import Path

import pytest
import requests
from PIL import Image

from helpers import SIGNING_KEY, decode, make_image, wait_until, with_orientation
from progimage.client import Client
from live_servers import free_port

PROGIMAGE = str(Path(sys.executable).with_name("progimage"))
MISSING = "0d4f06b6-5c41-4a5e-9d39-2f4bb0b0e0a1"


def run(*args: str, url: str | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``progimage`` with ``--url`` (when given); capture bytes out, text err."""
    command = [PROGIMAGE, *(["--url", url] if url else []), *args]
    result = subprocess.run(command, capture_output=True, cwd=cwd, timeout=60,
                            env={**os.environ, **(env or {})})
    result.stderr = result.stderr.decode()
    return result


@pytest.fixture(name="image_file")
def _image_file(tmp_path) -> Path:
    """A 40x30 PNG on disk."""
    path = tmp_path / "gradient.png"
    path.write_bytes(make_image("PNG", size=(40, 30)))
    return path


@pytest.fixture(name="ref")
def _ref(live_server, image_file) -> str:
    """The reference of the 40x30 PNG, uploaded with the client."""
    with Client(live_server) as images:
        return images.put(image_file)


def test_upload_prints_one_reference_per_file(live_server, image_file, tmp_path):
    """Each file's reference is printed on its own line, in order; nothing else."""
    second = tmp_path / "second.jpg"
    second.write_bytes(make_image("JPEG", size=(8, 6)))
    result = run("upload", str(image_file), str(second), url=live_server)
    assert (result.returncode, result.stderr) == (0, "")
    refs = result.stdout.decode().split()
    with Client(live_server) as images:
        assert [images.info(ref)["format"] for ref in refs] == ["PNG", "JPEG"]


def test_upload_json_gives_details(live_server, image_file):
    """``--json`` prints a list with each file's reference, URL and info."""
    result = run("upload", "--json", str(image_file), url=live_server)
    assert result.returncode == 0
    [details] = json.loads(result.stdout)
    assert details["file"] == str(image_file)
    assert details["url"] == f"{live_server}/storage/{details['ref']}"
    assert (details["format"], details["width"], details["height"]) == ("PNG", 40, 30)


def test_upload_of_a_bad_file_says_why_and_fails(live_server, image_file, tmp_path):
    """A text file is refused with the server's message; the good file is stored."""
    text = tmp_path / "notes.txt"
    text.write_text("not an image at all")
    result = run("upload", str(text), str(image_file), url=live_server)
    assert result.returncode == 1
    assert result.stderr.startswith(f"progimage: {text}: ")
    assert "not an image" in result.stderr
    assert len(result.stdout.decode().split()) == 1


def test_upload_of_a_missing_file_fails(live_server, tmp_path):
    """A file that does not exist is named with the system's reason."""
    result = run("upload", str(tmp_path / "nope.png"), url=live_server)
    assert result.returncode == 1
    assert "nope.png: No such file or directory" in result.stderr


@pytest.mark.parametrize("extension, fmt", [("webp", "WEBP"), ("JPG", "JPEG"),
                                            ("tif", "TIFF")])
def test_get_with_output_converts(live_server, ref, tmp_path, extension, fmt):
    """``get REF.EXT -o FILE`` writes the image converted to that format."""
    target = tmp_path / "out.image"
    result = run("get", f"{ref}.{extension}", "-o", str(target), url=live_server)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", b"")
    image = decode(target.read_bytes())
    assert (image.format, image.size) == (fmt, (40, 30))


@pytest.mark.parametrize("name, expected", [("", ""), (".gif", ".gif")])
def test_get_names_the_file_after_the_image(live_server, ref, tmp_path, name,
                                            expected):
    """Without ``-o`` the file is REF[.EXT] here, as asked (the original: REF)."""
    result = run("get", ref + name, url=live_server, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.decode().strip() == ref + expected
    assert decode((tmp_path / (ref + expected)).read_bytes()).size == (40, 30)
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_get_to_standard_output(live_server, ref, image_file):
    """``-o -`` writes the bytes to standard output: the original, unchanged."""
    result = run("get", ref, "-o", "-", url=live_server)
    assert result.returncode == 0
    assert result.stdout == image_file.read_bytes()


def test_get_passes_operations_as_query_parameters(live_server, ref, tmp_path):
    """Operation options reach the server: ``--w 20 --grayscale`` resizes and greys."""
    target = tmp_path / "small.png"
    result = run("get", f"{ref}.png", "--w", "20", "--grayscale", "-o", str(target),
                 url=live_server)
    assert result.returncode == 0, result.stderr
    image = decode(target.read_bytes())
    assert image.size == (20, 15)
    red, green, blue = image.convert("RGB").getpixel((10, 7))
    assert red == green == blue


@pytest.mark.parametrize("options, fmt", [
    ([], "JPEG"), (["--accept", "image/avif,image/webp"], "AVIF"),
], ids=["any", "avif"])
def test_get_auto_negotiates_the_format(live_server, ref, tmp_path, options, fmt):
    """``get REF.auto``: JPEG for */*, AVIF when --accept names it."""
    target = tmp_path / "out.image"
    result = run("get", f"{ref}.auto", *options, "-o", str(target), url=live_server)
    assert result.returncode == 0, result.stderr
    assert decode(target.read_bytes()).format == fmt


def test_get_auto_asks_as_a_browser_does(live_server, ref, tmp_path):
    """``get REF --auto`` is ``REF.auto`` with a browser's Accept: AVIF."""
    target = tmp_path / "out.image"
    result = run("get", ref, "--auto", "-o", str(target), url=live_server)
    assert result.returncode == 0, result.stderr
    assert decode(target.read_bytes()).format == "AVIF"


def test_srcset_prints_the_servers_json(live_server, ref):
    """``srcset REF.EXT --widths``: 80 is above the 40-pixel original, its stand-in."""
    result = run("srcset", f"{ref}.webp", "--widths", "16,80", "--q", "60",
                 url=live_server)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["widths"] == [16, 40]
    assert answer["srcset"].endswith(f"/storage/{ref}.webp?q=60&w=40 40w")


def test_get_passes_the_preset(live_server, ref, tmp_path):
    """``--preset`` reaches the server, which has none configured and says so."""
    result = run("get", f"{ref}.png", "--preset", "thumb", "-o",
                 str(tmp_path / "x.png"), url=live_server)
    assert result.returncode == 1
    assert "unknown preset; presets: none are configured" in result.stderr


@pytest.mark.parametrize("options, colour", [
    (["--gravity", "w"], (255, 0, 0)), (["--focus", "0.9,0.5"], (0, 0, 255)),
])
def test_get_passes_gravity_and_focus(live_server, tmp_path, options, colour):
    """``--gravity`` and ``--focus`` choose the part ``--fit cover`` keeps."""
    stripes = Image.new("RGB", (30, 10), (0, 255, 0))
    stripes.paste((255, 0, 0), (0, 0, 10, 10))
    stripes.paste((0, 0, 255), (20, 0, 30, 10))
    data = io.BytesIO()
    stripes.save(data, "PNG")
    with Client(live_server) as images:
        ref = images.put(io.BytesIO(data.getvalue()))
    target = tmp_path / "out.png"
    result = run("get", f"{ref}.png", "--w", "10", "--h", "10", "--fit", "cover",
                 *options, "-o", str(target), url=live_server)
    assert result.returncode == 0, result.stderr
    assert decode(target.read_bytes()).convert("RGB").getpixel((5, 5)) == colour


@pytest.mark.parametrize("options, size", [([], (30, 40)), (["--no-orient"], (40, 30))])
def test_get_no_orient_keeps_the_stored_pixels(live_server, tmp_path, options, size):
    """EXIF orientation 6 turns the image upright, unless ``--no-orient``."""
    with Client(live_server) as images:
        ref = images.put(io.BytesIO(
            make_image("JPEG", size=(40, 30), exif=with_orientation(6))
        ))
    target = tmp_path / "out.png"
    result = run("get", f"{ref}.png", *options, "-o", str(target), url=live_server)
    assert result.returncode == 0, result.stderr
    assert decode(target.read_bytes()).size == size


def test_get_into_a_missing_folder_fails(live_server, ref, tmp_path):
    """An output file that cannot be created is named with the system's reason."""
    target = tmp_path / "missing" / "out.png"
    result = run("get", ref, "-o", str(target), url=live_server)
    assert result.returncode == 1
    assert result.stderr == f"progimage: {target}: No such file or directory\n"


def test_get_unknown_format_fails_and_leaves_no_file(live_server, ref, tmp_path):
    """An unknown extension prints the server's message; no partial file remains."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    result = run("get", f"{ref}.nope", url=live_server, cwd=folder)
    assert result.returncode == 1
    assert "'.nope' is not an image format extension" in result.stderr
    assert list(folder.iterdir()) == []


def test_info_prints_json(live_server, ref):
    """``info`` prints the server's details as JSON."""
    result = run("info", ref, url=live_server)
    assert result.returncode == 0
    details = json.loads(result.stdout)
    assert (details["format"], details["width"], details["height"]) == ("PNG", 40, 30)
    assert details["placeholder"] == f"/storage/{ref}/placeholder"
    assert len(details["blurhash"]) == 28 and details["colour"].startswith("#")


def test_delete_then_info_fails(live_server, ref):
    """After ``delete`` the image is gone: ``info`` fails with the server's message."""
    assert run("delete", ref, url=live_server).returncode == 0
    result = run("info", ref, url=live_server)
    assert result.returncode == 1
    assert result.stderr == f"progimage: no image is stored under {ref}\n"


def test_url_comes_from_the_environment(live_server, ref):
    """Without ``--url`` the server is ``PROGIMAGE_URL``."""
    result = run("info", ref, env={"PROGIMAGE_URL": live_server})
    assert json.loads(result.stdout)["width"] == 40


def test_unreachable_server_is_explained(tmp_path):
    """With no server at the URL the command says so and fails."""
    port = free_port()
    result = run("info", MISSING, url=f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot reach http://127.0.0.1:{port}" in result.stderr


def test_usage_errors_exit_2():
    """A missing argument is a usage error, as with every argparse command."""
    result = run("get")
    assert result.returncode == 2
    assert "usage: progimage get" in result.stderr


@pytest.mark.parametrize("command", ["upload", "get"])
def test_progress_bar_on_a_terminal(live_server, tmp_path, command):
    """On a terminal uploads and downloads draw a progress bar (quiet elsewhere)."""
    large = tmp_path / "large.bmp"
    large.write_bytes(make_image("BMP", size=(1000, 700)))
    if command == "upload":
        args, label = ["upload", str(large)], "large.bmp"
    else:
        with Client(live_server) as images:
            label = images.put(large) + ".bmp"
        args = ["get", label, "-o", str(tmp_path / "copy.bmp")]
    controller, terminal = pty.openpty()
    # A real terminal has a size; a fresh pseudo-terminal has 0 columns.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 150, 0, 0))
    with subprocess.Popen([PROGIMAGE, "--url", live_server, *args],
                          stdout=subprocess.PIPE, stderr=terminal) as process:
        os.close(terminal)
        drawn = read_all(controller)
        assert process.wait(timeout=60) == 0
    os.close(controller)
    assert label in drawn
    assert "100%" in drawn


def read_all(descriptor: int) -> str:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:  # Linux reports the closed terminal as EIO
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_serve_starts_a_server(tmp_path):
    """``progimage serve`` runs gunicorn on the given port and storage."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [PROGIMAGE, "serve", "--port", str(port), "--workers", "1",
         "--storage", str(tmp_path / "data")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with Client(url) as images:
            ref = put_when_up(images, make_image("PNG"))
        assert list((tmp_path / "data").glob(f"*/*/{ref}/original"))
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def put_when_up(images: Client, data: bytes) -> str:
    """Upload as soon as the server answers (it takes a moment to start)."""
    for _ in range(300):
        try:
            return images.put(io.BytesIO(data))
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail("the server did not answer within 30 s")


def test_get_bulk_writes_one_zip_of_every_image(live_server, ref, tmp_path):
    """``get --bulk`` reads every REF[.EXT] in one request, with the options."""
    result = run("get", "--bulk", f"{ref}.webp", f"{ref}.png", "--w", "20",
                 url=live_server, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.decode().strip() == "progimage.zip"
    with zipfile.ZipFile(tmp_path / "progimage.zip") as archive:
        assert decode(archive.read(f"{ref}.webp")).size == (20, 15)
        assert decode(archive.read(f"{ref}.png")).size == (20, 15)
        statuses = [entry["status"] for entry in
                    json.loads(archive.read("manifest.json"))]
    assert statuses == [200, 200]


def test_get_of_several_images_needs_bulk(live_server, ref):
    result = run("get", ref, ref, url=live_server)
    assert result.returncode == 2
    assert "--bulk" in result.stderr


def test_process_writes_the_converted_file(live_server, image_file, tmp_path):
    """``process FILE -o OUT.EXT`` writes the server's conversion to EXT, options
    applied; nothing but OUT appears."""
    folder = tmp_path / "out"
    folder.mkdir()
    result = run("process", str(image_file), "-o", str(folder / "small.webp"),
                 "--w", "20", url=live_server)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", b"")
    image = decode((folder / "small.webp").read_bytes())
    assert (image.format, image.size) == ("WEBP", (20, 15))
    assert [path.name for path in folder.iterdir()] == ["small.webp"]


def test_process_to_standard_output_with_a_format(live_server, image_file):
    result = run("process", str(image_file), "-o", "-", "--format", "png",
                 "--h", "6", url=live_server)
    assert result.returncode == 0
    image = decode(result.stdout)
    assert (image.format, image.size) == ("PNG", (8, 6))


def test_process_refused_leaves_no_file_and_keeps_an_existing_one(
        live_server, image_file, tmp_path):
    """A refusal prints the server's detail; the output file is as it was."""
    target = tmp_path / "out.png"
    result = run("process", str(image_file), "-o", str(target), "--fit", "nope",
                 url=live_server)
    assert result.returncode == 1
    assert "fit" in result.stderr
    assert not target.exists()
    target.write_bytes(b"mine")
    result = run("process", str(image_file), "-o", str(target), url=live_server)
    assert result.returncode == 1
    assert "the file exists (--force replaces it)" in result.stderr
    assert target.read_bytes() == b"mine"


def test_process_without_an_extension_is_a_usage_error(image_file, tmp_path):
    result = run("process", str(image_file), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "give --format EXT" in result.stderr


def test_process_signs_with_the_signing_key(signed_server, image_file, tmp_path):
    """Under signed reads the command's signature of /process.<ext> is accepted."""
    target = tmp_path / "thumb.jpg"
    result = run("--signing-key", SIGNING_KEY, "process", str(image_file), "-o",
                 str(target), "--preset", "thumb", url=signed_server)
    assert (result.returncode, result.stderr) == (0, "")
    assert decode(target.read_bytes()).size == (32, 32)


def test_upload_eager_asks_for_those_variants(signed_server, image_file):
    """``upload --eager`` reaches the server: the variants become ready; an unknown
    preset is refused with the server's reason."""
    result = run("upload", "--eager", "thumb.webp,hero", str(image_file),
                 url=signed_server)
    assert (result.returncode, result.stderr) == (0, "")
    ref = result.stdout.decode().strip()
    with Client(signed_server) as images:
        wait_until(lambda: images.info(ref).get("eager") == {"thumb.webp": True,
                                                             "hero": True},
                   "both eager variants")
    result = run("upload", "--eager", "nope", str(image_file), url=signed_server)
    assert result.returncode == 1
    assert "'nope' names no preset" in result.stderr
