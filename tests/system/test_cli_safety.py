"""``progimage`` keeps the user's files and terminal safe: from a failed download,
from a hostile server, and sends its key only where it was told to."""

import io
import json
import os
import stat

import pytest

from helpers import API_KEY, make_image
from live_servers import free_port
from loopback import answer, read_body, serve
from progimage.client import Client, ProgImageError
from test_cli import MISSING, run

IMAGE = make_image("PNG", size=(8, 6))
KEPT = b"precious, and not an image"
# An OSC that retitles the terminal, a colour, and a right-to-left override.
ESCAPES = "\x1b]0;pwned\x07\x1b[31mred\u202e"


@pytest.fixture(name="ref")
def _ref(live_server) -> str:
    """The reference of ``IMAGE`` on the live server."""
    with Client(live_server) as images:
        return images.put(io.BytesIO(IMAGE))


@pytest.mark.parametrize("options", [[], ["--force"]], ids=["plain", "force"])
def test_a_failed_get_keeps_the_existing_file(live_server, tmp_path, options):
    """A 404 leaves the file named by ``-o`` as it was, and nothing beside it."""
    target = tmp_path / "photo.png"
    target.write_bytes(KEPT)
    result = run("get", MISSING, "-o", str(target), *options, url=live_server)
    assert result.returncode == 1
    assert target.read_bytes() == KEPT
    assert os.listdir(tmp_path) == ["photo.png"]


def test_get_refuses_to_replace_a_file_without_force(live_server, ref, tmp_path):
    """An existing output file is kept, and the message says how to replace it."""
    target = tmp_path / "photo.png"
    target.write_bytes(KEPT)
    result = run("get", ref, "-o", str(target), url=live_server)
    assert (result.returncode, result.stderr) == (
        1, f"progimage: {target}: the file exists (--force replaces it)\n")
    assert target.read_bytes() == KEPT


@pytest.mark.parametrize("image, options, status", [
    (MISSING, [], 1), (MISSING, ["--force"], 1), ("ref", ["--force"], 0),
], ids=["missing", "missing-force", "found-force"])
def test_get_never_writes_through_a_symbolic_link(live_server, ref, tmp_path, image,
                                                  options, status):
    """``-o LINK`` never touches the file the link points to; on success with
    ``--force`` the link itself is replaced by the image."""
    precious = tmp_path / "precious"
    precious.write_bytes(KEPT)
    link = tmp_path / "link.png"
    link.symlink_to(precious)
    result = run("get", ref if image == "ref" else image, "-o", str(link), *options,
                 url=live_server)
    assert result.returncode == status
    assert precious.read_bytes() == KEPT
    if status == 0:
        assert (link.is_symlink(), link.read_bytes()) == (False, IMAGE)
    else:
        assert link.is_symlink()


@pytest.mark.parametrize("found", [True, False], ids=["found", "missing"])
def test_get_writes_into_a_fifo_and_never_removes_it(live_server, ref, tmp_path,
                                                     found):
    """``-o`` a FIFO, like a device such as /dev/null, is written into as it is:
    the image on success, nothing on failure; the FIFO stays."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # Opened first, so that the command's open for writing does not wait.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = run("get", ref if found else MISSING, "-o", str(fifo),
                     url=live_server)
        received = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert (result.returncode, received) == ((0, IMAGE) if found else (1, b""))


def hostile(request) -> None:
    """A server that answers anything with an HTML page, or takes an upload."""
    read_body(request)
    answer(request, 200, b"<script>alert(1)</script>", "text/html")


def test_get_names_the_file_after_the_reference_not_the_answer(tmp_path):
    """A 200 answer in ``text/html`` is saved as REF, never as REF.html."""
    with serve(hostile) as url:
        result = run("get", MISSING, url=url, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, f"{MISSING}\n".encode())
    assert os.listdir(tmp_path) == [MISSING]


@pytest.mark.parametrize("image, message", [
    ("../../x.png", "'../../x.png' is not REF or REF.EXT"),
    ("{tmp}/x.png", "/x.png' is not REF or REF.EXT"),
    (f"{MISSING}.png/../../x", "'png/../../x' is not a file extension"),
], ids=["parent", "absolute", "extension"])
def test_get_refuses_a_path_for_a_reference(tmp_path, image, message):
    """REF[.EXT] that is a path is a usage error; nothing is written anywhere."""
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    with serve(hostile) as url:
        result = run("get", image.format(tmp=tmp_path), url=url, cwd=folder)
    assert result.returncode == 2
    assert message in result.stderr
    assert sorted(tmp_path.rglob("*")) == [tmp_path / "a", folder]


@pytest.mark.parametrize("command", ["get", "info", "upload"])
def test_escapes_from_the_server_never_reach_the_terminal(tmp_path, command):
    """Terminal escapes in an error's detail, or in an upload's answer, are printed
    as harmless text."""
    def evil(request) -> None:
        if request.command == "POST":
            read_body(request)
            answer(request, 201, ESCAPES.encode(), "text/plain")
        else:
            answer(request, 404, json.dumps({"detail": ESCAPES}).encode())

    path = tmp_path / "small.png"
    path.write_bytes(IMAGE)
    with serve(evil) as url:
        result = run(command, str(path) if command == "upload" else MISSING,
                     url=url, cwd=tmp_path)
    printed = result.stdout.decode() + result.stderr
    assert "pwned" in printed
    assert [char for char in "\x1b\x07\u202e" if char in printed] == []


def test_the_key_opens_a_keyed_server(keyed_server, tmp_path):
    """With ``PROGIMAGE_API_KEY`` or ``--key``: upload, get, info and delete."""
    path = tmp_path / "small.png"
    path.write_bytes(IMAGE)
    uploaded = run("upload", str(path), url=keyed_server,
                   env={"PROGIMAGE_API_KEY": API_KEY})
    assert (uploaded.returncode, uploaded.stderr) == (0, "")
    ref = uploaded.stdout.decode().strip()
    assert run("--key", API_KEY, "get", ref, "-o", "-",
               url=keyed_server).stdout == IMAGE
    info = run("--key", API_KEY, "info", ref, url=keyed_server)
    assert json.loads(info.stdout)["width"] == 8
    assert run("--key", API_KEY, "delete", ref, url=keyed_server).returncode == 0
    with (Client(keyed_server, api_key=API_KEY) as images,
          pytest.raises(ProgImageError, match="no image is stored")):
        images.info(ref)


@pytest.mark.parametrize("command", ["upload", "info"])
def test_without_the_key_the_command_says_what_is_missing(keyed_server, tmp_path,
                                                          command):
    """A keyed server's refusal comes with how to give the key."""
    path = tmp_path / "small.png"
    path.write_bytes(IMAGE)
    result = run(command, str(path) if command == "upload" else MISSING,
                 url=keyed_server)
    assert result.returncode == 1
    assert "needs an API key" in result.stderr
    assert "give it with --key or PROGIMAGE_API_KEY" in result.stderr


def test_upload_to_a_server_that_is_down_says_so(tmp_path):
    """With nothing at the URL, upload names the URL (it printed ``a.png: None``)."""
    path = tmp_path / "a.png"
    path.write_bytes(IMAGE)
    url = f"http://127.0.0.1:{free_port()}"
    result = run("upload", str(path), url=url)
    assert (result.returncode, result.stderr) == (1, (
        f"progimage: cannot reach {url} (is the server running? "
        "see progimage serve)\n"))


def test_get_output_file_gets_the_usual_permissions(live_server, ref, tmp_path):
    """The downloaded file is made as any new file (the umask's mode), not 0600."""
    target = tmp_path / "photo.png"
    os.umask(old := os.umask(0))
    result = run("get", ref, "-o", str(target), url=live_server)
    assert result.returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~old
